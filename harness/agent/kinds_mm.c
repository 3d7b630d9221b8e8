// SPDX-License-Identifier: GPL-2.0
/*
 * What mm does to pages while a pin holds them: a huge page split under
 * the pin, compaction migrating the pages around it, move_pages() asking
 * for exactly them on the other NUMA node, the file truncated
 * beneath it, writeback and drop_caches.  The contract is the same for
 * each.  The pin keeps its pages: never migrated, never freed, never
 * dropped from under it.  A pinned page still mapped is the one the
 * process sees, so what the process writes the pin reads.  The target
 * sees the memory as it is after the event, and letting go leaks nothing.
 *
 * And writeback inside the call, between a writing target's pin and its
 * write (writeback_window, writeback_race): a page is only as dirty as
 * its last marking after the write says, so what the target wrote must
 * reach the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "device.h"
#include "faults.h"
#include "kinds_held.h"
#include "memory.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "protocol.h"
#include "sys.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* A case's memory with a pin held on its range, and its bytes before. */
struct held {
	struct plan p;
	struct umem m;
	struct pins balance;
	unsigned char *old;
	bool pinned;
};

/* Lays the range out and holds a pin on it; false: unresolved. */
static bool hold(const struct agent *a, const struct target *t,
		 struct verdict *v, const struct fault_kind *k,
		 struct held *h)
{
	*h = (struct held){ .p = { .npages = RANGE_PAGES, .hole = -1 } };
	h->balance = pins_now();
	place(a, &h->p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &h->m, &h->p))
		return false;
	h->old = malloc(h->p.len);
	if (!h->old) {
		unresolved(v, "setting up: %s", strerror(ENOMEM));
		return false;
	}
	memcpy(h->old, h->m.addr, h->p.len);
	h->pinned = hold_pin(a, t, &h->m, v);
	return h->pinned;
}

/*
 * The process writes its range again: a pinned page still mapped must
 * read what it wrote (a page migrated or replaced under the pin would
 * not).  The pin is released by the check.
 */
static void check_follows(const struct agent *a, struct verdict *v,
			  struct held *h, const char *event)
{
	char why[96];
	size_t i;

	for (i = 0; i < h->p.len; i++)
		h->m.addr[i] ^= 0x5a;
	snprintf(why, sizeof(why), "what the process wrote after %s", event);
	check_held(a, v, h->m.addr, h->p.len, why);
	h->pinned = false;
}

static void let_go(const struct agent *a, struct verdict *v, struct held *h)
{
	if (h->pinned && ioctl(a->dev, UAFAULT_IOC_UNPIN))
		fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
	free(h->old);
	umem_free(&h->m);
	final_checks(a, v, h->balance);
}

/*
 * MADV_DONTNEED of what @m's huge pages hold outside its plan's pages:
 * before them (a range placed deep in a folio) and after them.
 */
static int zap_around(const struct umem *m)
{
	unsigned char *end = m->base + m->map_len;

	if (madvise(m->vma, m->base - m->vma, MADV_DONTNEED) ||
	    madvise(end, m->vma + m->vma_len - end, MADV_DONTNEED))
		return -errno;
	return 0;
}

/*
 * mprotect() of one page inside the range and back splits the VMA twice
 * and, in a huge page, the PMD mapping; for huge pages zap_around() zaps
 * part of each pinned THP.  The pinned folio cannot be split (its extra
 * references), so its pages stay mapped by PTEs: the smaps AnonHugePages
 * of the VMA going to 0 proves it.
 */
static void fault_split(const struct agent *a, const struct target *t,
			struct verdict *v, const struct fault_kind *k)
{
	unsigned char *page;
	bool huge;
	struct held h;

