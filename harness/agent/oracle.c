// SPDX-License-Identifier: GPL-2.0
/*
 * The oracles: what a target may report for a range, derived from where
 * the first faulting byte lies, and what a case must leave as it found it
 * (pins, page references, the zero page, the bytes a disk or a file holds).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "device.h"
#include "kmsg.h"
#include "memory.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "profile.h"
#include "protocol.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* What the result must say, given the reach; per semantics. */
struct expect {
	bool exact;		/* done must equal want; else the copy bound */
	size_t want;
	long ret;		/* expected ret when @exact */
	bool csum;		/* check the csum over done bytes */
};

/* Index of the first byte of the range equal (or not) to 0, or len. */
static size_t scan(const struct umem *m, size_t from, bool want_zero)
{
	const unsigned char *r = m->before + m->plan.offset;
	size_t i;

	for (i = from; i < m->plan.len; i++)
		if ((r[i] == 0) == want_zero)
			return i;
	return m->plan.len;
}

static void expect_exact(struct expect *e, size_t want, long ret)
{
	e->want = want;
	e->ret = ret;
}

/*
 * The string, zero and struct oracles read the range's bytes as the run
 * found them (a fork or MADV_DONTNEED case may have changed them) and ask
 * which comes first: the byte that decides, the fault, or the end.
 */
static struct expect expect_for(const struct umem *m, const struct target *t,
				size_t reach)
{
	const struct plan *p = &m->plan;
	struct expect e = { .exact = true, .csum = true };
	size_t len = p->len, pages, nul, nonzero, head;

	if (refused_whole(t, m->addr, len)) {
		expect_exact(&e, 0, -EINVAL);
		return e;
	}
	if (memory_refuses(p, t))
		reach = 0;
	if (pins_page_twice(p, t, reach)) {
		expect_exact(&e, 0, -EBUSY);
		return e;
	}
	switch (t->result) {
	case UAFAULT_RES_DIO:
		/* Aligned: the pinned pages before the fault, in blocks. */
	case UAFAULT_RES_PAGES:
		/* Whole pages before the fault; done covers them in the range. */
		pages = (p->offset + reach) / PAGE;
		if (reach == len)
			expect_exact(&e, len, 0);
		else if (pages * PAGE > p->offset)
			expect_exact(&e, pages * PAGE - p->offset, -EFAULT);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_CHUNKS:
		/* Whole PAGE_SIZE chunks of the range before the fault. */
		if (reach == len)
			expect_exact(&e, len, 0);
		else
			expect_exact(&e, reach / PAGE * PAGE, -EFAULT);
		break;
	case UAFAULT_RES_STRLEN:
	case UAFAULT_RES_STRSIZE:
	case UAFAULT_RES_STRBUF:
		nul = scan(m, 0, true);
		if (nul < len && nul < reach)
			expect_exact(&e, nul + (t->result == UAFAULT_RES_STRSIZE), 0);
		else if (reach == len)	/* no NUL: count, or "too long" */
			expect_exact(&e, len + (t->result == UAFAULT_RES_STRSIZE), 0);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_ZEROED:
		nonzero = scan(m, 0, false);
		e.csum = false;
		if (nonzero >= len && reach == len)
			expect_exact(&e, len, 0);
		else if (nonzero < reach)
			expect_exact(&e, 0, 0);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_STRUCT:
		/* The tail beyond ksize must be zero; it is checked first. */
		head = len < UAFAULT_STRUCT_KSIZE ? len : UAFAULT_STRUCT_KSIZE;
		nonzero = len > head ? scan(m, head, false) : len;
		if (nonzero < len && nonzero < reach)
			expect_exact(&e, 0, -E2BIG);
		else if (reach < len)
			expect_exact(&e, 0, -EFAULT);
		else
			expect_exact(&e, head, 0);
		break;
	case UAFAULT_RES_HEADER:
		if (len < sizeof(uint32_t)) {
			expect_exact(&e, 0, -EINVAL);
			break;
		}
		/* The header as the run found it (zero after MADV_DONTNEED). */
		if (reach >= sizeof(uint32_t) &&
		    get_le32(m->before + p->offset) != len) {
			expect_exact(&e, 0, -EINVAL);
			break;
		}
		/* A well-formed message is all or nothing. */
		[[fallthrough]];
	case UAFAULT_RES_ALL:
		pages = (p->offset + reach) / PAGE - p->offset / PAGE;
		if (reach == len)
			expect_exact(&e, len, 0);
		else if (t->contract.partial_err && pages)
			expect_exact(&e, 0, -t->contract.partial_err);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	default:
		e.exact = false;
		expect_exact(&e, reach, reach == len ? 0 : -EFAULT);
		break;
	}
	return e;
}

