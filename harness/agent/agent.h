/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uafault-agent: runs in the QEMU guest, loads uafault.ko with libkmod,
 * prepares real user memory for each fault kind, calls each target through
 * /dev/uafault and checks the result against an oracle derived from the
 * fault plan.  Output is KTAP on stdout.
 */
#ifndef UAFAULT_AGENT_H
#define UAFAULT_AGENT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../module/uafault.h"
#include "../../module/uafault_known.h"
#include "exit.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* A family (of fault kinds, of paths) as its files export it: a table. */
#define FAMILY(table)	{ (table), ARRAY_SIZE(table) }
#define PAGE		4096UL
#define HPAGE		(2UL << 20)	/* x86_64's PMD-sized THP */
#define MAX_PAGES	8
/* The longest range a case may ask for (--size): a page is left to plant in. */
#define MAX_RANGE	((MAX_PAGES - 1) * PAGE)
/*
 * Kernel reports: a kernel log message that starts with one of these.  The
 * agent fails a case on one (unless it expected an oops); the host reads
 * this list too (guest/console.py), to cut the console into reports.
 * dma-debug's complaints come as a WARNING ("DMA-API: " alone also starts
 * the boot line that says how many entries it preallocated).
 */
#define REPORT_MARKERS							\
	"BUG:", "WARNING:", "Oops", "KASAN:", "UBSAN:",			\
	"general protection fault", "#PF: ", "possible circular locking", \
	"INFO: task", "kernel BUG", "Kernel panic"

/* The profile line (profile.c), which bench/profile reads. */
#define PROFILE_MARKER	"# uafault-profile:"

/* profile.c: where a case's time goes, each phase's own time. */
enum phase {
	PH_SETUP,	/* laying the range out, proving its memory */
	PH_CALL,	/* the target: UAFAULT_IOC_RUN or a path's calls */
	PH_PINS,	/* the pin counters (stat_refresh, vmstat, VmPin) */
	PH_KMSG,	/* reading the kernel log */
	PH_REFS,	/* page references (UAFAULT_IOC_PAGE_REFS, settling) */
	PH_RESULT,	/* judging the result: bytes, checksums */
	PH_SETTLE,	/* after a failed case: the pins holding still */
	PH_CASE,	/* the rest of a case: the kind's own work */
	NR_PHASES
};

void phase_begin(enum phase ph);
void phase_end(void);
void phase_api_ns(uint64_t ns);
void print_profile(void);

/* --rounds: runs of the target against a racing thread. */
#define DEFAULT_ROUNDS	200
#define MSG_LEN		4096

struct kpath;

/*
 * What a path's contract adds to its result kind: a range whose address
 * or length is not a multiple of @addr_align or @len_align, or shorter
 * than @min_len, is refused whole (-EINVAL) before anything is touched
 * (direct I/O's block size, iommufd's IO page, AF_XDP's chunk, a v4l2
 * frame); an all-or-nothing pin that got
 * some whole pages before the fault fails with -@partial_err instead of
 * -EFAULT (xdp_umem_pin_pages()'s -ENOMEM); a range pinned for writing
 * stops at a read-only page even when the call only reads it (io_uring
 * registers every buffer writable).
 */
struct contract {
	unsigned int addr_align, len_align;	/* 0: any */
	size_t min_len;		/* shorter is refused whole too (a frame) */
	int partial_err;			/* 0: EFAULT */
	bool write_pin;	/* pins with FOLL_WRITE even to read the range */
};

/* A target as UAFAULT_IOC_TARGET describes it, or a path (paths.c). */
struct target {
	char name[UAFAULT_NAME_LEN];
	char owner[UAFAULT_NAME_LEN];
	unsigned int flags;		/* UAFAULT_TF_* */
	enum uafault_result result;
	size_t fixed_len;
	const struct kpath *path;	/* NULL: the module's, run by ioctl */
	struct kpath_state *state;	/* the path's, open for the run */
	bool opaque;		/* its bytes are a device's own: no data oracle */
	struct contract contract;	/* a path's; a module target's min_len */
};

static inline bool target_crashes(const struct target *t)
{
	return t->flags & UAFAULT_TF_CRASH;
}

enum fault { F_NONE, F_UNMAPPED, F_PROT_NONE, F_READ_ONLY };

struct memory_kind;

