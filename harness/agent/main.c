// SPDX-License-Identifier: GPL-2.0
/*
 * uafault-agent's main(): the command line into one struct options, then
 * the one mode it asks for.  The list modes and --help answer from the
 * command line alone; the others load the modules, open the device, run
 * and unload.  Each mode is one function here; what it runs is in the
 * file of its concern (suite.c, list.c, bench.c, kunit_rerun.c, dma.c).
 *
 * Exit status: 0 all passed, 1 a case failed, 2 bad usage, 3 a module or
 * the device could not be set up.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <libkmod.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "bench.h"
#include "caller.h"
#include "coverage.h"
#include "device.h"
#include "dma.h"
#include "faults.h"
#include "ktap.h"
#include "kunit_rerun.h"
#include "list.h"
#include "memory.h"
#include "modules.h"
#include "paths.h"
#include "pins.h"
#include "profile.h"
#include "protocol.h"
#include "suite.h"
#include "sys.h"
#include "target.h"
#include "watchdog.h"

/* What the command line asks for. */
enum mode {
	MODE_SUITES,		/* every target's suite, then the extras */
	MODE_HELP,		/* --help */
	MODE_LIST_FAULTS,	/* --list-faults */
	MODE_LIST_MEMORY,	/* --list-memory */
	MODE_LIST_TARGETS,	/* --list-targets */
	MODE_EXEC,		/* --exec PROGRAM */
	MODE_CASES,		/* --cases FILE */
	MODE_BREAK_MEMORY,	/* --break-memory */
};

/* The whole command line. */
struct options {
	struct agent a;		/* what the cases read */
	enum mode mode;
	char *modules[MAX_MODULES], *params[MAX_MODULES];
	int nmods;
	char *expect[MAX_MODULES];	/* --expect-targets */
	int nexpect;
	char *known[MAX_KNOWN];	/* --known-issue, as a.known */
	unsigned int bare_calls;
	unsigned int watchdog;	/* seconds, for watchdog_seconds */
	const char *cases, *program, *path_file, *dma;
	bool coverage;
	struct kunit_rerun kunit;
};

