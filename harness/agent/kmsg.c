// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel log: what it reported since the last look (a report fails
 * the case unless an oops was expected), and the fault injectors it names.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "kmsg.h"
#include "profile.h"
#include "protocol.h"
#include "verdict.h"

/* Kernel reports that fail a case unless it expected an oops. */
static const char * const report_markers[] = { REPORT_MARKERS };

static bool is_report(const char *text)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(report_markers); i++)
		if (!strncmp(text, report_markers[i],
			     strlen(report_markers[i])))
			return true;
	return false;
}

/* The fault injectors, as their debugfs directories (and reports) name them. */
const char * const injector_names[NR_INJECTORS] = {
	"fail_usercopy", "failslab", "fail_page_alloc", "fail_iommufd",
};

/*
 * A fault injector's report ("FAULT_INJECTION: forcing a failure." then
 * "name failslab, interval ..."): counts it in @seen.
 */
static void count_injection(const char *text, struct kmsg_seen *seen)
{
	const char *name = strstr(text, "name ");
	unsigned int i;

	if (!seen || !strstr(text, "FAULT_INJECTION") || !name)
		return;
	for (i = 0; i < NR_INJECTORS; i++)
		if (!strncmp(name + 5, injector_names[i],
			     strlen(injector_names[i])) &&
		    name[5 + strlen(injector_names[i])] == ',')
			seen->injected[i]++;
}

/*
 * Reads what the kernel logged since the last call.  Each /dev/kmsg read
 * returns one record: "prio,seq,usec,flags;text", a newline inside the
 * text escaped as "\x0a".
 */
/*
 * A report that is a known deviation of the kernel's own debugging (a
 * record's "report:" globs match it or the WARN message before it): the
 * case's XFAIL, not its failure.
 */
static bool known_report(struct verdict *v, const char *lead, const char *text)
{
	const struct uafault_known *k = known_record_of("report", text);
	int id;

	if (!k)
		k = known_record_of("report", lead);
	if (!k)
		return false;
	note(v, "# kernel: %s\n# kernel: %s\n", lead, text);
	id = k - uafault_known_records;
	return known_deviation(v, (enum uafault_known_id)id, true);
}

void kmsg_scan(const struct agent *a, struct verdict *v, bool expect_oops,
	       struct kmsg_seen *seen)
{
	static char lead[512];
	char rec[8192];
	ssize_t n;

	if (a->kmsg < 0)
		return;
	phase_begin(PH_KMSG);
	while ((n = read(a->kmsg, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		char *text;

		if (n <= 0)
			continue;	/* EPIPE: records were overwritten */
		rec[n] = 0;
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		text[strcspn(text, "\n")] = 0;
		count_injection(text, seen);
		if (!is_report(text)) {
			/* A WARN's message comes just before its report. */
			snprintf(lead, sizeof(lead), "%.*s", (int)sizeof(lead) - 1, text);
			continue;
		}
		if (seen && (strstr(text, "BUG:") || strstr(text, "Oops")))
			seen->oopsed = true;
		if (expect_oops) {
			note(v, "# kernel (expected): %s\n", text);
			continue;
		}
		if (known_report(v, lead, text))
			continue;
		fail(v, "[kmsg] kernel report: %s", text);
	}
	phase_end();
}

void kmsg_check(const struct agent *a, struct verdict *v, bool expect_oops,
		bool *oopsed)
{
	struct kmsg_seen seen = { 0 };

	kmsg_scan(a, v, expect_oops, &seen);
	if (oopsed && seen.oopsed)
		*oopsed = true;
}