/* A user range and the fault planted in it. */
struct plan {
	unsigned int npages;
	int hole;		/* page with the fault, -1 for none */
	enum fault fault;
	size_t offset;		/* range start from the mapping start */
	size_t len;
	const struct memory_kind *memory;	/* NULL: private anonymous */
	bool broken;		/* undo the memory's promise (--break-memory) */
};

struct umem {
	struct plan plan;
	unsigned char *base;
	size_t map_len;
	size_t vma_len;		/* mapped from base, when more than map_len */
	unsigned char *addr;
	unsigned char *before;	/* readable bytes before the run */
	bool readable[MAX_PAGES];
	int fd;			/* the backing file (backed kinds), or -1 */
	unsigned char *twin;	/* a merged kind's KSM partner, map_len */
	char why[160];		/* a set-up failure's reason, "" for errno's */
};

/* memory.c: what backs a range */
struct memory_kind {
	const char *name;
	int map_flags;		/* MAP_PRIVATE or MAP_SHARED, | MAP_ANONYMOUS */
	int (*open)(size_t len);	/* the file it maps, or -errno */
	int (*reserve)(void);	/* what it needs first (huge pages), -errno */
	bool untouched;		/* only read: its pages map the zero page */
	bool huge;		/* a THP-aligned huge page, MADV_HUGEPAGE */
	bool no_longterm_write;	/* GUP refuses FOLL_LONGTERM | FOLL_WRITE */
	bool merged;		/* merged by KSM with a twin of its bytes */
	bool device;		/* /dev/uafault's mmap: VM_PFNMAP, no GUP */
	bool backed;		/* MAP_SHARED of a file a disk backs */
	bool shmem;		/* shmem pages: swapped out, no swap PTE */
	uint64_t must, must_not;	/* kpageflags of every page */
	const char *skip;	/* fault kinds that mean nothing on it */
	const char *why;	/* ... and why */
};

extern const struct memory_kind memory_kinds[];
extern const unsigned int nr_memory_kinds;
const struct memory_kind *find_memory(const char *name);
bool memory_allows(const struct memory_kind *mk, const char *fault);
void list_memory(const struct memory_kind *mk);
int memory_map(struct umem *m, const struct memory_kind *mk,
	       const unsigned char *bytes);
bool memory_proven(struct umem *m, const struct memory_kind *mk);
void memory_break(struct umem *m, const struct memory_kind *mk);
bool memory_private_file(const struct memory_kind *mk);
long smaps_kb(const void *addr, const char *field);
unsigned int memory_swapped(const struct umem *m, size_t npages);
const char *umem_error(const struct umem *m, int err);

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

struct agent {
	int dev;
	int kmsg;
	struct target *targets;
	unsigned int ntargets;
	bool allow_crash;
	unsigned int seed;
	unsigned int rounds;
	const char *target_glob;
	const char *fault_list;
	const char *fuzzer;	/* uafault-fuzz, run as one more suite */
	unsigned int fuzz_calls;
	size_t size;		/* range length for every kind, 0: theirs */
	long offset;		/* range start in page 0, -1: the kind's */
	const struct memory_kind *memory;	/* NULL: private anonymous */
	/* --break-memory: each kind's promise undone before its proof */
	bool break_memory;
	char case_name[128];	/* the case in flight, as the console names it */
	bool raced;		/* ... and a thread changes its range meanwhile */
	/* A reproducer: take the module's allow_crash as it is. */
	bool take_module_mode;
	bool misuse_paths;	/* --misuse-paths: see struct kpath_state */
	bool hang_paths;	/* --hang-paths: the same */
	/* --known-issue: cases ("target.kind" globs) expected to fail */
	char **known;
	int nknown;
};

/* umem.c: user memory, the fault plan and the oracle */
int umem_setup(struct umem *m, const struct plan *p, const struct target *t,
	       unsigned int seed);
void umem_snapshot(struct umem *m, unsigned char *buf);
void umem_free(struct umem *m);
size_t plan_reach(const struct plan *p, bool write);
size_t target_reach(const struct plan *p, const struct target *t);
bool target_writes(const struct target *t);
bool needs_write(const struct target *t);
void put_le32(unsigned char *p, uint32_t v);
uint64_t user_csum(const struct umem *m, const struct target *t,
		   const struct uafault_run *r, const unsigned char *seen);
long contract_refusal(const struct umem *m, const struct target *t);
void check_result(struct verdict *v, const struct umem *m,
		  const struct target *t, const struct uafault_run *r,
		  size_t reach);