/*
 * The error @t's contract gives @m's range before touching it, whatever
 * is planted there (-EINVAL: an unaligned direct I/O range, a message
 * too short for its header; -EFAULT: memory GUP takes no page of), or 0.
 * A race has nothing to race then.
 */
long contract_refusal(const struct umem *m, const struct target *t)
{
	struct expect e = expect_for(m, t, m->plan.len);

	if (e.exact && e.ret == -EINVAL)
		return -EINVAL;
	return m->plan.len && memory_refuses(&m->plan, t) ? -EFAULT : 0;
}

/*
 * raw_copy_{from,to}_user() may stop short of the fault, never past it,
 * and may report nothing only when nothing could be copied.
 */
static void check_done(struct verdict *v, const struct umem *m,
		       const struct uafault_run *r, const struct expect *e,
		       size_t reach)
{
	size_t len = m->plan.len;

	if (e->exact) {
		if (r->done != e->want || r->ret != e->ret)
			fail(v, "[result] ret %lld done %llu, expected ret %ld done %zu (reach %zu of %zu)",
			     (long long)r->ret, (unsigned long long)r->done,
			     e->ret, e->want, reach, len);
		return;
	}
	if (r->done > reach)
		fail(v, "[result] done %llu is past the fault at %zu",
		     (unsigned long long)r->done, reach);
	else if (reach && !r->done)
		fail(v, "[result] nothing done although %zu bytes were reachable",
		     reach);
	else if (reach == len && r->done != len)
		fail(v, "[result] done %llu of %zu with no fault",
		     (unsigned long long)r->done, len);
	if (r->ret != (r->done == len ? 0 : -EFAULT))
		fail(v, "[result] ret %lld with done %llu of %zu",
		     (long long)r->ret, (unsigned long long)r->done, len);
}

/*
 * A writing target stores uafault_fill() bytes, or zeroes (clear_user,
 * padding it cleared); any other byte is kernel memory it never
 * initialised, leaking out (CVE-2016-4482's padding).
 */
static void check_stored(struct verdict *v, const unsigned char *r,
			 size_t done, uint32_t seed)
{
	size_t i;

	for (i = 0; i < done; i++) {
		if (r[i] == 0 || r[i] == uafault_fill(seed, i))
			continue;
		fail(v, "[stored-bytes] byte %zu written as %#x: neither uafault_fill() (%#x) nor 0, kernel memory leaked",
		     i, r[i], uafault_fill(seed, i));
		return;
	}
}

/*
 * The checksum a target must report for what it read or wrote, given the
 * range's bytes as @seen (before the run for a read, after it for a
 * write).  A STRBUF target checksums its whole zeroed buffer.
 */
uint64_t user_csum(const struct umem *m, const struct target *t,
		   const struct uafault_run *r, const unsigned char *seen)
{
	static const unsigned char zero[64];
	uint64_t csum = uafault_csum(UAFAULT_CSUM_INIT, seen + m->plan.offset,
				     r->done);
	size_t tail;

	if (t->result != UAFAULT_RES_STRBUF || r->ret)
		return csum;
	for (tail = m->plan.len - r->done; tail; ) {
		size_t n = tail < sizeof(zero) ? tail : sizeof(zero);

		csum = uafault_csum(csum, zero, n);
		tail -= n;
	}
	return csum;
}

/*
 * The byte of @m's mapping that shares @i's frame (page_twice: pages
 * m->twice - 1 and m->twice are one page), or -1.
 */
static long alias_of(const struct umem *m, size_t i)
{
	size_t pg = i / PAGE;

	if (!m->twice)
		return -1;
	if (pg + 1 == m->twice && i + PAGE < m->map_len)
		return i + PAGE;
	if (pg == m->twice)
		return i - PAGE;
	return -1;
}

/* Whether byte @i of the mapping lies where a write of @reach may land. */
static bool in_reach(const struct umem *m, long i, size_t reach)
{
	return i >= 0 && (size_t)i >= m->plan.offset &&
	       (size_t)i < m->plan.offset + reach;
}

/*
 * What a writing target stored at each byte of the range, as @after
 * shows it: where two pages of the range are one frame, a byte shows the
 * last write through either, so a byte holding its twin's
 * uafault_fill() byte was written with its own (a target stores its
 * fill bytes or zeroes, never the other page's); every other byte is
 * what @after holds.
 */
