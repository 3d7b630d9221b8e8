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

/*
 * 8: struct uafault_target_info grew @changed_err; the ABI-7 size of
 * %UAFAULT_IOC_TARGET (%UAFAULT_IOC_TARGET_V7) is still answered.
 * 9: struct uafault_run takes %UAFAULT_RUN_WRITEBACK in @flags; a run
 * without it is what it was.
 */
#define UAFAULT_ABI_VERSION	9
#define UAFAULT_DEVICE		"/dev/uafault"

/* Longest target name, with its NUL. */
#define UAFAULT_NAME_LEN	48
/* Largest range a target accepts: 64 pages of 4 KiB. */
#define UAFAULT_MAX_LEN		(64UL * 4096)
/*
 * Largest mmap() of /dev/uafault: pages of the module's own, mapped
 * VM_PFNMAP | VM_IO (MAP_SHARED, offset 0), which GUP refuses.
 */
#define UAFAULT_MMAP_MAX_LEN	(2 * UAFAULT_MAX_LEN)

/* struct uafault_version.flags */
#define UAFAULT_MOD_ALLOW_CRASH	(1U << 0)	/* loaded with allow_crash=1 */

/* struct uafault_target_info.flags: what a target does to the range. */
#define UAFAULT_TF_READ		(1U << 0)	/* reads it (csum: bytes read) */
#define UAFAULT_TF_WRITE	(1U << 1)	/* writes uafault_fill() bytes or 0 */
#define UAFAULT_TF_PIN		(1U << 2)	/* pins its pages */
#define UAFAULT_TF_STRING	(1U << 3)	/* stops at a NUL */
#define UAFAULT_TF_CRASH	(1U << 4)	/* oopses on purpose (SMAP) */
/*
 * Calls GUP with mmap_lock held and no way to drop it, so a page that
 * userfaultfd would have to supply is a fault (-EFAULT), never a wait.
 */
#define UAFAULT_TF_NOWAIT	(1U << 5)
/*
 * Keeps pages for its device past the call, as a driver keeps a buffer it
 * set up: %UAFAULT_IOC_PIN can hold the range through the target.
 */
#define UAFAULT_TF_HOLD		(1U << 6)
/*
 * Its run pins with FOLL_LONGTERM (with FOLL_WRITE too when it writes the
 * range): GUP refuses a long-term write pin of a file mapping that needs
 * dirty tracking (ext4, not shmem), so on such memory it gets no page at
 * all.  What a %UAFAULT_TF_HOLD target keeps is long-term whatever this
 * says, and is refused the same way (-%EFAULT, nothing held): say it only
 * when run() pins long-term too.
 */
#define UAFAULT_TF_LONGTERM	(1U << 7)
/*
 * Maps the pinned pages for its device to write (%DMA_FROM_DEVICE) and
 * refuses, with -%EBUSY and nothing done, a run whose pinned pages hold
 * one page twice (one shared page mapped at two pages of the range):
 * overlapping such mappings are not supported (kernel/dma/debug.c,
 * add_dma_entry(): "cacheline tracking EEXIST, overlapping mappings
 * aren't supported"), and the device's two writes would race for it.
 */
#define UAFAULT_TF_UNIQUE_PAGES	(1U << 8)
#define UAFAULT_TF_ALL		((1U << 9) - 1)

/* The block size a %UAFAULT_RES_DIO range must be aligned to. */
#define UAFAULT_DIO_ALIGN	512

/* Size of the kernel struct a %UAFAULT_RES_STRUCT target copies into. */
#define UAFAULT_STRUCT_KSIZE	64