/* --path-file FILE: the described paths, one a line. */
static int add_path_file(struct agent *a, const char *path)
{
	char text[16384];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, AGENT_ERROR_PREFIX "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	if (n == sizeof(text) - 1 && fgetc(f) != EOF) {
		fprintf(stderr, AGENT_ERROR_PREFIX "%s: more than %zu bytes of paths\n",
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

/*
 * A kernel tainted before the first case (a WARN, a KASAN report, a bad
 * page during boot) would be charged to no case and blind the run: the
 * boot fails instead, saying so.  uafault.ko's own taint (O) comes later.
 */
static bool boot_tainted(void)
{
	unsigned long taint = kernel_taint();

	if (taint)
		fprintf(stderr, BOOT_TAINTED_LINE, taint);
	return taint;
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
		fprintf(stderr, AGENT_ERROR_PREFIX "fork: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	if (!pid) {
		execl(program, program, (char *)NULL);
		fprintf(stderr, AGENT_ERROR_PREFIX "exec %s: %s\n", program,
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
		"usage: " AGENT_NAME " --" OPT_MODULE " PATH [--" OPT_MODULE " PATH]... [options]\n"
		"  --" OPT_MODULE " PATH   load this module (the first is uafault.ko)\n"
		"  --" OPT_MODULE_PARAMS " STR  load the last --" OPT_MODULE " with these parameters\n"
		"  --" OPT_ALLOW_CRASH "   load uafault.ko with allow_crash=1 (SMAP target)\n"
		"  --" OPT_TARGETS " GLOB  only targets matching GLOB (default *)\n"
		"  --" OPT_FAULTS " LIST   only these fault kinds, comma separated\n"
		"  --" OPT_SEED " N        seed of the written bytes (default 1)\n"
		"  --" OPT_ROUNDS " N      iterations of the stochastic race (default %u)\n"
		"  --" OPT_FUZZER " PATH   uafault-fuzz, for --" OPT_FUZZ_CALLS "\n"
		"  --" OPT_FUZZ_CALLS " N  run the ioctl fuzzer for N calls as one more suite\n"
		"  --" OPT_BARE_CALLS " N  then time N unchecked runs of each target (bench)\n"
		"  --" OPT_SIZE " N        range length for every fault kind (default: theirs)\n"
		"  --" OPT_OFFSET " N      range start in its first page (default: theirs); on\n"
		"                  memory of large folios (--" OPT_LIST_MEMORY "'s " MEMORY_FOLIO ") in its\n"
		"                  first folio\n"
		"  --" OPT_MEMORY " KIND   what backs every range (default anon)\n"
		"  --" OPT_DMA " MODE      prove uafault's DMA device is direct, swiotlb or iommu\n"
		"  --" OPT_COVERAGE "      write each case's gcov counters to the coverage disk\n"
		"  --" OPT_CALLER " NAME   who makes every case's calls: root (default), or\n"
		"                  user: a child without CAP_IPC_LOCK under a small\n"
		"                  RLIMIT_MEMLOCK, whose pin accounting is then checked\n"
		"  --" OPT_CASES " FILE    run these campaign cases instead, one a line:\n"
		"                  ID TARGET FAULT SIZE OFFSET SEED [MEMORY [CALLER]]\n"
		"  --" OPT_LIST_FAULTS "   print the fault kinds (\"NAME [crash] [raced] [start=N]\")\n"
		"                  and exit\n"
		"  --" OPT_BREAK_MEMORY "  undo each memory kind's promise before its proof, on the\n"
		"                  first target's \"none\" case: every proof must catch it\n"
		"  --" OPT_LIST_MEMORY "   print the memory kinds (\"NAME [folio=BYTES]\n"
		"                  [skip=KIND,...]\") and exit\n"
		"  --" OPT_LIST_TARGETS "  print the targets (\"NAME OWNER fixed_len=N align=A\n"
		"                  kinds=K,... [crash]\") and exit\n"
		"  --" OPT_EXEC " PROGRAM  with the modules loaded, run PROGRAM (a reproducer)\n"
		"                  instead, and exit with its status\n"
		"  --" OPT_EXPECT_TARGETS " NAME,...  fail set-up unless one of these modules\n"
		"                  registered a target\n"
		"  --" OPT_PATH_FILE " FILE  also the paths FILE describes, one a line\n"
		"                  (the harness writes it from configs/paths/*.toml)\n"
		"  --" OPT_WATCHDOG " N    seconds a call may take before the agent names\n"
		"                  the hang and ends itself (default 60)\n"
		"  --" OPT_HANG_PATHS "    (tests) the fuse read's server never answers:\n"
		"                  the watchdog must name the hang\n"
		"  --" OPT_KNOWN_ISSUE " GLOB  a case (\"target.kind\") expected to fail:\n"
		"                  its failure is a SKIP that says " KTAP_XFAIL "\n"
		"  --" OPT_MISUSE_PATHS "  (tests) paths keep what they should give back and\n"
		"                  report a byte more than moved: the oracles must fire\n"
		"  --" OPT_REFS_PASSER_BY "  (tests) hold a reference on each page of a range\n"
		"                  through the looks before its call, as a passer-by\n"
		"                  would: no oracle may charge it to the call\n"
		"  --" OPT_KUNIT " GLOB    then run the loaded KUnit suites matching GLOB again\n"
		"                  through /sys/kernel/debug/kunit/<suite>/run\n"
		"  --" OPT_KUNIT_PARAM " MODULE.NAME=VALUE  set a module parameter first (the\n"
		"                  cases that WARN or oops on purpose)\n"
		"  --" OPT_KUNIT_LAST " GLOB  the suites that oops on purpose: run them after\n"
		"                  every other suite\n",
		DEFAULT_ROUNDS);
}

/* Adds @arg to a list of at most @max; -1, said, when it is full. */
static int add_arg(char **list, int *n, int max, const char *option,
		   char *arg)
{
	if (*n == max) {
		fprintf(stderr, AGENT_ERROR_PREFIX "at most %d %s\n", max, option);
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
		fprintf(stderr, AGENT_ERROR_PREFIX "%s: bad number '%s'\n", what,
			arg);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

static const struct option long_options[] = {
	{ OPT_MODULE, required_argument, NULL, 'm' },
	{ OPT_MODULE_PARAMS, required_argument, NULL, 'p' },
	{ OPT_ALLOW_CRASH, no_argument, NULL, 'c' },
	{ OPT_TARGETS, required_argument, NULL, 't' },
	{ OPT_FAULTS, required_argument, NULL, 'f' },
	{ OPT_SEED, required_argument, NULL, 's' },
	{ OPT_ROUNDS, required_argument, NULL, 'r' },
	{ OPT_LIST_FAULTS, no_argument, NULL, 'l' },
	{ OPT_LIST_TARGETS, no_argument, NULL, 'L' },
	{ OPT_FUZZER, required_argument, NULL, 'z' },
	{ OPT_FUZZ_CALLS, required_argument, NULL, 'n' },
	{ OPT_BARE_CALLS, required_argument, NULL, 'b' },
	{ OPT_SIZE, required_argument, NULL, 'S' },
	{ OPT_OFFSET, required_argument, NULL, 'O' },
	{ OPT_CASES, required_argument, NULL, 'C' },
	{ OPT_MEMORY, required_argument, NULL, 'Y' },
	{ OPT_BREAK_MEMORY, no_argument, NULL, 'B' },
	{ OPT_LIST_MEMORY, no_argument, NULL, 'y' },
	{ OPT_DMA, required_argument, NULL, 'D' },
	{ OPT_EXEC, required_argument, NULL, 'x' },
	{ OPT_KUNIT, required_argument, NULL, 'k' },
	{ OPT_KUNIT_PARAM, required_argument, NULL, 'q' },
	{ OPT_KUNIT_LAST, required_argument, NULL, 'A' },
	{ OPT_EXPECT_TARGETS, required_argument, NULL, 'e' },
	{ OPT_MISUSE_PATHS, no_argument, NULL, 'M' },
	{ OPT_REFS_PASSER_BY, no_argument, NULL, 'R' },
	{ OPT_KNOWN_ISSUE, required_argument, NULL, 'K' },
	{ OPT_WATCHDOG, required_argument, NULL, 'w' },
	{ OPT_HANG_PATHS, no_argument, NULL, 'H' },
	{ OPT_PATH_FILE, required_argument, NULL, 'P' },
	{ OPT_COVERAGE, no_argument, NULL, 'G' },
	{ OPT_CALLER, required_argument, NULL, 'u' },
	{ OPT_HELP, no_argument, NULL, 'h' },
	{ 0 }
};

/* The options that take a plain number: where it goes. */
static unsigned int *number_of(struct options *o, int opt, const char **name)
{
	switch (opt) {
	case 's':
		*name = "--" OPT_SEED;
		return &o->a.seed;
	case 'r':
		*name = "--" OPT_ROUNDS;
		return &o->a.rounds;
	case 'n':
		*name = "--" OPT_FUZZ_CALLS;
		return &o->a.fuzz_calls;
	case 'b':
		*name = "--" OPT_BARE_CALLS;
		return &o->bare_calls;
	case 'w':
		*name = "--" OPT_WATCHDOG;
		return &o->watchdog;
	}
	return NULL;
}

/*
 * One option into @o: 0, or the exit status of a bad one (said on
 * stderr).  A list mode or --help ends the parsing where it stands.
 */
static int parse_option(struct options *o, int opt, char *arg)
{
	struct agent *a = &o->a;
	const char *name;
	unsigned int value, *number = number_of(o, opt, &name);

	if (number)
		return parse_uint(arg, name, number) ? EXIT_USAGE : 0;
	switch (opt) {
	case 'm':
		if (add_arg(o->modules, &o->nmods, MAX_MODULES,
			    "--" OPT_MODULE, arg))
			return EXIT_USAGE;
		break;
	case 'p':
		if (!o->nmods) {
			fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_MODULE_PARAMS " needs a --" OPT_MODULE " before it\n");
			return EXIT_USAGE;
		}
		o->params[o->nmods - 1] = arg;
		break;
	case 'c':
		a->allow_crash = true;
		break;
	case 't':
		a->target_glob = arg;
		break;
	case 'f':
		a->fault_list = arg;
		break;
	case 'z':
		a->fuzzer = arg;
		break;
	case 'S':
		if (parse_uint(arg, "--" OPT_SIZE, &value) || value > MAX_RANGE)
			return EXIT_USAGE;
		a->size = value;
		break;
	case 'O':
		if (parse_uint(arg, "--" OPT_OFFSET, &value) || value >= HPAGE)
			return EXIT_USAGE;
		a->offset = value;
		break;
	case 'C':
		o->cases = arg;
		break;
	case 'Y':
		a->memory = find_memory(arg);
		if (!a->memory) {
			fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_MEMORY " %s: no such memory kind (--" OPT_LIST_MEMORY ")\n",
				arg);
			return EXIT_USAGE;
		}
		break;
	case 'B':
		a->break_memory = true;
		break;
	case 'D':
		if (!dma_mode_known(arg))
			return EXIT_USAGE;
		o->dma = arg;
		break;
	case 'y':
		o->mode = MODE_LIST_MEMORY;
		break;
	case 'x':
		o->program = arg;
		break;
	case 'k':
		o->kunit.glob = arg;
		break;
	case 'q':
		if (!kunit_param_ok(arg) ||
		    add_arg(o->kunit.params, &o->kunit.nparams,
			    MAX_KUNIT_PARAMS, "--" OPT_KUNIT_PARAM, arg))
			return EXIT_USAGE;
		break;
	case 'A':
		o->kunit.last = arg;
		break;
	case 'e':
		if (add_arg(o->expect, &o->nexpect, MAX_MODULES,
			    "--" OPT_EXPECT_TARGETS, arg))
			return EXIT_USAGE;
		break;
	case 'L':
		o->mode = MODE_LIST_TARGETS;
		break;
	case 'K':
		a->known = o->known;
		if (add_arg(o->known, &a->nknown, MAX_KNOWN,
			    "--" OPT_KNOWN_ISSUE, arg))
			return EXIT_USAGE;
		break;
	case 'H':
		a->hang_paths = true;
		break;
	case 'M':
		a->misuse_paths = true;
		break;
	case 'R':
		a->refs_passer_by = true;
		break;
	case 'P':
		o->path_file = arg;
		break;
	case 'G':
		o->coverage = true;
		break;
	case 'u':
		a->caller = find_caller(arg);
		if (a->caller < 0) {
			fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_CALLER " %s: no such caller (root, user)\n",
				arg);
			return EXIT_USAGE;
		}
		break;
	case 'l':
		o->mode = MODE_LIST_FAULTS;
		break;
	case 'h':
		o->mode = MODE_HELP;
		break;
	default:
		print_usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* Every listed name (--faults) must be a fault kind. */
static bool faults_known(const char *list)
{
	const struct fault_kind *kind;
	const char *p = list;
	unsigned int k;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool known = false;

		for_each_fault_kind(k, kind)
			known |= strlen(kind->name) == n &&
				 !strncmp(p, kind->name, n);
		if (!known) {
			fprintf(stderr, AGENT_ERROR_PREFIX "unknown fault kind '%.*s' (see --" OPT_LIST_FAULTS ")\n",
				(int)n, p);
			return false;
		}
		p += n + (p[n] == ',');
	}
	return true;
}

/*
 * The command line into @o: 0, or the exit status of a bad one.  The
 * modes that answer from it alone (the lists, --help) stop it there.
 */
static int parse_options(struct options *o, int argc, char **argv)
{
	int opt, err;

	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		err = parse_option(o, opt, optarg);
		if (err)
			return err;
		if (o->mode == MODE_LIST_FAULTS || o->mode == MODE_LIST_MEMORY ||
		    o->mode == MODE_HELP)
			return 0;
	}
	if (optind != argc || !o->nmods) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (o->a.fuzz_calls && !o->a.fuzzer) {
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_FUZZ_CALLS " needs --" OPT_FUZZER "\n");
		return EXIT_USAGE;
	}
	if (o->a.fault_list && !faults_known(o->a.fault_list))
		return EXIT_USAGE;
	if (!offset_fits(o->a.offset, o->a.memory)) {
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_OFFSET " %ld: past the first folio of %s memory\n",
			o->a.offset, memory_of(o->a.memory)->name);
		return EXIT_USAGE;
	}
	if (o->program)
		o->mode = MODE_EXEC;
	else if (o->mode == MODE_LIST_TARGETS)
		;
	else if (o->cases)
		o->mode = MODE_CASES;
	else if (o->a.break_memory)
		o->mode = MODE_BREAK_MEMORY;
	return 0;
}

