// SPDX-License-Identifier: GPL-2.0
/*
 * User memory with planted faults, and the oracle shared by the suites.
 *
 * The oracle knows one thing: which bytes of a range an access can reach
 * before it meets the planted fault.  Every expected outcome (bytes not
 * copied, pages pinned, -EFAULT) is derived from that, not written per case.
 */
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmstat.h>

#include "../module/pin_stat.h"
#define UAFAULT_KNOWN_TABLE	/* the records are defined here */
#include "uafault_kunit.h"

static const char * const fault_names[UAFAULT_NR_FAULTS] = {
	[UAFAULT_NONE]		= "none",
	[UAFAULT_UNMAPPED]	= "unmapped",
	[UAFAULT_PROT_NONE]	= "prot_none",
	[UAFAULT_READ_ONLY]	= "read_only",
};

const char *uafault_fault_name(enum uafault_fault fault)
{
	return fault < UAFAULT_NR_FAULTS ? fault_names[fault] : "?";
}

/* Whether an access in the given direction faults on such a page. */
bool uafault_fault_blocks(enum uafault_fault fault, bool write)
{
	switch (fault) {
	case UAFAULT_UNMAPPED:
	case UAFAULT_PROT_NONE:
		return true;
	case UAFAULT_READ_ONLY:
		return write;
	default:
		return false;
	}
}

/*
 * Never 0 (so a zero-filled byte is told from a copied one) and never
 * UAFAULT_POISON (so an untouched kernel byte is told from a copied one).
 */
u8 uafault_pattern(size_t index, u8 seed)
{
	return (index * 13 + seed) % 127 + 1;
}

int uafault_layout_name(const struct uafault_layout *l, char *buf, size_t size)
{
	if (l->hole < 0)
		return scnprintf(buf, size, "pages=%u off=%u trim=%u",
				 l->npages, l->offset, l->trim);
	return scnprintf(buf, size, "pages=%u hole=%d:%s off=%u trim=%u",
			 l->npages, l->hole, uafault_fault_name(l->fault),
			 l->offset, l->trim);
}

/**
 * uafault_layouts() - every fault plan of @npages pages at every offset
 * @out: where to put the layouts
 * @max: room in @out
 * @npages: pages in each mapping
 * @faults: fault kinds to plant, each at every page in turn
 * @nfaults: entries in @faults
 * @offsets: range starts to try with each plan
 * @noffsets: entries in @offsets
 * @trim: bytes of the mapping left after each range
 *
 * The fault-free layout comes first; ranges that would be empty are left
 * out.
 *
 * Return: the number of layouts written, or -ENOSPC.
 */
int uafault_layouts(struct uafault_layout *out, unsigned int max, u8 npages,
		    const u8 *faults, unsigned int nfaults, const u16 *offsets,
		    unsigned int noffsets, u16 trim)
{
	unsigned int n = 0, f, o;
	int hole;

	for (hole = -1; hole < npages; hole++) {
		for (f = 0; f < (hole < 0 ? 1 : nfaults); f++) {
			for (o = 0; o < noffsets; o++) {
				if (offsets[o] + trim >= npages * PAGE_SIZE)
					continue;
				if (n >= max)
					return -ENOSPC;
				out[n++] = (struct uafault_layout) {
					.npages = npages, .hole = hole,
					.fault = hole < 0 ? UAFAULT_NONE :
							    faults[f],
					.offset = offsets[o], .trim = trim,
				};
			}
		}
	}
	return n;
}

/*
 * kunit_vm_mmap() only catches a zero return: an -errno comes back as a
 * huge "address", so check it against TASK_SIZE here.
 */
unsigned long uafault_mmap(struct kunit *test, size_t len, unsigned long prot)
{
	unsigned long addr;

	addr = uafault_vm_mmap(test, NULL, 0, len, prot,
			       MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "kunit_vm_mmap failed");
	KUNIT_ASSERT_LT_MSG(test, addr, (unsigned long)TASK_SIZE,
			    "kunit_vm_mmap returned %ld", (long)addr);
	return addr;
}

/*
 * There is no in-kernel mprotect(); mapping a fresh page over the old one
 * with MAP_FIXED gives the same protection (and zeroes, which the oracle
 * knows about: see uafault_umem_setup()).
 */
void uafault_plant(struct kunit *test, unsigned long page,
		   enum uafault_fault fault)
{
	unsigned long prot = fault == UAFAULT_READ_ONLY ? PROT_READ : PROT_NONE;
	unsigned long ret;

