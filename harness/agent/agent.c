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

#define MAX_MODULES	8

enum { EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_SETUP };

/* Target runs so far, for the scenarios-per-second figure. */
static unsigned long target_runs;

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
static const char * const report_markers[] = {
	"BUG:", "WARNING:", "Oops", "KASAN:", "UBSAN:", "general protection",
	"#PF: ",
	"possible circular locking", "INFO: task", "DMA-API: ",
	"kernel BUG", "Kernel panic",
};

static bool is_report(const char *text)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(report_markers); i++)
		if (strstr(text, report_markers[i]))
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

static int list_targets(struct agent *a)
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

static bool kind_applies(const struct fault_kind *k, const struct target *t)
{
	return k->crash_only == target_crashes(t);
}

/* Prints the verdict's notes as KTAP diagnostics at @indent. */
static void print_notes(const struct verdict *v, const char *indent)
{
	const char *line = v->msg;

	while (*line) {
		size_t n = strcspn(line, "\n");

		printf("%s%s%.*s\n", indent, line[0] == '#' ? "" : "# ",
		       (int)n, line);
		line += n + (line[n] == '\n');
	}
}

static unsigned int count_kinds(const struct agent *a, const struct target *t)
{
	unsigned int k, n = 0;

	for (k = 0; k < nr_fault_kinds; k++)
		n += kind_applies(&fault_kinds[k], t) &&
		     fault_selected(a, fault_kinds[k].name);
	return n;
}