/* --list-faults */
static int mode_list_faults(void)
{
	const struct fault_kind *kind;
	unsigned int k;

	for_each_fault_kind(k, kind)
		list_kind(kind);
	return EXIT_PASS;
}

/* --list-memory */
static int mode_list_memory(void)
{
	unsigned int k;

	for (k = 0; k < nr_memory_kinds; k++)
		list_memory(&memory_kinds[k]);
	return EXIT_PASS;
}

/* --list-targets: the targets, then what this kernel cannot run. */
static int mode_list_targets(struct agent *a)
{
	unsigned int i;

	for (i = 0; i < a->ntargets; i++)
		list_target(&a->targets[i]);
	list_unavailable();
	return EXIT_PASS;
}

/* --break-memory: on the first target. */
static int mode_break_memory(struct agent *a)
{
	if (!a->ntargets) {
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_BREAK_MEMORY " needs a target (--" OPT_TARGETS ")\n");
		return EXIT_USAGE;
	}
	return run_memory_breaks(a, &a->targets[0]);
}

/*
 * The suites of the targets that oops (@crashing) or of the others, each
 * numbered after *@k; false if one failed.
 */
static bool run_target_suites(struct agent *a, bool crashing, unsigned int *k)
{
	bool ok = true;
	unsigned int i;

	for (i = 0; i < a->ntargets; i++)
		if (target_crashes(&a->targets[i]) == crashing &&
		    !run_suite(a, &a->targets[i], ++*k))
			ok = false;
	return ok;
}

