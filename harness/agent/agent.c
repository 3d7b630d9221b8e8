// SPDX-License-Identifier: GPL-2.0
/*
 * uafault-agent: loads the modules with libkmod, lists the targets, runs
 * every fault kind against every target and prints KTAP.
 *
 * Exit status: 0 all passed, 1 a case failed, 2 bad usage, 3 a module or
 * the device could not be set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <libkmod.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MAX_MODULES	16
/* configs/known-issues.toml's entries for one kernel, with room to grow. */
#define MAX_KNOWN	64

static int load_modules(struct kmod_ctx *ctx, char **paths, char **params,
			int n, bool allow_crash, struct kmod_module **mods)
{
	int i, err;

	for (i = 0; i < n; i++) {
		err = kmod_module_new_from_path(ctx, paths[i], &mods[i]);
		if (err < 0) {
			fprintf(stderr, "uafault-agent: %s: %s\n", paths[i],
				strerror(-err));
			return err;
		}
		/* Only the first module, uafault.ko, takes allow_crash. */
		err = kmod_module_insert_module(mods[i], 0,
						!i && allow_crash ?
						"allow_crash=1" : params[i]);
		if (err < 0 && err != -EEXIST) {
			fprintf(stderr, "uafault-agent: insert %s: %s\n",
				paths[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static void unload_modules(struct kmod_module **mods, int n)
{
	int i, err;

	for (i = n - 1; i >= 0; i--) {
		err = kmod_module_remove_module(mods[i], 0);
		if (err < 0)
			fprintf(stderr, "uafault-agent: remove %s: %s\n",
				kmod_module_get_name(mods[i]), strerror(-err));
		kmod_module_unref(mods[i]);
	}
}

/*
 * --expect-targets NAME,...: a user's module directory built these
 * modules; one of them must have registered a target, or nothing of it
 * can be tested (its init forgot uafault_register_targets()).
 */
static bool registered_any(const struct agent *a, const char *names)
{
	const char *p = names;
	unsigned int i;

	while (*p) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < a->ntargets; i++)
			if (strlen(a->targets[i].owner) == n &&
			    !strncmp(a->targets[i].owner, p, n))
				return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* --path-file FILE: the described paths, one a line. */
static int add_path_file(struct agent *a, const char *path)
{
	char text[16384];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "uafault-agent: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	if (n == sizeof(text) - 1 && fgetc(f) != EOF) {
		fprintf(stderr, "uafault-agent: %s: more than %zu bytes of paths\n",
			path, sizeof(text) - 1);
		fclose(f);
		return -EFBIG;
	}
	fclose(f);
	text[n] = 0;
	return add_described_paths(a, text);
}

/* --targets GLOB: the matching targets, in the registry's order. */
static void keep_targets(struct agent *a)
{
	unsigned int i, n = 0;

	for (i = 0; i < a->ntargets; i++) {
		if (!fnmatch(a->target_glob, a->targets[i].name, 0))
			a->targets[n++] = a->targets[i];
		else
			close_path(&a->targets[i]);
	}
	a->ntargets = n;
}

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

static unsigned long kernel_taint(void)
{
	unsigned long taint = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &taint) != 1)
			taint = 0;
		fclose(f);
	}
	return taint;
}

/*
 * A kernel tainted before the first case (a WARN, a KASAN report, a bad
 * page during boot) would be charged to no case and blind the run: the
 * boot fails instead, saying so.  uafault.ko's own taint (O) comes later.
 */
static bool boot_tainted(void)
{
	unsigned long taint = kernel_taint();

	if (taint)
		fprintf(stderr, "uafault-agent: the kernel is tainted (%lu) before the first case: a report during boot\n",
			taint);
	return taint;
}

/*
 * The record of module/uafault_known.h whose "issue:" globs take the case
 * @name, or NULL (a known issue of uafault's own variants, or a user's).
 */
static const struct uafault_known *known_record(const char *name)
{
	static const char prefix[] = "issue:";
	const size_t n = sizeof(prefix) - 1;
	const char *p, *end;
	char glob[128];
	int i;

	for (i = 0; i < UAFAULT_KNOWN_NR; i++) {
		for (p = uafault_known_records[i].cases; *p; p = end) {
			p += strspn(p, " ");
			end = p + strcspn(p, " ");
			if ((size_t)(end - p) <= n || strncmp(p, prefix, n) ||
			    (size_t)(end - p) - n >= sizeof(glob))
				continue;
			snprintf(glob, sizeof(glob), "%.*s",
				 (int)(end - p - n), p + n);
			if (!fnmatch(glob, name, 0))
				return &uafault_known_records[i];
		}
	}
	return NULL;
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
		k = known_record(a->case_name);
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
static bool run_suite(struct agent *a, const struct target *t,
		      unsigned int number)
{
	unsigned int k, n = 0, pass = 0, failed = 0, skip = 0;
	const struct fault_kind *kind;

	printf("    KTAP version 1\n    # Subtest: %s\n", t->name);
	printf("    # module: %s\n    1..%u\n", t->owner, count_kinds(a, t));
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
	printf("# %s: pass:%u fail:%u skip:%u total:%u\n", t->name, pass,
	       failed, skip, n);
	printf("%sok %u %s\n", failed ? "not " : "", number, t->name);
	fflush(stdout);
	return !failed;
}

/*
 * --break-memory: every memory kind's precondition check, shown failing.
 * Each kind is set up for @t's "none" case with its promise undone
 * (memory_break()); the case passes only if it ends as a set-up failure
 * that names the kind, the target never run on memory it was not given.
 */
static int run_memory_breaks(struct agent *a, const struct target *t)
{
	const struct fault_kind *none = find_kind("none");
	unsigned int i, failed = 0;
	bool caught;

	printf("KTAP version 1\n1..1\n    KTAP version 1\n");
	printf("    # Subtest: memory_preconditions\n    1..%u\n",
	       nr_memory_kinds);
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
		printf("    %sok %u %s\n", caught ? "" : "not ", i + 1, mk->name);
		failed += !caught;
	}
	printf("# memory_preconditions: pass:%u fail:%u skip:0 total:%u\n",
	       nr_memory_kinds - failed, failed, nr_memory_kinds);
	printf("%sok 1 memory_preconditions\n", failed ? "not " : "");
	fflush(stdout);
	return failed ? EXIT_FAIL : 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The bench's baseline: the same ioctl on every target, @calls times
 * each, on one mapped range with no fault planted and nothing checked.
 */
static void bare_loop(const struct agent *a, unsigned int calls)
{
	size_t map_len = 3 * PAGE;
	unsigned long done = 0;
	struct uafault_run r;
	unsigned char *base;
	unsigned int i, k;
	double start;

	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (base == MAP_FAILED) {
		printf("# uafault-bare: mmap: %s\n", strerror(errno));
		return;
	}
	memset(base, 0, map_len);
	start = now_seconds();
	for (i = 0; i < a->ntargets; i++) {
		const struct target *t = &a->targets[i];
		size_t len = t->fixed_len ? t->fixed_len : map_len;

		if (target_crashes(t))
			continue;
		for (k = 0; k < calls; k++, done++)
			run_target(a, t, base, len, &r);
	}
	printf("# uafault-bare: calls=%lu seconds=%.3f\n", done,
	       now_seconds() - start);
	munmap(base, map_len);
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
static bool run_fuzz_suite(struct agent *a, unsigned int number)
{
	struct verdict v = { 0 };
	char buf[512];
	int out = -1, status;
	FILE *f;
	pid_t pid;

	printf("    KTAP version 1\n    # Subtest: ioctl_fuzz\n    1..1\n");
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
	printf("%sok %u ioctl_fuzz\n", v.failed ? "not " : "", number);
	fflush(stdout);
	return !v.failed;
}

/*
 * --cases FILE: the campaign runner's batch, one case a line, each run
 * and reported by its id, in file order.
 */
static int run_cases(const struct agent *a, const char *path)
{
	struct campaign_case c;
	unsigned int n = 0, lines = 0;
	unsigned long taint;
	bool ok = true;
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "uafault-agent: %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	while (fgets(line, sizeof(line), f))
		lines += line[0] != '#' && line[0] != '\n';
	rewind(f);
	printf("KTAP version 1\n1..%u\n", lines);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!parse_case(line, &c)) {
			fprintf(stderr, "uafault-agent: %s:%u: bad case line\n",
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
			fprintf(stderr, "uafault-agent: case %s tainted the kernel (%lu -> %lu): the rest of the batch needs a fresh boot\n",
				c.id, taint, kernel_taint());
			break;
		}
		/* Nothing gives the zero page its zeroes back: the same. */
		if (!zero_page_intact() && n < lines) {
			fprintf(stderr, "uafault-agent: case %s left the shared zero page written: the rest of the batch needs a fresh boot\n",
				c.id);
			break;
		}
	}
	fclose(f);
	print_profile();
	return ok ? EXIT_PASS : EXIT_FAIL;
}

/*
 * --exec: a standalone reproducer, run the way a user would run it, with
 * the modules loaded.  Its exit status becomes ours (a signal: EXIT_FAIL).
 */
static int exec_program(const char *program)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "uafault-agent: fork: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	if (!pid) {
		execl(program, program, (char *)NULL);
		fprintf(stderr, "uafault-agent: exec %s: %s\n", program,
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return EXIT_SETUP;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAIL;
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: uafault-agent --module PATH [--module PATH]... [options]\n"
		"  --module PATH   load this module (the first is uafault.ko)\n"
		"  --module-params STR  load the last --module with these parameters\n"
		"  --allow-crash   load uafault.ko with allow_crash=1 (SMAP target)\n"
		"  --targets GLOB  only targets matching GLOB (default *)\n"
		"  --faults LIST   only these fault kinds, comma separated\n"
		"  --seed N        seed of the written bytes (default 1)\n"
		"  --rounds N      iterations of the stochastic race (default %u)\n"
		"  --fuzzer PATH   uafault-fuzz, for --fuzz-calls\n"
		"  --fuzz-calls N  run the ioctl fuzzer for N calls as one more suite\n"
		"  --bare-calls N  then time N unchecked runs of each target (bench)\n"
		"  --size N        range length for every fault kind (default: theirs)\n"
		"  --offset N      range start in its first page (default: theirs)\n"
		"  --memory KIND   what backs every range (default anon)\n"
		"  --dma MODE      prove uafault's DMA device is direct, swiotlb or iommu\n"
		"  --coverage      write each case's gcov counters to the coverage disk\n"
		"  --cases FILE    run these campaign cases instead, one a line:\n"
		"                  ID TARGET FAULT SIZE OFFSET SEED [MEMORY]\n"
		"  --list-faults   print the fault kinds (\"NAME [crash] [raced] [start=N]\")\n"
		"                  and exit\n"
		"  --break-memory  undo each memory kind's promise before its proof, on the\n"
		"                  first target's \"none\" case: every proof must catch it\n"
		"  --list-memory   print the memory kinds (\"NAME [skip=KIND,...]\")\n"
		"                  and exit\n"
		"  --list-targets  print the targets (\"NAME OWNER fixed_len=N kinds=K,...\n"
		"                  [crash]\") and exit\n"
		"  --exec PROGRAM  with the modules loaded, run PROGRAM (a reproducer)\n"
		"                  instead, and exit with its status\n"
		"  --expect-targets NAME,...  fail set-up unless one of these modules\n"
		"                  registered a target\n"
		"  --path-file FILE  also the paths FILE describes, one a line\n"
		"                  (the harness writes it from configs/paths/*.toml)\n"
		"  --watchdog N    seconds a call may take before the agent names\n"
		"                  the hang and ends itself (default 60)\n"
		"  --hang-paths    (tests) the fuse read's server never answers:\n"
		"                  the watchdog must name the hang\n"
		"  --known-issue GLOB  a case (\"target.kind\") expected to fail:\n"
		"                  its failure is a SKIP that says XFAIL\n"
		"  --misuse-paths  (tests) paths keep what they should give back and\n"
		"                  report a byte more than moved: the oracles must fire\n"
		"  --kunit GLOB    then run the loaded KUnit suites matching GLOB again\n"
		"                  through /sys/kernel/debug/kunit/<suite>/run\n"
		"  --kunit-param MODULE.NAME=VALUE  set a module parameter first (the\n"
		"                  cases that WARN or oops on purpose)\n"
		"  --kunit-last GLOB  the suites that oops on purpose: run them after\n"
		"                  every other suite\n",
		DEFAULT_ROUNDS);
}

/*
 * A line of --list-faults: "NAME [crash] [raced] [start=N]", start when the
 * kind has one start of its own (an --offset of -1 means that one).
 */
static void list_kind(const struct fault_kind *k)
{
	printf("%s%s%s", k->name, k->crash_only ? " crash" : "",
	       k->raced ? " raced" : "");
	if (k->start != SEVERAL_STARTS)
		printf(" start=%d", k->start);
	printf("\n");
}

/*
 * A line of --list-targets: "uafault-target: NAME OWNER fixed_len=N
 * kinds=KIND,... [crash]", the kinds that mean something for the target,
 * so the host plans no case that would only be skipped.
 */
static void list_target(const struct target *t)
{
	const struct fault_kind *kind;
	const char *sep = "";
	unsigned int k;

	printf("uafault-target: %s %s fixed_len=%zu kinds=", t->name, t->owner,
	       t->fixed_len);
	for_each_fault_kind(k, kind) {
		if (!kind_applies(kind, t) || kind_missing(kind))
			continue;
		printf("%s%s", sep, kind->name);
		sep = ",";
	}
	printf("%s\n", target_crashes(t) ? " crash" : "");
}

/*
 * The kinds this kernel cannot run, after the targets: "uafault-unavailable:
 * kind NAME CONFIG_X", so the host reports them skipped with the option.
 */
static void list_unavailable(void)
{
	const struct fault_kind *kind;
	unsigned int k;

	for_each_fault_kind(k, kind) {
		if (kind_missing(kind))
			printf("%s kind %s %s\n", UNAVAILABLE_MARKER, kind->name,
			       kind->config);
	}
}

/* Adds @arg to a list of at most MAX_MODULES; -1, said, when it is full. */
static int add_arg(char **list, int *n, int max, const char *option,
		   char *arg)
{
	if (*n == max) {
		fprintf(stderr, "uafault-agent: at most %d %s\n", max, option);
		return -1;
	}
	list[(*n)++] = arg;
	return 0;
}

static int parse_uint(const char *arg, const char *what, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || *end || !*arg || v > 1000000000UL) {
		fprintf(stderr, "uafault-agent: %s: bad number '%s'\n", what,
			arg);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "module-params", required_argument, NULL, 'p' },
		{ "allow-crash", no_argument, NULL, 'c' },
		{ "targets", required_argument, NULL, 't' },
		{ "faults", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "list-faults", no_argument, NULL, 'l' },
		{ "list-targets", no_argument, NULL, 'L' },
		{ "fuzzer", required_argument, NULL, 'z' },
		{ "fuzz-calls", required_argument, NULL, 'n' },
		{ "bare-calls", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'S' },
		{ "offset", required_argument, NULL, 'O' },
		{ "cases", required_argument, NULL, 'C' },
		{ "memory", required_argument, NULL, 'Y' },
		{ "break-memory", no_argument, NULL, 'B' },
		{ "list-memory", no_argument, NULL, 'y' },
		{ "dma", required_argument, NULL, 'D' },
		{ "exec", required_argument, NULL, 'x' },
		{ "kunit", required_argument, NULL, 'k' },
		{ "kunit-param", required_argument, NULL, 'q' },
		{ "kunit-last", required_argument, NULL, 'A' },
		{ "expect-targets", required_argument, NULL, 'e' },
		{ "misuse-paths", no_argument, NULL, 'M' },
		{ "known-issue", required_argument, NULL, 'K' },
		{ "watchdog", required_argument, NULL, 'w' },
		{ "hang-paths", no_argument, NULL, 'H' },
		{ "path-file", required_argument, NULL, 'P' },
		{ "coverage", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct agent a = {
		.dev = -1, .kmsg = -1, .seed = 1, .rounds = DEFAULT_ROUNDS, .offset = -1,
		.target_glob = "*",
	};
	unsigned int bare_calls = 0, value;
	/* The options that take a plain number, and where it goes. */
	const struct {
		int opt;
		const char *name;
		unsigned int *to;
	} numbers[] = {
		{ 's', "--seed", &a.seed },
		{ 'r', "--rounds", &a.rounds },
		{ 'n', "--fuzz-calls", &a.fuzz_calls },
		{ 'b', "--bare-calls", &bare_calls },
		{ 'w', "--watchdog", &watchdog_seconds },
	};
	struct kmod_module *mods[MAX_MODULES];
	char *paths[MAX_MODULES], *params[MAX_MODULES] = { NULL };
	struct kmod_ctx *ctx = NULL;
	int nmods = 0, opt, status = EXIT_PASS, err;
	const char *cases = NULL, *program = NULL;
	const char *path_file = NULL, *dma = NULL;
	char *expect[MAX_MODULES], *known[MAX_KNOWN];
	struct kunit_rerun kunit = { 0 };
	int nexpect = 0;
	bool list_only = false, coverage = false;
	double start;
	const struct fault_kind *kind;
	unsigned int i, k;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		for (i = 0; i < ARRAY_SIZE(numbers) && numbers[i].opt != opt;)
			i++;
		if (i < ARRAY_SIZE(numbers)) {
			if (parse_uint(optarg, numbers[i].name, numbers[i].to))
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'm':
			if (add_arg(paths, &nmods, MAX_MODULES, "--module", optarg))
				return EXIT_USAGE;
			break;
		case 'p':
			if (!nmods) {
				fprintf(stderr, "uafault-agent: --module-params needs a --module before it\n");
				return EXIT_USAGE;
			}
			params[nmods - 1] = optarg;
			break;
		case 'c':
			a.allow_crash = true;
			break;
		case 't':
			a.target_glob = optarg;
			break;
		case 'f':
			a.fault_list = optarg;
			break;
		case 'z':
			a.fuzzer = optarg;
			break;
		case 'S':
			if (parse_uint(optarg, "--size", &value) ||
			    value > MAX_RANGE)
				return EXIT_USAGE;
			a.size = value;
			break;
		case 'O':
			if (parse_uint(optarg, "--offset", &value) ||
			    value >= PAGE)
				return EXIT_USAGE;
			a.offset = value;
			break;
		case 'C':
			cases = optarg;
			break;
		case 'Y':
			a.memory = find_memory(optarg);
			if (!a.memory) {
				fprintf(stderr, "uafault-agent: --memory %s: no such memory kind (--list-memory)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'B':
			a.break_memory = true;
			break;
		case 'D':
			if (!dma_mode_known(optarg))
				return EXIT_USAGE;
			dma = optarg;
			break;
		case 'y':
			for (k = 0; k < nr_memory_kinds; k++)
				list_memory(&memory_kinds[k]);
			return EXIT_PASS;
		case 'x':
			program = optarg;
			break;
		case 'k':
			kunit.glob = optarg;
			break;
		case 'q':
			if (!kunit_param_ok(optarg) ||
			    add_arg(kunit.params, &kunit.nparams, MAX_KUNIT_PARAMS,
				    "--kunit-param", optarg))
				return EXIT_USAGE;
			break;
		case 'A':
			kunit.last = optarg;
			break;
		case 'e':
			if (add_arg(expect, &nexpect, MAX_MODULES, "--expect-targets", optarg))
				return EXIT_USAGE;
			break;
		case 'L':
			list_only = true;
			break;
		case 'K':
			a.known = known;
			if (add_arg(known, &a.nknown, MAX_KNOWN, "--known-issue", optarg))
				return EXIT_USAGE;
			break;
		case 'H':
			a.hang_paths = true;
			break;
		case 'M':
			a.misuse_paths = true;
			break;
		case 'P':
			path_file = optarg;
			break;
		case 'G':
			coverage = true;
			break;
		case 'l':
			for_each_fault_kind(k, kind)
				list_kind(kind);
			return EXIT_PASS;
		case 'h':
			print_usage(stdout);
			return EXIT_PASS;
		default:
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !nmods) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (a.fuzz_calls && !a.fuzzer) {
		fprintf(stderr, "uafault-agent: --fuzz-calls needs --fuzzer\n");
		return EXIT_USAGE;
	}
	if (a.fault_list) {
		/* Every listed name must be a fault kind. */
		const char *p = a.fault_list;

		while (*p) {
			size_t n = strcspn(p, ",");
			bool known = false;

			for_each_fault_kind(k, kind)
				known |= strlen(kind->name) == n &&
					 !strncmp(p, kind->name, n);
			if (!known) {
				fprintf(stderr, "uafault-agent: unknown fault kind '%.*s' (see --list-faults)\n",
					(int)n, p);
				return EXIT_USAGE;
			}
			p += n + (p[n] == ',');
		}
	}

	if (boot_tainted())
		return EXIT_SETUP;
	zero_page_probe();
	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		fprintf(stderr, "uafault-agent: kmod_new failed\n");
		return EXIT_SETUP;
	}
	err = load_modules(ctx, paths, params, nmods, a.allow_crash, mods);
	if (err) {
		kmod_unref(ctx);
		return EXIT_SETUP;
	}
	if (open_device(&a) || watchdog_start()) {
		unload_modules(mods, nmods);
		kmod_unref(ctx);
		return EXIT_SETUP;
	}

	if (path_file && add_path_file(&a, path_file)) {
		status = EXIT_SETUP;
		goto out;
	}
	for (i = 0; i < (unsigned int)nexpect; i++) {
		if (registered_any(&a, expect[i]))
			continue;
		fprintf(stderr, "uafault-agent: module %s registered no target (does its init call uafault_register_targets()?)\n",
			expect[i]);
		status = EXIT_SETUP;
		goto out;
	}
	/* Before --targets narrows the list: the proof runs a DMA target. */
	if (dma && !list_only && !program && dma_prove(&a, dma)) {
		status = EXIT_SETUP;
		goto out;
	}
	keep_targets(&a);
	if (program) {
		status = exec_program(program);
		goto out;
	}
	if (list_only) {
		for (i = 0; i < a.ntargets; i++)
			list_target(&a.targets[i]);
		list_unavailable();
		goto out;
	}
	if (coverage && coverage_start()) {
		status = EXIT_SETUP;
		goto out;
	}
	if (cases) {
		status = run_cases(&a, cases);
		goto out;
	}
	if (a.break_memory) {
		status = a.ntargets ? run_memory_breaks(&a, &a.targets[0]) :
				      EXIT_USAGE;
		if (!a.ntargets)
			fprintf(stderr, "uafault-agent: --break-memory needs a target (--targets)\n");
		goto out;
	}
	if (kunit.glob && kunit_rerun_prepare(&kunit)) {
		status = EXIT_SETUP;
		goto out;
	}
	/* The crashing target oopses: its suite runs last. */
	printf("KTAP version 1\n1..%u\n",
	       a.ntargets + !!a.fuzz_calls + kunit.nsuites);
	k = 0;
	start = now_seconds();
	for (i = 0; i < a.ntargets; i++)
		if (!target_crashes(&a.targets[i]) && !run_suite(&a, &a.targets[i], ++k))
			status = EXIT_FAIL;
	printf("# uafault-stats: scenarios=%lu seconds=%.3f\n", target_runs,
	       now_seconds() - start);
	print_profile();
	if (bare_calls)
		bare_loop(&a, bare_calls);
	if (a.fuzz_calls && !run_fuzz_suite(&a, ++k))
		status = EXIT_FAIL;
	if (!kunit_rerun_all(&a, &kunit, &k))
		status = EXIT_FAIL;
	for (i = 0; i < a.ntargets; i++)
		if (target_crashes(&a.targets[i]) && !run_suite(&a, &a.targets[i], ++k))
			status = EXIT_FAIL;

out:
	kunit_rerun_free(&kunit);
	for (i = 0; i < a.ntargets; i++)
		close_path(&a.targets[i]);
	close(a.dev);
	if (a.kmsg >= 0)
		close(a.kmsg);
	unload_modules(mods, nmods);
	kmod_unref(ctx);
	free(a.targets);
	return status;
}
