// SPDX-License-Identifier: GPL-2.0
/*
 * uafault: /dev/uafault runs registered targets on user ranges.
 *
 * A target (see uafault_target.h) is a small function that touches a user
 * range through one user-access or pinning API.  The misc device lists
 * them (UAFAULT_IOC_TARGET) and runs one by name (UAFAULT_IOC_RUN),
 * reporting what the API returned: the in-guest agent plants faults in
 * the range and checks the outcome.  Modelled on mm/gup_test.c.
 *
 * This file is the core, laid out like drivers/misc/lkdtm/core.c: the
 * character device, the ioctl dispatcher and the table of categories it
 * brings up and down.  The targets live in their categories (uaccess.c,
 * gup.c, dma.c), the list of them in registry.c; hold.c, trap.c, refs.c
 * and mmap.c serve the ioctls that need no target.  Every file but this
 * one depends on internal.h and the leaf files (registry.c, csum.c,
 * pages.c) only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

static long uafault_ioctl_version(struct uafault_version __user *uarg)
{
	struct uafault_version v = {
		.abi = UAFAULT_ABI_VERSION,
		.flags = uafault_crash_allowed() ? UAFAULT_MOD_ALLOW_CRASH : 0,
		.ntargets = uafault_target_count(),
	};

	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/* ABI 7's struct is ABI 8's up to @changed_err, which it lacks. */
static_assert(offsetof(struct uafault_target_info, changed_err) ==
	      UAFAULT_TARGET_INFO_SIZE_V7);

/* @size: of the caller's struct, sizeof() or ABI 7's (fewer fields). */
static long uafault_ioctl_target(struct uafault_target_info __user *uarg,
				 size_t size)
{
	struct uafault_target_info info = {};
	int err;

	if (get_user(info.index, &uarg->index))
		return -EFAULT;
	err = uafault_describe_target(&info);
	if (err)
		return err;
	return copy_to_user(uarg, &info, size) ? -EFAULT : 0;
}

/* The argument checks that need no target: see struct uafault_run. */
static int uafault_check_run(const struct uafault_run *run)
{
	if (strnlen(run->name, sizeof(run->name)) == sizeof(run->name))
		return -EINVAL;
	if ((run->flags & ~UAFAULT_RUN_ALL) ||
	    !uafault_range_ok(run->addr, run->len))
		return -EINVAL;
	return 0;
}

/*
 * The stack a target's frames are about to take, filled with a known byte:
 * kernel code that copies out stack bytes it never set (struct padding)
 * then leaks this, which the agent sees, rather than whatever happened to
 * be there, zero included.  The guest kernel has no stack auto-init.
 */
#define UAFAULT_STACK_POISON		0xa5
#define UAFAULT_STACK_POISON_BYTES	1024

static noinline void uafault_poison_stack(void)
{
	u8 buf[UAFAULT_STACK_POISON_BYTES];

	memset(buf, UAFAULT_STACK_POISON, sizeof(buf));
	barrier_data(buf);
}

/*
 * @t's run on @ctx, with writeback windows when @flags ask for them
 * (%UAFAULT_RUN_WRITEBACK, pages.c): then the window's verdict, once the
 * run itself succeeded.
 */
static int uafault_run_windowed(struct uafault_target *t,
				struct uafault_ctx *ctx, u32 flags)
{
	bool window = flags & UAFAULT_RUN_WRITEBACK;
	int err, closed;

	if (window) {
		err = uafault_window_open();
		if (err)
			return err;
	}
	uafault_poison_stack();
	err = t->run(ctx);
	if (!window)
		return err;
	closed = uafault_window_close();
	return err ?: closed;
}

static long uafault_ioctl_run(struct uafault_run __user *uarg)
{
	struct uafault_ctx ctx = { .csum = UAFAULT_CSUM_INIT };
	struct uafault_target *t;
	struct uafault_run run;
	struct module *owner;
	u64 start;
	int err;

	err = uafault_get_arg(&run, uarg, uafault_check_run);
	if (err)
		return err;
	t = uafault_get_target(run.name);
	if (IS_ERR(t))
		return PTR_ERR(t);
	owner = t->owner;
	if (t->fixed_len && run.len != t->fixed_len) {
		err = -EINVAL;
		goto put;
	}

	ctx.addr = run.addr;
	ctx.len = run.len;
	ctx.seed = run.seed;
	start = ktime_get_ns();
	err = uafault_run_windowed(t, &ctx, run.flags);
	run.ns = ktime_get_ns() - start;
put:
	module_put(owner);
	if (err)
		return err;

	run.ret = ctx.ret;
	run.done = ctx.done;
	run.pinned = ctx.pinned;
	run.csum = ctx.csum;
	return copy_to_user(uarg, &run, sizeof(run)) ? -EFAULT : 0;
}

