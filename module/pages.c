// SPDX-License-Identifier: GPL-2.0
/*
 * The pages under a run's range: how many, an array for them, what a GUP
 * call that took them returned, and all of them pinned or none.  The GUP
 * and DMA targets, the held pin and the trap share these; a user's module
 * has uafault_pin_all() (uafault_target.h).  A leaf: it calls nothing
 * else of uafault's.
 */
#include <linux/export.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "internal.h"

/**
 * uafault_npages() - pages a run's range touches
 * @ctx: the run
 *
 * Return: pages from @ctx->addr & PAGE_MASK to the range's last byte, at
 * most %UAFAULT_MAX_PAGES.
 */
unsigned long uafault_npages(const struct uafault_ctx *ctx)
{
	return DIV_ROUND_UP(offset_in_page(ctx->addr) + ctx->len, PAGE_SIZE);
}

/**
 * uafault_alloc_pages() - allocate a page array for a run
 * @nr: entries, from uafault_npages()
 *
 * Return: the array, to kvfree(), or NULL.
 */
struct page **uafault_alloc_pages(unsigned long nr)
{
	if (WARN_ON_ONCE(nr > UAFAULT_MAX_PAGES))
		return NULL;
	return kvmalloc_array(nr, sizeof(struct page *), GFP_KERNEL);
}

/**
 * uafault_pin_result() - record what a GUP call returned
 * @ctx: the run
 * @rc: the call's return: pages, or a negative errno
 * @nr: pages asked for
 *
 * Sets @ctx->pinned, @ctx->done (range bytes covered) and @ctx->ret.
 */
void uafault_pin_result(struct uafault_ctx *ctx, long rc, unsigned long nr)
{
	if (rc < 0) {
		ctx->ret = rc;
		return;
	}
	ctx->pinned = rc;
	ctx->ret = (unsigned long)rc < nr ? -EFAULT : 0;
	if (rc)
		ctx->done = min_t(size_t, ctx->len,
				  rc * PAGE_SIZE - offset_in_page(ctx->addr));
}

/**
 * uafault_pin_all() - pin every page of a user range, or none
 * @start: the first page's address
 * @nr: pages
 * @gup_flags: FOLL_* bits for pin_user_pages_fast()
 * @pages: room for @nr pages
 *
 * What a driver that needs its whole buffer does.
 *
 * Return: @nr, every page pinned; or an error with nothing left pinned:
 * pin_user_pages_fast()'s, or -%EFAULT when it pinned fewer.
 */
long uafault_pin_all(unsigned long start, unsigned long nr,
		     unsigned int gup_flags, struct page **pages)
{
	long rc = pin_user_pages_fast(start, nr, gup_flags, pages);

	if (rc >= 0 && (unsigned long)rc == nr)
		return rc;
	if (rc > 0)
		unpin_user_pages(pages, rc);
	return rc < 0 ? rc : -EFAULT;
}
EXPORT_SYMBOL_GPL(uafault_pin_all);