	switch (fault) {
	case UAFAULT_NONE:
		return;
	case UAFAULT_UNMAPPED:
		KUNIT_ASSERT_EQ(test, vm_munmap(page, PAGE_SIZE), 0);
		return;
	default:
		ret = vm_mmap(NULL, page, PAGE_SIZE, prot,
			      MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, 0);
		KUNIT_ASSERT_EQ(test, ret, page);
	}
}

static bool umem_page_readable(const struct uafault_umem *m, unsigned int pg)
{
	return pg != m->layout->hole ||
	       !uafault_fault_blocks(m->layout->fault, false);
}

/* Reads every readable page of the mapping; they must all read in full. */
u8 *uafault_umem_snapshot(const struct uafault_umem *m)
{
	struct kunit *test = m->test;
	u8 *buf = kunit_kzalloc(test, m->map_len, GFP_KERNEL);
	unsigned int pg;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (pg = 0; pg < m->layout->npages; pg++) {
		void __user *src = (void __user *)(m->base + pg * PAGE_SIZE);

		if (!umem_page_readable(m, pg))
			continue;
		KUNIT_ASSERT_EQ_MSG(test,
				    copy_from_user(buf + pg * PAGE_SIZE, src,
						   PAGE_SIZE), 0,
				    "page %u should be readable", pg);
	}
	return buf;
}

/*
 * Maps the layout's pages and fills them with pattern(@seed); the fault is
 * not planted yet, so a test can still shape the bytes (uafault_umem_arm()).
 */
void uafault_umem_map(struct kunit *test, struct uafault_umem *m,
		      const struct uafault_layout *l, u8 seed)
{
	size_t i, map_len = l->npages * PAGE_SIZE;
	u8 *fill;

	KUNIT_ASSERT_LE(test, l->npages, UAFAULT_MAX_PAGES);
	KUNIT_ASSERT_LE(test, l->offset + l->trim, map_len);

	m->test = test;
	m->layout = l;
	m->map_len = map_len;
	m->base = uafault_mmap(test, map_len, PROT_READ | PROT_WRITE);
	m->addr = m->base + l->offset;
	m->len = map_len - l->offset - l->trim;

	fill = kunit_kmalloc(test, map_len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fill);
	for (i = 0; i < map_len; i++)
		fill[i] = uafault_pattern(i, seed);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)m->base, fill,
					   map_len), 0);
}

/* Plants the layout's fault and records what the user has left. */
void uafault_umem_arm(struct uafault_umem *m)
{
	const struct uafault_layout *l = m->layout;

	if (l->hole >= 0)
		uafault_plant(m->test, m->base + l->hole * PAGE_SIZE, l->fault);
	m->before = uafault_umem_snapshot(m);
}

void uafault_umem_setup(struct kunit *test, struct uafault_umem *m,
			const struct uafault_layout *l, u8 seed)
{
	uafault_umem_map(test, m, l, seed);
	uafault_umem_arm(m);
}

/*
 * The oracle: how many bytes of the range lie before the first byte that
 * faults for an access in this direction (m->len if none does).
 */
size_t uafault_umem_reach(const struct uafault_umem *m, bool write)
{
	const struct uafault_layout *l = m->layout;
	size_t hole_start;

	if (l->hole < 0 || !uafault_fault_blocks(l->fault, write))
		return m->len;
	hole_start = l->hole * PAGE_SIZE;
	if (hole_start <= l->offset)
		return 0;
	return min(hole_start - l->offset, m->len);
}

/* What the user had at byte @index of the range before the access. */
u8 uafault_umem_byte(const struct uafault_umem *m, size_t index)
{
	return m->before[m->layout->offset + index];
}

/*
 * The contract of raw_copy_{from,to}_user() (include/linux/uaccess.h): an
 * architecture may stop short of the fault (x86 copies in words and
 * retries the tail byte by byte; others copy in larger chunks), but it may
 * neither report bytes past the fault as done nor report nothing done when
 * something could be.  Assert exactly that, not whatever this architecture
 * happens to do.
 */
void uafault_expect_bound(struct kunit *test, size_t len, size_t not_done,
			  size_t reach)
{
	KUNIT_EXPECT_LE(test, not_done, len);
	KUNIT_EXPECT_LE_MSG(test, len - not_done, reach,
			    "claims bytes past the fault");
	if (reach >= len)
		KUNIT_EXPECT_EQ(test, not_done, 0);
	else if (reach > 0)
		KUNIT_EXPECT_LT_MSG(test, not_done, len,
				    "nothing done although %zu bytes could be",
				    reach);
}

