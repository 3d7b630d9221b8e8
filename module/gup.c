// SPDX-License-Identifier: GPL-2.0
/*
 * uafault built-in targets for get_user_pages() and pin_user_pages()
 * (the GUP core in mm/).
 *
 * Each target asks for every page the range touches, starting at
 * addr & PAGE_MASK.  @pinned is the pages the API returned; @done the
 * bytes of the range those pages cover; @ret the API's negative errno,
 * or -EFAULT when it returned fewer pages than asked (0 included).  A
 * reading target checksums the covered bytes through the kernel's mapping
 * of the pages (uafault_pages_walk()); a writing one stores uafault_fill()
 * bytes there and releases the pages dirty.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "compat.h"
#include "internal.h"

/* The APIs under test, in one shape. */
typedef long (*uafault_gup_fn)(unsigned long start, unsigned long nr,
			       unsigned int gup_flags, struct page **pages);

static long uafault_gup_fast(unsigned long start, unsigned long nr,
			     unsigned int gup_flags, struct page **pages)
{
	return get_user_pages_fast(start, nr, gup_flags, pages);
}

static long uafault_pin_fast(unsigned long start, unsigned long nr,
			     unsigned int gup_flags, struct page **pages)
{
	return pin_user_pages_fast(start, nr, gup_flags, pages);
}

/* pin_user_pages() with mmap_lock held for read, as drivers call it. */
static long uafault_pin_locked(unsigned long start, unsigned long nr,
			       unsigned int gup_flags, struct page **pages)
{
	struct mm_struct *mm = current->mm;
	long rc;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	rc = uafault_pin_user_pages(start, nr, gup_flags, pages);
	mmap_read_unlock(mm);
	return rc;
}

static long uafault_pin_unlocked(unsigned long start, unsigned long nr,
				 unsigned int gup_flags, struct page **pages)
{
	return pin_user_pages_unlocked(start, nr, pages, gup_flags);
}

static int uafault_gup_run(struct uafault_ctx *ctx, uafault_gup_fn gup,
			   unsigned int gup_flags, bool pin)
{
	bool write = gup_flags & FOLL_WRITE;
	enum uafault_walk walk = write ? UAFAULT_WALK_FILL : UAFAULT_WALK_READ;
	unsigned long nr = uafault_npages(ctx);
	struct page **pages;
	long rc, i;

	pages = uafault_alloc_pages(nr);
	if (!pages)
		return -ENOMEM;

	rc = gup(ctx->addr & PAGE_MASK, nr, gup_flags, pages);
	uafault_pin_result(ctx, rc, nr);
	if (rc > 0) {
		ctx->csum = uafault_pages_walk(pages, offset_in_page(ctx->addr),
					       ctx->done, walk, ctx->seed, 0,
					       ctx->csum);
		if (!pin)
			for (i = 0; i < rc; i++)
				put_page(pages[i]);
		else if (write)
			unpin_user_pages_dirty_lock(pages, rc, true);
		else
			unpin_user_pages(pages, rc);
	}
	kvfree(pages);
	return 0;
}

static int uafault_get_user_pages_fast(struct uafault_ctx *ctx)
{
	return uafault_gup_run(ctx, uafault_gup_fast, 0, false);
}

static int uafault_pin_user_pages_fast(struct uafault_ctx *ctx)
{
	return uafault_gup_run(ctx, uafault_pin_fast, 0, true);
}

static int uafault_pin_user_pages_fast_write(struct uafault_ctx *ctx)
{
	return uafault_gup_run(ctx, uafault_pin_fast, FOLL_WRITE, true);
}

static int uafault_pin_user_pages_longterm(struct uafault_ctx *ctx)
{
	return uafault_gup_run(ctx, uafault_pin_locked, FOLL_LONGTERM, true);
}

static int uafault_pin_user_pages_unlocked(struct uafault_ctx *ctx)
{
	return uafault_gup_run(ctx, uafault_pin_unlocked, 0, true);
}

#define UAFAULT_GUP_TARGET(_name, _flags)			\
	{							\
		.name = #_name,					\
		.flags = (_flags) | UAFAULT_TF_PIN,		\
		.result = UAFAULT_RES_PAGES,			\
		.run = uafault_##_name,				\
		.owner = THIS_MODULE,				\
	}

static struct uafault_target uafault_gup_targets[] = {
	UAFAULT_GUP_TARGET(get_user_pages_fast, UAFAULT_TF_READ),
	UAFAULT_GUP_TARGET(pin_user_pages_fast, UAFAULT_TF_READ),
	UAFAULT_GUP_TARGET(pin_user_pages_fast_write, UAFAULT_TF_WRITE),
	UAFAULT_GUP_TARGET(pin_user_pages_longterm,
			   UAFAULT_TF_READ | UAFAULT_TF_NOWAIT |
			   UAFAULT_TF_LONGTERM),
	UAFAULT_GUP_TARGET(pin_user_pages_unlocked, UAFAULT_TF_READ),
};

int uafault_gup_init(void)
{
	return uafault_register_targets(uafault_gup_targets,
					ARRAY_SIZE(uafault_gup_targets));
}

void uafault_gup_exit(void)
{
	uafault_unregister_targets(uafault_gup_targets,
				   ARRAY_SIZE(uafault_gup_targets));
}
