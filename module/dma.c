// SPDX-License-Identifier: GPL-2.0
/*
 * uafault DMA targets: a driver's "pin the user buffer and hand it to the
 * device" path.  pin_user_pages_fast(FOLL_LONGTERM), an sg_table over the
 * pinned part of the range, dma_map_sgtable() on a module-owned platform
 * device, then the "device" reads or writes the memory at its DMA
 * addresses (through dma_to_phys(), so a swiotlb bounce buffer is what it
 * touches), dma_unmap_sgtable() and unpin.
 *
 * @pinned, @done and @ret are as for the GUP targets (gup.c); a failed
 * dma_map_sgtable() is @ret with @done = 0.  A write run whose pinned
 * pages include the same page twice (one shared page mapped twice in the
 * range) is refused with @ret = -EBUSY before mapping: overlapping
 * DMA_FROM_DEVICE mappings are a driver bug that CONFIG_DMA_API_DEBUG
 * reports.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cleanup.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "internal.h"

static struct platform_device *uafault_pdev;
/* One device, one transfer at a time: no overlapping mappings. */
static DEFINE_MUTEX(uafault_dma_lock);

static bool uafault_pages_dup(struct page **pages, unsigned long n)
{
	unsigned long i, j;

	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (pages[i] == pages[j])
				return true;
	return false;
}

/*
 * The device side of the transfer: walk the DMA segments in order and
 * read (checksum) or write the bytes at their DMA addresses.
 */
static void uafault_dev_access(struct uafault_ctx *ctx, struct device *dev,
			       struct sg_table *sgt, bool write)
{
	struct scatterlist *sg;
	size_t pos = 0, off, n;
	phys_addr_t phys;
	unsigned int i;
	u8 *kaddr;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		for (off = 0; off < sg_dma_len(sg); off += n, pos += n) {
			phys = dma_to_phys(dev, sg_dma_address(sg) + off);
			n = min_t(size_t, sg_dma_len(sg) - off,
				  PAGE_SIZE - offset_in_page(phys));
			if (!pfn_valid(PHYS_PFN(phys))) {
				ctx->ret = -EIO;
				return;
			}
			kaddr = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));
			if (write) {
				uafault_fill_buf(kaddr + offset_in_page(phys),
						 ctx->seed, pos, n);
				ctx->csum = uafault_csum_fill(ctx->csum,
							      ctx->seed, pos, n);
			} else {
				ctx->csum = uafault_csum(ctx->csum,
							 kaddr + offset_in_page(phys),
							 n);
			}
			kunmap_local(kaddr);
		}
	}
}

/* Map the pinned part of the range, let the device at it, unmap. */
static int uafault_dma_xfer(struct uafault_ctx *ctx, struct page **pages,
			    enum dma_data_direction dir)
{
	struct device *dev = &uafault_pdev->dev;
	struct sg_table sgt;
	int err;

	err = sg_alloc_table_from_pages_segment(&sgt, pages, ctx->pinned,
						offset_in_page(ctx->addr),
						ctx->done,
						dma_get_max_seg_size(dev),
						GFP_KERNEL);
	if (err)
		return err;
	err = dma_map_sgtable(dev, &sgt, dir, 0);
	if (err) {
		ctx->ret = err;
		ctx->done = 0;
	} else {
		uafault_dev_access(ctx, dev, &sgt, dir == DMA_FROM_DEVICE);
		dma_unmap_sgtable(dev, &sgt, dir, 0);
	}
	sg_free_table(&sgt);
	return 0;
}

static int uafault_dma_run(struct uafault_ctx *ctx,
			   enum dma_data_direction dir)
{
	bool write = dir == DMA_FROM_DEVICE;
	unsigned int gup_flags = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	unsigned long nr = uafault_npages(ctx);
	struct page **pages __free(kvfree) = uafault_alloc_pages(nr);
	long rc;
	int err = 0;

	if (!pages)
		return -ENOMEM;

	guard(mutex)(&uafault_dma_lock);
	rc = pin_user_pages_fast(ctx->addr & PAGE_MASK, nr, gup_flags, pages);
	uafault_pin_result(ctx, rc, nr);
	if (rc <= 0)
		return 0;

	if (write && uafault_pages_dup(pages, rc)) {
		ctx->ret = -EBUSY;
		ctx->done = 0;
	} else {
		err = uafault_dma_xfer(ctx, pages, dir);
	}

	if (write)
		unpin_user_pages_dirty_lock(pages, rc, true);
	else
		unpin_user_pages(pages, rc);
	return err;
}

/* The device writes uafault_fill() bytes into the range. */
static int uafault_pin_dma_write(struct uafault_ctx *ctx)
{
	return uafault_dma_run(ctx, DMA_FROM_DEVICE);
}

