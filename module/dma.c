// SPDX-License-Identifier: GPL-2.0
/*
 * uafault DMA targets: a driver's "pin the user buffer and hand it to the
 * device" path.  pin_user_pages_fast(FOLL_LONGTERM), an sg_table over the
 * pinned part of the range, dma_map_sgtable() on uafault's device, then
 * the "device" reads or writes the memory at its DMA addresses,
 * dma_unmap_sgtable() and unpin.
 *
 * The device is QEMU's pci-testdev when the guest has one (a PCI function
 * no other driver claims, so it sits behind the guest's IOMMU when there
 * is one), else a platform device of the module's own.  Its accesses land
 * where real DMA would: through the IOMMU's page table (iommu-dma), or at
 * dma_to_phys() (dma-direct, a swiotlb bounce slot under swiotlb=force).
 * An address with no translation is an IOMMU fault: logged, nothing
 * touched.  uafault_dma_device() and uafault_device_access() give other
 * modules the same device (uafault_target.h).
 *
 * @pinned, @done and @ret are as for the GUP targets (gup.c); a failed
 * dma_map_sgtable() is @ret with @done = 0.  A write run whose pinned
 * pages include the same page twice (one shared page mapped twice in the
 * range) is refused with @ret = -EBUSY before mapping: overlapping
 * DMA_FROM_DEVICE mappings are a driver bug that CONFIG_DMA_API_DEBUG
 * reports (kernel/dma/debug.c, add_dma_entry(): "cacheline tracking
 * EEXIST, overlapping mappings aren't supported").  pin_dma_write says so
 * (%UAFAULT_TF_UNIQUE_PAGES), and the agent expects it on page_twice.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/iommu.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "compat.h"
#include "internal.h"

/* QEMU's "PCI Test Device" (-device pci-testdev). */
#define UAFAULT_PCI_TESTDEV	0x0005

static struct device *uafault_dma_dev;
static struct platform_device *uafault_pdev;
static struct pci_dev *uafault_pci;
static bool uafault_pci_registered;
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
 * Where the device's access to @addr lands: the page the IOMMU translates
 * it to, or dma-direct's physical address (a bounce slot included).
 * 0 when the IOMMU has no translation.
 */
static phys_addr_t uafault_dev_phys(struct device *dev, dma_addr_t addr)
{
	if (uafault_use_dma_iommu(dev))
		return iommu_iova_to_phys(iommu_get_domain_for_dev(dev), addr);
	return dma_to_phys(dev, addr);
}

/**
 * uafault_dma_device() - the device uafault's DMA targets map buffers for
 *
 * Return: the device, or NULL when uafault has none (no DMA targets).
 */
struct device *uafault_dma_device(void)
{
	return uafault_dma_dev;
}
EXPORT_SYMBOL_GPL(uafault_dma_device);

/**
 * uafault_device_access() - the device side of a transfer
 * @dev: uafault_dma_device()
 * @sgt: a table mapped for @dev (dma_map_sgtable())
 * @write: the device writes uafault_fill(@seed) bytes; else it reads
 * @seed: seed of the bytes written
 * @csum: in/out: uafault_csum() carried over the bytes, in order
 *
 * Walks @sgt's DMA segments in order and reads or writes the memory
 * there, as the device's bus accesses would reach it.
 *
 * Return: bytes accessed, or -%EIO at the first address with no
 * translation (an IOMMU fault, logged "DMA fault"); the bytes before it
 * were accessed.
 */
long uafault_device_access(struct device *dev, struct sg_table *sgt,
			   bool write, u32 seed, u64 *csum)
{
	enum uafault_walk walk = write ? UAFAULT_WALK_FILL : UAFAULT_WALK_READ;
	struct scatterlist *sg;
	size_t pos = 0, off, n;
	phys_addr_t phys;
	struct page *page;
	dma_addr_t addr;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		for (off = 0; off < sg_dma_len(sg); off += n, pos += n) {
			addr = sg_dma_address(sg) + off;
			n = min_t(size_t, sg_dma_len(sg) - off,
				  PAGE_SIZE - offset_in_page(addr));
			phys = uafault_dev_phys(dev, addr);
			if (!phys || !pfn_valid(PHYS_PFN(phys))) {
				dev_err_ratelimited(dev,
						    "DMA fault: device %s at %pad: no translation\n",
						    write ? "write" : "read",
						    &addr);
				return -EIO;
			}
			page = pfn_to_page(PHYS_PFN(phys));
			*csum = uafault_pages_walk(&page, offset_in_page(phys),
						   n, walk, seed, pos, *csum);
		}
	}
	return pos;
}
EXPORT_SYMBOL_GPL(uafault_device_access);

/* Map the pinned part of the range, let the device at it, unmap. */
static int uafault_dma_xfer(struct uafault_ctx *ctx, struct page **pages,
			    enum dma_data_direction dir)
{
	struct device *dev = uafault_dma_dev;
	struct sg_table sgt;
	long moved;
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
		moved = uafault_device_access(dev, &sgt, dir == DMA_FROM_DEVICE,
					      ctx->seed, &ctx->csum);
		if (moved < 0)
			ctx->ret = moved;
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
	struct page **pages = uafault_alloc_pages(nr);
	long rc;
	int err = 0;

	if (!pages)
		return -ENOMEM;

