/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels the suites build on (6.12, and 6.1 as
 * Debian 12 ships it), in one place: the suites call what is defined here
 * by the same name on every kernel and test no version themselves.  On
 * 6.12 each wrapper is the plain call it wraps.
 *
 * What uafault.ko needs too (the version test, the GUP and import_ubuf()
 * wrappers) is module/compat.h's, included here.
 *
 * Where a kernel lacks what a case needs and nothing here can stand in
 * for it faithfully, uafault_missing() names it and the case skips with
 * that reason; on 6.12 it names nothing.
 */
#ifndef _UAFAULT_KUNIT_COMPAT_H
#define _UAFAULT_KUNIT_COMPAT_H

#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kconfig.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/version.h>

/* UAFAULT_SINCE(), and the wrappers uafault.ko shares with the suites. */
#include "../module/compat.h"

/* The lockless GUP walk: CONFIG_HAVE_FAST_GUP until 6.9 renamed it. */
#define UAFAULT_HAVE_GUP_FAST	(IS_ENABLED(CONFIG_HAVE_GUP_FAST) || \
				 IS_ENABLED(CONFIG_HAVE_FAST_GUP))

/**
 * enum uafault_feature - what a case may need that a kernel may lack
 * @UAFAULT_USER_MM: a user mm for the test thread (kunit_vm_mmap())
 * @UAFAULT_KUNIT_DEVICE: a device to DMA-map for (kunit_device_register())
 * @UAFAULT_ITER_EXTRACT: iov_iter_extract_pages()
 * @UAFAULT_KUNIT_FAULT: a kunit_try_catch thread that oopses being caught
 */
enum uafault_feature {
	UAFAULT_USER_MM,
	UAFAULT_KUNIT_DEVICE,
	UAFAULT_ITER_EXTRACT,
	UAFAULT_KUNIT_FAULT,
};

/* kunit_vm_mmap() and its user mm attach: 6.10 (lib/kunit/user_alloc.c). */
#if UAFAULT_SINCE(6, 10)
#define UAFAULT_MISSING_USER_MM	NULL
#elif defined(MODULE)
/* mm_alloc() and arch_pick_mmap_layout() are exported for KUnit in 6.10. */
#define UAFAULT_MISSING_USER_MM	\
	"needs kunit_vm_mmap() (6.10), or the suites built in"
#else
#define UAFAULT_MISSING_USER_MM	NULL
#endif

/* kunit_device_register(): 6.8 (lib/kunit/device.c). */
#if UAFAULT_SINCE(6, 8)
#include <kunit/device.h>
#define UAFAULT_MISSING_KUNIT_DEVICE	NULL
#else
#define UAFAULT_MISSING_KUNIT_DEVICE	"needs kunit_device_register() (6.8)"
#endif

/* iov_iter_extract_pages() and iov_iter_extract_will_pin(): 6.3. */
#if UAFAULT_SINCE(6, 3)
#define UAFAULT_MISSING_ITER_EXTRACT	NULL
#else
#define UAFAULT_MISSING_ITER_EXTRACT	"needs iov_iter_extract_pages() (6.3)"
#endif

/*
 * A kunit_try_catch thread that dies (an oops) is caught at once since
 * "kunit: Handle test faults" (6.9); before, its runner waits out the
 * test timeout and then kthread_stop()s a task that has exited.
 */
#if UAFAULT_SINCE(6, 9)
#define UAFAULT_MISSING_KUNIT_FAULT	NULL
#else
#define UAFAULT_MISSING_KUNIT_FAULT	\
	"needs KUnit's handling of a test thread that faults (6.9)"
#endif

/* Why this kernel cannot run a case that needs @feature, or NULL. */
static inline const char *uafault_missing(enum uafault_feature feature)
{
	switch (feature) {
	case UAFAULT_USER_MM:
		return UAFAULT_MISSING_USER_MM;
	case UAFAULT_KUNIT_DEVICE:
		return UAFAULT_MISSING_KUNIT_DEVICE;
	case UAFAULT_ITER_EXTRACT:
		return UAFAULT_MISSING_ITER_EXTRACT;
	case UAFAULT_KUNIT_FAULT:
		return UAFAULT_MISSING_KUNIT_FAULT;
	}
	return "an unknown feature";
}

/*
 * kunit_vm_mmap(): a mapping in the test thread's user mm, which the
 * first call makes and attaches.  Before 6.10, lib/kunit/user_alloc.c's
 * own steps, which built-in code can take (mm_alloc() and
 * arch_pick_mmap_layout() are not exported): a KUnit resource whose
 * release frees only its record, the mm going with the test thread.
 * Where that cannot be, the case skips.
 */
#if !UAFAULT_SINCE(6, 10) && !defined(MODULE)
struct uafault_vm_mmap_params {
	struct file *file;
	unsigned long addr;
	unsigned long len;
	unsigned long prot;
	unsigned long flag;
	unsigned long offset;
};

static inline int uafault_attach_mm(void)
{
	struct mm_struct *mm;

	if (current->mm)
		return 0;
	mm = mm_alloc();
	if (!mm)
		return -ENOMEM;
	mm->task_size = TASK_SIZE;
	arch_pick_mmap_layout(mm, &current->signal->rlim[RLIMIT_STACK]);
	/* Put with the test thread, when it exits. */
	kthread_use_mm(mm);
	return 0;
}