	if (!hold(a, t, v, k, &h))
		goto out;
	huge = h.p.memory && h.p.memory->huge;
	page = h.m.base + (h.m.map_len / PAGE / 2) * PAGE;
	if (mprotect(page, PAGE, PROT_READ) ||
	    mprotect(page, PAGE, PROT_READ | PROT_WRITE)) {
		unresolved(v, "mprotect of a page of the range: %s",
			   strerror(errno));
		goto out;
	}
	if (huge && zap_around(&h.m)) {
		unresolved(v, "MADV_DONTNEED of the rest of the huge pages: %s",
			   strerror(errno));
		goto out;
	}
	if (huge && smaps_kb(h.m.base, "AnonHugePages:") != 0) {
		unresolved(v, "the huge page is still PMD-mapped after the split (smaps AnonHugePages %ld kB)",
			   smaps_kb(h.m.base, "AnonHugePages:"));
		goto out;
	}
	umem_snapshot(&h.m, h.m.before);
	run_checked(a, t, v, &h.m);
	check_follows(a, v, &h, huge ? "the huge page's split" : "the VMA's split");
out:
	let_go(a, v, &h);
}

/* The second node the guest boots with (QEMU -numa). */
#define OTHER_NODE_DIR	"/sys/devices/system/node/node1"
#define MPOL_MF_MOVE	(1 << 1)

static long move_pages(unsigned long n, void **pages, const int *nodes,
		       int *status)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status,
		       nodes ? MPOL_MF_MOVE : 0);
}

/*
 * Asks for each pinned page on the node it is not on; false: unresolved.
 * What move_pages() returns is not judged (a page it could not move is
 * counted, not an error): the frames are.
 */
