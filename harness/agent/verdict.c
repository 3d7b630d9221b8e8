// SPDX-License-Identifier: GPL-2.0
/*
 * A case's verdict: the notes that explain it, how it ended (failed, or
 * could not be set up), and its KTAP result line.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ktap.h"
#include "protocol.h"
#include "verdict.h"

void note(struct verdict *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->used >= sizeof(v->msg) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(v->msg + v->used, sizeof(v->msg) - v->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		v->used += (size_t)n < sizeof(v->msg) - v->used ?
			   (size_t)n : sizeof(v->msg) - v->used - 1;
}

/* The host tells a set-up failure from a skip by its tag (protocol.py). */
void judge(struct verdict *v, enum outcome how, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(v, "%s%s\n", how == UNRESOLVED ? "[" SETUP_TAG "] " : "", line);
	if (how == UNRESOLVED)
		v->unresolved = true;
	else
		v->failed = true;
}

/* Prints the verdict's notes as KTAP diagnostics at @indent. */
void print_notes(const struct verdict *v, const char *indent)
{
	const char *line = v->msg;

	while (*line) {
		size_t n = strcspn(line, "\n");

		ktap_note(indent, line, (int)n);
		line += n + (line[n] == '\n');
	}
}

/*
 * The KTAP result line of a case, after its diagnostics: a failure of the
 * target beats a set-up failure, which beats a skip.
 */
void print_result(const struct verdict *v, const char *indent,
		  unsigned int number, const char *name)
{
	print_notes(v, indent);
	if (v->failed)
		ktap_result(indent, false, number, name);
	else if (v->known && v->known_id)
		ktap_skip(indent, number, name, XFAIL_RECORD_REASON,
			  v->known_id);
	else if (v->known)
		ktap_skip(indent, number, name, XFAIL_ISSUE_REASON);
	else if (v->unresolved)
		ktap_skip(indent, number, name, SETUP_FAILED_REASON);
	else if (v->skipped && v->skip_reason)
		ktap_skip(indent, number, name, "%s", v->skip_reason);
	else if (v->skipped)
		ktap_skip(indent, number, name, NULL);
	else
		ktap_result(indent, true, number, name);
	fflush(stdout);
}

const struct uafault_known *known_record_of(const char *kind, const char *text)
{
	const size_t n = strlen(kind);
	const char *p, *end;
	char glob[256];
	int i;

	for (i = 0; i < UAFAULT_KNOWN_NR; i++) {
		for (p = uafault_known_records[i].cases; *p; p = end) {
			p += strspn(p, " ");
			end = p + strcspn(p, " ");
			if ((size_t)(end - p) <= n + 1 || strncmp(p, kind, n) ||
			    p[n] != ':' || (size_t)(end - p) - n - 1 >= sizeof(glob))
				continue;
			snprintf(glob, sizeof(glob), "%.*s",
				 (int)(end - p - n - 1), p + n + 1);
			if (!fnmatch(glob, text, 0))
				return &uafault_known_records[i];
		}
	}
	return NULL;
}

bool known_deviation(struct verdict *v, enum uafault_known_id id, bool shows)
{
	const struct uafault_known *k = &uafault_known_records[id];

	if (!shows) {
		note(v, "# " UAFAULT_KNOWN_ABSENT " %s\n", k->id);
		return false;
	}
	note(v, "# known deviation %s: %s\n", k->id, k->deviation);
	v->known = true;
	v->known_id = k->id;
	return true;
}