/**
 * enum uafault_result - what a target's @done and @ret mean
 * @UAFAULT_RES_COPY: bytes copied, up to the first byte that faults; the
 *	copy may stop short of the fault as raw_copy_{from,to}_user() may,
 *	but not at 0 when bytes were reachable; @ret -%EFAULT when short
 * @UAFAULT_RES_PAGES: the bytes of the range in the whole pages before
 *	the first page that faults (GUP); @ret -%EFAULT when short
 * @UAFAULT_RES_ALL: all or nothing: @done is the whole range, or 0 with
 *	@ret -%EFAULT (driver code that fails a short copy)
 * @UAFAULT_RES_STRLEN: strncpy_from_user() with count = len: the string
 *	length, or len when no NUL is within it; @ret -%EFAULT on a fault
 *	before the NUL
 * @UAFAULT_RES_STRSIZE: strnlen_user() with count = len: the length with
 *	its NUL, len + 1 when no NUL is within it; @ret -%EFAULT for 0
 * @UAFAULT_RES_ZEROED: check_zeroed_user(): @done is len when the range
 *	is all zero, 0 when it is not
 * @UAFAULT_RES_STRUCT: copy_struct_from_user() into
 *	%UAFAULT_STRUCT_KSIZE bytes: min(ksize, len) on success, @ret
 *	-%E2BIG for a non-zero byte past ksize
 * @UAFAULT_RES_STRBUF: strncpy_from_user() with count = len into a
 *	zeroed kernel buffer of len bytes, the way a key or a name is
 *	copied in: @done and @ret as %UAFAULT_RES_STRLEN; on success @csum
 *	covers the whole buffer, so every byte after the NUL must be zero
 * @UAFAULT_RES_HEADER: a message that starts with its own length, a
 *	little-endian u32 (the caller writes len there): -%EINVAL when len
 *	is under 4 or the header disagrees with len, else as
 *	%UAFAULT_RES_ALL.  A target that finds the header changed between
 *	two fetches of it fails with -%EINVAL
 * @UAFAULT_RES_CHUNKS: bytes moved in whole chunks of PAGE_SIZE counted
 *	from the start of the range, the way a pipe's buffers fill and
 *	drain: every chunk before the one that faults; @ret -%EFAULT when
 *	short (the agent's pipe paths)
 * @UAFAULT_RES_DIO: direct I/O on a block device: -%EINVAL, nothing
 *	done, unless the range's address and length are multiples of
 *	%UAFAULT_DIO_ALIGN (the logical block size); else as
 *	%UAFAULT_RES_PAGES (the pinned pages before the fault, which are
 *	whole blocks then)
 * @UAFAULT_RES_MAX: number of kinds
 */
enum uafault_result {
	UAFAULT_RES_COPY,
	UAFAULT_RES_PAGES,
	UAFAULT_RES_ALL,
	UAFAULT_RES_STRLEN,
	UAFAULT_RES_STRSIZE,
	UAFAULT_RES_ZEROED,
	UAFAULT_RES_STRUCT,
	UAFAULT_RES_STRBUF,
	UAFAULT_RES_HEADER,
	UAFAULT_RES_CHUNKS,
	UAFAULT_RES_DIO,
	UAFAULT_RES_MAX,
};

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
 * @result: out: &enum uafault_result, how to read a run's outcome
 * @fixed_len: out: the one length the target accepts, or 0 for any
 * @min_len: out: the shortest range the target takes; a shorter one it
 *	     refuses with -%EINVAL before touching it (0: any)
 * @changed_err: out: 0, or the negative errno the target reports, with
 *		 nothing done, for a range whose bytes changed between two
 *		 of its fetches of them: it reads the range twice and refuses
 *		 a change rather than trust either fetch (the safe way to
 *		 live with a double fetch).  The racing fault kinds take it
 *		 as a right outcome when the bytes changed during the call,
 *		 and only then.  Added in ABI 8: %UAFAULT_IOC_TARGET_V7
 *		 answers the struct without it.
 */
struct uafault_target_info {
	__u32 index;
	__u32 flags;
	char name[UAFAULT_NAME_LEN];
	char owner[UAFAULT_NAME_LEN];
	__u32 result;
	__u32 fixed_len;
	__u32 min_len;
	__s32 changed_err;
};

/* The size of struct uafault_target_info in ABI 7, up to @min_len. */
#define UAFAULT_TARGET_INFO_SIZE_V7	116

/*
 * struct uafault_run.flags.  %UAFAULT_RUN_WRITEBACK: a writeback window.
 * Each uafault_pin_all() the target makes during the run, once it has
 * pinned every page, writes back the file pages under the pinned range
 * and waits for them before it returns: the pages come back clean, as the
 * flusher leaves them when it runs between a driver's pin and its
 * device's write.  A driver that marked its pages dirty only before the
 * write loses what the device wrote.  Without a window opened (the target
 * never called uafault_pin_all(), or it pinned no whole range) the ioctl
 * fails with %ENODATA, and with the writeback's error when that failed;
 * the target ran either way.  (ABI 9.)
 */
#define UAFAULT_RUN_WRITEBACK	(1U << 0)
#define UAFAULT_RUN_ALL		((1U << 1) - 1)

/**
 * struct uafault_run - argument of %UAFAULT_IOC_RUN
 * @name: in: target name, NUL-terminated
 * @addr: in: first byte of the user range
 * @len: in: bytes in the range, at most %UAFAULT_MAX_LEN
 * @seed: in: seed of the bytes a writing target stores (uafault_fill())
 * @flags: in: %UAFAULT_RUN_* bits (ABI 9; zero before)
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
 * (%EFAULT); and with %UAFAULT_RUN_WRITEBACK as that says.  Faults in
 * the user range are results, reported in @ret.
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

/* struct uafault_pin.flags */
#define UAFAULT_PIN_WRITE	(1U << 0)	/* FOLL_WRITE */
#define UAFAULT_PIN_LONGTERM	(1U << 1)	/* FOLL_LONGTERM */
#define UAFAULT_PIN_ALL		((1U << 2) - 1)