static void stored_bytes(const struct umem *m, const unsigned char *after,
			 unsigned char *seen, size_t reach, uint32_t seed)
{
	size_t off = m->plan.offset, i;
	long j;

	memcpy(seen, after, m->map_len);
	for (i = off; i < off + reach && i < m->map_len; i++) {
		j = alias_of(m, i);
		if (in_reach(m, j, reach) && after[i] &&
		    after[i] == uafault_fill(seed, j - off))
			seen[i] = uafault_fill(seed, i - off);
	}
}

void check_result(struct verdict *v, const struct umem *m,
		  const struct target *t, const struct uafault_run *r,
		  size_t reach)
{
	const struct plan *p = &m->plan;
	struct expect e = expect_for(m, t, reach);
	/* A device's own bytes: only where it may write is checked. */
	bool writes = target_writes(t), data = !t->opaque;
	unsigned char *after = calloc(1, m->map_len);
	unsigned char *seen = malloc(m->map_len);
	size_t i, done = r->done;
	uint64_t csum;

	if (!after || !seen) {
		fail(v, "out of memory");
		free(after);
		free(seen);
		return;
	}
	check_done(v, m, r, &e, reach);
	umem_snapshot((struct umem *)m, after);
	stored_bytes(m, after, seen, writes ? reach : 0, r->seed);
	if (data && e.csum && t->result != UAFAULT_RES_STRSIZE &&
	    done <= p->len) {
		csum = user_csum(m, t, r, writes ? seen : m->before);
		/*
		 * Where two pages of the range are one frame, a target that
		 * checksums what it wrote has @seen's, and one whose device
		 * wrote through its pinned pages and read them back
		 * (device_write()) has what the frame finally holds,
		 * @after's.  Either is right; nowhere else do they differ.
		 */
		if (csum != r->csum && writes &&
		    memcmp(seen, after, m->map_len) &&
		    user_csum(m, t, r, after) == r->csum)
			csum = r->csum;
		if (csum != r->csum)
			fail(v, "[csum] kernel csum %#llx of %zu bytes, user has %#llx",
			     (unsigned long long)r->csum, done,
			     (unsigned long long)csum);
	}
	if (data && writes && done <= p->len)
		check_stored(v, seen + p->offset, done, r->seed);
	/* Nothing outside what the target may write (through a twin) changes. */
	for (i = 0; i < m->map_len; i++) {
		bool mayw = writes && (in_reach(m, i, reach) ||
				       in_reach(m, alias_of(m, i), reach));

		if (!m->readable[i / PAGE] || mayw || after[i] == m->before[i])
			continue;
		fail(v, "[unchanged] byte %zu of the mapping changed (%#x -> %#x)", i,
		     m->before[i], after[i]);
		break;
	}
	free(after);
	free(seen);
}

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

/*
 * No pin outlives a case: the FOLL_PIN balance (/proc/vmstat) and the
 * memory charged as pinned (VmPin: io_uring, iommufd, RDMA charge
 * mm->pinned_vm) are where they started.
 */
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

/*
 * Whether @after's references are not what a call may leave of @before's.
 * More than before is a reference the call kept.  Fewer is not enough to
 * say it dropped one it never took: a reference beyond a page's mappings
 * and pins is someone's for a while (compaction's isolation, an LRU
 * batch, a migration in flight, a /proc reader), and one the looks before
 * the call saw may be let go during it, so the looks' count is no
 * baseline.  What no holder's release explains is a page left below the
 * least it can hold: none beyond its mappings and pins, or what it held
 * before if that was less.
 */
static bool refs_charged(const struct uafault_page_ref *before,
			 const struct uafault_page_ref *after)
{
	int floor = before->extra < 0 ? before->extra : 0;

	return refs_comparable(before, after) &&
	       (after->extra > before->extra || after->extra < floor);
}

/* The first page whose references @after charges to the call, or -1. */
static int refs_changed(const struct page_refs *before,
			const struct page_refs *after)
{
	unsigned int i;

	for (i = 0; i < before->n && i < after->n; i++)
		if (refs_charged(&before->ref[i], &after->ref[i]))
			return i;
	return -1;
}

