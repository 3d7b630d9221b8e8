// SPDX-License-Identifier: GPL-2.0
/*
 * A pin held across system calls (UAFAULT_IOC_PIN, _PIN_READ, _UNPIN):
 * what a driver does when it pins a user buffer at setup and lets the
 * device at it later.  Between the calls the process can fork, write or
 * MADV_DONTNEED its range, and the agent checks that the held pages still
 * hold what the GUP contract says (CVE-2020-29374: a read-only pin must
 * not end up on a page the pinning process no longer maps).
 */
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

/* One per open /dev/uafault. */
struct uafault_hold {
	struct mutex lock;
	struct page **pages;	/* NULL: nothing held */
	unsigned long npages;
	unsigned long addr;
	size_t len;
	u32 flags;	/* UAFAULT_PIN_* */
	/* Held through this target's hold(), its module pinned; or NULL. */
	struct uafault_target *t;
	struct uafault_held held;
};

struct uafault_hold *uafault_hold_alloc(void)
{
	struct uafault_hold *h = kzalloc(sizeof(*h), GFP_KERNEL);

	if (h)
		mutex_init(&h->lock);
	return h;
}

static void uafault_hold_drop(struct uafault_hold *h)
{
	lockdep_assert_held(&h->lock);
	if (!h->pages)
		return;
	if (h->t) {
		h->t->release(&h->held);
		module_put(h->t->owner);
		h->t = NULL;
	} else {
		if (h->flags & UAFAULT_PIN_WRITE)
			unpin_user_pages_dirty_lock(h->pages, h->npages, true);
		else
			unpin_user_pages(h->pages, h->npages);
		kvfree(h->pages);
	}
	h->pages = NULL;
	h->npages = 0;
}

/* The file is closing: what it still holds goes (-ENOENT: nothing did). */
void uafault_hold_free(struct uafault_hold *h)
{
	uafault_ioctl_unpin(h);
	mutex_destroy(&h->lock);
	kfree(h);
}

/* Checksum the held range through the kernel's mapping of its pages. */
static u64 uafault_hold_csum(const struct uafault_hold *h)
{
	return uafault_pages_walk(h->pages, offset_in_page(h->addr), h->len,
				  UAFAULT_WALK_READ, 0, 0, UAFAULT_CSUM_INIT);
}

static int uafault_pin_check(const struct uafault_pin *pin)
{
	if (pin->flags & ~UAFAULT_PIN_ALL || pin->reserved)
		return -EINVAL;
	if (strnlen(pin->target, sizeof(pin->target)) == sizeof(pin->target) ||
	    (pin->target[0] && pin->flags))
		return -EINVAL;
	return uafault_range_ok(pin->addr, pin->len) ? 0 : -EINVAL;
}

/* Held pages are lowmem on every arch the guest runs (x86_64). */
static u64 uafault_hold_kaddr(const struct uafault_hold *h)
{
	return (uintptr_t)page_address(h->pages[0]) + offset_in_page(h->addr);
}

static unsigned int uafault_pin_gup_flags(u32 flags)
{
	return (flags & UAFAULT_PIN_WRITE ? FOLL_WRITE : 0) |
	       (flags & UAFAULT_PIN_LONGTERM ? FOLL_LONGTERM : 0);
}

static void uafault_hold_set(struct uafault_hold *h, struct uafault_pin *pin,
			     struct page **pages, unsigned long nr)
{
	h->pages = pages;
	h->npages = nr;
	h->addr = pin->addr;
	h->len = pin->len;
	h->flags = pin->flags;
	pin->ret = 0;
	pin->pinned = nr;
	pin->csum = uafault_hold_csum(h);
	pin->kaddr = uafault_hold_kaddr(h);
}

/*
 * Hold through a target's own hold(), as its driver keeps the buffer; a
 * fault there is @pin->ret.  The target's module stays pinned while held.
 */
static int uafault_hold_target(struct uafault_hold *h, struct uafault_pin *pin,
			       unsigned long nr)
{
	struct uafault_ctx ctx = {
		.addr = pin->addr, .len = pin->len, .csum = UAFAULT_CSUM_INIT,
	};
	struct uafault_target *t = uafault_get_target(pin->target);
	struct uafault_held held = { };
	int err;

	if (IS_ERR(t))
		return PTR_ERR(t);
	err = t->flags & UAFAULT_TF_HOLD ? t->hold(&ctx, &held) : -EINVAL;
	if (!err && !ctx.ret && held.npages != nr) {
		/* A target that held other than the range's pages. */
		WARN_ONCE(1, "target %s held %lu pages of %lu\n", t->name,
			  held.npages, nr);
		t->release(&held);
		ctx.ret = -EFAULT;
	}
	if (err || ctx.ret) {
		module_put(t->owner);
		pin->ret = ctx.ret;
		return err;
	}
	h->t = t;
	h->held = held;
	uafault_hold_set(h, pin, held.pages, nr);
	return 0;
}

/* Pin the whole range or nothing; @pin->ret says which. */
static int uafault_hold_pin(struct uafault_hold *h, struct uafault_pin *pin)
{
	unsigned long nr = DIV_ROUND_UP(offset_in_page(pin->addr) + pin->len,
					PAGE_SIZE);
	struct page **pages;
	long rc;

	lockdep_assert_held(&h->lock);
	if (h->pages)
		return -EBUSY;
	if (pin->target[0])
		return uafault_hold_target(h, pin, nr);
	pages = uafault_alloc_pages(nr);
	if (!pages)
		return -ENOMEM;
	rc = uafault_pin_all(pin->addr & PAGE_MASK, nr,
			     uafault_pin_gup_flags(pin->flags), pages);
	if (rc < 0) {
		kvfree(pages);
		pin->ret = rc;
		return 0;
	}
	uafault_hold_set(h, pin, pages, nr);
	return 0;
}

long uafault_ioctl_pin(struct uafault_hold *h, struct uafault_pin __user *uarg)
{
	struct uafault_pin pin;
	int err;

	err = uafault_get_arg(&pin, uarg, uafault_pin_check);
	if (err)
		return err;
	pin.ret = 0;
	pin.pinned = 0;
	pin.csum = UAFAULT_CSUM_INIT;
	pin.kaddr = 0;
	mutex_lock(&h->lock);
	err = uafault_hold_pin(h, &pin);
	mutex_unlock(&h->lock);
	if (err)
		return err;
	return copy_to_user(uarg, &pin, sizeof(pin)) ? -EFAULT : 0;
}

long uafault_ioctl_pin_read(struct uafault_hold *h,
			    struct uafault_pin __user *uarg)
{
	struct uafault_pin pin = { .ret = 0 };
	long ret = -ENOENT;

	mutex_lock(&h->lock);
	if (!h->pages)
		goto unlock;
	pin.addr = h->addr;
	pin.len = h->len;
	pin.flags = h->flags;
	pin.pinned = h->npages;
	pin.csum = uafault_hold_csum(h);
	pin.kaddr = uafault_hold_kaddr(h);
	if (h->t)
		strscpy(pin.target, h->t->name, sizeof(pin.target));
	ret = 0;
unlock:
	mutex_unlock(&h->lock);
	if (ret)
		return ret;
	return copy_to_user(uarg, &pin, sizeof(pin)) ? -EFAULT : 0;
}

long uafault_ioctl_unpin(struct uafault_hold *h)
{
	long ret = -ENOENT;

	mutex_lock(&h->lock);
	if (h->pages) {
		uafault_hold_drop(h);
		ret = 0;
	}
	mutex_unlock(&h->lock);
	return ret;
}
