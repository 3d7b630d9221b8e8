// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_iter: iov_iter over user memory with a fault in it.  One user
 * buffer (import_ubuf) through copy_from_iter/copy_to_iter, three iovec
 * segments (kernel-held, or imported from user space with import_iovec),
 * and iov_iter_extract_pages, which pins.  Partial results are exact: an
 * iterator's count must drop by exactly what was reported.  A kernel
 * address where a user one belongs moves nothing.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "uafault_kunit.h"

#define KERNEL_SEED	77

/* copy_{from,to}_iter over one user buffer; op 1 is copy_to_iter. */
static void ubuf_case_name(const struct uafault_case *c, char *desc)
{
	int n = scnprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s ",
			  c->op ? "copy_to_iter" : "copy_from_iter");

	uafault_layout_name(&c->layout, desc + n, KUNIT_PARAM_DESC_SIZE - n);
}

UAFAULT_LAYOUT_TABLE(ubuf, 96, ubuf_case_name);

static void ubuf_copy_test(struct kunit *test)
{
	const struct uafault_case *c = test->param_value;
	bool to_iter = c->op;
	struct uafault_umem m;
	struct iov_iter iter;
	size_t reach, done, i;
	u8 *kbuf;

	uafault_umem_setup(test, &m, &c->layout, 1);
	kbuf = uafault_kbuf(test, m.len);
	reach = uafault_umem_reach(&m, to_iter);
	KUNIT_ASSERT_EQ(test, uafault_import_ubuf(to_iter ? ITER_DEST :
						  ITER_SOURCE,
						  (void __user *)m.addr, m.len,
						  &iter), 0);

	if (to_iter) {
		for (i = 0; i < m.len; i++)
			kbuf[i] = uafault_pattern(i, KERNEL_SEED);
		done = copy_to_iter(kbuf, m.len, &iter);
	} else {
		done = copy_from_iter(kbuf, m.len, &iter);
	}

	uafault_expect_bound(test, m.len, m.len - done, reach);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), m.len - done);
	if (to_iter) {
		uafault_expect_user_write(&m, kbuf, done, reach);
		uafault_expect_guards(test, kbuf, m.len);
	} else {
		/* Unlike copy_from_user(), copy_from_iter() leaves the rest. */
		uafault_expect_kbuf_read(&m, kbuf, done, false);
	}
}

/*
 * Three segments, one per page of a 3-page mapping, each SEG_LEN bytes at
 * SEG_OFF into its page.  A hole takes out a whole segment, so the copy
 * must stop exactly after the segments before it.
 */
#define NR_SEGS		3
#define SEG_OFF		100
#define SEG_LEN		1000

enum iovec_source { IOVEC_KERNEL, IOVEC_USER, IOVEC_USER_UNMAPPED };

struct iovec_case {
	bool to_iter;
	u8 source;
	s8 hole;
};

static const char * const iovec_sources[] = {
	[IOVEC_KERNEL]		= "kernel iovec",
	[IOVEC_USER]		= "import_iovec",
	[IOVEC_USER_UNMAPPED]	= "import_iovec from unmapped array",
};

static void iovec_case_name(const struct iovec_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s %s hole=%d",
		 c->to_iter ? "copy_to_iter" : "copy_from_iter",
		 iovec_sources[c->source], c->hole);
}

UAFAULT_PARAM_TABLE(iovec, struct iovec_case, 32, iovec_case_name);

static void fill_iovecs(struct iovec *iov, unsigned long base)
{
	unsigned int k;

	for (k = 0; k < NR_SEGS; k++) {
		iov[k].iov_base = (void __user *)(base + k * PAGE_SIZE +
						  SEG_OFF);
		iov[k].iov_len = SEG_LEN;
	}
}