/*
 * The default mode: every target's suite, the figures, --bare-calls'
 * bench, --fuzz-calls' fuzzer, --kunit's suites again, and the crashing
 * target's suite last (it oopses).
 */
static int mode_suites(struct options *o)
{
	struct agent *a = &o->a;
	int status = EXIT_PASS;
	unsigned int k = 0;
	double start;

	if (o->kunit.glob && kunit_rerun_prepare(&o->kunit))
		return EXIT_SETUP;
	ktap_version("");
	ktap_plan("", a->ntargets + !!a->fuzz_calls + o->kunit.nsuites);
	start = now_seconds();
	if (!run_target_suites(a, false, &k))
		status = EXIT_FAIL;
	printf(STATS_LINE, target_runs, now_seconds() - start);
	print_profile();
	if (o->bare_calls)
		bare_loop(a, o->bare_calls);
	if (a->fuzz_calls && !run_fuzz_suite(a, ++k))
		status = EXIT_FAIL;
	if (!kunit_rerun_all(a, &o->kunit, &k))
		status = EXIT_FAIL;
	if (!run_target_suites(a, true, &k))
		status = EXIT_FAIL;
	return status;
}

/*
 * With the device open: the described paths, the user's modules' targets
 * checked, the DMA mode proven; then the targets narrowed and the mode
 * run.  Its exit status.
 */
