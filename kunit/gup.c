// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_gup: get_user_pages* and pin_user_pages* over three pages with an
 * unmapped, PROT_NONE or read-only page at each position, with and without
 * FOLL_WRITE and FOLL_LONGTERM.  The count stops exactly at the page that
 * faults (-EFAULT when it is the first), the pages hold the user's bytes,
 * and the pin balance in vmstat moves by exactly the pins taken and comes
 * back.  Pinned pages then go through an sg table and dma_map_sgtable() on
 * a KUnit device; a "device" write lands in the user's mapping after
 * unpin_user_pages_dirty_lock().  A kernel with no KUnit device runs the
 * rest and skips, naming it.
 */
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/scatterlist.h>
#include <linux/uaccess.h>

#include "uafault_kunit.h"

#define DEVICE_SEED	99

enum gup_op { GUP, GUP_FAST, PUP, PUP_UNLOCKED, PUP_FAST };

struct gup_api {
	const char *name;
	bool pins;
};

static const struct gup_api gup_apis[] = {
	[GUP]		= { "get_user_pages",		false },
	[GUP_FAST]	= { "get_user_pages_fast",	false },
	[PUP]		= { "pin_user_pages",		true },
	[PUP_UNLOCKED]	= { "pin_user_pages_unlocked",	true },
	[PUP_FAST]	= { "pin_user_pages_fast",	true },
};

/* One call of @op, the way mm/gup_test.c makes them. */
static long gup_run(unsigned int op, unsigned long start, unsigned long n,
		    unsigned int flags, struct page **pages)
{
	long ret;

	switch (op) {
	case GUP_FAST:
		return get_user_pages_fast(start, n, flags, pages);
	case PUP_UNLOCKED:
		return pin_user_pages_unlocked(start, n, pages, flags);
	case PUP_FAST:
		return pin_user_pages_fast(start, n, flags, pages);
	}
	/* get_user_pages() and pin_user_pages() want mmap_lock held. */
	mmap_read_lock(current->mm);
	ret = op == PUP ? uafault_pin_user_pages(start, n, flags, pages) :
			  uafault_get_user_pages(start, n, flags, pages);
	mmap_read_unlock(current->mm);
	return ret;
}

static void gup_case_name(const struct uafault_case *c, char *desc)
{
	int n = scnprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s%s%s ",
			  gup_apis[c->op].name,
			  c->flags & FOLL_WRITE ? " WRITE" : "",
			  c->flags & FOLL_LONGTERM ? " LONGTERM" : "");

	uafault_layout_name(&c->layout, desc + n, KUNIT_PARAM_DESC_SIZE - n);
}

UAFAULT_LAYOUT_TABLE(gup, 192, gup_case_name);

static void release_pages_of(const struct gup_api *api, struct page **pages,
			     long n, bool dirty)
{
	long i;

	if (api->pins) {
		unpin_user_pages_dirty_lock(pages, n, dirty);
		return;
	}
	for (i = 0; i < n; i++)
		put_page(pages[i]);
}

static void expect_pages_hold(struct kunit *test, const struct uafault_umem *m,
			      struct page **pages, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		u8 *kaddr = kmap_local_page(pages[i]);
		int diff = memcmp(kaddr, m->before + i * PAGE_SIZE, PAGE_SIZE);

		kunmap_local(kaddr);
		KUNIT_EXPECT_EQ_MSG(test, diff, 0,
				    "page %ld does not hold the user's bytes", i);
	}
}

/*
 * The device reads the pinned pages (FOLL_WRITE clear) or writes them, at
 * its DMA addresses: through swiotlb bouncing too, if the mapping bounced.
 * Returns the bytes a write put there, for the caller to find in the
 * user's mapping after the dirty unpin.
 */
