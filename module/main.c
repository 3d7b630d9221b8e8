// SPDX-License-Identifier: GPL-2.0
/*
 * uafault: /dev/uafault runs registered targets on user ranges.
 *
 * A target (see uafault_target.h) is a small function that touches a user
 * range through one user-access or pinning API.  The misc device lists
 * them (UAFAULT_IOC_TARGET) and runs one by name (UAFAULT_IOC_RUN),
 * reporting what the API returned: the in-guest agent plants faults in
 * the range and checks the outcome.  Modelled on mm/gup_test.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

static bool allow_crash;
module_param(allow_crash, bool, 0444);
MODULE_PARM_DESC(allow_crash,
		 "Register targets that oops on purpose (taints the kernel)");

/* Registered targets, in registration order. */
static DEFINE_MUTEX(uafault_lock);
static LIST_HEAD(uafault_targets);
static unsigned int uafault_ntargets;

static bool uafault_name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, UAFAULT_NAME_LEN);
	if (!n || n == UAFAULT_NAME_LEN)
		return false;
	while (n--)
		if (!isgraph(name[n]))
			return false;
	return true;
}

static struct uafault_target *uafault_find(const char *name)
{
	struct uafault_target *t;

	lockdep_assert_held(&uafault_lock);
	list_for_each_entry(t, &uafault_targets, list)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/**
 * uafault_register_target() - make a target listed and runnable
 * @t: the target; it must stay valid until uafault_unregister_target()
 *
 * Targets are listed in registration order.  A target with
 * %UAFAULT_TF_CRASH is only accepted when uafault was loaded with
 * allow_crash=1.
 *
 * Return: 0; -%EINVAL for a bad name, flags, result, fixed_len, min_len, no
 * run(), or hold() and release() not both there exactly with
 * %UAFAULT_TF_HOLD;
 * -%EPERM for a crashing target without allow_crash; -%EEXIST when a
 * target of that name is already registered.
 */
int uafault_register_target(struct uafault_target *t)
{
	int err = 0;

	if (!t || !t->run || !uafault_name_ok(t->name) ||
	    (t->flags & ~UAFAULT_TF_ALL) || t->result >= UAFAULT_RES_MAX ||
	    t->fixed_len > UAFAULT_MAX_LEN || t->min_len > UAFAULT_MAX_LEN ||
	    (t->fixed_len && t->min_len > t->fixed_len) ||
	    !!(t->flags & UAFAULT_TF_HOLD) != !!t->hold ||
	    !t->hold != !t->release)
		return -EINVAL;
	if ((t->flags & UAFAULT_TF_CRASH) && !allow_crash)
		return -EPERM;

	mutex_lock(&uafault_lock);
	if (uafault_find(t->name)) {
		err = -EEXIST;
		goto unlock;
	}
	list_add_tail(&t->list, &uafault_targets);
	uafault_ntargets++;
unlock:
	mutex_unlock(&uafault_lock);
	return err;
}
EXPORT_SYMBOL_GPL(uafault_register_target);

/**
 * uafault_unregister_target() - remove a target registered earlier
 * @t: the target
 *
 * A run that already started keeps going: the owner's module reference
 * it holds keeps @t->run alive, so call this from the owner's module_exit
 * or keep @t valid until the owner is unloaded.
 */
void uafault_unregister_target(struct uafault_target *t)
{
	struct uafault_target *pos;

	mutex_lock(&uafault_lock);
	list_for_each_entry(pos, &uafault_targets, list) {
		if (pos == t) {
			list_del(&t->list);
			uafault_ntargets--;
			goto unlock;
		}
	}
	WARN(1, "unregistering unknown target %s\n", t->name);
unlock:
	mutex_unlock(&uafault_lock);
}
EXPORT_SYMBOL_GPL(uafault_unregister_target);

/**
 * uafault_register_targets() - register an array of targets, or none
 * @t: the targets, valid until uafault_unregister_targets()
 * @n: how many
 *
 * Return: 0; or uafault_register_target()'s error for the first that
 * failed, with the ones before it unregistered again.
 */
int uafault_register_targets(struct uafault_target *t, size_t n)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		err = uafault_register_target(&t[i]);
		if (err) {
			pr_err("cannot register target %s: %d\n", t[i].name, err);
			uafault_unregister_targets(t, i);
			return err;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(uafault_register_targets);

/**
 * uafault_unregister_targets() - unregister what uafault_register_targets() took
 * @t: the targets
 * @n: how many
 */
void uafault_unregister_targets(struct uafault_target *t, size_t n)
{
	while (n--)
		uafault_unregister_target(&t[n]);
}
EXPORT_SYMBOL_GPL(uafault_unregister_targets);

static long uafault_ioctl_version(struct uafault_version __user *uarg)
{
	struct uafault_version v = {
		.abi = UAFAULT_ABI_VERSION,
		.flags = allow_crash ? UAFAULT_MOD_ALLOW_CRASH : 0,
	};

	mutex_lock(&uafault_lock);
	v.ntargets = uafault_ntargets;
	mutex_unlock(&uafault_lock);
	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long uafault_ioctl_target(struct uafault_target_info __user *uarg)
{
	struct uafault_target_info info = {};
	struct uafault_target *t;
	bool found = false;
	u32 i = 0;

	if (get_user(info.index, &uarg->index))
		return -EFAULT;

	mutex_lock(&uafault_lock);
	list_for_each_entry(t, &uafault_targets, list) {
		if (i++ != info.index)
			continue;
		info.flags = t->flags;
		info.result = t->result;
		info.fixed_len = t->fixed_len;
		info.min_len = t->min_len;
		strscpy(info.name, t->name, sizeof(info.name));
		strscpy(info.owner, t->owner ? module_name(t->owner) : "kernel",
			sizeof(info.owner));
		found = true;
		break;
	}
	mutex_unlock(&uafault_lock);
	if (!found)
		return -ENOENT;
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/**
 * uafault_range_ok() - check a user range an ioctl names
 * @addr: first byte, as the caller passed it
 * @len: bytes
 *
 * Return: true when @len is 1 to %UAFAULT_MAX_LEN and the range fits an
 * unsigned long without wrapping.  Whether it is mapped is not checked:
 * faults are what the targets are run for.
 */
bool uafault_range_ok(u64 addr, u64 len)
{
	u64 end;

	return len && len <= UAFAULT_MAX_LEN &&
	       addr == (unsigned long)addr &&
	       !check_add_overflow(addr, len, &end);
}

/* The argument checks that need no target: see struct uafault_run. */
static int uafault_check_run(const struct uafault_run *run)
{
	if (strnlen(run->name, sizeof(run->name)) == sizeof(run->name))
		return -EINVAL;
	if (run->flags || !uafault_range_ok(run->addr, run->len))
		return -EINVAL;
	return 0;
}

/**
 * uafault_get_target() - look a target up and pin its module
 * @name: the target's name, NUL-terminated
 *
 * Return: the target, whose owner the caller module_put()s; -%ENOENT
 * for no such target, -%EPERM for a crashing one without allow_crash.
 */
struct uafault_target *uafault_get_target(const char *name)
{
	struct uafault_target *t;

	mutex_lock(&uafault_lock);
	t = uafault_find(name);
	if (!t)
		t = ERR_PTR(-ENOENT);
	else if ((t->flags & UAFAULT_TF_CRASH) && !allow_crash)
		t = ERR_PTR(-EPERM);
	else if (!try_module_get(t->owner))
		t = ERR_PTR(-ENOENT);
	mutex_unlock(&uafault_lock);
	return t;
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
	if (t->fixed_len && run.len != t->fixed_len) {
		module_put(t->owner);
		return -EINVAL;
	}

	ctx.addr = run.addr;
	ctx.len = run.len;
	ctx.seed = run.seed;
	owner = t->owner;
	start = ktime_get_ns();
	uafault_poison_stack();
	err = t->run(&ctx);
	run.ns = ktime_get_ns() - start;
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
		return uafault_ioctl_target(uarg);
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

static int __init uafault_init(void)
{
	int err;

	if (allow_crash) {
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
		pr_warn("loaded with allow_crash=1: crashing targets registered, kernel tainted\n");
	}

	err = uafault_uaccess_init();
	if (err)
		return err;
	err = uafault_gup_init();
	if (err)
		goto err_uaccess;
	err = uafault_dma_init();
	if (err)
		goto err_gup;
	if (allow_crash) {
		err = uafault_crash_init();
		if (err)
			goto err_dma;
	}
	err = misc_register(&uafault_misc);
	if (err)
		goto err_crash;
	return 0;

err_crash:
	if (allow_crash)
		uafault_crash_exit();
err_dma:
	uafault_dma_exit();
err_gup:
	uafault_gup_exit();
err_uaccess:
	uafault_uaccess_exit();
	return err;
}

static void __exit uafault_exit(void)
{
	misc_deregister(&uafault_misc);
	if (allow_crash)
		uafault_crash_exit();
	uafault_dma_exit();
	uafault_gup_exit();
	uafault_uaccess_exit();
}

module_init(uafault_init);
module_exit(uafault_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("uafault");
MODULE_DESCRIPTION("Runs user-access and DMA-pinning targets on user ranges (/dev/uafault)");
