// SPDX-License-Identifier: GPL-2.0
/*
 * Cases: one fault kind run on one target, announced on the console and
 * judged, for every mode (suites, --cases, a reproducer), and a --cases
 * line read and run.  The kinds (the kinds_*.c families) never call back
 * in here.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define UAFAULT_KNOWN_TABLE	/* the records are defined here */
#include "agent.h"
#include "caller.h"
#include "cases.h"
#include "coverage.h"
#include "faults.h"
#include "kmsg.h"
#include "ktap.h"
#include "memory.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "profile.h"
#include "protocol.h"
#include "target.h"
#include "verdict.h"

const struct target *find_target(const struct agent *a,
					const char *name)
{
	unsigned int i;

	for (i = 0; i < a->ntargets; i++)
		if (!strcmp(a->targets[i].name, name))
			return &a->targets[i];
	return NULL;
}

/*
 * "ID TARGET FAULT SIZE OFFSET SEED [MEMORY [CALLER]]"; size 0 and offset
 * -1: the kind's; no memory: private anonymous; no caller: the agent's
 * (--caller).  An offset past the first page is for memory of large
 * folios (run_case() checks it against the kind).
 */
bool parse_case(const char *line, struct campaign_case *c)
{
	char tail;
	int n;

	snprintf(c->memory, sizeof(c->memory), "%s", memory_kinds[0].name);
	c->caller[0] = 0;
	n = sscanf(line, "%63s %47s %31s %lu %ld %u %31s %15s %c", c->id,
		   c->target, c->fault, &c->size, &c->offset, &c->seed,
		   c->memory, c->caller, &tail);
	return n >= 6 && n <= 8 && c->size <= MAX_RANGE &&
	       c->offset < (long)HPAGE && c->offset >= -1;
}

/*
 * The console line (at the case's KTAP @indent) that says which case is
 * in flight, so a kernel report is charged to it; and the kernel log from
 * here on.
 */
void start_case(const struct agent *a, struct verdict *v, const char *indent)
{
	printf("%s" CASE_MARKER " %s\n", indent, a->case_name);
	console_sync();
	kmsg_check(a, v, false, NULL);	/* drop older records */
	*v = (struct verdict){ 0 };
}

/* How long the pin counters must hold still after a failed case. */
#define QUIET_MS	300
#define QUIET_TRIES	20

/*
 * A failed case may have left pins that something still holds and lets
 * go later (a completion that outlived its call): before the next case
 * takes its baseline, the counters must have held still for QUIET_MS,
 * or a correct target is charged with a release that is not its own.
 * Only a case that ended with the counters off its start can: the others
 * go on at once.
 */
static void wait_pins_quiet(void)
{
	struct pins last = pins_now(), now;
	unsigned int i;

	for (i = 0; i < QUIET_TRIES; i++, last = now) {
		usleep(QUIET_MS * 1000);
		now = pins_now();
		if (pins_equal(now, last))
			return;
	}
}

/* The case, announced: the kind run on @t, and its oracles. */
static void run_body(struct agent *a, const struct fault_kind *kind,
		     const struct target *t, struct verdict *v)
{
	struct pins start;

	a->raced = kind->raced;
	start = pins_now();
	coverage_begin();
	phase_begin(PH_CASE);
	kind->run(a, t, v, kind);
	if (a->refs_passer_by)
		passer_by_note(v);
	if (v->failed && !pins_equal(start, pins_now())) {
		phase_begin(PH_SETTLE);
		wait_pins_quiet();
		phase_end();
	}
	phase_end();
	coverage_end(a->case_name);
}

/*
 * Runs one fault kind on one target, the case named @a->case_name, as
 * its caller (--caller).
 */
void run_kind(struct agent *a, const struct fault_kind *kind,
	      const struct target *t, struct verdict *v, const char *indent)
{
	const struct memory_kind *mk = a->memory ?: &memory_kinds[0];

	start_case(a, v, indent);
	if (kind_missing(kind)) {
		note(v, "# %s needs %s: this kernel has no %s\n", kind->name,
		     kind->config, kind->probe);
		v->skipped = true;
		v->skip_reason = kind->config;
		return;
	}
	if (!memory_allows(mk, kind->name)) {
		note(v, "# %s means nothing on %s memory: %s\n", kind->name,
		     mk->name, mk->why);
		v->skipped = true;
		return;
	}
	run_as_caller(a, kind, t, v, run_body);
}

/* Runs one campaign case, its notes and outcome in @v (not printed). */
void judge_case(const struct agent *base, const struct campaign_case *c,
		struct verdict *v)
{
	const struct fault_kind *kind = find_kind(c->fault);
	const struct target *t = find_target(base, c->target);
	struct agent a = *base;

	*v = (struct verdict){ 0 };
	snprintf(a.case_name, sizeof(a.case_name), CAMPAIGN_CASE_PREFIX "%s",
		 c->id);
	a.size = c->size;
	a.offset = c->offset;
	a.seed = c->seed;
	a.memory = find_memory(c->memory);
	if (c->caller[0])
		a.caller = find_caller(c->caller);
	if (!kind)
		fail(v, "unknown fault kind %s", c->fault);
	else if (!a.memory)
		fail(v, "unknown memory kind %s", c->memory);
	else if (a.caller < 0)
		fail(v, "unknown caller %s", c->caller);
	else if (!offset_fits(a.offset, a.memory))
		fail(v, "offset %ld is past the first folio of %s memory",
		     a.offset, c->memory);
	else if (!t)
		fail(v, "no target %s is registered", c->target);
	else if (!kind_applies(kind, t)) {
		/* Only a plan made before the planner knew the kinds has it. */
		note(v, "# fault kind %s does not apply to %s\n", c->fault,
		     c->target);
		v->skipped = true;
	} else
		run_kind(&a, kind, t, v, "");
}

/* Runs one campaign case; its verdict is one top-level KTAP line. */
bool run_case(const struct agent *base, const struct campaign_case *c,
	      unsigned int number)
{
	struct verdict v;

	judge_case(base, c, &v);
	print_result(&v, "", number, c->id);
	return !v.failed;
}