static u8 *dma_roundtrip(struct kunit *test, const struct uafault_umem *m,
			 struct page **pages, long n, bool device_writes)
{
	enum dma_data_direction dir = device_writes ? DMA_FROM_DEVICE :
						      DMA_TO_DEVICE;
	struct device *dev = uafault_device_register(test, "uafault-dma");
	u8 *wrote = kunit_kmalloc(test, n * PAGE_SIZE, GFP_KERNEL);
	struct scatterlist *sg;
	struct sg_table sgt;
	size_t pos = 0, j;
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	KUNIT_ASSERT_NOT_NULL(test, wrote);
	KUNIT_ASSERT_EQ(test, sg_alloc_table_from_pages_segment(&sgt, pages, n,
								0, n * PAGE_SIZE,
								UINT_MAX,
								GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, dma_map_sgtable(dev, &sgt, dir, 0), 0);

	for_each_sgtable_dma_sg(&sgt, sg, i) {
		u8 *bus = phys_to_virt(dma_to_phys(dev, sg_dma_address(sg)));

		for (j = 0; j < sg_dma_len(sg); j++, pos++) {
			if (device_writes) {
				wrote[pos] = uafault_pattern(pos, DEVICE_SEED);
				bus[j] = wrote[pos];
			} else if (bus[j] != m->before[pos]) {
				KUNIT_FAIL(test, "device read %#x at %zu, user has %#x",
					   bus[j], pos, m->before[pos]);
				break;
			}
		}
	}
	KUNIT_EXPECT_EQ(test, pos, n * PAGE_SIZE);

	dma_unmap_sgtable(dev, &sgt, dir, 0);
	sg_free_table(&sgt);
	return wrote;
}

static void gup_test(struct kunit *test)
{
	const struct uafault_case *c = test->param_value;
	const struct gup_api *api = &gup_apis[c->op];
	bool write = c->flags & FOLL_WRITE;
	bool unlocked_longterm = c->op == PUP_UNLOCKED &&
				 (c->flags & FOLL_LONGTERM);
	struct page *pages[UAFAULT_MAX_PAGES];
	long balance = uafault_pin_balance();
	long want, got, i, pinned = 0;
	const char *no_device = NULL;
	struct uafault_umem m;
	u8 *wrote = NULL, *after;

	uafault_umem_setup(test, &m, &c->layout, 1);
	/* offset 0: the reach is a whole number of pages. */
	want = uafault_umem_reach(&m, write) / PAGE_SIZE;

	if (unlocked_longterm && UAFAULT_PUP_UNLOCKED_LONGTERM_WARNS)
		kunit_info(test, "uafault-expect-report: pin_user_pages_unlocked() WARNs once on FOLL_LONGTERM where it refuses it");
	got = gup_run(c->op, m.addr, c->layout.npages, c->flags, pages);
	/*
	 * A kernel whose get_user_pages_unlocked() refuses FOLL_LONGTERM
	 * pins nothing (a record, uafault_known.h).
	 */
	if (unlocked_longterm &&
	    uafault_known(test, UAFAULT_KNOWN_GUP_UNLOCKED_LONGTERM,
			  got == -EINVAL)) {
		KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
		return;
	}
	KUNIT_ASSERT_EQ(test, got, want ?: -EFAULT);
	if (got <= 0) {
		KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
		return;
	}

	for (i = 0; i < got; i++) {
		/* The shared zero page is handed out but never pinned. */
		if (!is_zero_page(pages[i]))
			pinned++;
		if (c->flags & FOLL_LONGTERM)
			KUNIT_EXPECT_TRUE_MSG(test,
					      folio_is_longterm_pinnable(page_folio(pages[i])),
					      "FOLL_LONGTERM left page %ld where it cannot stay pinned",
					      i);
	}
	KUNIT_EXPECT_EQ(test, uafault_pin_balance(),
			balance + (api->pins ? pinned : 0));
	expect_pages_hold(test, &m, pages, got);

	if (api->pins) {
		no_device = uafault_missing(UAFAULT_KUNIT_DEVICE);
		if (!no_device)
			wrote = dma_roundtrip(test, &m, pages, got, write);
	}
	release_pages_of(api, pages, got, write);
	KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);

	if (wrote && write) {
		after = uafault_umem_snapshot(&m);
		KUNIT_EXPECT_EQ_MSG(test,
				    memcmp(after, wrote, got * PAGE_SIZE), 0,
				    "the device's write is not in the user mapping");
	}
	/* All but the DMA round trip ran: a failure is not hidden. */
	if (no_device && test->status != KUNIT_FAILURE)
		kunit_mark_skipped(test, "%s", no_device);
}

static int gup_suite_init(struct kunit_suite *suite)
{
	static const unsigned int flag_sets[] = {
		0, FOLL_WRITE, FOLL_LONGTERM, FOLL_WRITE | FOLL_LONGTERM,
	};
	static const u8 faults[] = {
		UAFAULT_UNMAPPED, UAFAULT_PROT_NONE, UAFAULT_READ_ONLY,
	};
	static const u16 offset0[] = { 0 };
	unsigned int a, fl;
	int ret = 0;

	gup_reset();
	for (a = 0; a < ARRAY_SIZE(gup_apis) && !ret; a++) {
		for (fl = 0; fl < ARRAY_SIZE(flag_sets) && !ret; fl++) {
			/* FOLL_LONGTERM is only valid with FOLL_PIN. */
			if (!gup_apis[a].pins && (flag_sets[fl] & FOLL_LONGTERM))
				continue;
			ret = gup_add_layouts(a, flag_sets[fl],
					      UAFAULT_MAX_PAGES, faults,
					      ARRAY_SIZE(faults), offset0,
					      ARRAY_SIZE(offset0), 0);
		}
	}
	return ret;
}

static unsigned int gup_cases(void)
{
	return gup_count;
}

UAFAULT_REINIT_TEST(gup, gup_suite_init, gup_cases);

static struct kunit_case gup_test_cases[] = {
	KUNIT_CASE_PARAM(gup_test, gup_gen_params),
	KUNIT_CASE(gup_reinit_test),
	{}
};

static struct kunit_suite uafault_gup_suite = {
	.name = "uafault_gup",
	.suite_init = gup_suite_init,
	.test_cases = gup_test_cases,
};

kunit_test_suite(uafault_gup_suite);
