// SPDX-License-Identifier: GPL-2.0
/*
 * Cases: which fault kind applies to which target, one kind run on one
 * target, and its verdict printed as KTAP, for every mode (suites,
 * --cases, a reproducer).  The kinds (faults.c and the kinds_*.c
 * families) never call back in here.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define UAFAULT_KNOWN_TABLE	/* the records are defined here */
#include "agent.h"

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

const char *kind_missing(const struct fault_kind *k)
{
	return k->probe && access(k->probe, F_OK) ? k->config : NULL;
}

bool kind_applies(const struct fault_kind *k, const struct target *t)
{
	return k->crash_only == target_crashes(t) &&
	       (t->flags & k->needs) == k->needs && !(t->flags & k->shuns) &&
	       (!k->results || k->results & 1U << t->result);
}

/* Prints the verdict's notes as KTAP diagnostics at @indent. */
void print_notes(const struct verdict *v, const char *indent)
{
	const char *line = v->msg;

	while (*line) {
		size_t n = strcspn(line, "\n");

		printf("%s%s%.*s\n", indent, line[0] == '#' ? "" : "# ",
		       (int)n, line);
		line += n + (line[n] == '\n');
	}
}

const struct fault_kind *find_kind(const char *name)
{
	const struct fault_kind *kind;
	unsigned int k;

	for_each_fault_kind(k, kind)
		if (!strcmp(kind->name, name))
			return kind;
	return NULL;
}

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
 * "ID TARGET FAULT SIZE OFFSET SEED [MEMORY]"; size 0 and offset -1: the
 * kind's; no memory: private anonymous.
 */
bool parse_case(const char *line, struct campaign_case *c)
{
	char tail;
	int n;

	snprintf(c->memory, sizeof(c->memory), "%s", memory_kinds[0].name);
	n = sscanf(line, "%63s %47s %31s %lu %ld %u %31s %c", c->id, c->target,
		   c->fault, &c->size, &c->offset, &c->seed, c->memory, &tail);
	return (n == 6 || n == 7) && c->size <= MAX_RANGE &&
	       c->offset < (long)PAGE && c->offset >= -1;
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
		printf("%snot ok %u %s\n", indent, number, name);
	else if (v->known && v->known_id)
		printf("%sok %u %s # SKIP " UAFAULT_KNOWN_XFAIL " %s: known deviation\n",
		       indent, number, name, v->known_id);
	else if (v->known)
		printf("%sok %u %s # SKIP " UAFAULT_KNOWN_XFAIL ": a known issue\n",
		       indent, number, name);
	else if (v->unresolved)
		printf("%sok %u %s # SKIP set-up failed\n", indent, number, name);
	else if (v->skipped && v->skip_reason)
		printf("%sok %u %s # SKIP %s\n", indent, number, name,
		       v->skip_reason);
	else if (v->skipped)
		printf("%sok %u %s # SKIP\n", indent, number, name);
	else
		printf("%sok %u %s\n", indent, number, name);
	fflush(stdout);
}

/*
 * Runs one fault kind on one target, the case named @a->case_name.
 */
/*
 * Returns once what the agent printed has left the serial line.  The tty
 * sends user output from its transmit buffer, while the kernel prints a
 * report straight to the console: on a loaded host an oops overtook the
 * line that said it was expected, and the host charged it to the case
 * before.  Not a terminal (a pipe): nothing to wait for.
 */
void console_sync(void)
{
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
}

/*
 * The console line (at the case's KTAP @indent) that says which case is
 * in flight, so a kernel report is charged to it; and the kernel log from
 * here on.
 */
void start_case(const struct agent *a, struct verdict *v, const char *indent)
{
	printf("%s# uafault-case: %s\n", indent, a->case_name);
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

void run_kind(struct agent *a, const struct fault_kind *kind,
	      const struct target *t, struct verdict *v, const char *indent)
{
	const struct memory_kind *mk = a->memory ?: &memory_kinds[0];
	struct pins start;

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
	a->raced = kind->raced;
	start = pins_now();
	coverage_begin();
	phase_begin(PH_CASE);
	kind->run(a, t, v, kind);
	if (v->failed && !pins_equal(start, pins_now())) {
		phase_begin(PH_SETTLE);
		wait_pins_quiet();
		phase_end();
	}
	phase_end();
	coverage_end(a->case_name);
}

/* Runs one campaign case; its verdict is one top-level KTAP line. */
bool run_case(const struct agent *base, const struct campaign_case *c,
	      unsigned int number)
{
	const struct fault_kind *kind = find_kind(c->fault);
	const struct target *t = find_target(base, c->target);
	struct agent a = *base;
	struct verdict v = { 0 };

	snprintf(a.case_name, sizeof(a.case_name), "campaign.%s", c->id);
	a.size = c->size;
	a.offset = c->offset;
	a.seed = c->seed;
	a.memory = find_memory(c->memory);
	if (!kind)
		fail(&v, "unknown fault kind %s", c->fault);
	else if (!a.memory)
		fail(&v, "unknown memory kind %s", c->memory);
	else if (!t)
		fail(&v, "no target %s is registered", c->target);
	else if (!kind_applies(kind, t)) {
		/* Only a plan made before the planner knew the kinds has it. */
		note(&v, "# fault kind %s does not apply to %s\n", c->fault,
		     c->target);
		v.skipped = true;
	} else
		run_kind(&a, kind, t, &v, "");
	print_result(&v, "", number, c->id);
	return !v.failed;
}
