/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uafault target API: how kernel code (uafault.ko itself, or a user's own
 * driver module) registers a target that /dev/uafault lists and runs.
 *
 * A target is one small function that takes a user range the way driver
 * code does (copy_from_user(), pin_user_pages(), ...) and reports what the
 * user-access API said: @ret, @done, @pinned and @csum in &struct
 * uafault_ctx.  Faults in the range are results, never errors of run().
 */
#ifndef _UAFAULT_TARGET_H
#define _UAFAULT_TARGET_H

#include <linux/compiler.h>
#include <linux/list.h>
#include <linux/types.h>

#include "uafault.h"

struct module;
struct page;

/**
 * struct uafault_ctx - one run of a target
 * @addr: in: first byte of the user range; addr + len does not overflow
 * @len: in: bytes in the range, 1 to %UAFAULT_MAX_LEN (the target's
 *	 @fixed_len if it has one)
 * @seed: in: seed of the bytes a writing target stores, uafault_fill()
 * @ret: out: 0, or the negative errno the user-access API returned
 * @done: out: bytes the API reported done (copied, cleared, string
 *	  length, bytes of the range covered by pinned pages)
 * @pinned: out: pages pinned (pinning targets)
 * @csum: out: uafault_csum() of the @done bytes read or written; it starts
 *	  at %UAFAULT_CSUM_INIT, so a target that checksums nothing leaves it
 *
 * All out fields start at zero, except @csum.
 */
struct uafault_ctx {
	unsigned long addr;
	size_t len;
	u32 seed;
	long ret;
	size_t done;
	unsigned long pinned;
	u64 csum;
};

/**
 * struct uafault_held - pages a target keeps for its device past run()
 * @pages: one for each page the range touches, in order
 * @npages: how many
 * @priv: the target's own
 */
struct uafault_held {
	struct page **pages;
	unsigned long npages;
	void *priv;
};

/**
 * struct uafault_target - a registered target
 * @name: unique name, 1 to %UAFAULT_NAME_LEN - 1 printable characters
 * @flags: %UAFAULT_TF_* bits describing what @run does to the range
 * @result: &enum uafault_result: what @run reports in @done and @ret
 * @fixed_len: 0 for any length, or the one length the target accepts;
 *	       %UAFAULT_IOC_RUN fails with %EINVAL for any other
 * @min_len: 0, or the shortest range @run takes: for a shorter one it
 *	     reports -%EINVAL with nothing done, before touching the range
 *	     (a driver's "argsz < sizeof(header)" check).  The agent expects
 *	     exactly that there, whatever fault is planted.
 * @changed_err: 0, or the negative errno @run reports, with nothing done,
 *		 when it finds the range's bytes changed between two of
 *		 its fetches of them and refuses them (a driver that reads
 *		 a string or a header twice and checks that both agree).
 *		 The racing fault kinds accept it when the bytes changed
 *		 during the call, and fail it when they did not.
 * @run: runs the target on @ctx.  Returns 0 when it ran (the outcome,
 *	 faults included, is in @ctx), or a negative errno when it could
 *	 not run at all (out of memory), which the ioctl returns.  Called
 *	 in process context, without locks held, from the task that owns
 *	 the range.
 * @hold: with %UAFAULT_TF_HOLD only: take the pages of @ctx's range the
 *	  way the driver keeps a buffer for its device (%UAFAULT_IOC_PIN).
 *	  Returns like @run; a fault goes in @ctx->ret with nothing held,
 *	  otherwise @held is filled and kept until @release
 * @release: with %UAFAULT_TF_HOLD only: let go of what @hold took
 * @owner: the module that holds @run, normally %THIS_MODULE
 * @list: private to uafault
 */
struct uafault_target {
	const char *name;
	unsigned int flags;
	enum uafault_result result;
	size_t fixed_len;
	size_t min_len;
	int changed_err;
	int (*run)(struct uafault_ctx *ctx);
	int (*hold)(struct uafault_ctx *ctx, struct uafault_held *held);
	void (*release)(struct uafault_held *held);
	struct module *owner;
	struct list_head list;
};

/**
 * uafault_ctx_uptr() - the user range of @ctx as a user pointer
 * @ctx: the run
 *
 * Return: @ctx->addr as a ``void __user *``.
 */
static inline void __user *uafault_ctx_uptr(const struct uafault_ctx *ctx)
{
	return (void __user *)ctx->addr;
}

int uafault_register_target(struct uafault_target *t);
void uafault_unregister_target(struct uafault_target *t);
int uafault_register_targets(struct uafault_target *t, size_t n);
void uafault_unregister_targets(struct uafault_target *t, size_t n);
long uafault_pin_all(unsigned long start, unsigned long nr,
		     unsigned int gup_flags, struct page **pages);

/**
 * enum uafault_walk - what uafault_pages_walk() does with each byte
 * @UAFAULT_WALK_READ: checksum the byte the page holds
 * @UAFAULT_WALK_FILL: store uafault_fill() of the seed and the byte's
 *		       offset in the range there (what a writing target or
 *		       device stores), and checksum the byte stored
 */
enum uafault_walk {
	UAFAULT_WALK_READ,
	UAFAULT_WALK_FILL,
};

u64 uafault_pages_walk(struct page **pages, size_t offset, size_t len,
		       enum uafault_walk mode, u32 seed, size_t start, u64 csum);

struct device;
struct sg_table;
struct device *uafault_dma_device(void);
long uafault_device_access(struct device *dev, struct sg_table *sgt,
			   bool write, u32 seed, u64 *csum);

#endif /* _UAFAULT_TARGET_H */