/* One target is one KTAP suite; one fault kind is one case. */
static bool run_suite(struct agent *a, const struct target *t,
		      unsigned int number)
{
	unsigned int k, n = 0, pass = 0, failed = 0, skip = 0;

	printf("    KTAP version 1\n    # Subtest: %s\n", t->name);
	printf("    # module: %s\n    1..%u\n", t->owner, count_kinds(a, t));
	for (k = 0; k < nr_fault_kinds; k++) {
		const struct fault_kind *kind = &fault_kinds[k];
		struct verdict v = { 0 };

		if (!kind_applies(kind, t) || !fault_selected(a, kind->name))
			continue;
		n++;
		snprintf(a->case_name, sizeof(a->case_name), "%s.%s", t->name,
			 kind->name);
		printf("    # uafault-case: %s\n", a->case_name);
		fflush(stdout);
		kmsg_check(a, &v, false, NULL);	/* drop older records */
		v = (struct verdict){ 0 };
		kind->run(a, t, &v, kind->arg);
		print_notes(&v, "    ");
		if (v.skipped && !v.failed) {
			printf("    ok %u %s # SKIP\n", n, kind->name);
			skip++;
		} else {
			printf("    %sok %u %s\n", v.failed ? "not " : "", n,
			       kind->name);
			v.failed ? failed++ : pass++;
		}
		fflush(stdout);
	}
	printf("# %s: pass:%u fail:%u skip:%u total:%u\n", t->name, pass,
	       failed, skip, n);
	printf("%sok %u %s\n", failed ? "not " : "", number, t->name);
	fflush(stdout);
	return !failed;
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
static bool run_fuzz_suite(const struct agent *a, unsigned int number)
{
	struct verdict v = { 0 };
	char buf[512];
	int out = -1, status;
	FILE *f;
	pid_t pid;

	printf("    KTAP version 1\n    # Subtest: ioctl_fuzz\n    1..1\n");
	printf("    # uafault-case: ioctl_fuzz.random_args\n");
	fflush(stdout);
	kmsg_check(a, &v, false, NULL);	/* drop older records */
	v = (struct verdict){ 0 };
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
	print_notes(&v, "    ");
	printf("    %sok 1 random_args\n", v.failed ? "not " : "");
	printf("%sok %u ioctl_fuzz\n", v.failed ? "not " : "", number);
	fflush(stdout);
	return !v.failed;
}

/* One line of a --cases file. */
struct campaign_case {
	char id[64];
	char target[UAFAULT_NAME_LEN];
	char fault[32];
	unsigned long size;
	long offset;
	unsigned int seed;
};

static const struct fault_kind *find_kind(const char *name)
{
	unsigned int k;

	for (k = 0; k < nr_fault_kinds; k++)
		if (!strcmp(fault_kinds[k].name, name))
			return &fault_kinds[k];
	return NULL;
}

static const struct target *find_target(const struct agent *a,
					const char *name)
{
	unsigned int i;

	for (i = 0; i < a->ntargets; i++)
		if (!strcmp(a->targets[i].name, name))
			return &a->targets[i];
	return NULL;
}

/* "ID TARGET FAULT SIZE OFFSET SEED"; size 0 and offset -1: the kind's. */
static bool parse_case(const char *line, struct campaign_case *c)
{
	char tail;

	return sscanf(line, "%63s %47s %31s %lu %ld %u %c", c->id, c->target,
		      c->fault, &c->size, &c->offset, &c->seed, &tail) == 6 &&
	       c->size <= (MAX_PAGES - 1) * PAGE && c->offset < (long)PAGE &&
	       c->offset >= -1;
}

/* Runs one campaign case; its verdict is one top-level KTAP line. */
static bool run_case(const struct agent *base, const struct campaign_case *c,
		     unsigned int number)
{
	const struct fault_kind *kind = find_kind(c->fault);
	const struct target *t = find_target(base, c->target);
	struct agent a = *base;
	struct verdict v = { 0 };

	snprintf(a.case_name, sizeof(a.case_name), "campaign.%s", c->id);
	printf("# uafault-case: %s\n", a.case_name);
	fflush(stdout);
	kmsg_check(&a, &v, false, NULL);	/* drop older records */
	v = (struct verdict){ 0 };
	a.size = c->size;
	a.offset = c->offset;
	a.seed = c->seed;
	if (!kind)
		fail(&v, "unknown fault kind %s", c->fault);
	else if (!t)
		fail(&v, "no target %s is registered", c->target);
	else if (!kind_applies(kind, t))
		fail(&v, "fault kind %s does not apply to %s", c->fault,
		     c->target);
	else
		kind->run(&a, t, &v, kind->arg);
	print_notes(&v, "");
	if (v.skipped && !v.failed)
		printf("ok %u %s # SKIP\n", number, c->id);
	else
		printf("%sok %u %s\n", v.failed ? "not " : "", number, c->id);
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
		ok &= run_case(a, &c, ++n);
	}
	fclose(f);
	return ok ? EXIT_PASS : EXIT_FAIL;
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
		"  --rounds N      iterations of the stochastic race (default 200)\n"
		"  --fuzzer PATH   uafault-fuzz, for --fuzz-calls\n"
		"  --fuzz-calls N  run the ioctl fuzzer for N calls as one more suite\n"
		"  --bare-calls N  then time N unchecked runs of each target (bench)\n"
		"  --size N        range length for every fault kind (default: theirs)\n"
		"  --offset N      range start in its first page (default: theirs)\n"
		"  --cases FILE    run these campaign cases instead, one a line:\n"
		"                  ID TARGET FAULT SIZE OFFSET SEED\n"
		"  --list-faults   print the fault kinds (\"NAME [crash]\") and exit\n"
		"  --list-targets  print the targets (\"NAME OWNER [crash]\") and exit\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct agent a = {
		.dev = -1, .kmsg = -1, .seed = 1, .rounds = 200, .offset = -1,
		.target_glob = "*",
	};
	struct kmod_module *mods[MAX_MODULES];
	char *paths[MAX_MODULES], *params[MAX_MODULES] = { NULL };
	struct kmod_ctx *ctx = NULL;
	int nmods = 0, opt, status = EXIT_PASS, err;
	unsigned int bare_calls = 0, value;
	const char *cases = NULL;
	bool list_only = false;
	double start;
	unsigned int i, k;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (nmods == MAX_MODULES) {
				fprintf(stderr, "uafault-agent: at most %d modules\n",
					MAX_MODULES);
				return EXIT_USAGE;
			}
			paths[nmods++] = optarg;
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
		case 's':
			if (parse_uint(optarg, "--seed", &a.seed))
				return EXIT_USAGE;
			break;
		case 'r':
			if (parse_uint(optarg, "--rounds", &a.rounds))
				return EXIT_USAGE;
			break;
		case 'z':
			a.fuzzer = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, "--fuzz-calls", &a.fuzz_calls))
				return EXIT_USAGE;
			break;
		case 'b':
			if (parse_uint(optarg, "--bare-calls", &bare_calls))
				return EXIT_USAGE;
			break;
		case 'S':
			if (parse_uint(optarg, "--size", &value) ||
			    value > (MAX_PAGES - 1) * PAGE)
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
		case 'L':
			list_only = true;
			break;
		case 'l':
			for (k = 0; k < nr_fault_kinds; k++)
				printf("%s%s\n", fault_kinds[k].name,
				       fault_kinds[k].crash_only ? " crash" : "");
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

			for (k = 0; k < nr_fault_kinds; k++)
				known |= strlen(fault_kinds[k].name) == n &&
					 !strncmp(p, fault_kinds[k].name, n);
			if (!known) {
				fprintf(stderr, "uafault-agent: unknown fault kind '%.*s' (see --list-faults)\n",
					(int)n, p);
				return EXIT_USAGE;
			}
			p += n + (p[n] == ',');
		}
	}

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
	a.dev = open(UAFAULT_DEVICE, O_RDWR);
	if (a.dev < 0 || list_targets(&a)) {
		fprintf(stderr, "uafault-agent: %s: %s\n", UAFAULT_DEVICE,
			strerror(errno));
		unload_modules(mods, nmods);
		kmod_unref(ctx);
		return EXIT_SETUP;
	}
	a.kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (a.kmsg >= 0)
		lseek(a.kmsg, 0, SEEK_END);

	if (list_only) {
		for (i = 0; i < a.ntargets; i++)
			printf("uafault-target: %s %s%s\n", a.targets[i].name,
			       a.targets[i].owner,
			       target_crashes(&a.targets[i]) ? " crash" : "");
		goto out;
	}
	if (cases) {
		status = run_cases(&a, cases);
		goto out;
	}
	/* The crashing target oopses: its suite runs last. */
	printf("KTAP version 1\n1..%u\n", a.ntargets + !!a.fuzz_calls);
	k = 0;
	start = now_seconds();
	for (i = 0; i < a.ntargets; i++)
		if (!target_crashes(&a.targets[i]) && !run_suite(&a, &a.targets[i], ++k))
			status = EXIT_FAIL;
	printf("# uafault-stats: scenarios=%lu seconds=%.3f\n", target_runs,
	       now_seconds() - start);
	if (bare_calls)
		bare_loop(&a, bare_calls);
	if (a.fuzz_calls && !run_fuzz_suite(&a, ++k))
		status = EXIT_FAIL;
	for (i = 0; i < a.ntargets; i++)
		if (target_crashes(&a.targets[i]) && !run_suite(&a, &a.targets[i], ++k))
			status = EXIT_FAIL;

out:
	close(a.dev);
	if (a.kmsg >= 0)
		close(a.kmsg);
	unload_modules(mods, nmods);
	kmod_unref(ctx);
	free(a.targets);
	return status;
}
