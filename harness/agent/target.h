/* SPDX-License-Identifier: GPL-2.0 */
/* A target: the module's (UAFAULT_IOC_TARGET), or a real kernel path. */
#ifndef UAFAULT_TARGET_H
#define UAFAULT_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "../../module/uafault.h"

struct kpath;
struct kpath_state;

/*
 * What a path's contract adds to its result kind: a range whose address
 * or length is not a multiple of @addr_align or @len_align, or shorter
 * than @min_len, is refused whole (-EINVAL) before anything is touched
 * (direct I/O's block size, iommufd's IO page, AF_XDP's chunk, a v4l2
 * frame); an all-or-nothing pin that got
 * some whole pages before the fault fails with -@partial_err instead of
 * -EFAULT (xdp_umem_pin_pages()'s -ENOMEM); a range pinned for writing
 * stops at a read-only page even when the call only reads it (io_uring
 * registers every buffer writable); a call that reads the range twice and
 * refuses bytes that changed in between reports @changed_err (negative,
 * as a run's ret), nothing done, which the racing kinds accept when the
 * bytes did change during the call (UAFAULT_IOC_TARGET's changed_err).
 */
struct contract {
	unsigned int addr_align, len_align;	/* 0: any */
	size_t min_len;		/* shorter is refused whole too (a frame) */
	int partial_err;			/* 0: EFAULT */
	int changed_err;	/* 0: it never refuses a changed range */
	bool write_pin;	/* pins with FOLL_WRITE even to read the range */
};

/* A target as UAFAULT_IOC_TARGET describes it, or a path (paths.c). */
struct target {
	char name[UAFAULT_NAME_LEN];
	char owner[UAFAULT_NAME_LEN];
	unsigned int flags;		/* UAFAULT_TF_* */
	enum uafault_result result;
	size_t fixed_len;
	const struct kpath *path;	/* NULL: the module's, run by ioctl */
	struct kpath_state *state;	/* the path's, open for the run */
	bool opaque;		/* its bytes are a device's own: no data oracle */
	bool held;		/* a path with a held phase (kpath.held) */
	unsigned int changes;	/* what it allows while held (kpath.changes) */
	struct contract contract;	/* a path's; a module target's min_len */
};

static inline bool target_crashes(const struct target *t)
{
	return t->flags & UAFAULT_TF_CRASH;
}

/*
 * Whether @t keeps the range held long-term past a point a kind can run
 * at: a module target that keeps pages for its device (UAFAULT_IOC_PIN
 * through it), or a path whose call holds its long-term pins for a while
 * (its held phase, paths.h).
 */
static inline bool target_holds(const struct target *t)
{
	return t->flags & UAFAULT_TF_HOLD || t->held;
}

#endif