static bool move_to_other_node(struct verdict *v, unsigned char *addr,
			       size_t n)
{
	void *pages[MAX_PAGES];
	int nodes[MAX_PAGES], status[MAX_PAGES];
	size_t i;

	if (access(OTHER_NODE_DIR, F_OK)) {
		unresolved(v, "the guest has one NUMA node (no %s)",
			   OTHER_NODE_DIR);
		return false;
	}
	for (i = 0; i < n; i++)
		pages[i] = addr + i * PAGE;
	if (move_pages(n, pages, NULL, status) < 0) {
		unresolved(v, "move_pages (where the pages are): %s",
			   strerror(errno));
		return false;
	}
	for (i = 0; i < n; i++) {
		if (status[i] < 0) {
			unresolved(v, "move_pages finds no movable page %zu: %s",
				   i, strerror(-status[i]));
			return false;
		}
		nodes[i] = !status[i];
	}
	if (move_pages(n, pages, nodes, status) < 0) {
		unresolved(v, "move_pages: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * The pinned range's pages that were mapped before (@before, from
 * page_frames()): a frame that changed moved.
 */
static bool check_frames(struct verdict *v, const struct held *h,
			 const uint64_t *before, const char *event)
{
	uint64_t after[MAX_PAGES];
	size_t i;

	if (!page_frames(h->m.base, h->m.map_len / PAGE, after)) {
		unresolved(v, "cannot read /proc/self/pagemap");
		return false;
	}
	for (i = h->p.offset / PAGE; i * PAGE < h->p.offset + h->p.len; i++) {
		if (before[i] && before[i] != after[i]) {
			fail(v, "[migrated] page %zu moved from pfn %#llx to %#llx while pinned (%s)",
			     i, (unsigned long long)before[i],
			     (unsigned long long)after[i], event);
			return false;
		}
	}
	return true;
}

/* Compaction of every zone, from a thread on the other CPU. */
static void *compact(void *arg)
{
	return (void *)(long)-write_knob("/proc/sys/vm/compact_memory", "1");
}

/*
 * Compaction migrates every movable page it can while the target runs:
 * the pinned pages are not movable (their references), so pagemap must
 * show each at the frame it had, and the pin must still read what the
 * mapping shows.  vmstat's compact_migrate_scanned proves compaction ran.
 */
static void fault_compact(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	uint64_t before[MAX_PAGES];
	long scanned = vmstat_value("compact_migrate_scanned");
	size_t n;
	pthread_t thread;
	void *err = NULL;
	struct held h;

	if (!hold(a, t, v, k, &h))
		goto out;
	n = h.m.map_len / PAGE;
	if (scanned < 0 || !page_frames(h.m.base, n, before)) {
		unresolved(v, "cannot read /proc/vmstat or /proc/self/pagemap");
		goto out;
	}
	if (pthread_create(&thread, NULL, compact, NULL)) {
		unresolved(v, "pthread_create: %s", strerror(errno));
		goto out;
	}
	pin_to_cpu(thread, 1);
	umem_snapshot(&h.m, h.m.before);
	run_checked(a, t, v, &h.m);
	pthread_join(thread, &err);
	if (err) {
		unresolved(v, "/proc/sys/vm/compact_memory: %s",
			   strerror((int)(long)err));
		goto out;
	}
	if (vmstat_value("compact_migrate_scanned") <= scanned) {
		unresolved(v, "compaction scanned no page (vmstat compact_migrate_scanned)");
		goto out;
	}
	check_frames(v, &h, before, "compaction");
	check_follows(a, v, &h, "compaction");
out:
	let_go(a, v, &h);
}

/*
 * move_pages() asks for exactly the pinned pages on the other node, before
 * the target runs: unlike compaction it reaches every page whatever the
 * allocator did, so a pin let go early is caught every time.  Each page
 * must stay at its frame, and the pin must read what the mapping shows.
 */
static void fault_migrate(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	uint64_t before[MAX_PAGES];
	size_t first, last;
	struct held h;

	if (!hold(a, t, v, k, &h))
		goto out;
	if (!page_frames(h.m.base, h.m.map_len / PAGE, before)) {
		unresolved(v, "cannot read /proc/self/pagemap");
		goto out;
	}
	first = h.p.offset / PAGE;
	last = (h.p.offset + (h.p.len ? h.p.len - 1 : 0)) / PAGE;
	if (!move_to_other_node(v, h.m.base + first * PAGE, last - first + 1))
		goto out;
	if (!check_frames(v, &h, before, "move_pages"))
		goto out;
	umem_snapshot(&h.m, h.m.before);
	run_checked(a, t, v, &h.m);
	check_follows(a, v, &h, "move_pages");
out:
	let_go(a, v, &h);
}

/* The file's bytes, after the pin was let go; false: could not read. */
static bool file_reads(struct verdict *v, const struct umem *m,
		       const unsigned char *want, const char *tag)
{
	unsigned char *file = malloc(m->map_len);
	size_t i = 0;

	if (!file || pread(m->fd, file, m->map_len, 0) != (ssize_t)m->map_len) {
		unresolved(v, "%s reading the file back: %s", tag,
			   strerror(errno));
		free(file);
		return false;
	}
	while (i < m->map_len && file[i] == want[i])
		i++;
	if (i < m->map_len)
		fail(v, "%s byte %zu of the file is %#x, not %#x: a released page reached the file",
		     tag, i, file[i], want[i]);
	free(file);
	return true;
}

/*
 * ftruncate() of the file to nothing and back under the pin: every page,
 * a private mapping's copies too, is unmapped and dropped from the page
 * cache, and the range now reads the zeroes of a new hole.  The target
 * must see those; the pin keeps the old pages with their bytes, and when
 * it is let go (dirty, for a written pin) nothing of them may come back
 * into the file: it reads what the mapping shows.
 */
static void fault_truncate(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	bool shared = false;
	unsigned char *want;
	struct held h;
	size_t i;

	if (!hold(a, t, v, k, &h))
		goto out;
	shared = h.p.memory && h.p.memory->map_flags & MAP_SHARED;
	if (h.m.fd < 0 || ftruncate(h.m.fd, 0) ||
	    ftruncate(h.m.fd, h.m.map_len)) {
		unresolved(v, "truncating the file: %s",
			   h.m.fd < 0 ? "no file" : strerror(errno));
		goto out;
	}
	umem_snapshot(&h.m, h.m.before);
	for (i = 0; i < h.m.map_len; i++) {
		if (h.m.readable[i / PAGE] && h.m.before[i]) {
			fail(v, "[truncate] byte %zu still reads %#x after the file was truncated: a page stayed mapped",
			     i, h.m.before[i]);
			goto out;
		}
	}
	run_checked(a, t, v, &h.m);
	check_held(a, v, h.old, h.p.len, "the bytes from before the truncation");
	h.pinned = false;
	want = shared ? h.m.base : calloc(1, h.m.map_len);
	if (want)
		file_reads(v, &h.m, want, "[truncate]");
	if (!shared)
		free(want);
out:
	let_go(a, v, &h);
}

static bool drop_clean_caches(void)
{
	return !write_knob("/proc/sys/vm/drop_caches", "3");
}

/*
 * The process dirties its pinned range (a shared mapping's: a private
 * one's writes never reach the file), fsync() writes the pinned pages back, and drop_caches drops every clean page it can: a pinned page must
 * stay the mapping's.  After the target and the process write again and
 * the pin is let go, a disk-backed file must hold on disk what the
 * mapping shows (the writeback oracle).
 */
static void fault_writeback(const struct agent *a, const struct target *t,
			    struct verdict *v, const struct fault_kind *k)
{
	struct held h;
	size_t i;

	if (!hold(a, t, v, k, &h))
		goto out;
	/* Under MAP_PRIVATE the write lands in copies; the file stays. */
	if (h.p.memory && h.p.memory->map_flags & MAP_SHARED)
		for (i = 0; i < h.p.len; i++)
			h.m.addr[i] = ~h.m.addr[i];
	if (h.m.fd < 0 || fsync(h.m.fd) || !drop_clean_caches()) {
		unresolved(v, "fsync and drop_caches: %s",
			   h.m.fd < 0 ? "no file" : strerror(errno));
		goto out;
	}
	umem_snapshot(&h.m, h.m.before);
	run_checked(a, t, v, &h.m);
	check_follows(a, v, &h, "writeback and drop_caches");
	if (h.p.memory && h.p.memory->backed)
		check_writeback(v, &h.m);
out:
	let_go(a, v, &h);
}

/* Whether @p's memory is a file a disk backs, mapped shared. */
static bool disk_shared(const struct plan *p)
{
	return p->memory && p->memory->backed &&
	       p->memory->map_flags & MAP_SHARED;
}

/*
 * @t's range laid out on memory a disk backs, mapped shared (false: not
 * set up, said in @v): the process's bytes reach the file, and a page
 * writeback cleans keeps what the file gets.
 */
static bool set_up_on_disk(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k,
			   struct umem *m, struct plan *p)
{
	*p = (struct plan){ .npages = RANGE_PAGES, .hole = -1 };
	place(a, p, t, start_at(t, k->start));
	if (!disk_shared(p)) {
		unresolved(v, "no disk backs the memory, mapped shared: nothing of it is written back");
		return false;
	}
	return set_up(a, t, v, m, p);
}

/* The module ABI that opens writeback windows (UAFAULT_RUN_WRITEBACK). */
#define WINDOW_ABI	9

/*
 * The writeback window made deterministic: the run asks uafault.ko for
 * one (UAFAULT_RUN_WRITEBACK), so each whole pin the target takes through
 * uafault_pin_all() writes the file pages under it back, and waits,
 * before it returns.  The device's write then lands in pages writeback
 * has just cleaned, on every run: a target that marked them dirty only
 * before the write (its FOLL_WRITE pin's fault) loses it, and the
 * writeback oracle (run_checked()) finds the disk holding other bytes
 * than the mapping.  A target that pins otherwise opens no window: the
 * case is unresolved, never a pass.
 */
static void fault_writeback_window(const struct agent *a,
				   const struct target *t, struct verdict *v,
				   const struct fault_kind *k)
{
	struct pins balance = pins_now();
	struct agent windowed = *a;
	struct umem m;
	struct plan p;

	if (a->abi < WINDOW_ABI) {
		unresolved(v, "module ABI %u has no writeback window (UAFAULT_RUN_WRITEBACK, ABI %u)",
			   a->abi, WINDOW_ABI);
		return;
	}
	if (!set_up_on_disk(a, t, v, k, &m, &p))
		return;
	windowed.run_flags |= UAFAULT_RUN_WRITEBACK;
	umem_snapshot(&m, m.before);
	run_checked(&windowed, t, v, &m);
	umem_free(&m);
	final_checks(a, v, balance);
}

/* A flusher: writeback of the file in a loop, on CPU 1. */
struct flusher {
	int fd;
	off_t len;
	bool stop;	/* __atomic: set by the main thread */
	unsigned long passes;
	int err;
};

/*
 * sync_file_range(SYNC_FILE_RANGE_WRITE) cleans each dirty page
 * (folio_clear_dirty_for_io()) and starts its write within the call;
 * waiting for the write as well would only keep the loop from the next
 * window.
 */
static void *flush_thread(void *arg)
{
	struct flusher *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		if (sync_file_range(f->fd, 0, f->len, SYNC_FILE_RANGE_WRITE)) {
			f->err = errno;
			break;
		}
		f->passes++;
	}
	return NULL;
}

/*
 * One round of writeback_race: the process writes the range's bytes
 * inverted (dirty pages whose bytes the target's write changes, whatever
 * an earlier round left on disk), the target runs, and the result and the
 * disk are judged.  False: the round could not run (said in @v).
 */
static bool race_round(const struct agent *a, const struct target *t,
		       struct verdict *v, struct umem *m, unsigned int round)
{
	struct uafault_run r;
	size_t i;
	int err;

	for (i = 0; i < m->plan.len; i++)
		m->addr[i] = ~m->addr[i];
	umem_snapshot(m, m->before);
	err = run_target(a, t, m->addr, m->plan.len, &r);
	if (err) {
		fail(v, "round %u: ioctl refused: %s", round, strerror(-err));
		return false;
	}
	check_result(v, m, t, &r, target_reach(&m->plan, t));
	if (!v->failed)
		check_writeback(v, m);
	if (v->failed)
		note(v, "# in round %u\n", round);
	return true;
}

/*
 * Writeback racing the call: while a writing target runs --rounds times
 * on memory a disk backs, a thread on the other CPU writes the file back
 * in a loop, so now and then it cleans a page between the target's pin
 * and its write.  After each round the disk must hold what the mapping
 * shows (check_writeback()).  Stochastic: for campaigns with
 * repetitions; writeback_window is the deterministic proof.
 */
static void fault_writeback_race(const struct agent *a,
				 const struct target *t, struct verdict *v,
				 const struct fault_kind *k)
{
	struct pins balance = pins_now();
	struct flusher f = { 0 };
	unsigned int round = 0;
	struct racer racer;
	struct umem m;
	struct plan p;
	int err;

	if (!set_up_on_disk(a, t, v, k, &m, &p))
		return;
	f.fd = m.fd;
	f.len = m.map_len;
	err = racer_start(&racer, flush_thread, &f);
	if (err) {
		unresolved(v, "the flusher thread: %s", strerror(err));
		goto free;
	}
	while (round < a->rounds && !v->failed && race_round(a, t, v, &m, round))
		round++;
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	racer_join(&racer);
	note(v, "# %u rounds, %lu writeback passes\n", round, f.passes);
	if (f.err && !v->failed)
		unresolved(v, "the flusher's sync_file_range: %s",
			   strerror(f.err));
free:
	umem_free(&m);
	final_checks(a, v, balance);
}

/* A target that writes the range, through pins: where a window is. */
#define WRITING_PINS	(UAFAULT_TF_WRITE | UAFAULT_TF_PIN)

const struct fault_kind mm_kinds[] = {
	{ .name = "split", .run = fault_split },
	{ .name = "compact", .run = fault_compact },
	{ .name = "migrate", .run = fault_migrate },
	{ .name = "truncate", .run = fault_truncate },
	{ .name = "writeback", .run = fault_writeback },
	{ .name = "writeback_window", .run = fault_writeback_window,
	  .needs = WRITING_PINS, .module_only = true },
	{ .name = "writeback_race", .run = fault_writeback_race,
	  .raced = true, .needs = WRITING_PINS },
};

const struct fault_family mm_family = FAMILY(mm_kinds);