/*
 * After a write of @src (NULL: zeroes) to the range that reports @done
 * bytes: those bytes hold the new data, bytes between @done and @reach
 * hold the old or the new byte (a short write may have stored more than it
 * reports), and every other readable byte of the mapping is unchanged.
 */
void uafault_expect_user_write(const struct uafault_umem *m, const u8 *src,
			       size_t done, size_t reach)
{
	struct kunit *test = m->test;
	const u8 *after = uafault_umem_snapshot(m);
	size_t off = m->layout->offset, i;

	for (i = 0; i < m->map_len; i++) {
		u8 old = m->before[i], now = after[i], new;

		if (!umem_page_readable(m, i / PAGE_SIZE) || now == old)
			continue;
		if (i < off || i >= off + reach) {
			KUNIT_FAIL(test, "mapping byte %zu changed outside the written part (range %zu+%zu, done %zu)",
				   i, off, m->len, done);
			return;
		}
		new = src ? src[i - off] : 0;
		if (now != new) {
			KUNIT_FAIL(test, "range byte %zu is %#x, expected %#x",
				   i - off, now, new);
			return;
		}
	}
	for (i = 0; i < done; i++) {
		u8 new = src ? src[i] : 0;

		if (after[off + i] != new) {
			KUNIT_FAIL(test, "range byte %zu reported written but is %#x, expected %#x",
				   i, after[off + i], new);
			return;
		}
	}
}

/* A kernel buffer of @len bytes with UAFAULT_GUARD poisoned bytes around. */
u8 *uafault_kbuf(struct kunit *test, size_t len)
{
	u8 *buf = kunit_kmalloc(test, len + 2 * UAFAULT_GUARD, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, UAFAULT_POISON, len + 2 * UAFAULT_GUARD);
	return buf + UAFAULT_GUARD;
}

void uafault_expect_guards(struct kunit *test, const u8 *kbuf, size_t len)
{
	KUNIT_EXPECT_TRUE_MSG(test,
			      !memchr_inv(kbuf - UAFAULT_GUARD, UAFAULT_POISON,
					  UAFAULT_GUARD),
			      "guard bytes before the kernel buffer changed");
	KUNIT_EXPECT_TRUE_MSG(test,
			      !memchr_inv(kbuf + len, UAFAULT_POISON,
					  UAFAULT_GUARD),
			      "guard bytes after the kernel buffer changed");
}

/*
 * After a read of the range into @kbuf that reports @done bytes: those
 * equal the user's bytes, the rest is zero (@zero_tail, as copy_from_user
 * promises) or untouched poison, the guards hold.
 */
void uafault_expect_kbuf_read(const struct uafault_umem *m, const u8 *kbuf,
			      size_t done, bool zero_tail)
{
	struct kunit *test = m->test;
	u8 tail = zero_tail ? 0 : UAFAULT_POISON;
	size_t i;

	for (i = 0; i < done; i++) {
		if (kbuf[i] != uafault_umem_byte(m, i)) {
			KUNIT_FAIL(test, "byte %zu read as %#x, user has %#x",
				   i, kbuf[i], uafault_umem_byte(m, i));
			return;
		}
	}
	KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(kbuf + done, tail,
						m->len - done),
			      "tail after %zu bytes is not all %#x", done, tail);
	uafault_expect_guards(test, kbuf, m->len);
}

/* Pins taken minus pins released, exactly (pin_stat.h). */
long uafault_pin_balance(void)
{
	s64 acquired, released;

	uafault_pin_counts(&acquired, &released);
	return acquired - released;
}

bool uafault_known(struct kunit *test, enum uafault_known_id id, bool shows)
{
	const struct uafault_known *k = &uafault_known_records[id];

	if (!shows) {
		kunit_info(test, UAFAULT_KNOWN_ABSENT " %s", k->id);
		return false;
	}
	kunit_info(test, "known deviation %s: %s", k->id, k->deviation);
	/* A failure already recorded is not hidden behind the skip. */
	if (test->status != KUNIT_FAILURE)
		kunit_mark_skipped(test, UAFAULT_KNOWN_XFAIL " %s: fix %s (%s)",
				   k->id, k->fix, k->subject);
	return true;
}

MODULE_DESCRIPTION("uafault KUnit fault suites for user access and pinning");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