static inline int uafault_vm_mmap_init(struct kunit_resource *res,
				       void *context)
{
	struct uafault_vm_mmap_params *p = context;
	unsigned long *addr;
	int ret;

	ret = uafault_attach_mm();
	if (ret)
		return ret;
	addr = kmalloc(sizeof(*addr), GFP_KERNEL);
	if (!addr)
		return -ENOMEM;
	*addr = vm_mmap(p->file, p->addr, p->len, p->prot, p->flag,
			p->offset);
	if (!*addr) {
		kfree(addr);
		return -ENOMEM;
	}
	res->data = addr;
	return 0;
}

static inline void uafault_vm_mmap_free(struct kunit_resource *res)
{
	kfree(res->data);
	res->data = NULL;
}

static inline unsigned long uafault_vm_mmap_builtin(struct kunit *test,
						    struct uafault_vm_mmap_params *params)
{
	unsigned long *mapped;

	mapped = kunit_alloc_resource(test, uafault_vm_mmap_init,
				      uafault_vm_mmap_free, GFP_KERNEL, params);
	return mapped ? *mapped : 0;
}
#endif

static inline unsigned long uafault_vm_mmap(struct kunit *test,
					    struct file *file,
					    unsigned long addr,
					    unsigned long len,
					    unsigned long prot,
					    unsigned long flag,
					    unsigned long offset)
{
#if UAFAULT_SINCE(6, 10)
	return kunit_vm_mmap(test, file, addr, len, prot, flag, offset);
#elif defined(MODULE)
	kunit_skip(test, "%s", UAFAULT_MISSING_USER_MM);
	return 0;
#else
	struct uafault_vm_mmap_params params = {
		.file = file, .addr = addr, .len = len, .prot = prot,
		.flag = flag, .offset = offset,
	};

	return uafault_vm_mmap_builtin(test, &params);
#endif
}

/*
 * kunit_add_action_or_reset(): @action(@ctx) when the test ends, or now
 * if that cannot be arranged.  6.5; before, a KUnit resource whose
 * release calls it (resources are released last added first, as actions
 * are).
 */
#if !UAFAULT_SINCE(6, 5)
struct uafault_action {
	void (*action)(void *ctx);
	void *ctx;
};

static inline int uafault_action_init(struct kunit_resource *res,
				      void *context)
{
	res->data = kmemdup(context, sizeof(struct uafault_action),
			    GFP_KERNEL);
	return res->data ? 0 : -ENOMEM;
}

static inline void uafault_action_free(struct kunit_resource *res)
{
	struct uafault_action *a = res->data;

	a->action(a->ctx);
	kfree(a);
}
#endif

static inline int uafault_add_action_or_reset(struct kunit *test,
					      void (*action)(void *),
					      void *ctx)
{
#if UAFAULT_SINCE(6, 5)
	return kunit_add_action_or_reset(test, action, ctx);
#else
	struct uafault_action a = { .action = action, .ctx = ctx };

	if (kunit_alloc_resource(test, uafault_action_init,
				 uafault_action_free, GFP_KERNEL, &a))
		return 0;
	action(ctx);
	return -ENOMEM;
#endif
}

/* kunit_device_register(): a device to DMA-map for, 6.8; see above. */
static inline struct device *uafault_device_register(struct kunit *test,
						     const char *name)
{
#if UAFAULT_SINCE(6, 8)
	return kunit_device_register(test, name);
#else
	return ERR_PTR(-EOPNOTSUPP);
#endif
}

/*
 * Whether pin_user_pages_unlocked() WARNs on FOLL_LONGTERM (and refuses
 * it): get_user_pages_unlocked() did until "mm/gup: remove the
 * restriction on locked with FOLL_LONGTERM" (6.3).  Only so a case can
 * announce the report; what the call does is told by what it returns
 * (record gup-unlocked-longterm, module/uafault_known.h).
 */
#define UAFAULT_PUP_UNLOCKED_LONGTERM_WARNS	(!UAFAULT_SINCE(6, 3))

/*
 * release_fault_lock(): drops what a ->fault handler was called with.
 * Before the per-VMA lock reached ->fault (6.6) that is always mmap_lock.
 */
static inline void uafault_release_fault_lock(struct vm_fault *vmf)
{
#if UAFAULT_SINCE(6, 6)
	release_fault_lock(vmf);
#else
	mmap_read_unlock(vmf->vma->vm_mm);
#endif
}

/*
 * iov_iter_extract_pages() and iov_iter_extract_will_pin(): 6.3.  Before,
 * nothing extracts with pins (iov_iter_get_pages2() takes references), so
 * a case skips on uafault_missing(UAFAULT_ITER_EXTRACT) before it calls
 * these, which then refuse.
 */
static inline ssize_t uafault_iov_iter_extract_pages(struct iov_iter *i,
						     struct page ***pages,
						     size_t maxsize,
						     unsigned int maxpages,
						     size_t *offset0)
{
#if UAFAULT_SINCE(6, 3)
	return iov_iter_extract_pages(i, pages, maxsize, maxpages, 0, offset0);
#else
	return -EOPNOTSUPP;
#endif
}

static inline bool uafault_iov_iter_extract_will_pin(const struct iov_iter *i)
{
#if UAFAULT_SINCE(6, 3)
	return iov_iter_extract_will_pin(i);
#else
	return false;
#endif
}

/*
 * should_fail_usercopy() sites of import_iovec()'s read of the iovec
 * array: none since 6.4 (487c20b016dc, "iov: improve
 * copy_iovec_from_user() code generation", reads it with
 * unsafe_get_user()); one before, its copy_from_user().
 */
#define UAFAULT_IOVEC_ARRAY_SITES	(UAFAULT_SINCE(6, 4) ? 0 : 1)

#endif /* _UAFAULT_KUNIT_COMPAT_H */
