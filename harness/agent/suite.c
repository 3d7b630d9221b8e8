// SPDX-License-Identifier: GPL-2.0
/*
 * The runs of the agent that print a KTAP suite: one target's fault kinds,
 * the memory kinds' precondition checks, the ioctl fuzzer, and a campaign's
 * --cases batch.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cases.h"
#include "faults.h"
#include "kmsg.h"
#include "ktap.h"
#include "memory.h"
#include "pins.h"
#include "profile.h"
#include "protocol.h"
#include "suite.h"
#include "sys.h"
#include "target.h"
#include "verdict.h"

static bool fault_selected(const struct agent *a, const char *name)
{
	const char *p = a->fault_list;
	size_t len = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, name, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static unsigned int count_kinds(const struct agent *a, const struct target *t)
{
	const struct fault_kind *kind;
	unsigned int k, n = 0;

	for_each_fault_kind(k, kind)
		n += kind_applies(kind, t) && fault_selected(a, kind->name);
	return n;
}

/*
 * A failure of a case a --known-issue names is that issue, seen again: a
 * SKIP that says so and names its record, its notes printed as a
 * failure's are.  A pass of a case whose record a pass disproves says
 * that the record did not show.
 */
static void expect_known(const struct agent *a, struct verdict *v)
{
	const struct uafault_known *k;
	int i;

	for (i = 0; i < a->nknown; i++) {
		if (fnmatch(a->known[i], a->case_name, 0))
			continue;
		k = known_record_of("issue", a->case_name);
		if (v->failed) {
			v->failed = false;
			v->known = true;
			v->known_id = k ? k->id : NULL;
		} else if (k && !v->skipped && !v->unresolved &&
			   !strncmp(k->probe, "behaviour:", 10)) {
			note(v, "# " UAFAULT_KNOWN_ABSENT " %s\n", k->id);
		}
		return;
	}
}

/* One target is one KTAP suite; one fault kind is one case. */
bool run_suite(struct agent *a, const struct target *t, unsigned int number)
{
	unsigned int k, n = 0, pass = 0, failed = 0, skip = 0;
	const struct fault_kind *kind;

	ktap_version("    ");
	ktap_subtest("    ", t->name);
	printf("    " KTAP_MODULE "%s\n", t->owner);
	ktap_plan("    ", count_kinds(a, t));
	for_each_fault_kind(k, kind) {
		struct verdict v = { 0 };

		if (!kind_applies(kind, t) || !fault_selected(a, kind->name))
			continue;
		n++;
		snprintf(a->case_name, sizeof(a->case_name), "%s.%s",
			 t->name, kind->name);
		run_kind(a, kind, t, &v, "    ");
		expect_known(a, &v);
		print_result(&v, "    ", n, kind->name);
		if (v.failed)
			failed++;
		else if (v.unresolved || v.skipped)
			skip++;
		else
			pass++;
	}
	ktap_totals(t->name, pass, failed, skip, n);
	ktap_result("", !failed, number, t->name);
	fflush(stdout);
	return !failed;
}

/*
 * --break-memory: every memory kind's precondition check, shown failing.
 * Each kind is set up for @t's "none" case with its promise undone
 * (memory_break()); the case passes only if it ends as a set-up failure
 * that names the kind, the target never run on memory it was not given.
 */
int run_memory_breaks(struct agent *a, const struct target *t)
{
	const struct fault_kind *none = find_kind("none");
	unsigned int i, failed = 0;
	bool caught;

	ktap_version("");
	ktap_plan("", 1);
	ktap_version("    ");
	ktap_subtest("    ", "memory_preconditions");
	ktap_plan("    ", nr_memory_kinds);
	for (i = 0; i < nr_memory_kinds; i++) {
		const struct memory_kind *mk = &memory_kinds[i];
		struct verdict v = { 0 };

		a->memory = mk;
		snprintf(a->case_name, sizeof(a->case_name),
			 "memory_preconditions.%s", mk->name);
		run_kind(a, none, t, &v, "    ");
		caught = v.unresolved && !v.failed && strstr(v.msg, mk->name);
		if (!caught)
			note(&v, "# %s memory: its precondition was undone and its proof did not see it\n",
			     mk->name);
		print_notes(&v, "    ");
		ktap_result("    ", caught, i + 1, mk->name);
		failed += !caught;
	}
	ktap_totals("memory_preconditions", nr_memory_kinds - failed, failed, 0,
		    nr_memory_kinds);
	ktap_result("", !failed, 1, "memory_preconditions");
	fflush(stdout);
	return failed ? EXIT_FAIL : 0;
}

