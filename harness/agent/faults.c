// SPDX-License-Identifier: GPL-2.0
/*
 * The fault kinds: the steps they share, and the registry.  Each family
 * (kinds_layout.c, kinds_race.c, kinds_held.c, kinds_inject.c) has one
 * function per kind and exports its table, the way lkdtm's categories do;
 * each kind prepares real user memory, runs the target through
 * /dev/uafault and hands the result to the oracle (umem.c) with the reach
 * its fault plan allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"


void describe_plan(struct verdict *v, const struct plan *p)
{
	static const char * const names[] = {
		"none", "unmapped", "prot_none", "read_only",
	};

	note(v, "# plan: pages=%u hole=%d:%s offset=%zu len=%zu\n",
	     p->npages, p->hole, names[p->fault], p->offset, p->len);
}

/*
 * The range of a plan: a fixed-length target's length, else the run's
 * --size, else to the end of the kind's pages.  A run's --offset replaces
 * the kind's own start.  The mapping grows to hold the range.
 */
void place(const struct agent *a, struct plan *p,
		  const struct target *t, size_t offset)
{
	size_t need;

	if (a->offset >= 0 && !t->fixed_len)
		offset = a->offset;
	p->offset = offset;
	p->memory = a->memory;
	p->broken = a->break_memory;
	if (t->fixed_len)
		p->len = t->fixed_len;
	else if (a->size)
		p->len = a->size;
	else
		p->len = p->npages * PAGE - offset;
	need = (p->offset + p->len + PAGE - 1) / PAGE;
	if (need > p->npages)
		p->npages = need;
}

/*
 * Where a kind's range starts: at @offset, or for a fixed-length target
 * (get_user, put_user) straddling the boundary into page 1.
 */
size_t start_at(const struct target *t, size_t offset)
{
	return t->fixed_len ? PAGE - t->fixed_len / 2 : offset;
}

/*
 * No pin outlives a case: the FOLL_PIN balance (/proc/vmstat) and the
 * memory charged as pinned (VmPin: io_uring, iommufd, RDMA charge
 * mm->pinned_vm) are where they started.
 */
/*
 * Runs this thread once on every CPU it may run on: an interrupt or
 * softirq there that woke us before it was done (a bio's completion lets
 * go of its pages after it wakes the reader) has finished by then.
 */
static void visit_cpus(void)
{
	cpu_set_t all, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	sched_setaffinity(0, sizeof(all), &all);
}

/*
 * How long the counters may take to come back once every CPU was
 * visited: /proc/vmstat's stat_refresh gave that time by the way before
 * uafault.ko read the counters directly; well under the 20 ms of the
 * late-completion variant, whose leak must still show.
 */
#define PINS_SETTLE_MS	10

void check_pins(struct verdict *v, struct pins start)
{
	struct pins now = pins_now();

	if (!pins_equal(now, start)) {
		visit_cpus();
		pins_back(start, PINS_SETTLE_MS);
		now = pins_now();
	}

	if (start.foll == PIN_BALANCE_UNKNOWN || now.foll == PIN_BALANCE_UNKNOWN)
		unresolved(v, "cannot read the pin counters (/proc/sys/vm/stat_refresh, /proc/vmstat)");
	else if (now.foll != start.foll)
		fail(v, "[pins] pin balance %ld -> %ld: pins leaked", start.foll,
		     now.foll);
	if (start.vm_kb >= 0 && now.vm_kb >= 0 && now.vm_kb != start.vm_kb)
		fail(v, "[pins] VmPin %ld kB -> %ld kB: pinned memory still charged",
		     start.vm_kb, now.vm_kb);
}

/*
 * The oracles every case ends with, once its memory is gone: no pin
 * outlives it and the kernel reported nothing.
 */