/*
 * The references each page of @m holds beyond its mappings, before a
 * call: the lower of two looks, so a passer-by's in one of them is not
 * counted (one held through both is: refs_charged() does not take its
 * release for the call's drop).  False when they cannot be read (no
 * device, no ioctl): no page oracle then.
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
 * --refs-passer-by (tests): what a passer-by does to a page, done by the
 * agent itself, so the interleaving is the same on every run.  vmsplice()
 * puts a page in a pipe with a get_user_pages() reference (FOLL_GET: one
 * beyond the page's mappings, which no pin counter sees) that the pipe
 * holds until it is read; the agent holds one on each page the page
 * oracle compares through the looks before the call, and lets go before
 * the call.  On a correct target the page then holds one fewer after the
 * call than the looks saw, which no oracle may charge to it.
 */
struct passer_by {
	int pipe[2];
	bool held[MAX_PAGES];
};

/*
 * A reference on each page of @m's mapping that is mapped and on an LRU
 * list now: one already there, so the case's mapping stays as it was
 * set up (a read of a page not mapped yet would map one).
 */
static void passer_by_take(const struct agent *a, const struct umem *m,
			   struct passer_by *p)
{
	struct page_refs now;
	unsigned int i;

	memset(p, 0, sizeof(*p));
	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK)) {
		p->pipe[0] = -1;
		return;
	}
	if (page_refs_now(a, m->base, m->map_len, &now, true))
		return;
	for (i = 0; i < now.n; i++) {
		struct iovec page = { m->base + i * PAGE, PAGE };

		if (now.ref[i].pfn && (now.ref[i].flags & UAFAULT_REF_LRU))
			p->held[i] = vmsplice(p->pipe[1], &page, 1,
					      SPLICE_F_NONBLOCK) == PAGE;
	}
}

/*
 * The case's pages the passer-by held a reference on, and how many of
 * them the looks saw held: a case runs its target on several plans (each
 * with a verdict of its own, kept only when it fails), so the count is
 * the case's, noted once by passer_by_note().
 */
static struct {
	unsigned int held, seen;
} passer_tally;

/*
 * Reads the pipe empty (each buffer read gives its page's reference
 * back) and closes it, then counts the pages it held a reference on and
 * those of them @before (NULL: not read) saw held.
 */
static void passer_by_release(struct passer_by *p,
			      const struct page_refs *before)
{
	unsigned int i;
	char sink[PAGE];

	if (p->pipe[0] < 0)
		return;
	while (read(p->pipe[0], sink, sizeof(sink)) > 0)
		;
	close(p->pipe[0]);
	close(p->pipe[1]);
	for (i = 0; i < MAX_PAGES; i++) {
		if (!p->held[i])
			continue;
		passer_tally.held++;
		passer_tally.seen += before && i < before->n &&
				     before->ref[i].extra > 0;
	}
}

/* --refs-passer-by: the case's tally, on @v, and a new one begun. */
void passer_by_note(struct verdict *v)
{
	note(v, PASSER_BY_LINE, passer_tally.held, passer_tally.seen);
	passer_tally.held = 0;
	passer_tally.seen = 0;
}

/*
 * Page references: a call leaves every page it did not unmap or replace
 * with the references it found (beyond its mappings).  A FOLL_GET user
 * that keeps one, which the pin counters never see, leaves more; one that
 * drops a reference it never took leaves fewer than the page can hold
 * (refs_charged()).  Only a page with the same frame and folio size
 * before and after, on an LRU list both times, is compared; what is
 * charged must last REFS_SETTLE_MS, longer than a passer-by holds a page.
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
	fail(v, "[refs] page %d of the mapping (pfn %#llx): %d references beyond its mappings and pins after the call, %d before: %s",
	     i, (unsigned long long)after.ref[i].pfn, after.ref[i].extra,
	     before->ref[i].extra,
	     after.ref[i].extra > before->ref[i].extra ? REFS_KEPT :
	     REFS_DROPPED);
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
	struct passer_by passer;
	struct uafault_run r;
	bool refs;
	int err;

	phase_begin(PH_REFS);
	if (a->refs_passer_by)
		passer_by_take(a, m, &passer);
	refs = refs_before(a, m, &before);
	if (a->refs_passer_by)
		passer_by_release(&passer, refs ? &before : NULL);
	phase_end();
	err = run_target(a, t, m->addr, m->plan.len, &r);
	/*
	 * The window opens where uafault_pin_all() returns: a target that
	 * pins otherwise (or not at all) has none, which is no failure of
	 * its set-up but a kind that means nothing for it.
	 */
	if (err == -ENODATA && a->run_flags & UAFAULT_RUN_WRITEBACK) {
		note(v, "# no writeback window opened: %s pinned no whole range through uafault_pin_all()\n",
		     t->name);
		v->skipped = true;
		return;
	}
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
