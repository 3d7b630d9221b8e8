/* SPDX-License-Identifier: GPL-2.0 */
/* verdict.c: a case's verdict, its notes, its KTAP result line. */
#ifndef UAFAULT_VERDICT_H
#define UAFAULT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "../../module/uafault_known.h"

#define MSG_LEN		4096

/*
 * One case's verdict and what explains it.  @unresolved: the case's
 * precondition could not be established (a swap-out, a userfaultfd, a
 * fork, a pin), so the target was not judged; reported as a SKIP whose
 * first diagnostic is tagged [setup], never as the target's failure.
 */
struct verdict {
	bool failed;
	bool known;		/* failed as a --known-issue said it would */
	const char *known_id;	/* that record (uafault_known.h) */
	bool unresolved;
	bool skipped;
	const char *skip_reason;	/* said on the SKIP line, or NULL */
	char msg[MSG_LEN];
	size_t used;
};

[[gnu::format(printf, 2, 3)]] void note(struct verdict *v, const char *fmt, ...);
/* A case failed, or could not be set up (it neither passes nor fails). */
enum outcome { FAILED, UNRESOLVED };
[[gnu::format(printf, 3, 4)]] void judge(struct verdict *v, enum outcome how,
					 const char *fmt, ...);
#define fail(v, ...)		judge(v, FAILED, __VA_ARGS__)
#define unresolved(v, ...)	judge(v, UNRESOLVED, __VA_ARGS__)

/*
 * The record of module/uafault_known.h one of whose @kind globs ("issue",
 * "report": see its @cases) matches @text, or NULL.
 */
const struct uafault_known *known_record_of(const char *kind, const char *text);

/*
 * The case saw record @id's deviation (module/uafault_known.h) instead of
 * the contract, when @shows: its result is that record's XFAIL; else it
 * notes that the deviation did not show.  Returns @shows.
 */
bool known_deviation(struct verdict *v, enum uafault_known_id id, bool shows);

void print_notes(const struct verdict *v, const char *indent);
void print_result(const struct verdict *v, const char *indent,
		  unsigned int number, const char *name);

#endif