void final_checks(const struct agent *a, struct verdict *v, struct pins balance)
{
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/* How long a passer-by's reference on a page may last (compaction, /proc). */
#define REFS_SETTLE_MS	200

/*
 * Whether @x and @y are one page, on an LRU list both times and of the
 * same folio size (a huge page split between the looks is another folio;
 * a huge page's counts are its folio's, the same on each of its pages),
 * with as many pins: a page whose pins changed is the pin oracle's.
 */
static bool refs_comparable(const struct uafault_page_ref *x,
			    const struct uafault_page_ref *y)
{
	return x->pfn && x->pfn == y->pfn && x->pins == y->pins &&
	       (x->flags & y->flags & UAFAULT_REF_LRU) &&
	       !((x->flags ^ y->flags) & UAFAULT_REF_LARGE);
}

/* The first page whose references @after changed from @before, or -1. */
static int refs_changed(const struct page_refs *before,
			const struct page_refs *after)
{
	unsigned int i;

	for (i = 0; i < before->n && i < after->n; i++)
		if (refs_comparable(&before->ref[i], &after->ref[i]) &&
		    before->ref[i].extra != after->ref[i].extra)
			return i;
	return -1;
}

/*
 * The references each page of @m holds beyond its mappings, before a
 * call: the lower of two looks, so a passer-by's is not counted.  False
 * when they cannot be read (no device, no ioctl): no page oracle then.
 */
static bool refs_before(const struct agent *a, const struct umem *m,
			struct page_refs *r)
{
	struct page_refs again;
	unsigned int i;

	/* One drain: nothing puts the range's pages in a batch between. */
	if (page_refs_now(a, m->base, m->map_len, r, true) ||
	    page_refs_now(a, m->base, m->map_len, &again, false))
		return false;
	for (i = 0; i < r->n; i++)
		if (again.ref[i].pfn == r->ref[i].pfn &&
		    again.ref[i].extra < r->ref[i].extra)
			r->ref[i] = again.ref[i];
	return true;
}

/*
 * Page references: a call leaves every page it did not unmap or replace
 * with the references it found (beyond its mappings).  A FOLL_GET user
 * that keeps one, which the pin counters never see, leaves more; one that
 * drops a reference it never took leaves fewer.  Only a page with the
 * same frame and folio size before and after, on an LRU list both times,
 * is compared; a change must last REFS_SETTLE_MS, longer than a passer-by
 * holds a page.
 */
static void check_refs(const struct agent *a, struct verdict *v,
		       const struct umem *m, const struct page_refs *before)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	struct page_refs after;
	unsigned int waited;
	int i = -1;

	for (waited = 0; waited <= REFS_SETTLE_MS; waited += 10) {
		if (page_refs_now(a, m->base, m->map_len, &after, true))
			return;
		i = refs_changed(before, &after);
		if (i < 0)
			return;
		nanosleep(&tick, NULL);
	}
	fail(v, "[refs] page %d of the mapping (pfn %#llx): %d references beyond its mappings and pins after the call, %d before: a reference %s",
	     i, (unsigned long long)after.ref[i].pfn, after.ref[i].extra,
	     before->ref[i].extra,
	     after.ref[i].extra > before->ref[i].extra ? "kept" :
	     "dropped that the call never took");
}

/*
 * How long the agent's own direct read may take to give its pins back:
 * iomap's direct I/O wakes the reader before it lets go of the bio's pages
 * (iomap_dio_bio_end_io(), on the CPU that completed it), and the pin
 * oracle must not charge that moment to the target.
 */
#define OWN_PINS_MS	2000

/*
 * [writeback] (class: pages a device wrote that nobody marked dirty): on
 * memory a disk backs, what the readable pages hold after the call must
 * be what the disk holds after fsync().  The disk is read with O_DIRECT
 * through the file's /proc/self/fd link (it is unlinked): the page cache
 * is bypassed, and a clean page's bytes were never written back.
 */