/* Builds the iterator the way the case says; false if that must fail. */
static bool iovec_iter(struct kunit *test, const struct iovec_case *c,
		       unsigned long base, struct iov_iter *iter)
{
	struct iovec *kiov = kunit_kcalloc(test, NR_SEGS, sizeof(*kiov),
					   GFP_KERNEL);
	/* The iterator keeps pointing at it: it must outlive this call. */
	struct iovec *iov = kunit_kcalloc(test, UIO_FASTIOV, sizeof(*iov),
					  GFP_KERNEL);
	int dir = c->to_iter ? ITER_DEST : ITER_SOURCE;
	unsigned long uvec;
	ssize_t ret;

	KUNIT_ASSERT_NOT_NULL(test, kiov);
	KUNIT_ASSERT_NOT_NULL(test, iov);
	fill_iovecs(kiov, base);
	if (c->source == IOVEC_KERNEL) {
		iov_iter_init(iter, dir, kiov, NR_SEGS, NR_SEGS * SEG_LEN);
		return true;
	}

	uvec = uafault_mmap(test, PAGE_SIZE, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)uvec, kiov,
					   NR_SEGS * sizeof(*kiov)), 0);
	if (c->source == IOVEC_USER_UNMAPPED)
		uafault_plant(test, uvec, UAFAULT_UNMAPPED);

	ret = import_iovec(dir, (const struct iovec __user *)uvec, NR_SEGS,
			   UIO_FASTIOV, &iov, iter);
	if (c->source == IOVEC_USER_UNMAPPED) {
		KUNIT_EXPECT_EQ(test, ret, -EFAULT);
		return false;
	}
	KUNIT_ASSERT_EQ(test, ret, NR_SEGS * SEG_LEN);
	/* Fits the fast array: nothing was allocated to free. */
	KUNIT_ASSERT_NULL(test, iov);
	return true;
}

static void iovec_copy_test(struct kunit *test)
{
	const struct iovec_case *c = test->param_value;
	struct uafault_layout l = {
		.npages = NR_SEGS, .hole = c->hole, .fault = UAFAULT_UNMAPPED,
	};
	size_t want, done, total = NR_SEGS * SEG_LEN, i, k;
	struct uafault_umem m;
	struct iov_iter iter;
	u8 *kbuf, *user;

	/*
	 * Build the iterator before planting the hole: the iovec array's own
	 * mapping would otherwise land in the hole.
	 */
	uafault_umem_map(test, &m, &l, 1);
	kbuf = uafault_kbuf(test, total);
	if (!iovec_iter(test, c, m.base, &iter))
		return;
	uafault_umem_arm(&m);
	want = (c->hole < 0 ? NR_SEGS : c->hole) * SEG_LEN;

	if (c->to_iter) {
		for (i = 0; i < total; i++)
			kbuf[i] = uafault_pattern(i, KERNEL_SEED);
		done = copy_to_iter(kbuf, total, &iter);
	} else {
		done = copy_from_iter(kbuf, total, &iter);
	}
	KUNIT_ASSERT_EQ(test, done, want);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), total - done);
	uafault_expect_guards(test, kbuf, total);

	/* Segment k of the kernel buffer against page k of the mapping. */
	user = c->to_iter ? uafault_umem_snapshot(&m) : m.before;
	for (k = 0; k < done / SEG_LEN; k++) {
		KUNIT_EXPECT_EQ_MSG(test,
				    memcmp(kbuf + k * SEG_LEN,
					   user + k * PAGE_SIZE + SEG_OFF,
					   SEG_LEN), 0, "segment %zu", k);
	}
	if (!c->to_iter)
		KUNIT_EXPECT_TRUE(test, !memchr_inv(kbuf + done, UAFAULT_POISON,
						    total - done));
}

/*
 * iov_iter_extract_pages() on a user buffer pins with FOLL_PIN; op 1 is
 * ITER_DEST, whose pages will be written (FOLL_WRITE).
 */
static void extract_case_name(const struct uafault_case *c, char *desc)
{
	int n = scnprintf(desc, KUNIT_PARAM_DESC_SIZE, "extract %s ",
			  c->op ? "ITER_DEST" : "ITER_SOURCE");

	uafault_layout_name(&c->layout, desc + n, KUNIT_PARAM_DESC_SIZE - n);
}

UAFAULT_LAYOUT_TABLE(extract, 48, extract_case_name);

