// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_variants: a catalogue of buggy driver code, each bug modelled on
 * a real kernel bug, next to its correct twin.  Both run the same function;
 * the only difference is the bug, switched on by @bug.  They register as
 * "twin_<shape>" and "variant_<shape>" through the public API
 * (../uafault_target.h), as a user's driver would, so the harness has to
 * catch every variant with its fault kinds and oracles, and pass every
 * twin.  Load it only to test the harness: it taints the kernel.
 *
 * allow_oops=1 also registers the variant that oopses under SMAP (a raw
 * dereference of a user pointer).  It is not flagged UAFAULT_TF_CRASH: the
 * oops is its bug, which the harness must find outside any expected-oops
 * protocol.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "../compat.h"
#include "../uafault_target.h"

static bool allow_oops;
module_param(allow_oops, bool, 0444);
MODULE_PARM_DESC(allow_oops,
		 "Register the variant that oopses under SMAP (raw user dereference)");

/*
 * uafault calls run(ctx) with no word on which of a pair it is: each shape
 * gets two small functions that say it.
 */
#define TWIN_AND_VARIANT(shape)					\
	static int twin_##shape(struct uafault_ctx *ctx)		\
	{								\
		return shape(ctx, false);				\
	}								\
	static int variant_##shape(struct uafault_ctx *ctx)		\
	{								\
		return shape(ctx, true);				\
	}

/* The same for a shape whose targets also hold pages (UAFAULT_TF_HOLD). */
#define TWIN_AND_VARIANT_HOLD(shape)					\
	static int twin_##shape##_hold(struct uafault_ctx *ctx,		\
				       struct uafault_held *held)	\
	{								\
		return shape##_hold(ctx, held, false);			\
	}								\
	static int variant_##shape##_hold(struct uafault_ctx *ctx,	\
					  struct uafault_held *held)	\
	{								\
		return shape##_hold(ctx, held, true);			\
	}								\
	static void twin_##shape##_release(struct uafault_held *held)	\
	{								\
		shape##_release(held, false);				\
	}								\
	static void variant_##shape##_release(struct uafault_held *held) \
	{								\
		shape##_release(held, true);				\
	}

/* A run that failed as a whole: @ret, nothing done. */
static int variant_failed(struct uafault_ctx *ctx, long ret)
{
	ctx->ret = ret;
	ctx->done = 0;
	return 0;
}

/*
 * CVE-2017-5123 (waitid(), 4.13; fixed by 96ca579a1ecc): unsafe_put_user()
 * into a user pointer nobody had passed through access_ok(), so a kernel
 * address was written.  Here __put_user(), which has the same contract.
 */
static int put_user_unchecked(struct uafault_ctx *ctx, bool bug)
{
	u64 __user *p = uafault_ctx_uptr(ctx);
	u8 bytes[sizeof(u64)];
	u64 val;
	int i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = uafault_fill(ctx->seed, i);
	memcpy(&val, bytes, sizeof(val));
	if (bug)
		ctx->ret = __put_user(val, p);
	else
		ctx->ret = put_user(val, p);
	if (ctx->ret)
		return 0;
	ctx->done = sizeof(val);
	ctx->csum = uafault_csum(ctx->csum, bytes, sizeof(bytes));
	return 0;
}

TWIN_AND_VARIANT(put_user_unchecked)

/*
 * CVE-2018-20669 (i915 execbuffer, fixed in 5.0-rc1): an unsafe_get_user()
 * block opened without access_ok(), so the "user" range could be kernel
 * memory.  The twin opens it with user_read_access_begin(), which checks.
 */
static int user_read_unchecked(struct uafault_ctx *ctx, bool bug)
{
	const u8 __user *p = uafault_ctx_uptr(ctx);
	u64 csum = ctx->csum;
	size_t i;
	u8 b;

	if (bug)
		__uaccess_begin_nospec();
	else if (!user_read_access_begin(p, ctx->len))
		return variant_failed(ctx, -EFAULT);
	for (i = 0; i < ctx->len; i++) {
		unsafe_get_user(b, p + i, efault);
		csum = uafault_csum(csum, &b, 1);
	}
	user_read_access_end();
	ctx->done = ctx->len;
	ctx->csum = csum;
	return 0;
efault:
	user_read_access_end();
	return variant_failed(ctx, -EFAULT);
}

TWIN_AND_VARIANT(user_read_unchecked)

/*
 * A short copy ignored (many drivers): copy_from_user()'s count of bytes
 * left is dropped, and the kernel goes on with a buffer whose tail it
 * never filled.
 */
static int short_copy_ignored(struct uafault_ctx *ctx, bool bug)
{
	u8 *buf = kmalloc(ctx->len, GFP_KERNEL);
	unsigned long left;

	if (!buf)
		return -ENOMEM;
	left = copy_from_user(buf, uafault_ctx_uptr(ctx), ctx->len);
	if (left && !bug) {
		variant_failed(ctx, -EFAULT);
		goto out;
	}
	ctx->done = ctx->len;
	ctx->csum = uafault_csum(ctx->csum, buf, ctx->len);
out:
	kfree(buf);
	return 0;
}

TWIN_AND_VARIANT(short_copy_ignored)

/*
 * 6fa6d28051e9 (lib/strncpy_from_user.c, fixed in 5.10-rc5): the
 * word-at-a-time copy stored whole words, so the bytes after the NUL in
 * its word, whatever user space had there, reached the kernel buffer
 * (BPF hashed them into map keys).  The twin clears them, as the fix
 * does.  A word that faults is read again byte by byte, as there.
 */
static long copy_string(char *dst, const char __user *src, size_t len,
			bool bug)
{
	unsigned long word;
	size_t i = 0, k;

	while (i < len) {
		if (len - i < sizeof(word) ||
		    copy_from_user(&word, src + i, sizeof(word))) {
			if (get_user(dst[i], src + i))
				return -EFAULT;
			if (!dst[i])
				return i;
			i++;
			continue;
		}
		memcpy(dst + i, &word, sizeof(word));
		k = strnlen(dst + i, sizeof(word));
		if (k < sizeof(word)) {
			if (!bug)
				memset(dst + i + k, 0, sizeof(word) - k);
			return i + k;
		}
		i += sizeof(word);
	}
	return len;
}

