// SPDX-License-Identifier: GPL-2.0
/*
 * Memory kinds: what backs a case's range.  Real user buffers are not
 * only private anonymous memory: they are shared memory, page cache under
 * a private mapping, huge pages and pages never touched, and GUP treats
 * each differently (a read-only long-term pin of a page-cache page in a
 * private mapping is unshared into an anonymous copy first, the zero page
 * is never pinned, a huge page is pinned as one folio).  A kind maps the
 * range, puts the case's bytes in it the way that memory gets them, and
 * proves by /proc/self/pagemap and /proc/kpageflags, page by page, that
 * the memory is what it says before any fault is planted: a kind whose
 * precondition does not hold is a set-up failure, never a silent pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "agent.h"
#include "memory.h"
#include "plan.h"
#include "protocol.h"
#include "sys.h"
#include "umem.h"

#define TMPFS_DIR	"/tmp/uafault-tmpfs"
#define EXT4_DIR	"/tmp/uafault-ext4"
#define EXT4_MAGIC	0xEF53
#define BIT(n)		(1ULL << (n))
#define PFN_MASK	((1ULL << 55) - 1)	/* of a pagemap entry */

static int memfd_open(size_t len)
{
	int fd = memfd_create("uafault-range", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * A file of its own, unlinked at once, on a tmpfs the agent mounts at
 * @dir with @opts once per boot (a mount point is another device).
 */
static int unlinked_tmpfs_file(const char *dir, const char *fsname,
			       const char *opts)
{
	struct stat at, tmp;
	char name[96];
	int fd;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (stat(dir, &at) || stat("/tmp", &tmp))
		return -errno;
	if (at.st_dev == tmp.st_dev && mount(fsname, dir, "tmpfs", 0, opts))
		return -errno;
	snprintf(name, sizeof(name), "%s/range-%d", dir, getpid());
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(name);
	return fd;
}

/* A file of its own on the agent's tmpfs. */
static int tmpfs_open(size_t len)
{
	int fd = unlinked_tmpfs_file(TMPFS_DIR, "uafault", "size=16m");

	if (fd >= 0 && ftruncate(fd, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* /dev/uafault, whose mmap gives pages of the module's own (VM_PFNMAP). */
static int device_open(size_t len)
{
	int fd;

	if (len > UAFAULT_MMAP_MAX_LEN)
		return -E2BIG;
	fd = open("/dev/uafault", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The kB of smaps @field ("AnonHugePages:") of the VMA at @addr, or -1. */
long smaps_kb(const void *addr, const char *field)
{
	unsigned long lo, hi, at = (unsigned long)addr;
	size_t n = strlen(field);
	bool in = false;
	char line[512];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (kb < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo <= at && at < hi;
		else if (in && !strncmp(line, field, n))
			kb = strtol(line + n, NULL, 10);
	}
	fclose(f);
	return kb;
}

/*
 * Pages of @m's first @npages that are swapped out.  Anonymous memory
 * keeps a swap entry in its page table, which pagemap shows page by
 * page; a shmem page leaves only a hole there (its swap entry is in the
 * file's page cache), so for shmem every page must be absent from the
 * page table and smaps must count the VMA's swap.
 */
unsigned int memory_swapped(const struct umem *m, size_t npages)
{
	const struct memory_kind *mk = m->plan.memory;
	unsigned long absent = 0, swapped = 0, counted;
	uint64_t entry[MAX_PAGES];
	long kb;
	size_t i;

	if (npages > MAX_PAGES || !read_pagemap(m->base, npages, entry))
		return 0;
	for (i = 0; i < npages; i++) {
		absent += !(entry[i] >> 63 & 1);
		swapped += !(entry[i] >> 63 & 1) && (entry[i] >> 62 & 1);
	}
	if (!mk || !mk->shmem)
		return swapped;
	kb = smaps_kb(m->base, "Swap:");
	counted = kb < 0 ? 0 : kb * 1024 / PAGE;
	return counted < absent ? counted : absent;
}

/* Whether the VMA at @addr has VM_PFNMAP and VM_IO (smaps "pf", "io"). */
static bool vma_is_pfnmap(const void *addr)
{
	unsigned long lo, hi, at = (unsigned long)addr;
	bool in = false, found = false;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo <= at && at < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			found = strstr(line, " pf") && strstr(line, " io");
	}
	fclose(f);
	return found;
}

/*
 * A file of its own on the ext4 disk, mounted once, unlinked at once;
 * statfs proves the file system is ext4.
 */
static int ext4_open(size_t len)
{
	struct statfs st;
	char dev[300], name[64];
	int fd, err;

	if (mkdir(EXT4_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (statfs(EXT4_DIR, &st))
		return -errno;
	if (st.f_type != EXT4_MAGIC) {
		err = disk_by_serial(EXT4_SERIAL, dev, sizeof(dev));
		if (err)
			return err;
		if (mount(dev, EXT4_DIR, "ext4", 0, NULL))
			return -errno;
		if (statfs(EXT4_DIR, &st))
			return -errno;
		if (st.f_type != EXT4_MAGIC)
			return -ENOTBLK;
	}
	snprintf(name, sizeof(name), EXT4_DIR "/range-%d", getpid());
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(name);
	if (ftruncate(fd, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

#define KSM_SYSFS	"/sys/kernel/mm/ksm/"
/* ksmd merges a page on its second full scan: ample under a loaded TCG. */
#define KSM_WAIT_MS	30000

static int ksm_set(const char *knob, const char *value)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), KSM_SYSFS "%s", knob);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(value, f);
	return fclose(f) ? -errno : 0;
}

/*
 * KSM merges identical pages of MADV_MERGEABLE areas, so a twin mapping
 * with the same bytes gives every page of the range a partner.  ksmd runs
 * only until pagemap shows every page of the range on its twin's frame;
 * the twin stays mapped for the case (umem_free() drops it), so the proof
 * still holds, page by page, when the fault is planted.
 */
static int ksm_merge(struct umem *m, const struct memory_kind *mk)
{
	void *twin = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int waited = 0;
	int err = 0;

	if (twin == MAP_FAILED)
		return -errno;
	m->twin = twin;
	memcpy(twin, m->base, m->map_len);
	if (madvise(m->base, m->map_len, MADV_MERGEABLE) ||
	    madvise(twin, m->map_len, MADV_MERGEABLE))
		err = -errno;
	/*
	 * Smart scan (6.7+) skips, for ever longer, the addresses it once
	 * failed to merge: the next case's range, mapped at the same
	 * address, would then wait for nothing.
	 */
	ksm_set("smart_scan", "0");
	if (!err)
		err = ksm_set("pages_to_scan", "1000") ?:
		      ksm_set("sleep_millisecs", "0") ?: ksm_set("run", "1");
	while (!err && !memory_proven(m, mk) && waited < KSM_WAIT_MS) {
		usleep(5000);
		waited += 5;
	}
	/* 0 stops ksmd and keeps what it merged (2 would unmerge). */
	ksm_set("run", "0");
	if (err)
		snprintf(m->why, sizeof(m->why), "ksm memory: %s",
			 strerror(-err));
	return err;
}

/*
 * Huge pages reserved for the hugetlb kind: its range (two when it
 * crosses into the next huge page), a fork's COW copy of it, and a
 * long-term pin's migration target.
 */
#define HUGETLB_PAGES	8

/* Reserves HUGETLB_PAGES huge pages once (at boot they are contiguous). */
static int hugetlb_reserve(void)
{
	unsigned long have = 0;
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r+");

	if (!f)
		return -errno;
	if (fscanf(f, "%lu", &have) != 1)
		have = 0;
	if (have < HUGETLB_PAGES) {
		rewind(f);
		fprintf(f, "%d\n", HUGETLB_PAGES);
	}
	return fclose(f) ? -errno : 0;
}

/*
 * The layouts of one page twice and of a huge page out of order: what
 * coalescing code (io_uring's io_coalesce_buffer(), bio_add_page()'s
 * merging, iommufd's batches, GUP's folio walk) must not take for
 * consecutive pages of one folio.  Each needs at least two pages: a
 * one-page range gets a second page after it, outside the range.
 */
static size_t pages_laid_out(const struct umem *m)
{
	return m->plan.npages > 2 ? m->plan.npages : 2;
}

/* page_twice: the page of @p's that maps its predecessor's frame. */
static unsigned int twice_page_of(const struct plan *p)
{
	return p->npages >= RANGE_PAGES ? 2 : 1;
}

static unsigned int twice_page(const struct umem *m)
{
	return twice_page_of(&m->plan);
}

/* Maps file page @pgoff of @fd at page @i of @m, MAP_FIXED. */
static int map_file_page(struct umem *m, size_t i, int fd, size_t pgoff)
{
	if (mmap(m->base + i * PAGE, PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, pgoff * PAGE) == MAP_FAILED)
		return -errno;
	return 0;
}

/*
 * The pages laid out, PROT_NONE until each is mapped; m->base's, and
 * m->vma's, so that umem_free() unmaps every page mapped over it: a page
 * left mapped keeps its file alive after the fd is closed (thp_scrambled:
 * a huge page of THP_TMPFS_DIR per case, until the tmpfs is full).
 */
static int reserve_pages(struct umem *m, int fd)
{
	size_t len = pages_laid_out(m) * PAGE;
	void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	if (base == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	m->vma = m->base = base;
	m->fd = fd;
	if (len > m->map_len)
		m->vma_len = len;
	return 0;
}

/*
 * page_twice: a memfd mapped page by page at its own offsets, but for
 * the page twice_page() names, which maps the one before it, MAP_SHARED
 * | MAP_FIXED: the range's pages k and k + 1 are one frame.  The bytes
 * are written through the mapping, in order, so both show the last
 * write, as after any write through either.
 */
static int twice_lay_out(struct umem *m, const unsigned char *bytes)
{
	size_t n = pages_laid_out(m), i;
	unsigned int twice = twice_page(m);
	int fd = memfd_open(n * PAGE), err;

	if (fd < 0)
		return fd;
	err = reserve_pages(m, fd);
	for (i = 0; !err && i < n; i++)
		err = map_file_page(m, i, fd, i == twice ? i - 1 : i);
	if (err)
		return err;
	m->twice = twice;
	memcpy(m->base, bytes, m->map_len);
	if (madvise(m->base, n * PAGE, MADV_POPULATE_READ))
		return -errno;
	return 0;
}

/* Pages twice - 1 and twice have one frame (pagemap). */
static bool twice_proven(struct umem *m, const struct memory_kind *mk)
{
	unsigned int twice = m->twice;
	uint64_t e[2];

	if (!twice || !read_pagemap(m->base + (twice - 1) * PAGE, 2, e)) {
		snprintf(m->why, sizeof(m->why), "cannot read /proc/self/pagemap");
		return false;
	}
	if (e[0] >> 63 & 1 && e[1] >> 63 & 1 && e[0] & PFN_MASK &&
	    (e[0] & PFN_MASK) == (e[1] & PFN_MASK))
		return true;
	snprintf(m->why, sizeof(m->why),
		 "%s memory: pages %u and %u are not one frame (pagemap %#llx, %#llx)",
		 mk->name, twice - 1, twice, (unsigned long long)e[0],
		 (unsigned long long)e[1]);
	return false;
}

/* --break-memory: the second page maps its own file page again. */
static void twice_undo(struct umem *m)
{
	unsigned int twice = m->twice;

	if (twice && !map_file_page(m, twice, m->fd, twice))
		madvise(m->base + twice * PAGE, PAGE, MADV_POPULATE_READ);
}

#define THP_TMPFS_DIR	"/tmp/uafault-thp"
/*
 * The worst case a kind needs of it: thp_scrambled's one file of one huge
 * page per case (pages_laid_out() <= MAX_PAGES, all in it), freed when
 * umem_free() unmaps the range and closes the fd.  A fork shares the
 * MAP_SHARED pages, and migration or a split moves or splits the folio
 * without charging the tmpfs another block, so one huge page is the most
 * a case holds.  Four: room for a case whose umem_free() has not yet run
 * (a repro's twin and variant, a case laid out before the last is freed).
 */
#define THP_TMPFS_OPTS	"size=8m,huge=always"

/*
 * A file of its own on a tmpfs mounted huge=always (no huge page of
 * shmem otherwise: shmem_enabled is never), one huge page long and
 * allocated by fallocate(), whose shmem_get_folio() has no VMA to ask
 * for alignment: one PMD-sized folio, in the page cache.
 */
static int thp_file_open(void)
{
	int fd = unlinked_tmpfs_file(THP_TMPFS_DIR, "uafault-thp",
				     THP_TMPFS_OPTS);

	if (fd < 0)
		return fd;
	if (ftruncate(fd, HPAGE) || fallocate(fd, 0, 0, HPAGE)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* thp_scrambled: the folio page virtual page @i maps (1, 0, 3, 2, ...). */
static size_t scrambled(size_t i)
{
	return i ^ 1;
}

/*
 * thp_scrambled: the pages of one huge page of shmem, each mapped
 * MAP_SHARED | MAP_FIXED at a page of the range out of order, so
 * consecutive pages of the range are pages of one folio but not
 * consecutive ones.  The bytes go into the file at the page each
 * virtual page maps.
 */
static int scrambled_lay_out(struct umem *m, const unsigned char *bytes)
{
	size_t n = pages_laid_out(m), i;
	int fd = thp_file_open(), err;

	if (fd < 0)
		return fd;
	err = reserve_pages(m, fd);
	for (i = 0; !err && i < n; i++)
		err = map_file_page(m, i, fd, scrambled(i));
	for (i = 0; !err && i < m->plan.npages; i++)
		if (pwrite(fd, bytes + i * PAGE, PAGE, scrambled(i) * PAGE) !=
		    PAGE)
			err = -EIO;
	if (err)
		return err;
	if (madvise(m->base, n * PAGE, MADV_POPULATE_READ))
		return -errno;
	return 0;
}

/* The kpageflags of frames [pfn, pfn + n); false when unreadable. */
static bool read_kpageflags(uint64_t pfn, size_t n, uint64_t *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	ssize_t want = n * sizeof(*flags);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, flags, want, pfn * sizeof(*flags)) == want;
	close(fd);
	return ok;
}

/*
 * Page i of the range is page scrambled(i) of one compound page: the
 * frame virtual page 1 maps is a transparent huge page's head, every
 * page maps the frame that far from it, and none between the head and
 * the last is another head.
 */
static bool scrambled_proven(struct umem *m, const struct memory_kind *mk)
{
	size_t n = pages_laid_out(m), i, span = 0;
	uint64_t e[MAX_PAGES + 1], flags[MAX_PAGES + 2], head;

	if (n > MAX_PAGES || !read_pagemap(m->base, n, e)) {
		snprintf(m->why, sizeof(m->why), "cannot read /proc/self/pagemap");
		return false;
	}
	head = e[1] & PFN_MASK;
	for (i = 0; i < n; i++) {
		if (!(e[i] >> 63 & 1) || !head ||
		    (e[i] & PFN_MASK) != head + scrambled(i)) {
			snprintf(m->why, sizeof(m->why),
				 "%s memory: page %zu maps frame %#llx, not page %zu of the folio at %#llx",
				 mk->name, i,
				 (unsigned long long)(e[i] & PFN_MASK),
				 scrambled(i), (unsigned long long)head);
			return false;
		}
		if (scrambled(i) + 1 > span)
			span = scrambled(i) + 1;
	}
	if (!read_kpageflags(head, span, flags)) {
		snprintf(m->why, sizeof(m->why), "/proc/kpageflags: %s",
			 strerror(errno));
		return false;
	}
	for (i = 0; i < span; i++) {
		uint64_t want = i ? BIT(KPF_COMPOUND_TAIL) :
				    BIT(KPF_COMPOUND_HEAD) | BIT(KPF_THP);

		if ((flags[i] & want) != want ||
		    (i && flags[i] & BIT(KPF_COMPOUND_HEAD))) {
			snprintf(m->why, sizeof(m->why),
				 "%s memory: frame %#llx is not %s of one huge page (kpageflags %#llx)",
				 mk->name, (unsigned long long)(head + i),
				 i ? "a tail" : "the head",
				 (unsigned long long)flags[i]);
			return false;
		}
	}
	return true;
}

/* --break-memory: every page maps the folio's page of its own index. */
static void scrambled_undo(struct umem *m)
{
	size_t n = pages_laid_out(m), i;

	for (i = 0; i < n; i++)
		map_file_page(m, i, m->fd, i);
	madvise(m->base, n * PAGE, MADV_POPULATE_READ);
}

/*
 * What shared memory (shmem) leaves out, and why.  Its userfaultfd kinds
 * punch the page out of the file first, so the fault finds it missing;
 * its swap-out is proven by smaps (memory_swapped()).
 */
#define SHMEM_SKIP	"fork_cow"
#define SHMEM_WHY	"a MAP_SHARED page is not copied on write (fork_cow)"
/* A disk file's: written back, not swapped; no userfaultfd missing mode. */
#define FILE_SKIP	"fork_cow swapped uffd_munmap uffd_mprotect"
#define NO_UFFD_WHY	"a paged-out file page is written back and dropped, no swap entry (swapped); userfaultfd's missing mode is for anonymous, shmem and hugetlb memory only"
/* The kinds that write back a file's pages, and judge what the disk got. */
#define WRITEBACK	"writeback writeback_window writeback_race"
#define WRITEBACK_WHY	"writeback, writeback_window, writeback_race"
/* Memory no file backs: nothing to truncate or write back. */
#define NO_FILE		"truncate " WRITEBACK
#define NO_FILE_WHY	"no file backs it (truncate, " WRITEBACK_WHY ")"
/* A file no disk backs: tmpfs pages are never written back. */
#define NO_DISK		WRITEBACK
#define NO_DISK_WHY	"no disk backs it, so nothing is written back (" WRITEBACK_WHY ")"
/*
 * What a write pin of it gets is no page of a disk's file (a private
 * mapping's copy, the zero page's), or GUP refuses it: no writeback of
 * the file cleans what the target writes.
 */
#define NO_DISK_PIN	"writeback_window writeback_race"
/* uafault.ko's trap writes through a long-term write pin of the page. */
#define TRAPS		"trap_header trap_bytes"
#define TRAPS_WHY	"the trap kinds pin the page long-term for writing, which it refuses (trap_header, trap_bytes)"
/* Pins of it that do not stay the mapped pages, or no pin at all. */
#define NO_HELD_PAGE	"split compact migrate truncate writeback"
/*
 * A range whose pages map a file's at other offsets than their own
 * (page_twice, thp_scrambled): the file and the mapping differ.
 */
#define LAID_OUT_SKIP	SHMEM_SKIP " " NO_DISK " truncate swapped uffd_munmap uffd_mprotect"
#define LAID_OUT_WHY	SHMEM_WHY "; " NO_DISK_WHY "; its pages map the file at other offsets than their own, so truncation's file and the hole userfaultfd's kinds punch at a page's own offset are not the page's (truncate, uffd_munmap, uffd_mprotect), and MADV_PAGEOUT leaves a page mapped twice, or a huge page's, resident (swapped)"

/*
 * @must / @must_not: kpageflags every page of the mapping has / lacks
 * before the fault is planted.  @skip: the fault kinds that mean nothing
 * on this memory, and @why.
 */
const struct memory_kind memory_kinds[] = {
	{
		.name = "anon",
		.map_flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.must = BIT(KPF_ANON),
		.skip = NO_FILE,
		.why = NO_FILE_WHY,
	},
	{
		.name = "shared",
		.map_flags = MAP_SHARED | MAP_ANONYMOUS,
		.shmem = true,
		.must_not = BIT(KPF_ANON),
		.skip = SHMEM_SKIP " " NO_FILE,
		.why = SHMEM_WHY "; " NO_FILE_WHY,
	},
	{
		.name = "memfd",
		.map_flags = MAP_SHARED,
		.open = memfd_open,
		.shmem = true,
		.must_not = BIT(KPF_ANON),
		.skip = SHMEM_SKIP " " NO_DISK,
		.why = SHMEM_WHY "; " NO_DISK_WHY,
	},
	{
		.name = "tmpfs_private",
		.map_flags = MAP_PRIVATE,
		.open = tmpfs_open,
		.shmem = true,
		.must_not = BIT(KPF_ANON),
		.skip = SHMEM_SKIP " " NO_DISK,
		.why = "a short-term read-only pin of a page-cache page in a private mapping does not follow a later COW, by contract (only FOLL_LONGTERM unshares it: fork_cow); " NO_DISK_WHY,
	},
	{
		/*
		 * Page cache of a file system that tracks dirty pages:
		 * check_vma_flags() refuses a FOLL_LONGTERM | FOLL_WRITE pin
		 * of it (writable_file_mapping_allowed()), -EFAULT with no
		 * page, while a short-term pin or a copy works.
		 */
		.name = "ext4_shared",
		.map_flags = MAP_SHARED,
		.open = ext4_open,
		.no_longterm_write = true,
		.backed = true,
		.must_not = BIT(KPF_ANON),
		.skip = FILE_SKIP " " TRAPS,
		.why = "a MAP_SHARED page is not copied on write (fork_cow); " NO_UFFD_WHY "; " TRAPS_WHY,
	},
	{
		.name = "ext4_private",
		.map_flags = MAP_PRIVATE,
		.open = ext4_open,
		.must_not = BIT(KPF_ANON),
		.skip = FILE_SKIP " " NO_DISK_PIN,
		.why = "a short-term read-only pin of a page-cache page in a private mapping does not follow a later COW, by contract (fork_cow); " NO_UFFD_WHY "; a write pin gets an anonymous copy, which writeback of the file never cleans (writeback_window, writeback_race)",
	},
	{
		/*
		 * Pages KSM merged: anonymous but never exclusive, so a
		 * FOLL_PIN, read-only too, gets an unshared copy first and a
		 * write breaks COW, while the stable page stays the other
		 * mappers'.  Proven by the twin's frames: 6.12's kpageflags
		 * sets KPF_KSM on every anonymous page (fs/proc/page.c tests
		 * mapping & PAGE_MAPPING_KSM, true whenever PAGE_MAPPING_ANON
		 * is set), so it cannot say which pages KSM merged.
		 */
		.name = "ksm",
		.map_flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.merged = true,
		.must = BIT(KPF_ANON),
		.skip = NO_FILE " swapped",
		.why = NO_FILE_WHY "; MADV_PAGEOUT leaves a page mapped more than once (the range and its twin) resident (swapped)",
	},
	{
		/*
		 * uafault.ko's mmap: remap_pfn_range() of its own pages, as a
		 * driver maps device memory.  A copy works; check_vma_flags()
		 * refuses every GUP of VM_IO | VM_PFNMAP (-EFAULT, no page).
		 */
		.name = "pfnmap",
		.map_flags = MAP_SHARED,
		.open = device_open,
		.device = true,
		.skip = "swapped fork_cow dontneed movable stochastic_munmap kernel_alias uffd_munmap uffd_mprotect " NO_HELD_PAGE " " TRAPS " " NO_DISK_PIN,
		.why = "a VM_PFNMAP range is never swapped, never in ZONE_MOVABLE and shared with a child (fork_cow); MADV_DONTNEED zaps it for good (no fault handler refills it) and stochastic_munmap refills its hole with anonymous memory; kernel_alias, the trap kinds and the kinds that hold a pin across an mm event (split, compact, migrate, truncate, writeback) pin its pages, which GUP refuses; no disk backs it (writeback_window, writeback_race); userfaultfd does not register it",
	},
	{
		.name = "zero",
		.map_flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.untouched = true,
		.must = BIT(KPF_ZERO_PAGE),
		.skip = "swapped fork_cow dontneed movable uffd_munmap uffd_mprotect " NO_HELD_PAGE " " NO_DISK_PIN,
		.why = "the shared zero page is never swapped, never in ZONE_MOVABLE, and a pin of it does not follow a later COW (fork_cow, dontneed, split, compact, migrate: the process's write maps another page); no file backs it (truncate, writeback, writeback_window, writeback_race); the userfaultfd kinds plant a missing page, not the zero page",
	},
	{
		.name = "hugetlb",
		.map_flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		.reserve = hugetlb_reserve,
		.must = BIT(KPF_HUGE),
		.skip = "unmapped prot_none read_only guards stochastic_munmap swapped movable dontneed uffd_munmap uffd_mprotect split " NO_FILE,
		.why = "a hugetlb mapping changes only in whole huge pages: no 4 KiB hole, guard, split or remap can be planted in it, and MADV_DONTNEED of less than a huge page does nothing; " NO_FILE_WHY "; hugetlb pages never swap and are not in ZONE_MOVABLE here; the userfaultfd kinds plant an anonymous missing page (not yet for hugetlb)",
	},
	{
		.name = "thp",
		.map_flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.huge = true,
		.must = BIT(KPF_ANON) | BIT(KPF_THP),
		.skip = "swapped " NO_FILE,
		.why = "MADV_PAGEOUT of a few pages of a PMD-mapped huge page splits it and leaves most of them resident (7 of 8, measured); " NO_FILE_WHY,
	},
	{
		/*
		 * One memfd page at two adjacent pages of the range: a
		 * write through either shows through both, and a pin takes
		 * the page twice.
		 */
		.name = "page_twice",
		.map_flags = MAP_SHARED,
		.map_pages = twice_lay_out,
		.proof = twice_proven,
		.undo = twice_undo,
		.must_not = BIT(KPF_ANON),
		.skip = LAID_OUT_SKIP,
		.why = LAID_OUT_WHY,
	},
	{
		/*
		 * Pages of one shmem huge page, out of order: consecutive
		 * pages of the range are one folio's, never its next page.
		 */
		.name = "thp_scrambled",
		.map_flags = MAP_SHARED,
		.map_pages = scrambled_lay_out,
		.proof = scrambled_proven,
		.undo = scrambled_undo,
		.must = BIT(KPF_THP),
		.must_not = BIT(KPF_ANON),
		.skip = LAID_OUT_SKIP,
		.why = LAID_OUT_WHY,
	},
};

const unsigned int nr_memory_kinds = ARRAY_SIZE(memory_kinds);

const struct memory_kind *find_memory(const char *name)
{
	unsigned int i;

	for (i = 0; i < nr_memory_kinds; i++)
		if (!strcmp(memory_kinds[i].name, name))
			return &memory_kinds[i];
	return NULL;
}

/* What backs a range: @mk, or (NULL) private anonymous memory. */
const struct memory_kind *memory_of(const struct memory_kind *mk)
{
	return mk ?: &memory_kinds[0];
}

/*
 * The size of @mk's folios: a huge page's (THP, hugetlb), else a page's
 * (the kinds of small folios: a range's pages are folios of their own).
 */
size_t memory_folio(const struct memory_kind *mk)
{
	mk = memory_of(mk);
	return mk->huge || mk->map_flags & MAP_HUGETLB ? HPAGE : PAGE;
}

/*
 * Whether a case's @offset (-1: the fault kind's own start) starts its
 * range in @mk's first folio: in the first page, or on memory of large
 * folios anywhere in the first huge page (place(), memory_map()).
 */
bool offset_fits(long offset, const struct memory_kind *mk)
{
	return offset < (long)memory_folio(mk);
}

/* Whether @name is a word of @list (space-separated). */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; p && (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* Whether @fault means something on @mk. */
bool memory_allows(const struct memory_kind *mk, const char *fault)
{
	return !listed(mk->skip, fault);
}

/*
 * A line of --list-memory: "NAME [folio=BYTES] [skip=KIND,...]", the
 * folio's size when it is larger than a page.
 */
void list_memory(const struct memory_kind *mk)
{
	const char *p;

	printf("%s", mk->name);
	if (memory_folio(mk) > PAGE)
		printf(" " MEMORY_FOLIO "%zu", memory_folio(mk));
	if (mk->skip) {
		printf(" skip=");
		for (p = mk->skip; *p; p++)
			putchar(*p == ' ' ? ',' : *p);
	}
	printf("\n");
}

/*
 * @len (whole huge pages) of anonymous memory, THP-aligned, asking for
 * huge pages.
 */
static unsigned char *map_huge(size_t len)
{
	unsigned char *resv = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *base;
	size_t head;

	if (resv == MAP_FAILED)
		return resv;
	base = (unsigned char *)(((uintptr_t)resv + HPAGE - 1) & ~(HPAGE - 1));
	head = base - resv;
	if (head)
		munmap(resv, head);
	munmap(base + len, HPAGE - head);
	if (madvise(base, len, MADV_HUGEPAGE)) {
		int err = errno;

		munmap(base, len);
		errno = err;
		return MAP_FAILED;
	}
	return base;
}

/*
 * Maps m->map_len bytes of @mk holding @bytes (the untouched kind: none,
 * its pages only read, so they map the zero page) at m->base; 0 or -errno
 * (the mapping, if any, is m->vma's for umem_free()).  Memory of large
 * folios is mapped in whole huge pages, as many as the plan's pages reach
 * from where its first page lies in the first (plan.folio_page, a case's
 * offset past the first page): the range can start deep inside a folio,
 * or cross into the next one.
 */
int memory_map(struct umem *m, const struct memory_kind *mk,
	       const unsigned char *bytes)
{
	size_t lead = (size_t)m->plan.folio_page * PAGE;
	int fd = -1;

	if (mk->map_pages)
		return mk->map_pages(m, bytes);
	if (mk->open) {
		fd = mk->open(m->map_len);
		if (fd < 0)
			return fd;
		/* The page cache gets the bytes, not the private mapping. */
		if (!mk->device &&
		    pwrite(fd, bytes, m->map_len, 0) != (ssize_t)m->map_len) {
			close(fd);
			return -EIO;
		}
		/* On disk, so the pages start clean (mapped read-only). */
		if (mk->backed && fsync(fd)) {
			close(fd);
			return -errno;
		}
	}
	if (mk->reserve) {
		int err = mk->reserve();

		if (err) {
			if (fd >= 0)
				close(fd);
			snprintf(m->why, sizeof(m->why),
				 "%s memory: reserving huge pages: %s", mk->name,
				 strerror(-err));
			return err;
		}
	}
	/* Whole huge pages (hugetlb: or nothing). */
	if (memory_folio(mk) > PAGE)
		m->vma_len = (lead + m->map_len + HPAGE - 1) / HPAGE * HPAGE;
	m->vma = mk->huge ? map_huge(m->vma_len) :
		 mmap(NULL, m->vma_len ?: m->map_len, PROT_READ | PROT_WRITE,
		      mk->map_flags, fd, 0);
	/* The writeback and private-file oracles read it, truncate cuts it. */
	if (fd >= 0 && !mk->device)
		m->fd = fd;
	else if (fd >= 0)
		close(fd);
	if (m->vma == MAP_FAILED) {
		m->vma = NULL;
		return -errno;
	}
	m->base = m->vma + lead;
	/*
	 * The untouched kind and a file's page cache are mapped by read
	 * faults, as a first read of each page maps them, so that pagemap
	 * can prove every page before the fault is planted.
	 */
	if (mk->untouched || (mk->open && !mk->device)) {
		if (madvise(m->base, m->map_len, MADV_POPULATE_READ))
			return -errno;
	} else {
		memcpy(m->base, bytes, m->map_len);
	}
	return mk->merged ? ksm_merge(m, mk) : 0;
}

/*
 * --break-memory: undoes what @mk promises, the way a real system can
 * (another mapping over the device's, a write that copies the zero or a
 * KSM page, reclaim or MADV_DONTNEED taking a page away), so that its
 * proof must catch it: a kind whose precondition can fail silently would
 * pass cases on memory it never had.
 */
void memory_break(struct umem *m, const struct memory_kind *mk)
{
	if (mk->undo) {
		mk->undo(m);
	} else if (mk->device) {
		mmap(m->base, PAGE, PROT_READ | PROT_WRITE,
		     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else if (mk->untouched || mk->merged) {
		m->base[0] ^= 1;
	} else if (mk->map_flags & MAP_HUGETLB) {
		madvise(m->vma, HPAGE, MADV_DONTNEED);	/* whole, or nothing */
	} else {
		madvise(m->base, PAGE, MADV_DONTNEED);
	}
}

/* The first of the proven bits in @bits, as the reason says it. */
static const char *flag_name(uint64_t bits)
{
	if (bits & BIT(KPF_HUGE))
		return "a hugetlb page";
	if (bits & BIT(KPF_THP))
		return "a transparent huge page";
	if (bits & BIT(KPF_ZERO_PAGE))
		return "the zero page";
	return "anonymous";
}

/*
 * Whether every page of @m is what @mk says (kpageflags); when not, why
 * in m->why.  Without pagemap or kpageflags (not root) nothing is proven:
 * a set-up failure too.
 */
/* A file's page cache under MAP_PRIVATE: writes must never reach it. */
bool memory_private_file(const struct memory_kind *mk)
{
	return mk->open && !mk->device && !(mk->map_flags & MAP_SHARED);
}

/* Whether every page of @m shares its frame with its twin's (KSM). */
static bool merged_with_twin(struct umem *m, const struct memory_kind *mk)
{
	unsigned int n = m->map_len / PAGE, i;
	uint64_t mine[MAX_PAGES], twin[MAX_PAGES];

	if (!m->twin || !read_pagemap(m->base, n, mine) ||
	    !read_pagemap(m->twin, n, twin)) {
		snprintf(m->why, sizeof(m->why), "%s memory: no twin to prove the merge by",
			 mk->name);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!(twin[i] >> 63 & 1) ||
		    (mine[i] & PFN_MASK) != (twin[i] & PFN_MASK)) {
			snprintf(m->why, sizeof(m->why),
				 "%s memory: page %u is not merged with its twin (pagemap frames differ)",
				 mk->name, i);
			return false;
		}
	}
	return true;
}

bool memory_proven(struct umem *m, const struct memory_kind *mk)
{
	unsigned int n = m->map_len / PAGE, i;
	uint64_t entry[MAX_PAGES], flags;
	int fd;

	if (mk->device && !vma_is_pfnmap(m->base)) {
		snprintf(m->why, sizeof(m->why),
			 "%s memory: the mapping is not VM_PFNMAP | VM_IO (smaps VmFlags)",
			 mk->name);
		return false;
	}
	if (!mk->must && !mk->must_not)
		return true;
	if (n > MAX_PAGES || !read_pagemap(m->base, n, entry)) {
		snprintf(m->why, sizeof(m->why), "cannot read /proc/self/pagemap");
		return false;
	}
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0) {
		snprintf(m->why, sizeof(m->why), "/proc/kpageflags: %s",
			 strerror(errno));
		return false;
	}
	for (i = 0; i < n; i++) {
		uint64_t pfn = entry[i] & PFN_MASK;

		if (!(entry[i] >> 63 & 1)) {
			snprintf(m->why, sizeof(m->why),
				 "%s memory: page %u is not mapped", mk->name, i);
			break;
		}
		if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) !=
		    sizeof(flags))
			flags = 0;
		if ((flags & mk->must) != mk->must || flags & mk->must_not) {
			snprintf(m->why, sizeof(m->why),
				 "%s memory: page %u is %s%s (kpageflags %#llx)",
				 mk->name, i, flags & mk->must_not ? "" : "not ",
				 flag_name((flags & mk->must_not) |
					   (mk->must & ~flags)),
				 (unsigned long long)flags);
			break;
		}
	}
	close(fd);
	return i == n && (!mk->merged || merged_with_twin(m, mk)) &&
	       (!mk->proof || mk->proof(m, mk));
}

/*
 * The /proc/self/pagemap entries of [addr, addr + n pages): bit 63
 * present, bit 62 swapped, bits 0-54 the page frame when present.
 * False when pagemap cannot be read.
 */
/*
 * The page of @p's mapping that is its predecessor's frame again (on
 * page_twice memory, before any fault: what a pin of both takes twice),
 * or 0 for none.
 */
unsigned int memory_twice(const struct plan *p)
{
	return p->memory && p->memory->map_pages == twice_lay_out ?
	       twice_page_of(p) : 0;
}

bool read_pagemap(const unsigned char *addr, size_t n, uint64_t *entries)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (uintptr_t)addr / PAGE * sizeof(*entries);
	ssize_t want = n * sizeof(*entries);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, entries, want, off) == want;
	close(fd);
	return ok;
}

/* Page frame of each page of [addr, addr + n pages), 0 when not present. */
bool page_frames(const unsigned char *addr, size_t n, uint64_t *pfn)
{
	size_t i;

	if (!read_pagemap(addr, n, pfn))
		return false;
	for (i = 0; i < n; i++)
		pfn[i] = pfn[i] >> 63 & 1 ? pfn[i] & PFN_MASK : 0;
	return true;
}
