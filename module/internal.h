/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uafault.ko internals shared by its files: the built-in target tables
 * and the helpers they have in common.
 *
 * The files call one another in one direction only.  main.c (the core)
 * calls into every other file; the categories of targets (uaccess.c,
 * gup.c, dma.c) and the ioctls without a target (hold.c, trap.c, refs.c,
 * mmap.c) call the leaves; the leaves (registry.c, pages.c, csum.c) call
 * no other file of uafault's but csum.c, which pages.c calls.
 */
#ifndef _UAFAULT_INTERNAL_H
#define _UAFAULT_INTERNAL_H

#include <linux/mm_types.h>
#include <linux/types.h>
#include <linux/uaccess.h>

#include "uafault_target.h"

/* Most pages a range of at most UAFAULT_MAX_LEN bytes can touch. */
#define UAFAULT_MAX_PAGES	(UAFAULT_MAX_LEN / PAGE_SIZE + 1)

/*
 * The start of every ioctl that takes a struct: copy it in, then let
 * @check() refuse what it must (0 or -EINVAL).
 */
#define uafault_get_arg(arg, uarg, check)				\
	(copy_from_user(arg, uarg, sizeof(*(arg))) ? -EFAULT : check(arg))

/* registry.c */
bool uafault_crash_allowed(void);
unsigned int uafault_target_count(void);
int uafault_describe_target(struct uafault_target_info *info);
struct uafault_target *uafault_get_target(const char *name);
bool uafault_range_ok(u64 addr, u64 len);

/* csum.c */
void uafault_fill_buf(u8 *buf, u32 seed, size_t start, size_t n);
u64 uafault_csum_fill(u64 hash, u32 seed, size_t start, size_t n);
u64 uafault_csum_zero(u64 hash, size_t n);

/* pages.c */
unsigned long uafault_npages(const struct uafault_ctx *ctx);
struct page **uafault_alloc_pages(unsigned long nr);
void uafault_pin_result(struct uafault_ctx *ctx, long rc, unsigned long nr);
int uafault_window_open(void);
int uafault_window_close(void);

/* The categories of targets, brought up and down by main.c. */
int uafault_uaccess_init(void);
void uafault_uaccess_exit(void);
int uafault_crash_init(void);
void uafault_crash_exit(void);
int uafault_gup_init(void);
void uafault_gup_exit(void);
int uafault_dma_init(void);
void uafault_dma_exit(void);

/* hold.c */
struct uafault_hold;
struct uafault_hold *uafault_hold_alloc(void);
void uafault_hold_free(struct uafault_hold *h);
long uafault_ioctl_pin(struct uafault_hold *h, struct uafault_pin __user *uarg);
long uafault_ioctl_pin_read(struct uafault_hold *h,
			    struct uafault_pin __user *uarg);
long uafault_ioctl_unpin(struct uafault_hold *h);

/* trap.c */
struct uafault_trap_state;
struct uafault_trap_state *uafault_trap_alloc(void);
void uafault_trap_free(struct uafault_trap_state *s);
long uafault_ioctl_trap(struct uafault_trap_state *s,
			struct uafault_trap __user *uarg);
long uafault_ioctl_untrap(struct uafault_trap_state *s,
			  struct uafault_trap __user *uarg);

/* refs.c */
long uafault_ioctl_page_refs(struct uafault_page_refs __user *uarg);
long uafault_ioctl_pin_balance(struct uafault_pin_balance __user *uarg);

/* mmap.c */
int uafault_mmap(struct file *file, struct vm_area_struct *vma);

#endif /* _UAFAULT_INTERNAL_H */
