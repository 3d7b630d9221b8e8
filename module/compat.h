/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels uafault's modules build on (6.12, and
 * 6.1 as Debian 12 ships it), in one place: the .c files call what is
 * defined here by the same name on every kernel and test no version
 * themselves.  On 6.12 each wrapper is the plain call it wraps.
 */
#ifndef _UAFAULT_COMPAT_H
#define _UAFAULT_COMPAT_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/version.h>

/*
 * Whether this kernel is @major.@minor or later: the version tests below,
 * on the release an interface changed in (its sublevel never matters).
 */
#define UAFAULT_SINCE(major, minor)					\
	(KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0) >= \
	 KERNEL_VERSION(major, minor, 0))

/*
 * The get_unaligned_*() helpers: <linux/unaligned.h> since 6.12, which
 * moved them out of <asm/unaligned.h>.
 */
#if UAFAULT_SINCE(6, 12)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * pin_user_pages() with mmap_lock held: its struct vm_area_struct **vmas
 * argument went in 6.5.
 */
static inline long uafault_pin_user_pages(unsigned long start,
					  unsigned long nr_pages,
					  unsigned int gup_flags,
					  struct page **pages)
{
#if UAFAULT_SINCE(6, 5)
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#endif
}

/*
 * get_user_pages() with mmap_lock held: its struct vm_area_struct **vmas
 * argument went in 6.5, as pin_user_pages()'s did.
 */
static inline long uafault_get_user_pages(unsigned long start,
					  unsigned long nr_pages,
					  unsigned int gup_flags,
					  struct page **pages)
{
#if UAFAULT_SINCE(6, 5)
	return get_user_pages(start, nr_pages, gup_flags, pages);
#else
	return get_user_pages(start, nr_pages, gup_flags, pages, NULL);
#endif
}

/*
 * folio_mapcount(): the page table entries that map a folio.  6.1 has it
 * in mm/util.c, not exported, until 6.2 replaced its accounting (and
 * PageDoubleMap) and made it inline: here 6.1's sum.  A large folio's
 * entire (PMD) mappings are in its entire mapcount, each page's PTE
 * mappings in that page's _mapcount; a hugetlb folio has the first only;
 * a file folio's _mapcounts include its entire mappings, and those of a
 * double-mapped anonymous one are one up.
 */
static inline int uafault_folio_mapcount(struct folio *folio)
{
#if UAFAULT_SINCE(6, 2)
	return folio_mapcount(folio);
#else
	int i, nr = folio_nr_pages(folio);
	int entire, sum = 0;

	if (!folio_test_large(folio))
		return atomic_read(&folio->_mapcount) + 1;
	entire = folio_entire_mapcount(folio);
	if (folio_test_hugetlb(folio))
		return entire;
	for (i = 0; i < nr; i++)
		sum += atomic_read(&folio_page(folio, i)->_mapcount) + 1;
	if (!folio_test_anon(folio))
		return entire + sum - entire * nr;
	if (folio_test_double_map(folio))
		sum -= nr;
	return entire + sum;
#endif
}

/*
 * import_ubuf(): a user range as an ITER_UBUF iov_iter, -EFAULT when
 * access_ok() refuses it.  6.4 added it; before, the same in line, as
 * lib/iov_iter.c has it (ITER_UBUF and iov_iter_ubuf() are 6.0's).
 */
static inline int uafault_import_ubuf(int rw, void __user *buf, size_t len,
				      struct iov_iter *i)
{
#if UAFAULT_SINCE(6, 4)
	return import_ubuf(rw, buf, len, i);
#else
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (unlikely(!access_ok(buf, len)))
		return -EFAULT;
	iov_iter_ubuf(i, rw, buf, len);
	return 0;
#endif
}

/*
 * Whether @dev maps through iommu-dma, its DMA addresses being IOVAs in
 * its IOMMU domain; and whether it has DMA ops other than iommu-dma's
 * (dma-direct has none), which uafault cannot follow.
 *
 * Since 6.12 iommu-dma is called directly, not as a dma_map_ops: a device
 * on it has dev->dma_iommu set (use_dma_iommu(), <linux/iommu-dma.h>).
 * Before, iommu_setup_dma_ops() made iommu_dma_ops (not exported) the
 * device's DMA ops exactly when its domain is a DMA-API domain: a device
 * with DMA ops in such a domain has those.
 */
#if UAFAULT_SINCE(6, 12)
#include <linux/iommu-dma.h>

static inline bool uafault_use_dma_iommu(struct device *dev)
{
	return use_dma_iommu(dev);
}

static inline bool uafault_other_dma_ops(struct device *dev)
{
	return get_dma_ops(dev);
}
#else
static inline bool uafault_use_dma_iommu(struct device *dev)
{
	struct iommu_domain *domain;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA) || !get_dma_ops(dev))
		return false;
	domain = iommu_get_domain_for_dev(dev);
	return domain && iommu_is_dma_domain(domain);
}

static inline bool uafault_other_dma_ops(struct device *dev)
{
	return get_dma_ops(dev) && !uafault_use_dma_iommu(dev);
}
#endif

#endif /* _UAFAULT_COMPAT_H */
