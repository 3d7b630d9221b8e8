// SPDX-License-Identifier: GPL-2.0
/*
 * What every runner of cases needs, the agent and a standalone reproducer
 * alike: the device and its targets, the kernel log, the pin counters,
 * and one campaign case run and reported in the --cases protocol.  No
 * libkmod here: a reproducer runs with the module already loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent.h"

/* Target runs so far, for the scenarios-per-second figure. */
unsigned long target_runs;

int run_target(const struct agent *a, const struct target *t, void *addr,
	       size_t len, struct uafault_run *r)
{
	target_runs++;
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", t->name);
	r->addr = (uintptr_t)addr;
	r->len = len;
	r->seed = a->seed;
	return ioctl(a->dev, UAFAULT_IOC_RUN, r) ? -errno : 0;
}

static long vmstat_value(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long value = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			value = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/*
 * Pins taken minus pins released since boot, or PIN_BALANCE_UNKNOWN.
 * The counters are per-CPU first: without the fold stat_refresh does,
 * /proc/vmstat lags behind by whatever each CPU has not yet flushed.
 */
long pin_balance(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	long acquired, released;
	bool folded;

	if (fd < 0)
		return PIN_BALANCE_UNKNOWN;
	folded = write(fd, "1", 1) == 1;
	close(fd);
	acquired = vmstat_value("nr_foll_pin_acquired");
	released = vmstat_value("nr_foll_pin_released");
	if (!folded || acquired < 0 || released < 0)
		return PIN_BALANCE_UNKNOWN;
	return acquired - released;
}

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

/*
 * Reads what the kernel logged since the last call.  Each /dev/kmsg read
 * returns one record: "prio,seq,usec,flags;text".
 */
void kmsg_check(const struct agent *a, struct verdict *v, bool expect_oops,
		bool *oopsed)
{
	char rec[8192];
	ssize_t n;

	if (a->kmsg < 0)
		return;
	while ((n = read(a->kmsg, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		char *text;

		if (n <= 0)
			continue;	/* EPIPE: records were overwritten */
		rec[n] = 0;
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		text[strcspn(text, "\n")] = 0;
		if (!is_report(text))
			continue;
		if (oopsed && (strstr(text, "BUG:") || strstr(text, "Oops")))
			*oopsed = true;
		if (expect_oops) {
			note(v, "# kernel (expected): %s\n", text);
			continue;
		}
		fail(v, "[kmsg] kernel report: %s", text);
	}
}

int read_targets(struct agent *a)
{
	struct uafault_version ver;
	unsigned int i;

	if (ioctl(a->dev, UAFAULT_IOC_VERSION, &ver))
		return -errno;
	if (ver.abi != UAFAULT_ABI_VERSION) {
		fprintf(stderr, "uafault-agent: module ABI %u, agent ABI %u\n",
			ver.abi, UAFAULT_ABI_VERSION);
		return -EPROTO;
	}
	if (a->take_module_mode)
		a->allow_crash = ver.flags & UAFAULT_MOD_ALLOW_CRASH;
	if (!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH) != a->allow_crash) {
		fprintf(stderr, "uafault-agent: module allow_crash=%d, asked for %d\n",
			!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH), a->allow_crash);
		return -EPROTO;
	}
	a->targets = calloc(ver.ntargets, sizeof(*a->targets));
	if (!a->targets && ver.ntargets)
		return -ENOMEM;
	for (i = 0; i < ver.ntargets; i++) {
		struct uafault_target_info info = { .index = i };
		struct target *t = &a->targets[a->ntargets];

		if (ioctl(a->dev, UAFAULT_IOC_TARGET, &info))
			return -errno;
		if (fnmatch(a->target_glob, info.name, 0))
			continue;
		memcpy(t->name, info.name, sizeof(t->name));
		memcpy(t->owner, info.owner, sizeof(t->owner));
		t->name[sizeof(t->name) - 1] = 0;
		t->owner[sizeof(t->owner) - 1] = 0;
		t->flags = info.flags;
		t->fixed_len = info.fixed_len;
		if (info.result >= UAFAULT_RES_MAX) {
			fprintf(stderr, "uafault-agent: target %s: unknown result kind %u\n",
				t->name, info.result);
			return -EPROTO;
		}
		t->result = info.result;
		/* Without allow_crash the module must offer nothing that oopses. */
		if (target_crashes(t) && !a->allow_crash) {
			fprintf(stderr, "uafault-agent: crashing target %s offered without allow_crash\n",
				t->name);
			return -EPROTO;
		}
		a->ntargets++;
	}
	return 0;
}

bool kind_applies(const struct fault_kind *k, const struct target *t)
{
	return k->crash_only == target_crashes(t) &&
	       (t->flags & k->needs) == k->needs &&
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

/* "ID TARGET FAULT SIZE OFFSET SEED"; size 0 and offset -1: the kind's. */
bool parse_case(const char *line, struct campaign_case *c)
{
	char tail;

	return sscanf(line, "%63s %47s %31s %lu %ld %u %c", c->id, c->target,
		      c->fault, &c->size, &c->offset, &c->seed, &tail) == 6 &&
	       c->size <= MAX_RANGE && c->offset < (long)PAGE &&
	       c->offset >= -1;
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
	else if (v->unresolved)
		printf("%sok %u %s # SKIP set-up failed\n", indent, number, name);
	else if (v->skipped)
		printf("%sok %u %s # SKIP\n", indent, number, name);
	else
		printf("%sok %u %s\n", indent, number, name);
	fflush(stdout);
}

/*
 * Runs one fault kind on one target, the case named @a->case_name: the
 * console line (at the case's KTAP @indent) that says which case is in
 * flight, the kernel log from here on, and the kind.
 */
void run_kind(struct agent *a, const struct fault_kind *kind,
	      const struct target *t, struct verdict *v, const char *indent)
{
	printf("%s# uafault-case: %s\n", indent, a->case_name);
	fflush(stdout);
	kmsg_check(a, v, false, NULL);	/* drop older records */
	*v = (struct verdict){ 0 };
	kind->run(a, t, v, kind);
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
	if (!kind)
		fail(&v, "unknown fault kind %s", c->fault);
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

/*
 * Opens /dev/uafault and reads its targets, then /dev/kmsg from its end.
 * Returns 0, or a negative errno with a message on stderr.
 */
int open_device(struct agent *a)
{
	int err;

	a->dev = open(UAFAULT_DEVICE, O_RDWR);
	if (a->dev < 0) {
		err = -errno;
		fprintf(stderr, "uafault: %s: %s\n", UAFAULT_DEVICE, strerror(-err));
		return err;
	}
	err = read_targets(a);
	if (err) {
		fprintf(stderr, "uafault: reading the targets: %s\n", strerror(-err));
		return err;
	}
	a->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (a->kmsg >= 0)
		lseek(a->kmsg, 0, SEEK_END);
	return 0;
}
