/* SPDX-License-Identifier: GPL-2.0 */
/* cases.c: one kind on one target, and its verdict as KTAP */
#ifndef UAFAULT_CASES_H
#define UAFAULT_CASES_H

#include <stdbool.h>

#include "agent.h"
#include "faults.h"
#include "target.h"
#include "verdict.h"

/* One line of a --cases file. */
struct campaign_case {
	char id[64];
	char target[UAFAULT_NAME_LEN];
	char fault[32];
	unsigned long size;
	long offset;
	unsigned int seed;
	char memory[32];
	char caller[16];	/* "": the agent's (--caller) */
};

void start_case(const struct agent *a, struct verdict *v, const char *indent);
void run_kind(struct agent *a, const struct fault_kind *kind,
	      const struct target *t, struct verdict *v, const char *indent);
bool parse_case(const char *line, struct campaign_case *c);
void judge_case(const struct agent *base, const struct campaign_case *c,
		struct verdict *v);
bool run_case(const struct agent *base, const struct campaign_case *c,
	      unsigned int number);
const struct target *find_target(const struct agent *a, const char *name);

#endif