static void extract_pages_test(struct kunit *test)
{
	const struct uafault_case *c = test->param_value;
	bool dest = c->op;
	struct page *pages[UAFAULT_MAX_PAGES], **pp = pages;
	size_t reach, want, offset, i;
	const char *missing = uafault_missing(UAFAULT_ITER_EXTRACT);
	long balance = uafault_pin_balance();
	struct uafault_umem m;
	struct iov_iter iter;
	ssize_t got;

	if (missing)
		kunit_skip(test, "%s", missing);
	uafault_umem_setup(test, &m, &c->layout, 1);
	reach = uafault_umem_reach(&m, dest);
	/* Pinning is page by page: a page that faults anywhere is not pinned. */
	want = reach == m.len ? m.len :
	       (m.layout->hole * PAGE_SIZE > m.layout->offset ?
		m.layout->hole * PAGE_SIZE - m.layout->offset : 0);
	KUNIT_ASSERT_EQ(test, uafault_import_ubuf(dest ? ITER_DEST : ITER_SOURCE,
						  (void __user *)m.addr, m.len,
						  &iter), 0);
	KUNIT_ASSERT_TRUE(test, uafault_iov_iter_extract_will_pin(&iter));

	got = uafault_iov_iter_extract_pages(&iter, &pp, m.len,
					     UAFAULT_MAX_PAGES, &offset);
	if (!want) {
		KUNIT_EXPECT_EQ(test, got, -EFAULT);
		KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), m.len);
		KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
		return;
	}
	KUNIT_ASSERT_EQ(test, got, want);
	KUNIT_EXPECT_EQ(test, offset, m.layout->offset);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), m.len - want);

	for (i = 0; i < want; i++) {
		size_t pos = offset + i;
		u8 *kaddr = kmap_local_page(pages[pos / PAGE_SIZE]);
		u8 seen = kaddr[pos % PAGE_SIZE];

		kunmap_local(kaddr);
		if (seen != uafault_umem_byte(&m, i)) {
			KUNIT_FAIL(test, "pinned byte %zu is %#x, user has %#x",
				   i, seen, uafault_umem_byte(&m, i));
			break;
		}
	}
	unpin_user_pages(pages, DIV_ROUND_UP(offset + want, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
}

/*
 * A kernel address where a user one belongs: import_ubuf() must refuse
 * it, and a ubuf iterator built over it without that check (as
 * iov_iter_ubuf() lets a caller) must move nothing in either direction:
 * copy_{from,to}_iter() check every segment with access_ok() themselves.
 */
enum iter_kaddr_op { KADDR_IMPORT, KADDR_FROM_ITER, KADDR_TO_ITER };

static const char * const iter_kaddr_ops[] = {
	[KADDR_IMPORT] = "import_ubuf",
	[KADDR_FROM_ITER] = "copy_from_iter",
	[KADDR_TO_ITER] = "copy_to_iter",
};

enum iter_kaddr_where { KADDR_KMALLOC, KADDR_TASK_SIZE, KADDR_STRADDLE };

struct iter_kaddr_case {
	enum iter_kaddr_op op;
	enum iter_kaddr_where where;
};

static const struct iter_kaddr_case iter_kaddr_cases[] = {
	{ KADDR_IMPORT, KADDR_KMALLOC }, { KADDR_IMPORT, KADDR_TASK_SIZE },
	{ KADDR_IMPORT, KADDR_STRADDLE },
	{ KADDR_FROM_ITER, KADDR_KMALLOC }, { KADDR_FROM_ITER, KADDR_TASK_SIZE },
	{ KADDR_FROM_ITER, KADDR_STRADDLE },
	{ KADDR_TO_ITER, KADDR_KMALLOC }, { KADDR_TO_ITER, KADDR_TASK_SIZE },
	{ KADDR_TO_ITER, KADDR_STRADDLE },
};

static void iter_kaddr_name(const struct iter_kaddr_case *c, char *desc)
{
	static const char * const where[] = { "kmalloc", "TASK_SIZE", "straddling" };

	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s %s", iter_kaddr_ops[c->op],
		 where[c->where]);
}

KUNIT_ARRAY_PARAM(iter_kaddr, iter_kaddr_cases, iter_kaddr_name);