/* The device reads the range; @csum is what it read. */
static int uafault_pin_dma_read(struct uafault_ctx *ctx)
{
	return uafault_dma_run(ctx, DMA_TO_DEVICE);
}

/*
 * pin_dma_read also keeps a buffer for its device (UAFAULT_TF_HOLD), the
 * way a driver sets up a DMA buffer once and lets the device read it
 * later: the whole range pinned long-term and mapped, kept until release.
 */
static void uafault_dma_buf_free(struct page **pages, unsigned long nr,
				 struct sg_table *sgt)
{
	if (sgt) {
		dma_unmap_sgtable(&uafault_pdev->dev, sgt, DMA_TO_DEVICE, 0);
		sg_free_table(sgt);
		kfree(sgt);
	}
	unpin_user_pages(pages, nr);
	kvfree(pages);
}

static int uafault_pin_dma_read_hold(struct uafault_ctx *ctx,
				     struct uafault_held *held)
{
	struct device *dev = &uafault_pdev->dev;
	unsigned long nr = uafault_npages(ctx);
	struct page **pages = uafault_alloc_pages(nr);
	struct sg_table *sgt;
	long rc;
	int err;

	if (!pages)
		return -ENOMEM;
	rc = pin_user_pages_fast(ctx->addr & PAGE_MASK, nr, FOLL_LONGTERM,
				 pages);
	if (rc < 0 || (unsigned long)rc < nr) {
		uafault_dma_buf_free(pages, max(rc, 0L), NULL);
		ctx->ret = rc < 0 ? rc : -EFAULT;
		return 0;
	}
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	err = sgt ? sg_alloc_table_from_pages_segment(sgt, pages, nr,
						     offset_in_page(ctx->addr),
						     ctx->len,
						     dma_get_max_seg_size(dev),
						     GFP_KERNEL) : -ENOMEM;
	if (err) {
		kfree(sgt);
		uafault_dma_buf_free(pages, nr, NULL);
		return err;
	}
	err = dma_map_sgtable(dev, sgt, DMA_TO_DEVICE, 0);
	if (err) {
		sg_free_table(sgt);
		kfree(sgt);
		uafault_dma_buf_free(pages, nr, NULL);
		ctx->ret = err;
		return 0;
	}
	held->pages = pages;
	held->npages = nr;
	held->priv = sgt;
	return 0;
}

static void uafault_pin_dma_read_release(struct uafault_held *held)
{
	uafault_dma_buf_free(held->pages, held->npages, held->priv);
}

static struct uafault_target uafault_dma_targets[] = {
	{
		.name = "pin_dma_write",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN,
		.result = UAFAULT_RES_PAGES,
		.run = uafault_pin_dma_write,
		.owner = THIS_MODULE,
	},
	{
		.name = "pin_dma_read",
		.flags = UAFAULT_TF_READ | UAFAULT_TF_PIN | UAFAULT_TF_HOLD,
		.result = UAFAULT_RES_PAGES,
		.run = uafault_pin_dma_read,
		.hold = uafault_pin_dma_read_hold,
		.release = uafault_pin_dma_read_release,
		.owner = THIS_MODULE,
	},
};

/*
 * The "device" computes CPU addresses with dma_to_phys(), which only
 * holds for dma-direct (swiotlb included), not behind an IOMMU.
 */
static bool uafault_dma_is_direct(struct device *dev)
{
	return !get_dma_ops(dev) && !use_dma_iommu(dev);
}

/* Without a usable device the DMA targets are left out, not an error. */
int uafault_dma_init(void)
{
	struct platform_device *pdev;
	int err;

	pdev = platform_device_register_simple("uafault-dma",
					       PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(pdev)) {
		pr_info("no DMA targets: cannot create device: %pe\n", pdev);
		return 0;
	}
	err = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err) {
		pr_info("no DMA targets: cannot set DMA mask: %d\n", err);
		goto err_unregister;
	}
	if (!uafault_dma_is_direct(&pdev->dev)) {
		pr_info("no DMA targets: device is not dma-direct\n");
		goto err_unregister;
	}

	uafault_pdev = pdev;
	err = uafault_register_targets(uafault_dma_targets,
				       ARRAY_SIZE(uafault_dma_targets));
	if (err) {
		uafault_pdev = NULL;
		platform_device_unregister(pdev);
	}
	return err;

err_unregister:
	platform_device_unregister(pdev);
	return 0;
}

void uafault_dma_exit(void)
{
	if (!uafault_pdev)
		return;
	uafault_unregister_targets(uafault_dma_targets,
				   ARRAY_SIZE(uafault_dma_targets));
	platform_device_unregister(uafault_pdev);
	uafault_pdev = NULL;
}