static int run_mode(struct options *o)
{
	struct agent *a = &o->a;
	int i;

	if (o->path_file && add_path_file(a, o->path_file))
		return EXIT_SETUP;
	for (i = 0; i < o->nexpect; i++) {
		if (registered_any(a, o->expect[i]))
			continue;
		fprintf(stderr, AGENT_ERROR_PREFIX "module %s registered no target (does its init call uafault_register_targets()?)\n",
			o->expect[i]);
		return EXIT_SETUP;
	}
	/* Before --targets narrows the list: the proof runs a DMA target. */
	if (o->dma && o->mode != MODE_LIST_TARGETS && o->mode != MODE_EXEC &&
	    dma_prove(a, o->dma))
		return EXIT_SETUP;
	keep_targets(a);
	if (o->mode == MODE_EXEC)
		return exec_program(o->program);
	if (o->mode == MODE_LIST_TARGETS)
		return mode_list_targets(a);
	if (o->coverage && coverage_start())
		return EXIT_SETUP;
	if (o->mode == MODE_CASES)
		return run_cases(a, o->cases);
	if (o->mode == MODE_BREAK_MEMORY)
		return mode_break_memory(a);
	return mode_suites(o);
}

int main(int argc, char **argv)
{
	struct options o = {
		.a = {
			.dev = -1, .kmsg = -1, .seed = 1,
			.rounds = DEFAULT_ROUNDS, .offset = -1,
			.target_glob = "*",
		},
		.params = { NULL },
		.watchdog = watchdog_seconds,
	};
	struct kmod_module *mods[MAX_MODULES];
	struct kmod_ctx *ctx;
	unsigned int i;
	int status;

	status = parse_options(&o, argc, argv);
	if (status)
		return status;
	watchdog_seconds = o.watchdog;
	switch (o.mode) {
	case MODE_HELP:
		print_usage(stdout);
		return EXIT_PASS;
	case MODE_LIST_FAULTS:
		return mode_list_faults();
	case MODE_LIST_MEMORY:
		return mode_list_memory();
	default:
		break;
	}

	if (boot_tainted())
		return EXIT_SETUP;
	zero_page_probe();
	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		fprintf(stderr, AGENT_ERROR_PREFIX "kmod_new failed\n");
		return EXIT_SETUP;
	}
	if (load_modules(ctx, o.modules, o.params, o.nmods, o.a.allow_crash,
			 mods)) {
		kmod_unref(ctx);
		return EXIT_SETUP;
	}
	if (open_device(&o.a) || watchdog_start()) {
		unload_modules(mods, o.nmods);
		kmod_unref(ctx);
		return EXIT_SETUP;
	}

	status = run_mode(&o);

	kunit_rerun_free(&o.kunit);
	for (i = 0; i < o.a.ntargets; i++)
		close_path(&o.a.targets[i]);
	close(o.a.dev);
	if (o.a.kmsg >= 0)
		close(o.a.kmsg);
	unload_modules(mods, o.nmods);
	kmod_unref(ctx);
	free(o.a.targets);
	return status;
}
