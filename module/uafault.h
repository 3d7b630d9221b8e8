/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * uafault ioctl ABI: the one definition shared by uafault.ko and the
 * in-guest agent (harness/agent), in the spirit of mm/gup_test.h.
 *
 * /dev/uafault lists the registered targets (small functions that take a
 * user pointer and a length the way driver code does) and runs one of them
 * on a range the caller prepared, returning what the kernel saw.
 */
#ifndef _UAPI_UAFAULT_H
#define _UAPI_UAFAULT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UAFAULT_ABI_VERSION	1
#define UAFAULT_DEVICE		"/dev/uafault"

/* Longest target name, with its NUL. */
#define UAFAULT_NAME_LEN	48
/* Largest range a target accepts: 64 pages of 4 KiB. */
#define UAFAULT_MAX_LEN		(64UL * 4096)

/* struct uafault_version.flags */
#define UAFAULT_MOD_ALLOW_CRASH	(1U << 0)	/* loaded with allow_crash=1 */

/* struct uafault_target_info.flags: what a target does to the range. */
#define UAFAULT_TF_READ		(1U << 0)	/* reads it (csum: bytes read) */
#define UAFAULT_TF_WRITE	(1U << 1)	/* writes uafault_fill() bytes */
#define UAFAULT_TF_PIN		(1U << 2)	/* pins its pages */
#define UAFAULT_TF_STRING	(1U << 3)	/* stops at a NUL */
#define UAFAULT_TF_CRASH	(1U << 4)	/* oopses on purpose (SMAP) */
#define UAFAULT_TF_ALL		((1U << 5) - 1)

/**
 * struct uafault_version - answer of %UAFAULT_IOC_VERSION
 * @abi: %UAFAULT_ABI_VERSION of the loaded module
 * @ntargets: targets registered at the time of the call
 * @flags: %UAFAULT_MOD_* bits
 * @reserved: zero
 */
struct uafault_version {
	__u32 abi;
	__u32 ntargets;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct uafault_target_info - argument of %UAFAULT_IOC_TARGET
 * @index: in: 0 to ntargets - 1, in registration order
 * @flags: out: %UAFAULT_TF_* bits
 * @name: out: the target's name, NUL-terminated
 * @owner: out: name of the module that registered it, NUL-terminated
 */
struct uafault_target_info {
	__u32 index;
	__u32 flags;
	char name[UAFAULT_NAME_LEN];
	char owner[UAFAULT_NAME_LEN];
};

/**
 * struct uafault_run - argument of %UAFAULT_IOC_RUN
 * @name: in: target name, NUL-terminated
 * @addr: in: first byte of the user range
 * @len: in: bytes in the range, at most %UAFAULT_MAX_LEN
 * @seed: in: seed of the bytes a writing target stores (uafault_fill())
 * @flags: in: zero (no run flags yet)
 * @ret: out: 0, or the negative errno the user-access API returned
 * @done: out: bytes the API reported done (copied, cleared, string
 *	  length, bytes pinned)
 * @pinned: out: pages pinned (pinning targets)
 * @csum: out: uafault_csum() of the @done bytes the kernel read or wrote
 * @ns: out: time spent in the API call, in nanoseconds
 *
 * The ioctl itself fails (-1 and errno) only for a bad argument: unknown
 * target (%ENOENT), a crashing target without allow_crash (%EPERM), bad
 * @len, @flags or reserved fields (%EINVAL), an unreadable argument
 * (%EFAULT).  Faults in the user range are results, reported in @ret.
 */
struct uafault_run {
	char name[UAFAULT_NAME_LEN];
	__u64 addr;
	__u64 len;
	__u32 seed;
	__u32 flags;
	__s64 ret;
	__u64 done;
	__u64 pinned;
	__u64 csum;
	__u64 ns;
};

#define UAFAULT_IOC_MAGIC	'U'
#define UAFAULT_IOC_VERSION	_IOR(UAFAULT_IOC_MAGIC, 0, struct uafault_version)
#define UAFAULT_IOC_TARGET	_IOWR(UAFAULT_IOC_MAGIC, 1, struct uafault_target_info)
#define UAFAULT_IOC_RUN		_IOWR(UAFAULT_IOC_MAGIC, 2, struct uafault_run)

/*
 * The byte a writing target stores at offset @i of the range, and the
 * checksum of what a target read or wrote: defined here once so the
 * module and the agent cannot disagree.
 */
static inline __u8 uafault_fill(__u32 seed, __u64 i)
{
	return (__u8)((i * 31 + seed) % 251 + 1);
}

/* FNV-1a, 64 bit; start with UAFAULT_CSUM_INIT. */
#define UAFAULT_CSUM_INIT	0xcbf29ce484222325ULL

static inline __u64 uafault_csum(__u64 hash, const void *buf, __u64 len)
{
	const __u8 *p = (const __u8 *)buf;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

#endif /* _UAPI_UAFAULT_H */
