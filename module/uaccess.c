// SPDX-License-Identifier: GPL-2.0
/*
 * uafault built-in targets for the copy and string user-access helpers
 * (include/linux/uaccess.h, lib/iov_iter.c), and raw_deref, the one that
 * crashes on purpose.  One small function per API, like
 * drivers/misc/lkdtm.
 *
 * Unless a target says otherwise: @done is the bytes the API reports
 * copied, @ret is 0 when it did the whole range and its error (-EFAULT for
 * a short copy) when not, and @csum covers the @done bytes the kernel
 * read from or wrote to the range.
 */
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "compat.h"
#include "internal.h"

/* Record a copy that left @left of the range undone. */
static void uafault_copied(struct uafault_ctx *ctx, size_t left)
{
	ctx->done = ctx->len - left;
	ctx->ret = left ? -EFAULT : 0;
}

static int uafault_copy_from_user(struct uafault_ctx *ctx)
{
	u8 *buf = kvmalloc(ctx->len, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	uafault_copied(ctx, copy_from_user(buf, uafault_ctx_uptr(ctx),
					   ctx->len));
	ctx->csum = uafault_csum(ctx->csum, buf, ctx->done);
	kvfree(buf);
	return 0;
}

static int uafault_copy_to_user(struct uafault_ctx *ctx)
{
	u8 *buf = kvmalloc(ctx->len, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	uafault_fill_buf(buf, ctx->seed, 0, ctx->len);
	uafault_copied(ctx, copy_to_user(uafault_ctx_uptr(ctx), buf,
					 ctx->len));
	ctx->csum = uafault_csum(ctx->csum, buf, ctx->done);
	kvfree(buf);
	return 0;
}

static int uafault_clear_user(struct uafault_ctx *ctx)
{
	uafault_copied(ctx, clear_user(uafault_ctx_uptr(ctx), ctx->len));
	ctx->csum = uafault_csum_zero(ctx->csum, ctx->done);
	return 0;
}

/* 8 bytes; @csum over them in memory order. */
static int uafault_get_user(struct uafault_ctx *ctx)
{
	u64 __user *p = uafault_ctx_uptr(ctx);
	u64 val;

	ctx->ret = get_user(val, p);
	if (ctx->ret)
		return 0;
	ctx->done = sizeof(val);
	ctx->csum = uafault_csum(ctx->csum, &val, sizeof(val));
	return 0;
}

/* 8 bytes: uafault_fill(seed, 0..7) stored as one little-endian u64. */
static int uafault_put_user(struct uafault_ctx *ctx)
{
	__le64 __user *p = uafault_ctx_uptr(ctx);
	u64 val = 0;
	int i;

	for (i = 0; i < sizeof(val); i++)
		val |= (u64)uafault_fill(ctx->seed, i) << (8 * i);
	ctx->ret = put_user(cpu_to_le64(val), p);
	if (ctx->ret)
		return 0;
	ctx->done = sizeof(val);
	ctx->csum = uafault_csum_fill(ctx->csum, ctx->seed, 0, sizeof(val));
	return 0;
}

/*
 * count = len.  @done is the length returned (count when no NUL was found
 * within it), @ret the negative errno; @csum covers the @done bytes.
 */
static int uafault_strncpy_from_user(struct uafault_ctx *ctx)
{
	char *buf = kvmalloc(ctx->len, GFP_KERNEL);
	long n;

	if (!buf)
		return -ENOMEM;
	n = strncpy_from_user(buf, uafault_ctx_uptr(ctx), ctx->len);
	if (n < 0) {
		ctx->ret = n;
		goto out;
	}
	ctx->done = n;
	ctx->csum = uafault_csum(ctx->csum, buf, n);
out:
	kvfree(buf);
	return 0;
}

/*
 * count = len.  @done is what strnlen_user() returned: the length with
 * its NUL, or more than len when there is no NUL within len; 0 is a fault
 * (@ret -EFAULT).  Nothing is copied: @csum stays UAFAULT_CSUM_INIT.
 */
static int uafault_strnlen_user(struct uafault_ctx *ctx)
{
	long n = strnlen_user(uafault_ctx_uptr(ctx), ctx->len);

	ctx->done = n > 0 ? n : 0;
	ctx->ret = n > 0 ? 0 : -EFAULT;
	return 0;
}

/*
 * @done = len and @csum over len zero bytes when the range is all zero,
 * @done = 0 (and @ret = 0) when it is not; @ret is only set for a fault.
 */
static int uafault_check_zeroed_user(struct uafault_ctx *ctx)
{
	int r = check_zeroed_user(uafault_ctx_uptr(ctx), ctx->len);

	if (r < 0) {
		ctx->ret = r;
		return 0;
	}
	if (r) {
		ctx->done = ctx->len;
		ctx->csum = uafault_csum_zero(ctx->csum, ctx->len);
	}
	return 0;
}

/*
 * ksize = UAFAULT_STRUCT_KSIZE, usize = len.  @ret is what the API returned
 * (-E2BIG for a non-zero tail past ksize, -EFAULT, 0); on success @done =
 * min(ksize, len) and @csum covers those bytes.
 */
static int uafault_copy_struct_from_user(struct uafault_ctx *ctx)
{
	u8 kbuf[UAFAULT_STRUCT_KSIZE];

	ctx->ret = copy_struct_from_user(kbuf, sizeof(kbuf),
					 uafault_ctx_uptr(ctx), ctx->len);
	if (ctx->ret)
		return 0;
	ctx->done = min_t(size_t, sizeof(kbuf), ctx->len);
	ctx->csum = uafault_csum(ctx->csum, kbuf, ctx->done);
	return 0;
}

/*
 * copy_from_iter() (@dir ITER_SOURCE) or copy_to_iter() over the range as
 * one ubuf; import_ubuf()'s error, if any, is @ret.
 */
static int uafault_iter_copy(struct uafault_ctx *ctx, int dir)
{
	u8 *buf = kvmalloc(ctx->len, GFP_KERNEL);
	struct iov_iter iter;
	size_t done;

	if (!buf)
		return -ENOMEM;
	ctx->ret = uafault_import_ubuf(dir, uafault_ctx_uptr(ctx), ctx->len,
				       &iter);
	if (ctx->ret)
		goto out;
	if (dir == ITER_SOURCE) {
		done = copy_from_iter(buf, ctx->len, &iter);
	} else {
		uafault_fill_buf(buf, ctx->seed, 0, ctx->len);
		done = copy_to_iter(buf, ctx->len, &iter);
	}
	uafault_copied(ctx, ctx->len - done);
	ctx->csum = uafault_csum(ctx->csum, buf, ctx->done);
out:
	kvfree(buf);
	return 0;
}

static int uafault_copy_from_iter(struct uafault_ctx *ctx)
{
	return uafault_iter_copy(ctx, ITER_SOURCE);
}

static int uafault_copy_to_iter(struct uafault_ctx *ctx)
{
	return uafault_iter_copy(ctx, ITER_DEST);
}

/*
 * Reads the range through a plain kernel pointer: no access_ok(), no
 * STAC, no exception table entry.  With SMAP (x86) or PAN (arm64) that
 * oopses on the first byte; that is the point.
 */
static int uafault_raw_deref(struct uafault_ctx *ctx)
{
	const u8 *p = (const u8 *)ctx->addr;
	size_t i;
	u8 b;

	for (i = 0; i < ctx->len; i++) {
		b = READ_ONCE(p[i]);
		ctx->csum = uafault_csum(ctx->csum, &b, 1);
	}
	ctx->done = ctx->len;
	return 0;
}

#define UAFAULT_TARGET(_name, _flags, _result, _len)	\
	{						\
		.name = #_name,				\
		.flags = _flags,			\
		.result = UAFAULT_RES_##_result,	\
		.fixed_len = _len,			\
		.run = uafault_##_name,			\
		.owner = THIS_MODULE,			\
	}

static struct uafault_target uafault_uaccess_targets[] = {
	UAFAULT_TARGET(copy_from_user, UAFAULT_TF_READ, COPY, 0),
	UAFAULT_TARGET(copy_to_user, UAFAULT_TF_WRITE, COPY, 0),
	UAFAULT_TARGET(clear_user, UAFAULT_TF_WRITE, COPY, 0),
	UAFAULT_TARGET(get_user, UAFAULT_TF_READ, ALL, sizeof(u64)),
	UAFAULT_TARGET(put_user, UAFAULT_TF_WRITE, ALL, sizeof(u64)),
	UAFAULT_TARGET(strncpy_from_user,
		       UAFAULT_TF_READ | UAFAULT_TF_STRING, STRLEN, 0),
	UAFAULT_TARGET(strnlen_user,
		       UAFAULT_TF_READ | UAFAULT_TF_STRING, STRSIZE, 0),
	UAFAULT_TARGET(check_zeroed_user, UAFAULT_TF_READ, ZEROED, 0),
	UAFAULT_TARGET(copy_struct_from_user, UAFAULT_TF_READ, STRUCT, 0),
	UAFAULT_TARGET(copy_from_iter, UAFAULT_TF_READ, COPY, 0),
	UAFAULT_TARGET(copy_to_iter, UAFAULT_TF_WRITE, COPY, 0),
};

static struct uafault_target uafault_crash_targets[] = {
	UAFAULT_TARGET(raw_deref, UAFAULT_TF_READ | UAFAULT_TF_CRASH, COPY, 0),
};

int uafault_uaccess_init(void)
{
	return uafault_register_targets(uafault_uaccess_targets,
					ARRAY_SIZE(uafault_uaccess_targets));
}

void uafault_uaccess_exit(void)
{
	uafault_unregister_targets(uafault_uaccess_targets,
				   ARRAY_SIZE(uafault_uaccess_targets));
}

int uafault_crash_init(void)
{
	return uafault_register_targets(uafault_crash_targets,
					ARRAY_SIZE(uafault_crash_targets));
}

void uafault_crash_exit(void)
{
	uafault_unregister_targets(uafault_crash_targets,
				   ARRAY_SIZE(uafault_crash_targets));
}