/**
 * struct uafault_pin - argument of %UAFAULT_IOC_PIN and %UAFAULT_IOC_PIN_READ
 * @target: in (PIN): empty for uafault's own pin_user_pages_fast() as
 *	    @flags say, or the name of a %UAFAULT_TF_HOLD target whose own
 *	    hold() takes the pages (then @flags must be 0); NUL-terminated
 * @addr: in (PIN): first byte of the user range
 * @len: in (PIN): bytes in the range, 1 to %UAFAULT_MAX_LEN
 * @flags: in (PIN): %UAFAULT_PIN_* bits
 * @reserved: in (PIN): zero
 * @ret: out (PIN): 0 when every page the range touches is now held;
 *	 pin_user_pages_fast()'s negative errno, or -%EFAULT when it pinned
 *	 fewer pages (those are released at once and nothing is held)
 * @pinned: out: pages held
 * @csum: out: uafault_csum() of the range as the held pages hold it
 *	  now, read through the kernel's mapping of those pages
 * @kaddr: out: the kernel's (direct-map) address of the first byte of
 *	   the range, in the first held page: a kernel address whose bytes
 *	   the caller can see, to pass as a "user" pointer that every
 *	   target must refuse (a test device, mode 0600, so this kernel
 *	   pointer goes to root only)
 *
 * A pin held across system calls, like mm/gup_test.c's
 * PIN_LONGTERM_TEST_*: %UAFAULT_IOC_PIN takes it (one per open file,
 * %EBUSY for a second), %UAFAULT_IOC_PIN_READ reads the held pages again
 * after the process forked, wrote or dropped its mapping, and
 * %UAFAULT_IOC_UNPIN (or closing the file) releases it.  READ and UNPIN
 * without a held pin fail with %ENOENT; bad @len, @flags or @reserved
 * with %EINVAL; an unknown @target with %ENOENT, one without
 * %UAFAULT_TF_HOLD with %EINVAL.
 */
struct uafault_pin {
	char target[UAFAULT_NAME_LEN];
	__u64 addr;
	__u64 len;
	__u32 flags;
	__u32 reserved;
	__s64 ret;
	__u64 pinned;
	__u64 csum;
	__u64 kaddr;
};

/* Most bytes a trap rewrites. */
#define UAFAULT_TRAP_MAX_LEN	8

/**
 * struct uafault_trap - argument of %UAFAULT_IOC_TRAP and %UAFAULT_IOC_UNTRAP
 * @addr: in (TRAP): first user byte the trap rewrites
 * @len: in (TRAP): bytes it rewrites, 1 to %UAFAULT_TRAP_MAX_LEN, all in
 *	 the page of @addr
 * @nth: in (TRAP): the kernel access to the last of those bytes after
 *	 which they are rewritten, counted from 1
 * @bytes: in (TRAP): what the @len bytes become
 * @hits: out (UNTRAP): kernel accesses to the last byte while armed
 * @fired: out (UNTRAP): 1 when the bytes were rewritten, else 0
 *
 * A user range that changes under the kernel at a moment the caller
 * chooses, the same on any load: the deterministic double fetch (a TOCTOU
 * of user memory).  %UAFAULT_IOC_TRAP pins the page (long-term, so it
 * leaves ZONE_MOVABLE first) and arms a data breakpoint, for the calling
 * task and for kernel-mode accesses only, on the last byte of the range;
 * right after the kernel's @nth access to it (a load of a header, a copy
 * through it) the breakpoint's handler writes @bytes through the page's
 * kernel mapping, so a second fetch of the range sees them.  Any system
 * call the task makes while armed counts.  %UAFAULT_IOC_UNTRAP disarms,
 * unpins and reports.  The ioctl fails with %EINVAL for a bad @len, @nth
 * or range, %EBUSY when the file has a trap armed already, %ENOENT
 * (UNTRAP) when it has none, %EFAULT when the page cannot be pinned for
 * writing, and with the error of register_user_hw_breakpoint() (%ENOSPC:
 * no debug register free; %EOPNOTSUPP: no hardware breakpoints).
 */
struct uafault_trap {
	__u64 addr;
	__u32 len;
	__u32 nth;
	__u8 bytes[UAFAULT_TRAP_MAX_LEN];
	__u32 hits;
	__u32 fired;
};