/* What one open /dev/uafault holds: a pin (hold.c) and a trap (trap.c). */
struct uafault_file {
	struct uafault_hold *hold;
	struct uafault_trap_state *trap;
};

static long uafault_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct uafault_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case UAFAULT_IOC_PIN:
		return uafault_ioctl_pin(f->hold, uarg);
	case UAFAULT_IOC_PIN_READ:
		return uafault_ioctl_pin_read(f->hold, uarg);
	case UAFAULT_IOC_UNPIN:
		return uafault_ioctl_unpin(f->hold);
	case UAFAULT_IOC_TRAP:
		return uafault_ioctl_trap(f->trap, uarg);
	case UAFAULT_IOC_UNTRAP:
		return uafault_ioctl_untrap(f->trap, uarg);
	case UAFAULT_IOC_PAGE_REFS:
		return uafault_ioctl_page_refs(uarg);
	case UAFAULT_IOC_PIN_BALANCE:
		return uafault_ioctl_pin_balance(uarg);
	case UAFAULT_IOC_VERSION:
		return uafault_ioctl_version(uarg);
	case UAFAULT_IOC_TARGET:
		return uafault_ioctl_target(uarg, sizeof(struct uafault_target_info));
	case UAFAULT_IOC_TARGET_V7:
		return uafault_ioctl_target(uarg, UAFAULT_TARGET_INFO_SIZE_V7);
	case UAFAULT_IOC_RUN:
		return uafault_ioctl_run(uarg);
	default:
		return -ENOTTY;
	}
}

static void uafault_file_free(struct uafault_file *f)
{
	if (f->hold)
		uafault_hold_free(f->hold);
	if (f->trap)
		uafault_trap_free(f->trap);
	kfree(f);
}

/* Closing the file releases what it holds. */
static int uafault_open(struct inode *inode, struct file *file)
{
	struct uafault_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	f->hold = uafault_hold_alloc();
	f->trap = uafault_trap_alloc();
	if (!f->hold || !f->trap) {
		uafault_file_free(f);
		return -ENOMEM;
	}
	file->private_data = f;
	return 0;
}

static int uafault_release(struct inode *inode, struct file *file)
{
	uafault_file_free(file->private_data);
	return 0;
}

static const struct file_operations uafault_fops = {
	.owner = THIS_MODULE,
	.open = uafault_open,
	.release = uafault_release,
	.unlocked_ioctl = uafault_ioctl,
	.mmap = uafault_mmap,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice uafault_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "uafault",
	.fops = &uafault_fops,
	.mode = 0600,
};

/*
 * The categories of built-in targets, brought up in this order and down in
 * the reverse one.  Each registers its targets (and what they need, a DMA
 * device) in init() and unregisters them in exit().
 */
struct uafault_category {
	int (*init)(void);
	void (*exit)(void);
	bool crash;	/* only with allow_crash=1 */
};

static const struct uafault_category uafault_categories[] = {
	{ .init = uafault_uaccess_init, .exit = uafault_uaccess_exit },
	{ .init = uafault_gup_init, .exit = uafault_gup_exit },
	{ .init = uafault_dma_init, .exit = uafault_dma_exit },
	{ .init = uafault_crash_init, .exit = uafault_crash_exit, .crash = true },
};

static bool uafault_category_on(const struct uafault_category *c)
{
	return !c->crash || uafault_crash_allowed();
}

/* Take down the first @n categories, last first. */
static void uafault_categories_exit(size_t n)
{
	while (n--)
		if (uafault_category_on(&uafault_categories[n]))
			uafault_categories[n].exit();
}

static int __init uafault_init(void)
{
	const struct uafault_category *c;
	size_t i;
	int err;

	if (uafault_crash_allowed()) {
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
		pr_warn("loaded with allow_crash=1: crashing targets registered, kernel tainted\n");
	}

	for (i = 0; i < ARRAY_SIZE(uafault_categories); i++) {
		c = &uafault_categories[i];
		if (!uafault_category_on(c))
			continue;
		err = c->init();
		if (err)
			goto err_categories;
	}
	err = misc_register(&uafault_misc);
	if (err)
		goto err_categories;
	return 0;

err_categories:
	uafault_categories_exit(i);
	return err;
}

static void __exit uafault_exit(void)
{
	misc_deregister(&uafault_misc);
	uafault_categories_exit(ARRAY_SIZE(uafault_categories));
}

module_init(uafault_init);
module_exit(uafault_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("uafault");
MODULE_DESCRIPTION("Runs user-access and DMA-pinning targets on user ranges (/dev/uafault)");
