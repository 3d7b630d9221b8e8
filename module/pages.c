// SPDX-License-Identifier: GPL-2.0
/*
 * The pages under a run's range: how many, an array for them, what a GUP
 * call that took them returned, all of them pinned or none, and the walk
 * that checksums or fills the bytes they hold.  The GUP and DMA targets,
 * the held pin and the trap share these; a user's module has
 * uafault_pin_all() and uafault_pages_walk() (uafault_target.h).  A leaf:
 * it calls nothing else of uafault's but csum.c.
 *
 * uafault_pin_all() is also where a run's writeback window opens
 * (%UAFAULT_RUN_WRITEBACK): between a driver's pin and its device's
 * write, the one moment writeback cleaning the pages loses data.
 */
#include <linux/export.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
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

/*
 * The run that asked for a writeback window, one at a time: its task,
 * the windows its pins opened and the first writeback error.  Only the
 * task itself finds itself in @task, so only it reads the rest.
 */
static DEFINE_MUTEX(uafault_window_lock);
static struct {
	struct task_struct *task;
	unsigned int opened;
	int err;
} uafault_window;

/**
 * uafault_window_open() - the calling task's run opens a writeback window
 * at each uafault_pin_all() until uafault_window_close()
 *
 * Return: 0, or -%EINTR when killed while another run had it.
 */
int uafault_window_open(void)
{
	if (mutex_lock_killable(&uafault_window_lock))
		return -EINTR;
	uafault_window.opened = 0;
	uafault_window.err = 0;
	WRITE_ONCE(uafault_window.task, current);
	return 0;
}

/**
 * uafault_window_close() - the end of the run uafault_window_open() began
 *
 * Return: 0 when a window opened and was written back; -%ENODATA when
 * none opened; the first writeback error.
 */
int uafault_window_close(void)
{
	int err = uafault_window.opened ? uafault_window.err : -ENODATA;

	WRITE_ONCE(uafault_window.task, NULL);
	mutex_unlock(&uafault_window_lock);
	return err;
}

/*
 * Writes back the file pages under [@start, @end) of the current mm and
 * waits, one VMA at a time, with mmap_lock dropped: the caller holds
 * pins only, no page lock, and writeback does not wait on pins.
 */
static int uafault_window_writeback(unsigned long start, unsigned long end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long next;
	struct file *file;
	loff_t pos;
	int err = 0;

	for (; start < end && !err; start = next) {
		mmap_read_lock(mm);
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start >= end) {
			mmap_read_unlock(mm);
			break;
		}
		start = max(start, vma->vm_start);
		next = min(end, vma->vm_end);
		file = vma->vm_file ? get_file(vma->vm_file) : NULL;
		pos = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) + start -
		      vma->vm_start;
		mmap_read_unlock(mm);
		if (!file)
			continue;
		err = filemap_write_and_wait_range(file->f_mapping, pos,
						   pos + (next - start) - 1);
		fput(file);
	}
	return err;
}

/* A window at a whole pin of @nr pages from @start, if the run asked. */
static void uafault_window_at(unsigned long start, unsigned long nr)
{
	int err;

	if (READ_ONCE(uafault_window.task) != current)
		return;
	err = uafault_window_writeback(start, start + nr * PAGE_SIZE);
	uafault_window.opened++;
	if (!uafault_window.err)
		uafault_window.err = err;
}

/**
 * uafault_pin_all() - pin every page of a user range, or none
 * @start: the first page's address
 * @nr: pages
 * @gup_flags: FOLL_* bits for pin_user_pages_fast()
 * @pages: room for @nr pages
 *
 * What a driver that needs its whole buffer does.  In a run with
 * %UAFAULT_RUN_WRITEBACK, the file pages under the range are written back
 * after the pin, before this returns.
 *
 * Return: @nr, every page pinned; or an error with nothing left pinned:
 * pin_user_pages_fast()'s, or -%EFAULT when it pinned fewer.
 */
long uafault_pin_all(unsigned long start, unsigned long nr,
		     unsigned int gup_flags, struct page **pages)
{
	long rc = pin_user_pages_fast(start, nr, gup_flags, pages);

	if (rc >= 0 && (unsigned long)rc == nr) {
		uafault_window_at(start, nr);
		return rc;
	}
	if (rc > 0)
		unpin_user_pages(pages, rc);
	return rc < 0 ? rc : -EFAULT;
}
EXPORT_SYMBOL_GPL(uafault_pin_all);

/**
 * uafault_pages_walk() - checksum or fill the bytes of a range in its pages
 * @pages: the pages under the range, in order, kept (pinned, or a page
 *	   reference) by the caller
 * @offset: offset in @pages[0] of the first byte, below %PAGE_SIZE
 * @len: bytes to walk from there, on as many pages as they take
 * @mode: %UAFAULT_WALK_READ or %UAFAULT_WALK_FILL
 * @seed: %UAFAULT_WALK_FILL: the seed of the bytes stored
 * @start: %UAFAULT_WALK_FILL: the offset in the run's range of the first
 *	   byte, which gets uafault_fill(@seed, @start)
 * @csum: the checksum so far (%UAFAULT_CSUM_INIT for a new one)
 *
 * Maps each page in turn with kmap_local_page() and reads its bytes of the
 * range, or stores uafault_fill() bytes there and flush_dcache_page()s it,
 * as a target or a device does with the pages of a user buffer it holds.
 * The caller marks written pages dirty when it lets go of them.
 *
 * Return: @csum carried over the @len bytes, in order: those the pages
 * hold, or those stored.
 */
u64 uafault_pages_walk(struct page **pages, size_t offset, size_t len,
		       enum uafault_walk mode, u32 seed, size_t start, u64 csum)
{
	size_t pos, n;
	u8 *kaddr;

	for (pos = 0; pos < len; pos += n, offset = 0, pages++) {
		n = min(PAGE_SIZE - offset, len - pos);
		kaddr = kmap_local_page(*pages);
		if (mode == UAFAULT_WALK_FILL) {
			uafault_fill_buf(kaddr + offset, seed, start + pos, n);
			flush_dcache_page(*pages);
			csum = uafault_csum_fill(csum, seed, start + pos, n);
		} else {
			csum = uafault_csum(csum, kaddr + offset, n);
		}
		kunmap_local(kaddr);
	}
	return csum;
}
EXPORT_SYMBOL_GPL(uafault_pages_walk);