/* Most pages one %UAFAULT_IOC_PAGE_REFS looks at. */
#define UAFAULT_REFS_MAX_PAGES	64

/* struct uafault_page_ref.flags */
#define UAFAULT_REF_LRU		(1U << 0)	/* on an LRU list: no CPU batch holds it */
#define UAFAULT_REF_LARGE	(1U << 1)	/* part of a large folio */

/**
 * struct uafault_page_ref - one page as %UAFAULT_IOC_PAGE_REFS sees it
 * @pfn: its page frame number; 0 when nothing is mapped there that
 *	 GUP-fast would take (not present, %PROT_NONE, a special mapping)
 * @extra: the folio's references beyond its mappings and its pins:
 *	   folio_ref_count() - folio_mapcount() - what @pins account for,
 *	   less the ioctl's own
 * @pins: FOLL_PIN pins on the folio (the pin counters see those; on a
 *	  small folio the nearest multiple of its references' pin bias)
 * @flags: %UAFAULT_REF_* bits
 * @reserved: zero
 */
struct uafault_page_ref {
	__u64 pfn;
	__s32 extra;
	__u32 pins;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct uafault_pin_balance - argument of %UAFAULT_IOC_PIN_BALANCE
 * @acquired: out: FOLL_PIN pins taken since boot (nr_foll_pin_acquired)
 * @released: out: FOLL_PIN pins released since boot (nr_foll_pin_released)
 *
 * Exact whenever no pin is taken or released meanwhile: each node's
 * counter plus every CPU's diff not yet folded into it, which /proc/vmstat
 * shows only after a write to /proc/sys/vm/stat_refresh (a work item on
 * every CPU, milliseconds under emulation).  The pin oracle compares
 * @acquired - @released before and after a case.
 */
struct uafault_pin_balance {
	__s64 acquired;
	__s64 released;
};

/**
 * struct uafault_page_refs - argument of %UAFAULT_IOC_PAGE_REFS
 * @addr: in: first user address, page-aligned
 * @npages: in: pages to look at, 1 to %UAFAULT_REFS_MAX_PAGES
 * @reserved: in: zero
 * @refs: in: user pointer to @npages struct uafault_page_ref, filled in
 *
 * What the page-reference oracle compares before and after a call: a
 * get_user_pages() user (FOLL_GET: invisible to the pin counters) that
 * keeps a reference leaves @extra higher, one that drops a reference it
 * never took leaves it lower; a pin kept shows in @pins, not @extra.  The ioctl takes the pages with
 * get_user_pages_fast_only(), which never faults one in, so looking
 * changes nothing.  A folio a CPU's LRU batch holds has one reference
 * more until the batch drains: compare only pages with %UAFAULT_REF_LRU.
 * Fails with %EINVAL for a bad @addr, @npages or @reserved and %EFAULT
 * when @refs cannot be written.
 */
struct uafault_page_refs {
	__u64 addr;
	__u32 npages;
	__u32 reserved;
	__u64 refs;
};

#define UAFAULT_IOC_MAGIC	'U'
#define UAFAULT_IOC_VERSION	_IOR(UAFAULT_IOC_MAGIC, 0, struct uafault_version)
#define UAFAULT_IOC_TARGET	_IOWR(UAFAULT_IOC_MAGIC, 1, struct uafault_target_info)
/* %UAFAULT_IOC_TARGET as ABI 7 encoded it: fills the struct up to @min_len. */
#define UAFAULT_IOC_TARGET_V7	_IOC(_IOC_READ | _IOC_WRITE, UAFAULT_IOC_MAGIC, 1, \
				     UAFAULT_TARGET_INFO_SIZE_V7)
#define UAFAULT_IOC_RUN		_IOWR(UAFAULT_IOC_MAGIC, 2, struct uafault_run)
#define UAFAULT_IOC_PIN		_IOWR(UAFAULT_IOC_MAGIC, 3, struct uafault_pin)
#define UAFAULT_IOC_PIN_READ	_IOWR(UAFAULT_IOC_MAGIC, 4, struct uafault_pin)
#define UAFAULT_IOC_UNPIN	_IO(UAFAULT_IOC_MAGIC, 5)
#define UAFAULT_IOC_TRAP	_IOW(UAFAULT_IOC_MAGIC, 6, struct uafault_trap)
#define UAFAULT_IOC_UNTRAP	_IOR(UAFAULT_IOC_MAGIC, 7, struct uafault_trap)
#define UAFAULT_IOC_PAGE_REFS	_IOW(UAFAULT_IOC_MAGIC, 8, struct uafault_page_refs)
#define UAFAULT_IOC_PIN_BALANCE	_IOR(UAFAULT_IOC_MAGIC, 9, struct uafault_pin_balance)

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