static int strncpy_stale_tail(struct uafault_ctx *ctx, bool bug)
{
	char *dst = kzalloc(ctx->len, GFP_KERNEL);
	long n;

	if (!dst)
		return -ENOMEM;
	n = copy_string(dst, uafault_ctx_uptr(ctx), ctx->len, bug);
	if (n >= 0) {
		ctx->done = n;
		ctx->csum = uafault_csum(ctx->csum, dst, ctx->len);
	} else {
		variant_failed(ctx, n);
	}
	kfree(dst);
	return 0;
}

TWIN_AND_VARIANT(strncpy_stale_tail)

/*
 * CVE-2016-6480 (aacraid ioctl_send_fib, fixed in 4.8): the size is read
 * from the message header, the buffer allocated for it, and the whole
 * message, header included, copied again; the code then trusts the size
 * of that second fetch, which user space may have changed in between,
 * and reads past the buffer.  The twin checks that both fetches agree.
 */
static int double_fetch(struct uafault_ctx *ctx, bool bug)
{
	__le32 __user *hdr = uafault_ctx_uptr(ctx);
	u32 len, again;
	__le32 raw;
	u8 *msg;

	if (ctx->len < sizeof(*hdr))
		return variant_failed(ctx, -EINVAL);
	if (get_user(raw, hdr))
		return variant_failed(ctx, -EFAULT);
	len = le32_to_cpu(raw);
	if (len != ctx->len)
		return variant_failed(ctx, -EINVAL);
	msg = kmalloc(len, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	/*
	 * aacraid set a FIB up for the device between its two fetches; this
	 * stands for that work, so the window is as wide as a driver's and
	 * not the few instructions of this model.
	 */
	udelay(2);
	if (copy_from_user(msg, hdr, len)) {
		variant_failed(ctx, -EFAULT);
		goto out;
	}
	again = get_unaligned_le32(msg);
	if (again != len && !bug) {
		variant_failed(ctx, -EINVAL);
		goto out;
	}
	ctx->done = again;
	ctx->csum = uafault_csum(ctx->csum, msg, again);
out:
	kfree(msg);
	return 0;
}

TWIN_AND_VARIANT(double_fetch)

/*
 * A name fetched twice, the way strndup_user() (mm/util.c) takes one:
 * measured with strnlen_user(), then copied with its NUL by a second
 * fetch of that many bytes.  User space can move the NUL in between;
 * strndup_user() writes its own over the last byte for that reason.  The
 * twin checks that the copy still ends where the first fetch found the
 * end and refuses it with -EINVAL when not, declared as its changed_err:
 * the safe way to live with a double fetch.  The variant trusts the copy
 * to be terminated, and strlen() runs past the name into the bytes the
 * driver keeps after it in the same allocation (the length it reports
 * is longer than the range).  A name with no NUL within the range is all
 * of the range, terminated by the driver (%UAFAULT_RES_STRLEN).
 */
#define REFETCH_TAIL	8

static int string_refetch(struct uafault_ctx *ctx, bool bug)
{
	const char __user *src = uafault_ctx_uptr(ctx);
	long n = strnlen_user(src, ctx->len);
	size_t len, copy;
	char *buf;

	if (!n)
		return variant_failed(ctx, -EFAULT);
	/* The name's length as the first fetch found it, and its bytes. */
	len = n > ctx->len ? ctx->len : n - 1;
	copy = n > ctx->len ? len : len + 1;
	buf = kmalloc(len + 1 + REFETCH_TAIL + 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	/* What the driver keeps after the name: its request, never zero. */
	memset(buf + len + 1, 0x5a, REFETCH_TAIL);
	buf[len + 1 + REFETCH_TAIL] = '\0';
	/* The driver's work between its fetches (see double_fetch). */
	udelay(2);
	if (copy_from_user(buf, src, copy)) {
		variant_failed(ctx, -EFAULT);
		goto out;
	}
	if (copy == len)
		buf[len] = '\0';
	if (bug) {
		len = strlen(buf);
	} else if (strnlen(buf, len + 1) != len) {
		variant_failed(ctx, -EINVAL);
		goto out;
	}
	ctx->done = len;
	ctx->csum = uafault_csum(ctx->csum, buf, len);
out:
	kfree(buf);
	return 0;
}

TWIN_AND_VARIANT(string_refetch)

/*
 * A name sized by one fetch and copied by a second with another bound:
 * the buffer is kmalloc()ed for the length strnlen_user() found, and the
 * variant gives strncpy_from_user() the range's length.  Whenever the
 * first fetch found a shorter name than the range (a name that ends
 * early, or a page dropped to zeroes under it), the copy may write past
 * the allocation: strncpy_from_user() stores whole words, so even an
 * empty name writes a word into a one-byte buffer, and a name that grew
 * between the fetches runs on to the bound.  The result is a true
 * snapshot of the name, so no result oracle sees it; slab red zones
 * (slub_debug=Z, and U for the slack kmalloc() rounds up to) and KASAN
 * do, when the buffer is freed or written.  The twin bounds the copy by
 * its buffer and refuses a name that no longer ends where the first
 * fetch found the end with -EINVAL, its changed_err.
 */
static int string_regrow(struct uafault_ctx *ctx, bool bug)
{
	const char __user *src = uafault_ctx_uptr(ctx);
	long n = strnlen_user(src, ctx->len);
	size_t len, bound;
	long got;
	char *buf;

	if (!n)
		return variant_failed(ctx, -EFAULT);
	/* No NUL within the range: the name is all of it. */
	len = n > ctx->len ? ctx->len : n - 1;
	buf = kmalloc(len + 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	/* The driver's work between its fetches (see double_fetch). */
	udelay(2);
	bound = bug ? ctx->len : (len < ctx->len ? len + 1 : len);
	got = strncpy_from_user(buf, src, bound);
	if (got < 0) {
		variant_failed(ctx, got);
		goto out;
	}
	if (!bug && (size_t)got != len) {
		variant_failed(ctx, -EINVAL);
		goto out;
	}
	ctx->done = got;
	ctx->csum = uafault_csum(ctx->csum, buf, got);
out:
	kfree(buf);
	return 0;
}

TWIN_AND_VARIANT(string_regrow)

/* The reply of a driver ioctl: padding after @status and after @count. */
struct variant_reply {
	u8 status;
	u32 handle;
	u16 count;
	u64 cookie;
};

static void fill_field(void *field, size_t size, size_t at, u32 seed)
{
	u8 *p = field;
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = uafault_fill(seed, at + i);
}

#define FILL_FIELD(rep, f, seed) \
	fill_field(&(rep)->f, sizeof((rep)->f), \
		   offsetof(struct variant_reply, f), seed)

/*
 * CVE-2016-4482 (usbdevfs connectinfo, fixed in 4.6): a stack struct
 * filled field by field and copied out whole, padding and all.  The twin
 * clears it first.  What leaks is whatever the stack held (uafault.ko
 * poisons it before each run, and the guest has no stack auto-init).
 */
static int struct_padding(struct uafault_ctx *ctx, bool bug)
{
	struct variant_reply rep;

	if (!bug)
		memset(&rep, 0, sizeof(rep));
	FILL_FIELD(&rep, status, ctx->seed);
	FILL_FIELD(&rep, handle, ctx->seed);
	FILL_FIELD(&rep, count, ctx->seed);
	FILL_FIELD(&rep, cookie, ctx->seed);
	if (copy_to_user(uafault_ctx_uptr(ctx), &rep, sizeof(rep)))
		return variant_failed(ctx, -EFAULT);
	ctx->done = sizeof(rep);
	ctx->csum = uafault_csum(ctx->csum, &rep, sizeof(rep));
	return 0;
}

TWIN_AND_VARIANT(struct_padding)

/*
 * The pinning shapes are one driver: it takes every page of a user buffer
 * for its device (all or nothing), the device reads it, and the pages are
 * given back.  run() does that in one call, hold() and release() across
 * calls.  A shape differs only in how it takes and gives back the pages.
 */
struct buffer_ops {
	/* All @nr pages, or a negative errno with none kept (shape's bug aside). */
	long (*take)(unsigned long start, unsigned long nr,
		     struct page **pages, bool bug);
	void (*put)(struct page **pages, unsigned long nr, bool bug);
};

static unsigned long buffer_pages(const struct uafault_ctx *ctx)
{
	return DIV_ROUND_UP(offset_in_page(ctx->addr) + ctx->len, PAGE_SIZE);
}

/* kvfree()s @pages and reports the fault when the take failed. */
static struct page **buffer_take(struct uafault_ctx *ctx, bool bug,
				 const struct buffer_ops *ops,
				 struct page **pages)
{
	long rc = ops->take(ctx->addr & PAGE_MASK, buffer_pages(ctx), pages,
			    bug);

	if (rc >= 0)
		return pages;
	kvfree(pages);
	variant_failed(ctx, rc);
	return NULL;
}

static int buffer_run(struct uafault_ctx *ctx, bool bug,
		      const struct buffer_ops *ops)
{
	unsigned long nr = buffer_pages(ctx);
	struct page **pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);

	if (!pages)
		return -ENOMEM;
	if (!buffer_take(ctx, bug, ops, pages))
		return 0;
	ctx->pinned = nr;
	ctx->done = ctx->len;
	/* The device reads the buffer. */
	ctx->csum = uafault_pages_walk(pages, offset_in_page(ctx->addr),
				       ctx->len, UAFAULT_WALK_READ, 0, 0,
				       ctx->csum);
	ops->put(pages, nr, bug);
	kvfree(pages);
	return 0;
}

static int buffer_hold(struct uafault_ctx *ctx, struct uafault_held *held,
		       bool bug, const struct buffer_ops *ops)
{
	unsigned long nr = buffer_pages(ctx);
	struct page **pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);

	if (!pages)
		return -ENOMEM;
	held->pages = buffer_take(ctx, bug, ops, pages);
	held->npages = held->pages ? nr : 0;
	return 0;
}

static void buffer_release(struct uafault_held *held, bool bug,
			   const struct buffer_ops *ops)
{
	ops->put(held->pages, held->npages, bug);
	kvfree(held->pages);
}

/*
 * A shape made of buffer_ops, @take and @put: its run() and, with
 * BUFFER_SHAPE_HOLD() after it, hold()/release().
 */
#define BUFFER_SHAPE(shape, take_fn, put_fn)				\
	static const struct buffer_ops shape##_ops = {			\
		.take = take_fn,					\
		.put = put_fn,						\
	};								\
	static int shape(struct uafault_ctx *ctx, bool bug)		\
	{								\
		return buffer_run(ctx, bug, &shape##_ops);		\
	}								\
	TWIN_AND_VARIANT(shape)

#define BUFFER_SHAPE_HOLD(shape)					\
	static int shape##_hold(struct uafault_ctx *ctx,		\
				struct uafault_held *held, bool bug)	\
	{								\
		return buffer_hold(ctx, held, bug, &shape##_ops);	\
	}								\
	static void shape##_release(struct uafault_held *held, bool bug) \
	{								\
		buffer_release(held, bug, &shape##_ops);		\
	}								\
	TWIN_AND_VARIANT_HOLD(shape)

static void unpin(struct page **pages, unsigned long nr, bool bug)
{
	unpin_user_pages(pages, nr);
}

/* pin_user_pages_fast() of all @nr pages, or none kept unless @leak. */
static long pin_all(unsigned long start, unsigned long nr,
		    struct page **pages, unsigned int gup_flags, bool leak)
{
	long rc = pin_user_pages_fast(start, nr, gup_flags, pages);

	if (rc >= 0 && (unsigned long)rc == nr)
		return rc;
	if (rc > 0 && !leak)
		unpin_user_pages(pages, rc);
	return rc < 0 ? rc : -EFAULT;
}

/*
 * A pin leaked on an error path (the shape behind many GUP conversions):
 * a driver that needs the whole buffer pins it, gets fewer pages than it
 * asked for and returns -EFAULT without releasing the ones it got.
 */
static long pin_leak_on_error_take(unsigned long start, unsigned long nr,
				   struct page **pages, bool bug)
{
	return pin_all(start, nr, pages, 0, bug);
}

BUFFER_SHAPE(pin_leak_on_error, pin_leak_on_error_take, unpin)

/* Gives back get_user_pages() references: put_page() for each. */
static void put_all(struct page **pages, unsigned long nr, bool bug)
{
	unsigned long i;

	for (i = 0; i < nr; i++)
		put_page(pages[i]);
}

/*
 * pin_leak_on_error with FOLL_GET: a driver takes page references with
 * get_user_pages_fast() (as vmsplice, videobuf and the pre-FOLL_PIN
 * drivers do), gets fewer than it asked for and returns -EFAULT without
 * put_page() on the ones it got.  The pin counters never see a FOLL_GET
 * reference; the page-reference oracle does.
 */
static long get_leak_on_error_take(unsigned long start, unsigned long nr,
				   struct page **pages, bool bug)
{
	long rc = get_user_pages_fast(start, nr, 0, pages);

	if (rc >= 0 && (unsigned long)rc == nr)
		return rc;
	if (rc > 0 && !bug)
		put_all(pages, rc, false);
	return rc < 0 ? rc : -EFAULT;
}

BUFFER_SHAPE(get_leak_on_error, get_leak_on_error_take, put_all)

/*
 * Pages pinned with FOLL_PIN released with put_page() (the pin/put
 * mismatch FOLL_PIN's accounting, which followed CVE-2019-11487's page
 * refcount overflow, was built to catch): the pin's references are never
 * dropped, so the pages can never be freed.
 */
static long pin_short(unsigned long start, unsigned long nr,
		      struct page **pages, bool bug)
{
	return pin_all(start, nr, pages, 0, false);
}

/* Gives back what @bug took: put_page() for each, else unpin. */
static void unpin_or_put(struct page **pages, unsigned long nr, bool bug)
{
	if (bug)
		put_all(pages, nr, false);
	else
		unpin_user_pages(pages, nr);
}

BUFFER_SHAPE(pin_put_mismatch, pin_short, unpin_or_put)

/*
 * A completion that outlives the call: the driver pins the buffer, the
 * "device" fills it and the call returns done, but the variant leaves
 * the completion (which writes the buffer once more, then unpins) to a
 * worker that runs after the return, when the caller owns the buffer
 * again and may have reused it.  The class of CVE-2022-1011 (fuse direct
 * I/O, 0c4bcfdecb1a: the kernel still using a buffer's pages after its
 * owner had moved on); the quiesce kind reuses the range and sees it
 * clobbered.  The twin completes before it returns.
 */
#define LATE_COMPLETION_MS	20

/* The completion in flight, at most one (the next call waits for it). */
static struct {
	struct page **pages;
	unsigned long nr, offset;
	size_t len;
	u32 seed;
} late;

static void late_complete(struct work_struct *work)
{
	/* The device's bytes, uafault_fill()'s, through the pinned pages. */
	uafault_pages_walk(late.pages, late.offset, late.len, UAFAULT_WALK_FILL,
			   late.seed, 0, UAFAULT_CSUM_INIT);
	unpin_user_pages_dirty_lock(late.pages, late.nr, true);
	kvfree(late.pages);
	late.pages = NULL;
}

static DECLARE_DELAYED_WORK(late_work, late_complete);

/*
 * A device write into the whole range: pinned with @gup_flags, filled with
 * uafault_fill() bytes through the kernel mapping, reported done.  The
 * pinned pages, or NULL with the fault in @ctx (@err 0) or @err set.  The
 * pin is uafault_pin_all()'s, where a run's writeback window opens
 * (UAFAULT_RUN_WRITEBACK): writeback cleans the pages between the pin and
 * the device's write, as the flusher may.
 */
static struct page **device_write(struct uafault_ctx *ctx,
				  unsigned int gup_flags, int *err)
{
	unsigned long nr = buffer_pages(ctx), offset = offset_in_page(ctx->addr);
	struct page **pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	long rc;

	*err = pages ? 0 : -ENOMEM;
	if (!pages)
		return NULL;
	rc = uafault_pin_all(ctx->addr & PAGE_MASK, nr, gup_flags, pages);
	if (rc < 0) {
		kvfree(pages);
		variant_failed(ctx, rc);
		return NULL;
	}
	uafault_pages_walk(pages, offset, ctx->len, UAFAULT_WALK_FILL, ctx->seed,
			   0, UAFAULT_CSUM_INIT);
	/* What the driver finds in the buffer once the device is done. */
	ctx->csum = uafault_pages_walk(pages, offset, ctx->len,
				       UAFAULT_WALK_READ, 0, 0, ctx->csum);
	ctx->pinned = nr;
	ctx->done = ctx->len;
	return pages;
}

static int late_completion(struct uafault_ctx *ctx, bool bug)
{
	struct page **pages;
	int err;

	flush_delayed_work(&late_work);
	pages = device_write(ctx, FOLL_WRITE, &err);
	if (!pages)
		return err;
	if (!bug) {
		unpin_user_pages_dirty_lock(pages, ctx->pinned, true);
		kvfree(pages);
		return 0;
	}
	late.pages = pages;
	late.nr = ctx->pinned;
	late.offset = offset_in_page(ctx->addr);
	late.len = ctx->len;
	late.seed = ctx->seed;
	schedule_delayed_work(&late_work, msecs_to_jiffies(LATE_COMPLETION_MS));
	return 0;
}

TWIN_AND_VARIANT(late_completion)

/*
 * The device writes into the range pinned with @gup_flags, and the pages
 * go back marked dirty, or (@dirty false) as they are.
 */
static int device_write_unpin(struct uafault_ctx *ctx, unsigned int gup_flags,
			      bool dirty)
{
	struct page **pages;
	int err;

	pages = device_write(ctx, gup_flags, &err);
	if (!pages)
		return err;
	if (dirty)
		unpin_user_pages_dirty_lock(pages, ctx->pinned, true);
	else
		unpin_user_pages(pages, ctx->pinned);
	kvfree(pages);
	return 0;
}

/*
 * A device writes into pages its driver pinned without FOLL_WRITE and
 * gives back without marking them dirty: the class FOLL_WRITE and
 * unpin_user_pages_dirty_lock() exist for (Documentation/core-api/
 * pin_user_pages.rst; videobuf's and early RDMA's read-only pins of
 * capture buffers).  Anonymous memory does not care; a clean page of a
 * file's page cache keeps its new bytes only until it is dropped, and
 * fsync() never writes them.  The twin pins for writing and unpins dirty.
 */
static int write_without_dirty(struct uafault_ctx *ctx, bool bug)
{
	return device_write_unpin(ctx, bug ? 0 : FOLL_WRITE, !bug);
}

TWIN_AND_VARIANT(write_without_dirty)

/*
 * Pages dirty only from before the device's write: the driver pins with
 * FOLL_WRITE, whose write fault dirtied the pages (or found them dirty),
 * lets the device write and unpins them with unpin_user_pages().  The
 * pin is no promise the pages stay dirty: writeback may clean them
 * between it and the write (the flusher cleans mapped page-cache pages,
 * pinned or not), and then the device's bytes are in a clean page that
 * fsync() never writes.  bio_set_pages_dirty() marks a direct-I/O read's
 * pages before the I/O and bio_check_pages_dirty() redirties those that
 * were cleaned meanwhile, for that reason (block/bio.c).  Only writeback
 * inside the window shows it: the writeback_window kind opens one there
 * on every run, writeback_race races a flusher against the call.  The
 * twin marks them dirty after the write (unpin_user_pages_dirty_lock()).
 */
static int dirty_before_io(struct uafault_ctx *ctx, bool bug)
{
	return device_write_unpin(ctx, FOLL_WRITE, !bug);
}

TWIN_AND_VARIANT(dirty_before_io)

/*
 * A buffer for a device to write into: the whole range pinned long-term,
 * mapped DMA_FROM_DEVICE on uafault's device (uafault_dma_device()).
 */
struct dma_buffer {
	struct device *dev;
	struct page **pages;
	unsigned long nr;
	struct sg_table sgt;
};

/* 0 with @buf mapped; 1 with the fault in @ctx; or a negative errno. */
static int dma_buffer_map(struct uafault_ctx *ctx, struct dma_buffer *buf)
{
	unsigned int gup_flags = FOLL_WRITE | FOLL_LONGTERM;
	long rc;
	int err;

	buf->dev = uafault_dma_device();
	if (!buf->dev)
		return -ENODEV;
	buf->nr = buffer_pages(ctx);
	buf->pages = kvmalloc_array(buf->nr, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages)
		return -ENOMEM;
	rc = pin_all(ctx->addr & PAGE_MASK, buf->nr, buf->pages, gup_flags,
		     false);
	if (rc < 0) {
		variant_failed(ctx, rc);
		err = 1;
		goto err_pages;
	}
	/* A failed allocation leaves nothing to free. */
	err = sg_alloc_table_from_pages(&buf->sgt, buf->pages, buf->nr,
					offset_in_page(ctx->addr), ctx->len,
					GFP_KERNEL);
	if (err)
		goto err_unpin;
	err = dma_map_sgtable(buf->dev, &buf->sgt, DMA_FROM_DEVICE, 0);
	if (err)
		goto err_table;
	return 0;

err_table:
	sg_free_table(&buf->sgt);
err_unpin:
	unpin_user_pages(buf->pages, buf->nr);
err_pages:
	kvfree(buf->pages);
	return err;
}

/* After the unmap: the pages go back dirty, as the device wrote them. */
static void dma_buffer_put(struct uafault_ctx *ctx, struct dma_buffer *buf)
{
	sg_free_table(&buf->sgt);
	unpin_user_pages_dirty_lock(buf->pages, buf->nr, true);
	kvfree(buf->pages);
	ctx->pinned = buf->nr;
	ctx->done = ctx->len;
}

/*
 * The CPU reads what the device wrote while the buffer is still mapped
 * for it, with no dma_sync_sgtable_for_cpu() first (the class of netmap
 * issue #409: receive buffers read without a sync, invisible on x86
 * until something bounces).  With dma-direct or an IOMMU the device wrote
 * the pages themselves and nothing shows; under swiotlb=force its bytes
 * sit in the bounce slots until a sync or the unmap, so the driver checks
 * (and reports) what the range held before.
 */
static int dma_missing_sync(struct uafault_ctx *ctx, bool bug)
{
	u64 device_csum = ctx->csum;
	struct dma_buffer buf;
	long moved;
	int err;

	err = dma_buffer_map(ctx, &buf);
	if (err)
		return min(err, 0);
	moved = uafault_device_access(buf.dev, &buf.sgt, true, ctx->seed,
				      &device_csum);
	if (!bug)
		dma_sync_sgtable_for_cpu(buf.dev, &buf.sgt, DMA_FROM_DEVICE);
	ctx->csum = uafault_pages_walk(buf.pages, offset_in_page(ctx->addr),
				       ctx->len, UAFAULT_WALK_READ, 0, 0,
				       ctx->csum);
	dma_unmap_sgtable(buf.dev, &buf.sgt, DMA_FROM_DEVICE, 0);
	dma_buffer_put(ctx, &buf);
	if (moved < 0)
		variant_failed(ctx, moved);
	return 0;
}

TWIN_AND_VARIANT(dma_missing_sync)

/*
 * The driver unmaps the buffer before its device has finished writing it
 * (DMA-API-HOWTO: unmap only once the transfer is complete), and trusts
 * the completion.  With dma-direct the late write still lands in the
 * pinned pages; behind an IOMMU the address no longer translates (a DMA
 * fault) and under swiotlb it lands in a bounce slot already copied back
 * and freed: either way the user never gets the device's bytes.
 */
static int dma_after_unmap(struct uafault_ctx *ctx, bool bug)
{
	struct dma_buffer buf;
	long moved;
	int err;

	err = dma_buffer_map(ctx, &buf);
	if (err)
		return min(err, 0);
	if (bug)
		dma_unmap_sgtable(buf.dev, &buf.sgt, DMA_FROM_DEVICE, 0);
	moved = uafault_device_access(buf.dev, &buf.sgt, true, ctx->seed,
				      &ctx->csum);
	if (!bug)
		dma_unmap_sgtable(buf.dev, &buf.sgt, DMA_FROM_DEVICE, 0);
	dma_buffer_put(ctx, &buf);
	if (moved < 0 && !bug)
		variant_failed(ctx, moved);
	return 0;
}

TWIN_AND_VARIANT(dma_after_unmap)

/*
 * Maps a page for a device to read and, unless @bug, asks whether the
 * mapping worked: DMA_MAPPING_ERROR, or 0 with the address in @addr.
 */
static int map_checked(struct device *dev, struct page *page,
		       dma_addr_t *addr, bool bug)
{
	*addr = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
	return !bug && dma_mapping_error(dev, *addr) ? -ENOMEM : 0;
}

/*
 * The driver maps each page of the buffer with dma_map_page() for its
 * device to read and uses the addresses without dma_mapping_error().  A
 * mapping may fail (an IOMMU out of space, swiotlb out of slots), and
 * only dma_mapping_error() says so; many upstream fixes add the check.
 * dma-debug (CONFIG_DMA_API_DEBUG) reports the unchecked address when it
 * is unmapped: "device driver failed to check map error".  The twin
 * checks each address and unmaps what it mapped when one fails.
 */
static int map_error_unchecked(struct uafault_ctx *ctx, bool bug)
{
	struct device *dev = uafault_dma_device();
	unsigned long nr = buffer_pages(ctx), mapped;
	struct page **pages;
	dma_addr_t *addrs;
	long rc;
	int err = 0;

	if (!dev)
		return -ENODEV;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	addrs = kvmalloc_array(nr, sizeof(*addrs), GFP_KERNEL);
	if (!pages || !addrs) {
		err = -ENOMEM;
		goto out_free;
	}
	rc = pin_all(ctx->addr & PAGE_MASK, nr, pages, FOLL_LONGTERM, false);
	if (rc < 0) {
		variant_failed(ctx, rc);
		goto out_free;
	}
	for (mapped = 0; mapped < nr && !err; mapped++)
		err = map_checked(dev, pages[mapped], &addrs[mapped], bug);
	if (err) {
		mapped--;	/* the one that failed holds nothing */
		variant_failed(ctx, err);
	} else {
		/* The device reads the buffer. */
		ctx->csum = uafault_pages_walk(pages, offset_in_page(ctx->addr),
					       ctx->len, UAFAULT_WALK_READ, 0,
					       0, ctx->csum);
		ctx->pinned = nr;
		ctx->done = ctx->len;
	}
	while (mapped--)
		dma_unmap_page(dev, addrs[mapped], PAGE_SIZE, DMA_TO_DEVICE);
	unpin_user_pages(pages, nr);
	err = 0;
out_free:
	kvfree(addrs);
	kvfree(pages);
	return err;
}

TWIN_AND_VARIANT(map_error_unchecked)

/*
 * CVE-2020-29374 (fixed in 5.8 by 17839856fd58; FOLL_PIN's answer): a
 * driver keeps a read-only get_user_pages() reference to an anonymous
 * buffer for its device.  After fork() and a write, the parent copies
 * away from the referenced page, and the device reads bytes the parent
 * no longer has.  The twin pins with FOLL_PIN, which keeps the page the
 * parent's (fork copies it for the child instead), and FOLL_LONGTERM, as
 * a buffer kept for a device must be (FOLL_GET cannot be long-term).
 */
static long ro_pin_fork_take(unsigned long start, unsigned long nr,
			     struct page **pages, bool bug)
{
	long rc;

	if (!bug)
		return pin_all(start, nr, pages, FOLL_LONGTERM, false);
	rc = get_user_pages_fast(start, nr, 0, pages);
	if (rc >= 0 && (unsigned long)rc == nr)
		return rc;
	while (rc-- > 0)
		put_page(pages[rc]);
	return -EFAULT;
}

BUFFER_SHAPE(ro_pin_fork, ro_pin_fork_take, unpin_or_put)
BUFFER_SHAPE_HOLD(ro_pin_fork)

/*
 * d1e153fea2a8 and the FOLL_LONGTERM series (5.13): a driver that keeps a
 * user buffer for its device pins it without FOLL_LONGTERM, so pages in
 * ZONE_MOVABLE or CMA stay there, pinned for as long as the device holds
 * them, and memory offlining and CMA allocations fail.  The twin pins
 * with FOLL_LONGTERM, which migrates them out first.
 */
static long shortterm_hold_take(unsigned long start, unsigned long nr,
				struct page **pages, bool bug)
{
	return pin_all(start, nr, pages, bug ? 0 : FOLL_LONGTERM, false);
}

BUFFER_SHAPE(shortterm_hold, shortterm_hold_take, unpin)
BUFFER_SHAPE_HOLD(shortterm_hold)

/*
 * shortterm_hold for a buffer the device writes (a capture or receive
 * ring, an RDMA memory region registered writable): the twin keeps it
 * with FOLL_LONGTERM | FOLL_WRITE, which GUP refuses on page cache that
 * needs dirty tracking (ext4: writable_file_mapping_allowed(), the
 * answer to devices writing file pages behind the file system's back)
 * and on a VM_PFNMAP range, so there it keeps nothing, by contract.  The
 * variant pins without FOLL_LONGTERM: it gets the ext4 pages the file
 * system cannot track, and pages in ZONE_MOVABLE stay there.  run() is
 * the same driver's one-shot transfer: pinned the same way, the device
 * writes uafault_fill() bytes, the pages go back dirty.
 */
static unsigned int write_hold_gup_flags(bool bug)
{
	return FOLL_WRITE | (bug ? 0 : FOLL_LONGTERM);
}

static long shortterm_write_hold_take(unsigned long start, unsigned long nr,
				      struct page **pages, bool bug)
{
	return pin_all(start, nr, pages, write_hold_gup_flags(bug), false);
}

static void unpin_dirty(struct page **pages, unsigned long nr, bool bug)
{
	unpin_user_pages_dirty_lock(pages, nr, true);
}

static const struct buffer_ops shortterm_write_hold_ops = {
	.take = shortterm_write_hold_take,
	.put = unpin_dirty,
};

static int shortterm_write_hold(struct uafault_ctx *ctx, bool bug)
{
	struct page **pages;
	int err;

	pages = device_write(ctx, write_hold_gup_flags(bug), &err);
	if (!pages)
		return err;
	unpin_dirty(pages, ctx->pinned, bug);
	kvfree(pages);
	return 0;
}

TWIN_AND_VARIANT(shortterm_write_hold)
BUFFER_SHAPE_HOLD(shortterm_write_hold)

/*
 * A reference dropped too early: the driver lets go of its pin as soon as
 * it has the pages and goes on using them (the page pointers, or their
 * physical addresses for its device), the bug class behind the
 * get_user_pages() to pin_user_pages() conversions' "put_page() in the
 * wrong place" fixes.  Nothing keeps the pages: once the process unmaps
 * them (MADV_DONTNEED, munmap, exit) they go back to the allocator while
 * the device still reads them.  The twin keeps its pin until release().
 */
static long early_unpin_take(unsigned long start, unsigned long nr,
			     struct page **pages, bool bug)
{
	long rc = pin_all(start, nr, pages, FOLL_LONGTERM, false);

	if (rc >= 0 && bug)
		unpin_user_pages(pages, nr);
	return rc;
}

static void early_unpin_put(struct page **pages, unsigned long nr, bool bug)
{
	if (!bug)
		unpin_user_pages(pages, nr);
}

BUFFER_SHAPE(early_unpin, early_unpin_take, early_unpin_put)
BUFFER_SHAPE_HOLD(early_unpin)

/*
 * A buffer walked as one folio: a driver that maps a pinned user buffer
 * for its device coalesces it into one segment when its first and last
 * pages are one folio's, and then walks the folio from the first page on
 * (nth_page()), where io_uring's io_check_coalesce_buffer() checks that
 * every page is the one after its predecessor.  On memory whose pages
 * are in order the walk finds the pinned pages; where they are one
 * folio's out of order (the thp_scrambled memory kind) the device reads
 * other pages of the folio than the buffer's.  The walk stays in the
 * folio.  The twin reads pages[i].
 */
static int folio_walk(struct uafault_ctx *ctx, bool bug)
{
	unsigned long nr = buffer_pages(ctx), first, i;
	struct page **pages, **walk;
	struct folio *folio;
	long rc;

	pages = kvmalloc_array(2 * nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	rc = pin_all(ctx->addr & PAGE_MASK, nr, pages, 0, false);
	if (rc < 0) {
		kvfree(pages);
		return variant_failed(ctx, rc);
	}
	walk = pages + nr;
	folio = page_folio(pages[0]);
	first = page_to_pfn(pages[0]) - folio_pfn(folio);
	for (i = 0; i < nr; i++)
		walk[i] = pages[i];
	if (bug && page_folio(pages[nr - 1]) == folio &&
	    first + nr <= folio_nr_pages(folio))
		for (i = 0; i < nr; i++)
			walk[i] = nth_page(pages[0], i);
	ctx->pinned = nr;
	ctx->done = ctx->len;
	/* The device reads the buffer. */
	ctx->csum = uafault_pages_walk(walk, offset_in_page(ctx->addr),
				       ctx->len, UAFAULT_WALK_READ, 0, 0,
				       ctx->csum);
	unpin_user_pages(pages, nr);
	kvfree(pages);
	return 0;
}

TWIN_AND_VARIANT(folio_walk)

/*
 * A raw dereference of a user pointer: what SMAP exists to stop.  The
 * twin uses get_user(); the variant reads through the pointer and oopses
 * on any x86_64 with SMAP.
 */
static int raw_deref(struct uafault_ctx *ctx, bool bug)
{
	u64 __user *p = uafault_ctx_uptr(ctx);
	u64 val;

	if (bug)
		val = *(u64 __force *)p;
	else if (get_user(val, p))
		return variant_failed(ctx, -EFAULT);
	ctx->done = sizeof(val);
	ctx->csum = uafault_csum(ctx->csum, &val, sizeof(val));
	return 0;
}

TWIN_AND_VARIANT(raw_deref)

/* One shape: its pair of functions and what both declare to uafault. */
struct variant_shape {
	const char *name;
	int (*twin)(struct uafault_ctx *ctx);
	int (*variant)(struct uafault_ctx *ctx);
	/* With UAFAULT_TF_HOLD: [0] the twin's, [1] the variant's. */
	int (*hold[2])(struct uafault_ctx *ctx, struct uafault_held *held);
	void (*release[2])(struct uafault_held *held);
	unsigned int flags;
	enum uafault_result result;
	size_t fixed_len;
	bool oopses;		/* registered only with allow_oops=1 */
	int changed_err;	/* what both report for a changed range */
};

#define SHAPE(_name, _flags, _result, _len, _oopses) {		\
		.name = #_name,					\
		.twin = twin_##_name,				\
		.variant = variant_##_name,			\
		.flags = _flags,				\
		.result = UAFAULT_RES_##_result,		\
		.fixed_len = _len,				\
		.oopses = _oopses,				\
	}

/* A shape that reads the range twice and refuses a change with @_err. */
#define SHAPE_REFUSING(_name, _flags, _result, _err) {		\
		.name = #_name,					\
		.twin = twin_##_name,				\
		.variant = variant_##_name,			\
		.flags = _flags,				\
		.result = UAFAULT_RES_##_result,		\
		.changed_err = _err,				\
	}

#define SHAPE_HOLD(_name, _flags, _result, _len) {			\
		.name = #_name,					\
		.twin = twin_##_name,				\
		.variant = variant_##_name,			\
		.hold = { twin_##_name##_hold, variant_##_name##_hold }, \
		.release = { twin_##_name##_release,		\
			     variant_##_name##_release },	\
		.flags = (_flags) | UAFAULT_TF_HOLD,		\
		.result = UAFAULT_RES_##_result,		\
		.fixed_len = _len,				\
	}

static const struct variant_shape shapes[] = {
	SHAPE(put_user_unchecked, UAFAULT_TF_WRITE, ALL, sizeof(u64), false),
	SHAPE(user_read_unchecked, UAFAULT_TF_READ, ALL, 0, false),
	SHAPE(short_copy_ignored, UAFAULT_TF_READ, ALL, 0, false),
	SHAPE(double_fetch, UAFAULT_TF_READ, HEADER, 0, false),
	SHAPE_REFUSING(string_refetch, UAFAULT_TF_READ | UAFAULT_TF_STRING,
		       STRLEN, -EINVAL),
	SHAPE_REFUSING(string_regrow, UAFAULT_TF_READ | UAFAULT_TF_STRING,
		       STRLEN, -EINVAL),
	SHAPE(strncpy_stale_tail, UAFAULT_TF_READ | UAFAULT_TF_STRING, STRBUF, 0,
	      false),
	SHAPE(struct_padding, UAFAULT_TF_WRITE, ALL,
	      sizeof(struct variant_reply), false),
	SHAPE(pin_leak_on_error, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE(pin_put_mismatch, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE(get_leak_on_error, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE_HOLD(ro_pin_fork, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0),
	SHAPE_HOLD(shortterm_hold, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0),
	SHAPE_HOLD(shortterm_write_hold, UAFAULT_TF_WRITE | UAFAULT_TF_PIN |
		   UAFAULT_TF_LONGTERM, ALL, 0),
	SHAPE_HOLD(early_unpin, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0),
	SHAPE(late_completion, UAFAULT_TF_WRITE | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE(write_without_dirty, UAFAULT_TF_WRITE | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE(dirty_before_io, UAFAULT_TF_WRITE | UAFAULT_TF_PIN, ALL, 0,
	      false),
	SHAPE(dma_missing_sync, UAFAULT_TF_WRITE | UAFAULT_TF_PIN |
	      UAFAULT_TF_LONGTERM, ALL, 0, false),
	SHAPE(dma_after_unmap, UAFAULT_TF_WRITE | UAFAULT_TF_PIN |
	      UAFAULT_TF_LONGTERM, ALL, 0, false),
	SHAPE(map_error_unchecked, UAFAULT_TF_READ | UAFAULT_TF_PIN |
	      UAFAULT_TF_LONGTERM, ALL, 0, false),
	SHAPE(folio_walk, UAFAULT_TF_READ | UAFAULT_TF_PIN, ALL, 0, false),
	SHAPE(raw_deref, UAFAULT_TF_READ, ALL, sizeof(u64), true),
};

/* Registered targets: twin_<shape> and variant_<shape> for each shape. */
static struct variant_pair {
	char names[2][UAFAULT_NAME_LEN];
	struct uafault_target targets[2];
	bool registered;
} pairs[ARRAY_SIZE(shapes)];

static void pair_init(struct variant_pair *pair,
		      const struct variant_shape *shape)
{
	static const char * const prefix[2] = { "twin", "variant" };
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(pair->names[i], UAFAULT_NAME_LEN, "%s_%s", prefix[i],
			 shape->name);
		pair->targets[i] = (struct uafault_target) {
			.name = pair->names[i],
			.flags = shape->flags,
			.result = shape->result,
			.fixed_len = shape->fixed_len,
			.changed_err = shape->changed_err,
			.run = i ? shape->variant : shape->twin,
			.hold = shape->hold[i],
			.release = shape->release[i],
			.owner = THIS_MODULE,
		};
	}
}

static int pair_register(struct variant_pair *pair)
{
	int err = uafault_register_targets(pair->targets,
					   ARRAY_SIZE(pair->targets));

	pair->registered = !err;
	return err;
}

static void variants_unregister(void)
{
	int i = ARRAY_SIZE(pairs);

	while (i--) {
		if (!pairs[i].registered)
			continue;
		uafault_unregister_targets(pairs[i].targets,
					   ARRAY_SIZE(pairs[i].targets));
		pairs[i].registered = false;
	}
}

static int __init variants_init(void)
{
	int i, err;

	/* Buggy code on purpose: a kernel that ran it is not to be trusted. */
	add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	pr_warn("buggy variants registered%s, kernel tainted\n",
		allow_oops ? " (with the one that oopses)" : "");
	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		if (shapes[i].oopses && !allow_oops)
			continue;
		pair_init(&pairs[i], &shapes[i]);
		err = pair_register(&pairs[i]);
		if (err) {
			variants_unregister();
			return err;
		}
	}
	return 0;
}

static void __exit variants_exit(void)
{
	variants_unregister();
	flush_delayed_work(&late_work);	/* a completion still in flight */
}

module_init(variants_init);
module_exit(variants_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("uafault");
MODULE_DESCRIPTION("Buggy variants of driver code, modelled on real bugs, and their correct twins");