	mutex_lock(&uafault_dma_lock);
	rc = pin_user_pages_fast(ctx->addr & PAGE_MASK, nr, gup_flags, pages);
	uafault_pin_result(ctx, rc, nr);
	if (rc <= 0)
		goto out;

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
out:
	mutex_unlock(&uafault_dma_lock);
	kvfree(pages);
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
static int uafault_pin_dma_read_hold(struct uafault_ctx *ctx,
				     struct uafault_held *held)
{
	struct device *dev = uafault_dma_dev;
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
		ctx->ret = rc < 0 ? rc : -EFAULT;
		nr = max(rc, 0L);
		err = 0;
		goto err_unpin;
	}
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt) {
		err = -ENOMEM;
		goto err_unpin;
	}
	err = sg_alloc_table_from_pages_segment(sgt, pages, nr,
						offset_in_page(ctx->addr),
						ctx->len,
						dma_get_max_seg_size(dev),
						GFP_KERNEL);
	if (err)
		goto err_sgt;
	err = dma_map_sgtable(dev, sgt, DMA_TO_DEVICE, 0);
	if (err) {
		ctx->ret = err;
		err = 0;
		goto err_table;
	}
	held->pages = pages;
	held->npages = nr;
	held->priv = sgt;
	return 0;

err_table:
	sg_free_table(sgt);
err_sgt:
	kfree(sgt);
err_unpin:
	unpin_user_pages(pages, nr);
	kvfree(pages);
	return err;
}

static void uafault_pin_dma_read_release(struct uafault_held *held)
{
	struct sg_table *sgt = held->priv;

	dma_unmap_sgtable(uafault_dma_dev, sgt, DMA_TO_DEVICE, 0);
	sg_free_table(sgt);
	kfree(sgt);
	unpin_user_pages(held->pages, held->npages);
	kvfree(held->pages);
}

static struct uafault_target uafault_dma_targets[] = {
	{
		.name = "pin_dma_write",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM |
			 UAFAULT_TF_UNIQUE_PAGES,
		.result = UAFAULT_RES_PAGES,
		.run = uafault_pin_dma_write,
		.owner = THIS_MODULE,
	},
	{
		.name = "pin_dma_read",
		.flags = UAFAULT_TF_READ | UAFAULT_TF_PIN | UAFAULT_TF_HOLD |
			 UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_PAGES,
		.run = uafault_pin_dma_read,
		.hold = uafault_pin_dma_read_hold,
		.release = uafault_pin_dma_read_release,
		.owner = THIS_MODULE,
	},
};

static int uafault_pci_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	int err;

	if (uafault_pci)
		return -EBUSY;
	err = pcim_enable_device(pdev);
	if (err)
		return err;
	pci_set_master(pdev);
	uafault_pci = pdev;
	return 0;
}

static void uafault_pci_remove(struct pci_dev *pdev)
{
	uafault_pci = NULL;
}

static const struct pci_device_id uafault_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT, UAFAULT_PCI_TESTDEV) },
	{ }
};

/* No sysfs unbind: the DMA targets use the device until module exit. */
static struct pci_driver uafault_pci_driver = {
	.name = "uafault_dma",
	.id_table = uafault_pci_ids,
	.probe = uafault_pci_probe,
	.remove = uafault_pci_remove,
	.driver.suppress_bind_attrs = true,
};

/* The PCI device when one was bound, else a platform device of our own. */
static struct device *uafault_dma_pick(void)
{
	struct platform_device *pdev;
	int err;

	err = pci_register_driver(&uafault_pci_driver);
	if (err)
		pr_info("no PCI DMA device: %d\n", err);
	uafault_pci_registered = !err;
	if (uafault_pci)
		return &uafault_pci->dev;

	pdev = platform_device_register_simple("uafault-dma",
					       PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(pdev)) {
		pr_info("no DMA targets: cannot create device: %pe\n", pdev);
		return NULL;
	}
	uafault_pdev = pdev;
	return &pdev->dev;
}

static void uafault_dma_put(void)
{
	uafault_dma_dev = NULL;
	if (uafault_pdev)
		platform_device_unregister(uafault_pdev);
	uafault_pdev = NULL;
	if (uafault_pci_registered)
		pci_unregister_driver(&uafault_pci_driver);
	uafault_pci_registered = false;
}

/* Without a usable device the DMA targets are left out, not an error. */
int uafault_dma_init(void)
{
	struct device *dev = uafault_dma_pick();
	int err;

	if (!dev)
		goto none;
	err = dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (err) {
		pr_info("no DMA targets: cannot set DMA mask: %d\n", err);
		goto none;
	}
	/* dma-direct or iommu-dma: where uafault_dev_phys() can follow. */
	if (uafault_other_dma_ops(dev)) {
		pr_info("no DMA targets: %s has its own DMA ops\n",
			dev_name(dev));
		goto none;
	}
	uafault_dma_dev = dev;
	dev_info(dev, "DMA targets: %s\n",
		 uafault_use_dma_iommu(dev) ? "iommu-dma" : "dma-direct");
	err = uafault_register_targets(uafault_dma_targets,
				       ARRAY_SIZE(uafault_dma_targets));
	if (err)
		uafault_dma_put();
	return err;

none:
	uafault_dma_put();
	return 0;
}

void uafault_dma_exit(void)
{
	if (!uafault_dma_dev)
		return;
	uafault_unregister_targets(uafault_dma_targets,
				   ARRAY_SIZE(uafault_dma_targets));
	uafault_dma_put();
}