[[gnu::format(printf, 2, 3)]] void note(struct verdict *v, const char *fmt, ...);
/* A case failed, or could not be set up (it neither passes nor fails). */
enum outcome { FAILED, UNRESOLVED };
[[gnu::format(printf, 3, 4)]] void judge(struct verdict *v, enum outcome how,
					 const char *fmt, ...);
#define fail(v, ...)		judge(v, FAILED, __VA_ARGS__)
#define unresolved(v, ...)	judge(v, UNRESOLVED, __VA_ARGS__)

struct fault_kind;

/* device.c: the device, a run of a target, the kernel log, the pin counters */
extern unsigned long target_runs;
int open_device(struct agent *a);
int read_targets(struct agent *a);
struct fail_arm;
int run_target_armed(const struct agent *a, const struct target *t,
		     void *addr, size_t len, struct uafault_run *r,
		     struct fail_arm *arm);
int run_target(const struct agent *a, const struct target *t, void *addr,
	       size_t len, struct uafault_run *r);
#define PIN_BALANCE_UNKNOWN	LONG_MIN
long pin_balance(void);
long vmstat_value(const char *key);	/* /proc/vmstat's, -1: none */
/* The pin oracle's counters: FOLL_PIN balance, VmPin (-1: unknown). */
struct pins {
	long foll;
	long vm_kb;
};

struct pins pins_now(void);
bool pins_equal(struct pins x, struct pins y);
bool pins_back(struct pins before, unsigned int ms);
/* Each page under a mapping, as UAFAULT_IOC_PAGE_REFS sees it. */
struct page_refs {
	unsigned int n;
	struct uafault_page_ref ref[MAX_PAGES];
};

int page_refs_now(const struct agent *a, const void *base, size_t len,
		  struct page_refs *out, bool drain);
/* What a read of the kernel log saw besides reports. */
enum { NR_INJECTORS = 4 };
extern const char * const injector_names[NR_INJECTORS];
struct kmsg_seen {
	bool oopsed;
	unsigned int injected[NR_INJECTORS];	/* by injector_names[] */
};

void kmsg_scan(const struct agent *a, struct verdict *v, bool expect_oops,
	       struct kmsg_seen *seen);
void kmsg_check(const struct agent *a, struct verdict *v, bool expect_oops,
		bool *oopsed);

/* watchdog.c: a call that never returns is named, then the agent ends */
extern unsigned int watchdog_seconds;
int watchdog_start(void);
void watch_call(const struct agent *a);
void watch_done(void);
void watch_server(pid_t pid);
void unwatch_server(pid_t pid);

/* cases.c: one kind on one target, and its verdict as KTAP */
/* One line of a --cases file. */
struct campaign_case {
	char id[64];
	char target[UAFAULT_NAME_LEN];
	char fault[32];
	unsigned long size;
	long offset;
	unsigned int seed;
	char memory[32];
};

void print_notes(const struct verdict *v, const char *indent);
void print_result(const struct verdict *v, const char *indent,
		  unsigned int number, const char *name);
void console_sync(void);
void start_case(const struct agent *a, struct verdict *v, const char *indent);
void run_kind(struct agent *a, const struct fault_kind *kind,
	      const struct target *t, struct verdict *v, const char *indent);
bool parse_case(const char *line, struct campaign_case *c);
bool run_case(const struct agent *base, const struct campaign_case *c,
	      unsigned int number);

/* paths.c and paths_*.c: real kernel paths run as targets */
/*
 * What a path opened once, before any case (so nothing it maps can land
 * in a hole a fault kind plants later), and the call in flight.
 */
struct kpath_state {
	size_t len;		/* of the user range, this call */
	unsigned int seed;	/* of the bytes, this call */
	int fd[2];		/* -1: unused */
	unsigned char *buf;	/* the other side's bytes, PATH_BUF_LEN */
	void *priv;		/* a family's own: io_uring's rings, fuse's server */
	unsigned int id;	/* iommufd: the IOAS */
	const void *desc;	/* a described path's device and call */
	/*
	 * --misuse-paths, for the test that the oracles fire: a path keeps
	 * what it should give back (the io_uring registration) and every
	 * path reports one byte more than the kernel moved.
	 */
	bool misuse;
	bool hang;		/* --hang-paths: a call that never returns */
	bool raced;		/* the range may change under the call */
	bool unsettled;		/* a deferred tear-down's wait ran out */
	struct fail_arm *arm;	/* armed for this call: path_disarm() */
};

