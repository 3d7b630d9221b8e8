// SPDX-License-Identifier: GPL-2.0
/*
 * A user range that changes under the kernel right after the kernel reads
 * it (UAFAULT_IOC_TRAP, _UNTRAP): the double fetch made deterministic.
 *
 * A racing thread that flips a header wins the window between two fetches
 * only when the scheduler lets it, so a test built on it fails on a busy
 * host.  Here a data breakpoint on the last byte of the range counts the
 * kernel's accesses to it; the trap fires on the @nth one, after that
 * access completed (data breakpoints are traps), and its handler rewrites
 * the range through the kernel mapping of the page, pinned when armed.
 * Whatever the kernel fetches after that sees the new bytes, whichever
 * code path it runs: a uafault target, a user's driver, a system call.
 */
#include <linux/err.h>
#include <linux/hw_breakpoint.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/perf_event.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

/* One per open /dev/uafault. */
struct uafault_trap_state {
	struct mutex lock;
	struct perf_event *bp;	/* NULL: not armed */
	struct page *page;
	u8 *kaddr;		/* the first byte, in the kernel mapping */
	u8 bytes[UAFAULT_TRAP_MAX_LEN];
	u32 len;
	u32 nth;
	atomic_t hits;
	bool fired;
};

struct uafault_trap_state *uafault_trap_alloc(void)
{
	struct uafault_trap_state *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (s)
		mutex_init(&s->lock);
	return s;
}

/*
 * The breakpoint's overflow handler, in #DB (NMI-like) context on the
 * armed task's CPU: no locks, no sleeping, only the write.
 */
static void uafault_trap_hit(struct perf_event *bp,
			     struct perf_sample_data *data,
			     struct pt_regs *regs)
{
	struct uafault_trap_state *s = bp->overflow_handler_context;

	if (user_mode(regs))
		return;
	if (atomic_inc_return(&s->hits) != s->nth)
		return;
	memcpy(s->kaddr, s->bytes, s->len);
	WRITE_ONCE(s->fired, true);
}

static void uafault_trap_disarm(struct uafault_trap_state *s)
{
	lockdep_assert_held(&s->lock);
	if (!s->bp)
		return;
	/* Synchronous: no handler runs after this returns. */
	unregister_hw_breakpoint(s->bp);
	unpin_user_pages_dirty_lock(&s->page, 1, READ_ONCE(s->fired));
	s->bp = NULL;
	s->page = NULL;
	s->kaddr = NULL;
}

void uafault_trap_free(struct uafault_trap_state *s)
{
	mutex_lock(&s->lock);
	uafault_trap_disarm(s);
	mutex_unlock(&s->lock);
	mutex_destroy(&s->lock);
	kfree(s);
}

static int uafault_trap_check(const struct uafault_trap *arg)
{
	if (!arg->len || arg->len > UAFAULT_TRAP_MAX_LEN || !arg->nth)
		return -EINVAL;
	if (!uafault_range_ok(arg->addr, arg->len) ||
	    offset_in_page(arg->addr) + arg->len > PAGE_SIZE)
		return -EINVAL;
	return 0;
}

/* The page of @addr, pinned for writing through its kernel mapping. */
static int uafault_trap_pin(struct uafault_trap_state *s, u64 addr)
{
	long rc = uafault_pin_all(addr & PAGE_MASK, 1,
				  FOLL_WRITE | FOLL_LONGTERM, &s->page);

	if (rc < 0)
		return rc;
	if (PageHighMem(s->page)) {
		unpin_user_page(s->page);
		return -EOPNOTSUPP;
	}
	s->kaddr = (u8 *)page_address(s->page) + offset_in_page(addr);
	return 0;
}

/* Pin the page and set the breakpoint, for uafault_ioctl_trap(). */
static int uafault_trap_arm(struct uafault_trap_state *s,
			    const struct uafault_trap *arg)
{
	struct perf_event_attr attr;
	struct perf_event *bp;
	int err;

	lockdep_assert_held(&s->lock);
	if (s->bp)
		return -EBUSY;
	err = uafault_trap_pin(s, arg->addr);
	if (err)
		return err;
	memcpy(s->bytes, arg->bytes, sizeof(s->bytes));
	s->len = arg->len;
	s->nth = arg->nth;
	atomic_set(&s->hits, 0);
	s->fired = false;

	hw_breakpoint_init(&attr);
	attr.bp_addr = arg->addr + arg->len - 1;
	attr.bp_len = HW_BREAKPOINT_LEN_1;
	/* x86 has no read-only data breakpoint; writes count too. */
	attr.bp_type = HW_BREAKPOINT_R | HW_BREAKPOINT_W;
	attr.exclude_user = 1;
	bp = register_user_hw_breakpoint(&attr, uafault_trap_hit, s, current);
	if (IS_ERR_OR_NULL(bp)) {
		unpin_user_page(s->page);
		s->page = NULL;
		s->kaddr = NULL;
		return bp ? PTR_ERR(bp) : -EOPNOTSUPP;
	}
	s->bp = bp;
	return 0;
}

long uafault_ioctl_trap(struct uafault_trap_state *s,
			struct uafault_trap __user *uarg)
{
	struct uafault_trap arg;
	int err;

	err = uafault_get_arg(&arg, uarg, uafault_trap_check);
	if (err)
		return err;

	mutex_lock(&s->lock);
	err = uafault_trap_arm(s, &arg);
	mutex_unlock(&s->lock);
	return err;
}

long uafault_ioctl_untrap(struct uafault_trap_state *s,
			  struct uafault_trap __user *uarg)
{
	struct uafault_trap arg = {};
	long ret = -ENOENT;

	mutex_lock(&s->lock);
	if (!s->bp)
		goto unlock;
	uafault_trap_disarm(s);
	arg.hits = atomic_read(&s->hits);
	arg.fired = s->fired;
	ret = 0;
unlock:
	mutex_unlock(&s->lock);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}