/* Runs the fuzzer, its stdout and stderr into a pipe we drain. */
static int fuzz_spawn(const struct agent *a, int *out)
{
	char calls[16], seed[16];
	int pfd[2];
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		snprintf(calls, sizeof(calls), "%u", a->fuzz_calls);
		snprintf(seed, sizeof(seed), "%u", a->seed);
		execl(a->fuzzer, a->fuzzer, "-n", calls, "-s", seed, NULL);
		fprintf(stderr, "exec %s: %s\n", a->fuzzer, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	*out = pfd[0];
	return pid;
}

/*
 * The ioctl fuzzer as a suite of one case: it must finish (exit 0) and
 * the kernel must report nothing while it runs.
 */
bool run_fuzz_suite(struct agent *a, unsigned int number)
{
	struct verdict v = { 0 };
	char buf[512];
	int out = -1, status;
	FILE *f;
	pid_t pid;

	ktap_version("    ");
	ktap_subtest("    ", "ioctl_fuzz");
	ktap_plan("    ", 1);
	snprintf(a->case_name, sizeof(a->case_name), "ioctl_fuzz.random_args");
	start_case(a, &v, "    ");
	pid = fuzz_spawn(a, &out);
	if (pid < 0) {
		fail(&v, "cannot run %s: %s", a->fuzzer, strerror(-pid));
	} else {
		f = fdopen(out, "r");
		while (f && fgets(buf, sizeof(buf), f))
			note(&v, "# %s", buf);
		if (f)
			fclose(f);
		if (waitpid(pid, &status, 0) != pid)
			fail(&v, "lost the fuzzer: %s", strerror(errno));
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail(&v, "the fuzzer ended with status %#x", status);
	}
	kmsg_check(a, &v, false, NULL);
	print_result(&v, "    ", 1, "random_args");
	ktap_result("", !v.failed, number, "ioctl_fuzz");
	fflush(stdout);
	return !v.failed;
}

/*
 * --cases FILE: the campaign runner's batch, one case a line, each run
 * and reported by its id, in file order.
 */
int run_cases(const struct agent *a, const char *path)
{
	struct campaign_case c;
	unsigned int n = 0, lines = 0;
	unsigned long taint;
	bool ok = true;
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, AGENT_ERROR_PREFIX "%s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	while (fgets(line, sizeof(line), f))
		lines += line[0] != '#' && line[0] != '\n';
	rewind(f);
	ktap_version("");
	ktap_plan("", lines);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!parse_case(line, &c)) {
			fprintf(stderr, AGENT_ERROR_PREFIX "%s:%u: bad case line\n",
				path, n + 1);
			fclose(f);
			return EXIT_USAGE;
		}
		taint = kernel_taint();
		ok &= run_case(a, &c, ++n);
		/*
		 * A case that tainted the kernel (a bad page, a WARN) may have
		 * damaged it: a buggy target that put_page()s the zero page
		 * leaves every later GUP of it failing.  The host runs the
		 * rest of the batch in a fresh boot, as after a crash.
		 */
		if (kernel_taint() != taint && n < lines) {
			fprintf(stderr, AGENT_ERROR_PREFIX "case %s tainted the kernel (%lu -> %lu): the rest of the batch needs a fresh boot\n",
				c.id, taint, kernel_taint());
			break;
		}
		/* Nothing gives the zero page its zeroes back: the same. */
		if (!zero_page_intact() && n < lines) {
			fprintf(stderr, AGENT_ERROR_PREFIX "case %s left the shared zero page written: the rest of the batch needs a fresh boot\n",
				c.id);
			break;
		}
	}
	fclose(f);
	print_profile();
	return ok ? EXIT_PASS : EXIT_FAIL;
}