static void iter_kernel_addr_test(struct kunit *test)
{
	const struct iter_kaddr_case *c = test->param_value;
	struct uafault_layout none = { .npages = 1, .hole = -1 };
	const size_t len = 16;
	struct uafault_umem m;
	struct iov_iter iter;
	unsigned long addr = 0;
	u8 *victim, *kbuf;
	size_t done;

	/* A mapping, so the mm exists and user space is not simply empty. */
	uafault_umem_setup(test, &m, &none, 1);
	victim = uafault_kbuf(test, len);
	kbuf = uafault_kbuf(test, len);
	memset(kbuf, 0x5a, len);
	switch (c->where) {
	case KADDR_KMALLOC:
		addr = (unsigned long)victim;
		break;
	case KADDR_TASK_SIZE:
		addr = TASK_SIZE;
		break;
	case KADDR_STRADDLE:
		addr = TASK_SIZE - len / 2;
		break;
	}
	if (c->op == KADDR_IMPORT) {
		int ret = uafault_import_ubuf(ITER_SOURCE, (void __user *)addr,
					      len, &iter);

		if (!(IS_ENABLED(CONFIG_UML) && c->where == KADDR_KMALLOC &&
		      uafault_known(test, UAFAULT_KNOWN_UM_ACCESS_OK_KERNEL,
				    ret == 0)))
			KUNIT_EXPECT_EQ(test, ret, -EFAULT);
	} else {
		iov_iter_ubuf(&iter, c->op == KADDR_TO_ITER ? ITER_DEST :
			      ITER_SOURCE, (void __user *)addr, len);
		done = c->op == KADDR_TO_ITER ? copy_to_iter(kbuf, len, &iter) :
						copy_from_iter(kbuf, len, &iter);
		KUNIT_EXPECT_EQ(test, done, 0);
		KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), len);
		KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(kbuf, 0x5a, len),
				      "the kernel buffer changed: bytes came from a kernel address");
	}
	KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(victim, UAFAULT_POISON, len),
			      "kernel memory behind the pointer was written");
	uafault_expect_guards(test, victim, len);
}

static int add_iovec_cases(bool to_iter)
{
	struct iovec_case *c;
	unsigned int source;
	int hole;

	for (source = IOVEC_KERNEL; source <= IOVEC_USER_UNMAPPED; source++) {
		/* An unreadable iovec array fails before any segment. */
		for (hole = -1; hole < (source == IOVEC_USER_UNMAPPED ? 0 :
							    NR_SEGS); hole++) {
			c = iovec_add();
			if (!c)
				return -ENOSPC;
			*c = (struct iovec_case) { to_iter, source, hole };
		}
	}
	return 0;
}

static int iter_suite_init(struct kunit_suite *suite)
{
	static const u8 faults[] = { UAFAULT_UNMAPPED, UAFAULT_READ_ONLY };
	static const u8 pin_faults[] = {
		UAFAULT_UNMAPPED, UAFAULT_PROT_NONE, UAFAULT_READ_ONLY,
	};
	static const u16 offsets[] = { 0, 1, PAGE_SIZE - 1 };
	static const u16 pin_offsets[] = { 0, 100 };
	unsigned int op;
	int ret = 0;
	u8 npages;

	ubuf_reset();
	iovec_reset();
	extract_reset();
	for (op = 0; op < 2 && !ret; op++) {
		for (npages = 2; npages <= UAFAULT_MAX_PAGES && !ret; npages++)
			ret = ubuf_add_layouts(op, 0, npages, faults,
					       ARRAY_SIZE(faults), offsets,
					       ARRAY_SIZE(offsets), 0);
		if (!ret)
			ret = add_iovec_cases(op);
		if (!ret)
			ret = extract_add_layouts(op, 0, UAFAULT_MAX_PAGES,
						  pin_faults,
						  ARRAY_SIZE(pin_faults),
						  pin_offsets,
						  ARRAY_SIZE(pin_offsets), 0);
	}
	return ret;
}

static unsigned int iter_cases(void)
{
	return ubuf_count + iovec_count + extract_count;
}

UAFAULT_REINIT_TEST(iter, iter_suite_init, iter_cases);

static struct kunit_case iter_test_cases[] = {
	KUNIT_CASE_PARAM(ubuf_copy_test, ubuf_gen_params),
	KUNIT_CASE_PARAM(iovec_copy_test, iovec_gen_params),
	KUNIT_CASE_PARAM(extract_pages_test, extract_gen_params),
	KUNIT_CASE_PARAM(iter_kernel_addr_test, iter_kaddr_gen_params),
	KUNIT_CASE(iter_reinit_test),
	{}
};

static struct kunit_suite uafault_iter_suite = {
	.name = "uafault_iter",
	.suite_init = iter_suite_init,
	.test_cases = iter_test_cases,
};

kunit_test_suite(uafault_iter_suite);