/*
 * A path: @open(), if any, makes what its calls need, once (-errno: this
 * kernel lacks it); @prepare(), if any, readies one call (refills a pipe);
 * @call() makes the one call that consumes [addr, addr + s->len) and
 * fills @r as a module target would (path_result(); @csum over the bytes
 * the kernel moved) and gives back whatever the call took (unregisters,
 * drains).  @flags and @result are the contract, as for a module target.
 */
struct kpath {
	const char *name;
	unsigned int flags;
	enum uafault_result result;
	int (*open)(struct kpath_state *s);
	int (*prepare)(struct kpath_state *s);
	void (*call)(struct kpath_state *s, void *addr, struct uafault_run *r);
	void (*close)(struct kpath_state *s);	/* more than its fds */
	const void *data;	/* the entry's own, as s->desc (a device) */
	struct contract contract;
	bool opaque;		/* moves no bytes the agent can check */
	/*
	 * Its tear-down finishes in a worker after the call (AF_XDP's umem):
	 * path_run() waits for the pin counters to come back first.
	 */
	bool deferred;
	/* The kernel option it needs, if not its family's (see below). */
	const char *config;
};

/* The longest range any kind maps: MAX_PAGES pages. */
#define PATH_BUF_LEN	(MAX_PAGES * PAGE)

struct kpath_family {
	const struct kpath *paths;
	unsigned int n;
	/* What a kernel needs for these paths, said when one will not open. */
	const char *config;
	/* Left out of this build: the family's name (e.g. no test header). */
	const char *absent;
};

#define PATH_FAMILY(table, cfg)	{ (table), ARRAY_SIZE(table), (cfg), NULL }
#define NO_PATH_FAMILY(name, cfg)	{ NULL, 0, (cfg), (name) }

extern const struct kpath_family pipe_paths, vm_paths, uring_paths,
	block_paths, iommufd_paths, xdp_paths, fuse_paths, v4l2_paths,
	gup_paths;

/* fail-nth armed right before a target's call, read back right after. */
struct fail_arm {
	int fd;			/* /proc/thread-self/fail-nth */
	unsigned int nth;
	long left;		/* what the call did not consume */
};

int fail_arm_set(struct fail_arm *arm);
void fail_arm_read(struct fail_arm *arm);
int add_paths(struct agent *a);
int add_kernel_path(struct agent *a, const char *target);
int add_path(struct agent *a, const struct kpath *path, const void *desc,
	     const char *owner, size_t fixed_len, bool opaque);
int add_described_paths(struct agent *a, const char *text);
void close_path(struct target *t);
int path_run(const struct agent *a, const struct target *t, void *addr,
	     size_t len, struct uafault_run *r, struct fail_arm *arm);
void path_fill(unsigned char *buf, size_t len, unsigned int seed);
void path_result(struct uafault_run *r, long n, int err, size_t len);
void path_report(struct kpath_state *s, struct uafault_run *r, long n, int err);
int path_pipe(struct kpath_state *s);
size_t path_drain(struct kpath_state *s);
int path_refill(struct kpath_state *s);
int path_empty(struct kpath_state *s);
void path_disarm(struct kpath_state *s);
void path_read_back(struct kpath_state *s, long n, int err,
		    struct uafault_run *r);

/* kunit_rerun.c: a loaded module's KUnit suites, run again through debugfs */
#define MAX_KUNIT_PARAMS	8
struct kunit_rerun {
	const char *glob;		/* the suites to run again */
	const char *last;		/* those that oops on purpose: run last */
	char *params[MAX_KUNIT_PARAMS];	/* MODULE.NAME=VALUE, set first */
	int nparams;
	char **suites;			/* in the order they run */
	int nsuites;
};
bool kunit_param_ok(const char *setting);
int kunit_rerun_prepare(struct kunit_rerun *r);
bool kunit_rerun_all(struct agent *a, const struct kunit_rerun *r,
		     unsigned int *number);
void kunit_rerun_free(struct kunit_rerun *r);

/* faults.c and kinds_*.c: the fault kinds */
/*
 * A fault kind, and which targets it means something for: kind_applies()
 * reads @crash_only, @needs and @results, the planner (--list-targets)
 * too, so no kind is planned only to be skipped.
 */
