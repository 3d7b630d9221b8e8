/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Known kernel deviations and bugs: one record each, keyed by the fix.
 *
 * A case always asserts the documented contract.  Where the kernel it runs
 * on shows a recorded deviation instead (told by the behaviour the case
 * observes, never by a version number), the case reports a known
 * deviation that names the record and its fix: a KUnit case or an agent
 * case ends "ok N NAME # SKIP XFAIL <id>: ..." (UAFAULT_KNOWN_XFAIL).  A
 * case that could have shown the deviation and did not logs
 * "uafault-known-absent: <id>" (UAFAULT_KNOWN_ABSENT): the host reports a
 * record that some case checked and no case showed as fixed in that
 * kernel, with its commit, which is news, never a failure.
 *
 * One definition for every reader: the KUnit suites compile this table,
 * the agent compiles it, and the harness reads it as text
 * (harness/uafault_harness/core/known.py): keep each field one string
 * literal (adjacent literals are joined) and each record in the table's
 * shape.
 *
 * Fields:
 * @id:        stable short name, used in every report
 * @contract:  what the documentation promises (what the case asserts)
 * @deviation: what the kernel does instead
 * @fix:       the upstream commit that fixed it (12 hex digits);
 *             "unconfirmed" for a fix known by its subject only (a
 *             stable release's changelog) whose commit id is not yet
 *             checked; "unfixed"
 * @subject:   that commit's subject (for "unfixed", where it was seen)
 * @probe:     how a run tells: "behaviour: ..." (the cases observe it: one
 *             that checked and did not see it means the fix is in),
 *             "sometimes: ..." (only some fault plans reach it: a pass
 *             says nothing), or "config: ..." where no probe can work
 * @cases:     the cases that check it, space-separated globs:
 *             "kunit:suite.case" (a KUnit case that tells it by what it
 *             observes), "agent:target.fault" (an agent case that does),
 *             or "issue:target.fault" (an agent case expected to fail
 *             so: a known issue of campaigns and guest runs)
 * @kernel:    for agent cases, the guest kernels ("plain", "kasan",
 *             "iommu") it applies to, a glob; "*" for every kernel
 */
#ifndef _UAFAULT_KNOWN_H
#define _UAFAULT_KNOWN_H

/* The directive text after "# SKIP " of a known deviation's result line. */
#define UAFAULT_KNOWN_XFAIL "XFAIL"
/* A case that could have shown a record's deviation and did not. */
#define UAFAULT_KNOWN_ABSENT "uafault-known-absent:"

struct uafault_known {
	const char *id;
	const char *contract;
	const char *deviation;
	const char *fix;
	const char *subject;
	const char *probe;
	const char *cases;
	const char *kernel;
};

enum uafault_known_id {
	UAFAULT_KNOWN_GUP_FAST_ZERO,
	UAFAULT_KNOWN_GUP_FAST_NEGATIVE,
	UAFAULT_KNOWN_UM_GET_USER_PARTIAL,
	UAFAULT_KNOWN_UM_STRNLEN_EFAULT,
	UAFAULT_KNOWN_UM_STRNLEN_COUNT,
	UAFAULT_KNOWN_UM_INT_LENGTH,
	UAFAULT_KNOWN_UM_ACCESS_OK_KERNEL,
	UAFAULT_KNOWN_IOMMUFD_MAP_RESPOND,
	UAFAULT_KNOWN_VIRTIO_IOMMU_UNMAP,
	UAFAULT_KNOWN_VB2_USERPTR_FORCE,
	UAFAULT_KNOWN_GUP_LONGTERM_UFFD,
	UAFAULT_KNOWN_GUP_UNLOCKED_LONGTERM,
	UAFAULT_KNOWN_URING_REGISTER_LEAK,
	UAFAULT_KNOWN_XDP_UMEM_UNACCOUNT,
	UAFAULT_KNOWN_DMA_DEBUG_OVERLAP,
	UAFAULT_KNOWN_NR
};

extern const struct uafault_known uafault_known_records[UAFAULT_KNOWN_NR];

/* Defined once a program: where UAFAULT_KNOWN_TABLE is set before this. */
#ifdef UAFAULT_KNOWN_TABLE
const struct uafault_known uafault_known_records[UAFAULT_KNOWN_NR] = {
	[UAFAULT_KNOWN_GUP_FAST_ZERO] = {
		.id = "gup-fast-zero-pages",
		.contract =
			"get_user_pages_fast() and pin_user_pages_fast() with nr_pages == 0 return 0 and take no page",
		.deviation =
			"GUP-fast takes the first page of a 0-page request into pages[0]: gup_fast_fallback() has no early return for 0 pages and the lockless walk runs until the address wraps or a page cannot be taken",
		.fix = "unconfirmed",
		.subject = "mm/gup: fix out-of-bounds write for nr_pages == 0 in GUP-fast",
		.probe = "behaviour: a 0-page request over a mapped page before a hole returns 1",
		.cases = "kunit:uafault_limits.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_GUP_FAST_NEGATIVE] = {
		.id = "gup-fast-negative-pages",
		.contract =
			"get_user_pages_fast() and pin_user_pages_fast() with a negative nr_pages return 0 (kernel-doc: \"If nr_pages is 0 or negative, returns 0\")",
		.deviation =
			"a negative count fails with -EOVERFLOW or -EFAULT (it became an unsigned long inside gup_fast_fallback()); nothing is pinned",
		.fix = "unfixed",
		.subject =
			"seen in 6.12.117, 6.12.118 (gup_fast_fallback()) and 6.1.192 (internal_get_user_pages_fast(): -EFAULT from access_ok() where the count does not wrap); the kernel-doc still says 0",
		.probe = "behaviour: nr_pages == -1 returns an error",
		.cases = "kunit:uafault_limits.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_UM_GET_USER_PARTIAL] = {
		.id = "um-get-user-partial",
		.contract = "get_user() that faults sets its variable to zero",
		.deviation =
			"asm-generic __get_user() (UML) copies into a temporary and assigns what the partial copy left: the bytes read before the fault",
		.fix = "unfixed",
		.subject = "seen in 6.12, include/asm-generic/uaccess.h on UML",
		.probe =
			"behaviour: after a straddling get_user() fails, the variable holds the bytes before the fault",
		.cases = "kunit:uafault_copy.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_UM_STRNLEN_EFAULT] = {
		.id = "um-strnlen-user-efault",
		.contract =
			"strnlen_user() returns 0 on an exception, an address access_ok() refuses included",
		.deviation =
			"UML's strnlen_user() returns -EFAULT when access_ok() fails: callers that test !len take it for a length",
		.fix = "unfixed",
		.subject = "seen in 6.12, arch/um/kernel/skas/uaccess.c",
		.probe = "behaviour: strnlen_user(TASK_SIZE) returns -EFAULT",
		.cases = "kunit:uafault_string.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_UM_STRNLEN_COUNT] = {
		.id = "um-strnlen-user-count",
		.contract = "strnlen_user() with an invalid count (0 or negative) returns 0",
		.deviation =
			"UML's strnlen_user() walks it: a count of 0 counts one byte, -1 the whole string",
		.fix = "unfixed",
		.subject = "seen in 6.12, arch/um/kernel/skas/uaccess.c",
		.probe = "behaviour: strnlen_user(s, 0) returns 1",
		.cases = "kunit:uafault_limits.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_UM_INT_LENGTH] = {
		.id = "um-buffer-op-int-length",
		.contract =
			"clear_user() and strnlen_user() take a full-width length: U32_MAX + 2 bytes reach the hole and report it",
		.deviation =
			"UML's buffer_op() walks with an int length: U32_MAX + 2 is 1, so clear_user() clears 1 byte and reports all done, strnlen_user() counts 1 byte",
		.fix = "unfixed",
		.subject = "seen in 6.12, arch/um/kernel/skas/uaccess.c",
		.probe = "behaviour: clear_user() of U32_MAX + 2 bytes returns 0",
		.cases = "kunit:uafault_limits.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_UM_ACCESS_OK_KERNEL] = {
		.id = "um-access-ok-kernel-address",
		.contract = "import_ubuf() refuses a kernel address with -EFAULT",
		.deviation =
			"UML's access_ok() takes a kernel address below TASK_SIZE (user memory is another host process, so nothing is reached through it)",
		.fix = "unfixed",
		.subject = "seen in 6.12, arch/um/include/asm/uaccess.h",
		.probe = "behaviour: import_ubuf() of a kmalloc address returns 0",
		.cases = "kunit:uafault_iter.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_IOMMUFD_MAP_RESPOND] = {
		.id = "iommufd-ioas-map-respond",
		.contract =
			"an ioctl that fails leaves nothing behind: IOMMU_IOAS_MAP that returns -EFAULT has no mapping and no pins",
		.deviation =
			"IOMMU_IOAS_MAP returns -EFAULT when copying its reply out fails (iommufd_ucmd_respond) but keeps the mapping and its long-term pins; without FIXED_IOVA the caller never learns the IOVA (configs/repro/kernel/iommufd_map_respond.toml)",
		.fix = "unfixed",
		.subject =
			"found by uafault on 6.12, drivers/iommu/iommufd/ioas.c iommufd_ioas_map()",
		.probe =
			"sometimes: the [pins] and [result] oracles under fail_nth (not every plan reaches the reply's copy)",
		.cases =
			"issue:path_iommufd_ioas_map.fail_nth issue:path_iommufd_access_pages.fail_nth",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_VIRTIO_IOMMU_UNMAP] = {
		.id = "virtio-iommu-unmap-atomic",
		.contract =
			"iommu_unmap() of a mapped range unmaps it all or reports how much it did, and the IOVA is reused only once the device can no longer reach the old pages",
		.deviation =
			"viommu_unmap_pages() drops the range from its tree, then queues the UNMAP request with a GFP_ATOMIC allocation; when that fails it returns 0 and __iommu_dma_unmap() WARNs and frees the IOVA while the device's mapping of the old pages stays (configs/repro/kernel/virtio_iommu_unmap.toml)",
		.fix = "unfixed",
		.subject =
			"found by uafault on 6.12, drivers/iommu/virtio-iommu.c viommu_unmap_pages()",
		.probe =
			"sometimes: a WARNING in __iommu_dma_unmap under fail_nth (only plans that fail that allocation)",
		.cases = "issue:*dma*.fail_nth issue:path_dio_*_virtio_blk.fail_nth",
		.kernel = "iommu",
	},
	[UAFAULT_KNOWN_VB2_USERPTR_FORCE] = {
		.id = "vb2-userptr-foll-force",
		.contract =
			"a USERPTR capture buffer the process cannot write (a PROT_NONE or read-only mapping) is refused with -EFAULT",
		.deviation =
			"get_vaddr_frames() pins the buffer with FOLL_FORCE | FOLL_WRITE: vb2 takes a PROT_NONE or read-only mapping and the device writes into it (into a private copy of a read-only file's page)",
		.fix = "cb78a634f3f7",
		.subject = "mm/frame-vector: remove FOLL_FORCE usage",
		.probe =
			"behaviour: VIDIOC_QBUF of a PROT_NONE or read-only USERPTR buffer succeeds",
		.cases =
			"issue:path_v4l2_userptr_vivid.prot_none issue:path_v4l2_userptr_vivid.read_only",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_GUP_LONGTERM_UFFD] = {
		.id = "gup-longterm-uffd-sigbus",
		.contract =
			"a pin that may fault waits for the userfaultfd handler of a missing page, as a user access does, and stops only at the first hole",
		.deviation =
			"a FOLL_LONGTERM pin faults without FAULT_FLAG_ALLOW_RETRY (its slow path has no locked pointer), so handle_userfault() answers VM_FAULT_SIGBUS: the pin stops with -EFAULT at a page the handler would have filled",
		.fix = "53b2d09bdd12",
		.subject = "mm/gup: remove the restriction on locked with FOLL_LONGTERM",
		.probe =
			"behaviour: a pinning target that is not NOWAIT never faults on the userfaultfd page and stops at it",
		.cases = "agent:*.uffd_munmap agent:*.uffd_mprotect",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_GUP_UNLOCKED_LONGTERM] = {
		.id = "gup-unlocked-longterm",
		.contract =
			"pin_user_pages_unlocked() with FOLL_LONGTERM pins up to the first page that faults, as pin_user_pages() does",
		.deviation =
			"get_user_pages_unlocked(), which pin_user_pages_unlocked() calls, refuses FOLL_LONGTERM with WARN_ON_ONCE() and -EINVAL (its FIXME: FOLL_LONGTERM incompatible with FAULT_FLAG_ALLOW_RETRY); nothing is pinned",
		.fix = "53b2d09bdd12",
		.subject = "mm/gup: remove the restriction on locked with FOLL_LONGTERM",
		.probe =
			"behaviour: pin_user_pages_unlocked(FOLL_LONGTERM) returns -EINVAL",
		.cases = "kunit:uafault_gup.*",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_URING_REGISTER_LEAK] = {
		.id = "io-uring-buffer-register-leak",
		.contract = "IORING_REGISTER_BUFFERS that fails leaves no page pinned",
		.deviation =
			"io_sqe_buffer_register() frees its page array but does not unpin the pages when the kvmalloc() of the buffer's bvec table fails (its goto done skips unpin_user_pages()): the registration fails with -ENOMEM and the pins leak",
		.fix = "e1c75831f682",
		.subject = "io_uring: fix potential page leak in io_sqe_buffer_register()",
		.probe =
			"behaviour: fail_nth steps through every allocation of the registration; the one at the bvec table leaves the pin balance up",
		.cases =
			"issue:path_io_uring_read_fixed.fail_nth issue:path_io_uring_write_fixed.fail_nth",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_XDP_UMEM_UNACCOUNT] = {
		.id = "xdp-umem-partial-pin-unaccount",
		.contract =
			"a registration that fails leaves nothing charged: XDP_UMEM_REG that fails gives back every page it charged to RLIMIT_MEMLOCK",
		.deviation =
			"xdp_umem_reg() charges umem->npgs pages to the user's locked_vm, then xdp_umem_pin_pages() on a partial pin sets umem->npgs to the pages it pinned before failing with -ENOMEM, so xdp_umem_unaccount_pages() takes back only those: the rest stays charged to the uid (only a caller without CAP_IPC_LOCK is charged; configs/repro/kernel/xdp_umem_partial_pin.toml, and its .c)",
		.fix = "unfixed",
		.subject =
			"found by uafault on 6.12 (net/xdp/xdp_umem.c); the host's 6.18 shows it too",
		.probe =
			"sometimes: the [accounting] oracle of the user caller (--caller user), on a plan whose fault is past the first page",
		.cases =
			"issue:path_xdp_umem_reg.unmapped issue:path_xdp_umem_reg.prot_none issue:path_xdp_umem_reg.read_only",
		.kernel = "*",
	},
	[UAFAULT_KNOWN_DMA_DEBUG_OVERLAP] = {
		.id = "dma-debug-cacheline-overlap",
		.contract =
			"CONFIG_DMA_API_DEBUG reports overlapping DMA mappings only where they can corrupt data: on a platform whose DMA needs cache maintenance",
		.deviation =
			"on cache-coherent x86_64 add_dma_entry() WARNs \"cacheline tracking EEXIST, overlapping mappings aren't supported\" whenever two live mappings share a cacheline, e.g. a DMA read into a range whose virtual pages are one page (memory kind page_twice): no bug of the driver, which cannot see the aliasing",
		.fix = "3d48c9fd78dd",
		.subject =
			"dma-debug: suppress cacheline overlap warning when arch has no DMA alignment requirement",
		.probe =
			"sometimes: a DMA read into a range that maps one page twice (page_twice), on a kernel with CONFIG_DMA_API_DEBUG",
		.cases = "report:*cacheline?tracking?EEXIST,?overlapping?mappings*",
		.kernel = "*",
	},
};
#endif /* UAFAULT_KNOWN_TABLE */

#endif /* _UAFAULT_KNOWN_H */
