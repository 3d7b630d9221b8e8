// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_example: driver code, the way a user's own driver has it,
 * registered as uafault targets so /dev/uafault can run it on ranges
 * with faults planted in them.
 *
 * example_ioctl_copy_in (READ, all or nothing): a driver ioctl whose
 * argument is a header followed by a payload that fills the rest of it.
 * It copies the header in and duplicates the payload with
 * vmemdup_user().  Any short copy fails the whole call with -EFAULT; on
 * success @done covers header and payload and @csum both.
 *
 * example_pin_buffer (WRITE|PIN, all or nothing): a driver filling a user
 * buffer it pins whole.  pin_user_pages_fast(FOLL_WRITE) on every page of
 * the range; fewer pages than asked unpins them and fails with -EFAULT,
 * @done = 0; otherwise it writes uafault_fill() bytes over the range
 * through the kernel's mapping of the pages (uafault_pages_walk()) and
 * unpins dirty.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "uafault_target.h"

/* What the example driver's ioctl takes: a header, then the payload. */
struct example_hdr {
	__u32 op;
	__u32 flags;
};

/* The driver's ioctl handler, as it would be. */
static long example_ioctl_copy_in(void __user *arg, size_t argsz,
				  u64 *csum)
{
	struct example_hdr hdr;
	size_t len;
	void *payload;

	if (argsz < sizeof(hdr))
		return -EINVAL;
	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	len = argsz - sizeof(hdr);

	payload = vmemdup_user(arg + sizeof(hdr), len);
	if (IS_ERR(payload))
		return PTR_ERR(payload);

	*csum = uafault_csum(*csum, &hdr, sizeof(hdr));
	*csum = uafault_csum(*csum, payload, len);
	kvfree(payload);
	return argsz;
}

static int example_run_copy_in(struct uafault_ctx *ctx)
{
	u64 csum = ctx->csum;
	long rc;

	rc = example_ioctl_copy_in(uafault_ctx_uptr(ctx), ctx->len, &csum);
	if (rc < 0) {
		ctx->ret = rc;
		return 0;
	}
	ctx->done = rc;
	ctx->csum = csum;
	return 0;
}

static int example_run_pin_buffer(struct uafault_ctx *ctx)
{
	unsigned long off = offset_in_page(ctx->addr);
	unsigned long nr = DIV_ROUND_UP(off + ctx->len, PAGE_SIZE);
	struct page **pages;
	long rc;

	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	rc = uafault_pin_all(ctx->addr & PAGE_MASK, nr, FOLL_WRITE, pages);
	if (rc < 0) {
		ctx->ret = rc;
		goto out;
	}
	ctx->pinned = rc;

	ctx->csum = uafault_pages_walk(pages, off, ctx->len, UAFAULT_WALK_FILL,
				       ctx->seed, 0, ctx->csum);
	ctx->done = ctx->len;
	unpin_user_pages_dirty_lock(pages, rc, true);
out:
	kvfree(pages);
	return 0;
}

static struct uafault_target example_targets[] = {
	{
		.name = "example_ioctl_copy_in",
		.flags = UAFAULT_TF_READ,
		.result = UAFAULT_RES_ALL,
		.min_len = sizeof(struct example_hdr),
		.run = example_run_copy_in,
		.owner = THIS_MODULE,
	},
	{
		.name = "example_pin_buffer",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN,
		.result = UAFAULT_RES_ALL,
		.run = example_run_pin_buffer,
		.owner = THIS_MODULE,
	},
};

static int __init example_init(void)
{
	return uafault_register_targets(example_targets,
					ARRAY_SIZE(example_targets));
}

static void __exit example_exit(void)
{
	uafault_unregister_targets(example_targets,
				   ARRAY_SIZE(example_targets));
}

module_init(example_init);
module_exit(example_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("uafault");
MODULE_DESCRIPTION("Example driver code registered as uafault targets");
