// SPDX-License-Identifier: GPL-2.0
/*
 * uafault's target registry: the targets /dev/uafault lists and runs, in
 * registration order, and the checks every user range an ioctl names goes
 * through.  Targets (uafault's own categories, a user's driver module)
 * register here; the registry calls nothing of theirs but what the
 * dispatcher (main.c) asks it to look up.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/string.h>

#include "internal.h"

static bool allow_crash;
module_param(allow_crash, bool, 0444);
MODULE_PARM_DESC(allow_crash,
		 "Register targets that oops on purpose (taints the kernel)");

/* Registered targets, in registration order. */
static DEFINE_MUTEX(uafault_lock);
static LIST_HEAD(uafault_targets);
static unsigned int uafault_ntargets;

/**
 * uafault_crash_allowed() - whether uafault was loaded with allow_crash=1
 *
 * Return: true when targets with %UAFAULT_TF_CRASH may register and run.
 */
bool uafault_crash_allowed(void)
{
	return allow_crash;
}

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
 * Return: 0; -%EINVAL for a bad name, flags, result, fixed_len, min_len,
 * changed_err (not 0 or a negative errno), no run(), or hold() and
 * release() not both there exactly with %UAFAULT_TF_HOLD;
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
	    t->changed_err > 0 || t->changed_err < -MAX_ERRNO ||
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
		if (err)
			goto err_unregister;
	}
	return 0;

err_unregister:
	pr_err("cannot register target %s: %d\n", t[i].name, err);
	uafault_unregister_targets(t, i);
	return err;
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

/**
 * uafault_target_count() - how many targets are registered
 *
 * Return: the number %UAFAULT_IOC_VERSION reports.
 */
unsigned int uafault_target_count(void)
{
	unsigned int n;

	mutex_lock(&uafault_lock);
	n = uafault_ntargets;
	mutex_unlock(&uafault_lock);
	return n;
}

/**
 * uafault_describe_target() - what %UAFAULT_IOC_TARGET says of a target
 * @info: in: @info->index, the target's place in registration order;
 *	  out: the other fields, for that target
 *
 * Return: 0, or -%ENOENT when fewer targets are registered.
 */
int uafault_describe_target(struct uafault_target_info *info)
{
	struct uafault_target *t;
	int err = -ENOENT;
	u32 i = 0;

	mutex_lock(&uafault_lock);
	list_for_each_entry(t, &uafault_targets, list) {
		if (i++ != info->index)
			continue;
		info->flags = t->flags;
		info->result = t->result;
		info->fixed_len = t->fixed_len;
		info->min_len = t->min_len;
		info->changed_err = t->changed_err;
		strscpy(info->name, t->name, sizeof(info->name));
		strscpy(info->owner,
			t->owner ? module_name(t->owner) : "kernel",
			sizeof(info->owner));
		err = 0;
		break;
	}
	mutex_unlock(&uafault_lock);
	return err;
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