struct fault_kind {
	const char *name;
	void (*run)(const struct agent *a, const struct target *t,
		    struct verdict *v, const struct fault_kind *k);
	int arg;		/* the variant of run: which fault, ... */
	bool crash_only;	/* runs only for crashing targets, they only it */
	bool raced;		/* a racing thread, --rounds runs of the target */
	unsigned int needs;	/* UAFAULT_TF_* bits the target must have */
	unsigned int shuns;	/* ... and those it must not have */
	unsigned int results;	/* 1 << enum uafault_result it takes; 0: any */
	/*
	 * Where the range starts in its first page when the case leaves it
	 * to the kind (--offset -1), or SEVERAL_STARTS: the kind tries a few.
	 */
	int start;
	/*
	 * The kernel option the kind needs and a file only such a kernel
	 * has (NULL: none): elsewhere the kind is never listed, and a case
	 * of it is a SKIP that names the option.
	 */
	const char *config;
	const char *probe;
};

/* --list-targets: a kind or path this kernel cannot run, and why. */
#define UNAVAILABLE_MARKER "uafault-unavailable:"

/*
 * The case saw record @id's deviation (module/uafault_known.h) instead of
 * the contract, when @shows: its result is that record's XFAIL; else it
 * notes that the deviation did not show.  Returns @shows.
 */
bool known_deviation(struct verdict *v, enum uafault_known_id id, bool shows);

/* The option @k needs that this kernel lacks, or NULL. */
const char *kind_missing(const struct fault_kind *k);

#define SEVERAL_STARTS	(-1)

/* A family of kinds (kinds_*.c) exports its table as one of these. */
struct fault_family {
	const struct fault_kind *kinds;
	unsigned int n;
};

extern const struct fault_family layout_family, race_family, held_family,
	mm_family, inject_family;
unsigned int nr_fault_kinds(void);
const struct fault_kind *fault_kind_at(unsigned int i);

/* Every kind of every family, in order: @kind at index @i. */
#define for_each_fault_kind(i, kind)					\
	for ((i) = 0; ((kind) = fault_kind_at(i)) != NULL; (i)++)

/* faults.c: what the kinds share */
#define RANGE_PAGES	3
void describe_plan(struct verdict *v, const struct plan *p);
void place(const struct agent *a, struct plan *p, const struct target *t,
	   size_t offset);
size_t start_at(const struct target *t, size_t offset);
void check_pins(struct verdict *v, struct pins start);
void final_checks(const struct agent *a, struct verdict *v, struct pins balance);
void run_checked(const struct agent *a, const struct target *t,
		 struct verdict *v, struct umem *m);
bool set_up(const struct agent *a, const struct target *t, struct verdict *v,
	    struct umem *m, const struct plan *p);
bool read_pagemap(const unsigned char *addr, size_t n, uint64_t *entries);
bool pin_to_cpu(pthread_t thread, int cpu);
void check_writeback(struct verdict *v, const struct umem *m);

/* kinds_held.c: a pin held across what the process does next */
bool hold_pin(const struct agent *a, const struct target *t,
	      const struct umem *m, struct verdict *v);
void check_held(const struct agent *a, struct verdict *v,
		const unsigned char *want, size_t len, const char *why);
bool page_frames(const unsigned char *addr, size_t n, uint64_t *pfn);

bool kind_applies(const struct fault_kind *k, const struct target *t);
const struct fault_kind *find_kind(const char *name);
const struct target *find_target(const struct agent *a, const char *name);

/*
 * The guest's virtio-blk disks, named by their serial (guest/qemu.py
 * reads these): direct I/O's scratch disk and the ext4 memory kinds'.
 */
#define SCRATCH_SERIAL	"uafault-scratch"
#define EXT4_SERIAL	"uafault-ext4"
int disk_by_serial(const char *serial, char *dev, size_t size);
/* Writes @value to a /proc, sysfs or debugfs knob: 0 or -errno. */
int write_knob(const char *path, const char *value);
void zero_page_probe(void);
bool zero_page_intact(void);

/*
 * coverage.c: --coverage, each case's gcov counters to the disk of this
 * serial, one record per object the case ran (guest/coverage.py reads
 * these).
 */
#define COVERAGE_SERIAL	"uafault-coverage"
#define COVERAGE_RECORD	"uafault-gcda"
#define COVERAGE_DIR	"/sys/kernel/debug/gcov"
int coverage_start(void);
void coverage_begin(void);
void coverage_call(void);
void coverage_end(const char *case_name);

/* dma.c: --dma MODE, the mappings it can prove (guest/kernels.py reads these) */
#define DMA_MODES	"direct", "swiotlb", "iommu"
bool dma_mode_known(const char *mode);
int dma_prove(const struct agent *a, const char *mode);

#endif