void check_writeback(struct verdict *v, const struct umem *m)
{
	size_t n = m->map_len / PAGE, i;
	struct pins before;
	unsigned char *disk;
	char link[64];
	bool ok;
	int fd;

	if (fsync(m->fd)) {
		unresolved(v, "[writeback] fsync: %s", strerror(errno));
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	fd = open(link, O_RDONLY | O_DIRECT | O_CLOEXEC);
	disk = aligned_alloc(PAGE, m->map_len);
	before = pins_now();
	ok = fd >= 0 && disk &&
	     pread(fd, disk, m->map_len, 0) == (ssize_t)m->map_len;
	pins_back(before, OWN_PINS_MS);
	if (!ok) {
		unresolved(v, "[writeback] reading the file back with O_DIRECT: %s",
			   strerror(errno));
	} else {
		for (i = 0; i < n; i++) {
			if (!m->readable[i] ||
			    !memcmp(disk + i * PAGE, m->base + i * PAGE, PAGE))
				continue;
			fail(v, "[writeback] page %zu: the disk holds other bytes than the mapping after fsync(): written without being marked dirty",
			     i);
			break;
		}
	}
	free(disk);
	if (fd >= 0)
		close(fd);
}

/*
 * [private-file] (class: a write that reaches a file through a private
 * mapping, Dirty COW's): under MAP_PRIVATE every write must land in a
 * copy, so the file still holds the bytes it was given.
 */
static void check_private_file(struct verdict *v, const struct umem *m)
{
	unsigned char *file = malloc(m->map_len);
	size_t i;

	if (!file || pread(m->fd, file, m->map_len, 0) != (ssize_t)m->map_len) {
		unresolved(v, "[private-file] reading the file back: %s",
			   strerror(errno));
	} else {
		for (i = 0; i < m->map_len && file[i] == m->before[i];)
			i++;
		if (i < m->map_len)
			fail(v, "[private-file] byte %zu of the file changed (%#x, was %#x): a write through a private mapping reached the page cache",
			     i, file[i], m->before[i]);
	}
	free(file);
}

/*
 * Runs the target on @m's range as it is now and hands the result to the
 * oracles: the result with the reach @m's plan allows, the references of
 * the pages it left in place.
 */
void run_checked(const struct agent *a, const struct target *t,
			struct verdict *v, struct umem *m)
{
	struct page_refs before;
	struct uafault_run r;
	bool refs;
	int err;

	phase_begin(PH_REFS);
	refs = refs_before(a, m, &before);
	phase_end();
	err = run_target(a, t, m->addr, m->plan.len, &r);
	if (err) {
		fail(v, "ioctl refused: %s", strerror(-err));
		return;
	}
	phase_begin(PH_RESULT);
	check_result(v, m, t, &r, target_reach(&m->plan, t));
	if (!zero_page_intact())
		fail(v, "[zero-page] the shared zero page no longer reads zero: the call wrote it (through a pin taken without FOLL_WRITE?)");
	phase_end();
	if (refs) {
		phase_begin(PH_REFS);
		check_refs(a, v, m, &before);
		phase_end();
	}
	if (m->fd < 0 || !target_writes(t) || !m->plan.memory)
		return;
	if (memory_private_file(m->plan.memory))
		check_private_file(v, m);
	else if (m->plan.memory->backed)
		check_writeback(v, m);
}

/* Lays @p out in @m; false (and the case unresolved) when it cannot. */
bool set_up(const struct agent *a, const struct target *t,
		   struct verdict *v, struct umem *m, const struct plan *p)
{
	int err = umem_setup(m, p, t, a->seed);

	if (err) {
		unresolved(v, "setting up user memory: %s", umem_error(m, err));
		umem_free(m);
	}
	return !err;
}

/*
 * The /proc/self/pagemap entries of [addr, addr + n pages): bit 63
 * present, bit 62 swapped, bits 0-54 the page frame when present.
 * False when pagemap cannot be read.
 */
bool read_pagemap(const unsigned char *addr, size_t n, uint64_t *entries)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (uintptr_t)addr / PAGE * sizeof(*entries);
	ssize_t want = n * sizeof(*entries);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, entries, want, off) == want;
	close(fd);
	return ok;
}

/*
 * Binds @thread to @cpu.  A race needs both sides running at once: the
 * target's task on one CPU, the racing thread on another (the scheduler
 * may otherwise stack them); a swap-out needs one CPU (page_out()).
 */
bool pin_to_cpu(pthread_t thread, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !pthread_setaffinity_np(thread, sizeof(set), &set);
}

static const struct fault_family * const families[] = {
	&layout_family, &race_family, &held_family, &inject_family,
	&mm_family,
};

unsigned int nr_fault_kinds(void)
{
	unsigned int f, n = 0;

	for (f = 0; f < ARRAY_SIZE(families); f++)
		n += families[f]->n;
	return n;
}

/* The @i-th kind of all families, in family order; NULL past the last. */
const struct fault_kind *fault_kind_at(unsigned int i)
{
	unsigned int f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		if (i < families[f]->n)
			return &families[f]->kinds[i];
		i -= families[f]->n;
	}
	return NULL;
}
