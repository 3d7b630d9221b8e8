// SPDX-License-Identifier: GPL-2.0
/*
 * mmap() of /dev/uafault: pages of the module's own, mapped with
 * remap_pfn_range() (VM_PFNMAP | VM_IO), the way a driver exposes device
 * memory or a buffer it allocated.  User space reads and writes them like
 * any memory, so a copy works; GUP refuses the mapping (check_vma_flags():
 * -EFAULT), so every pin or page reference of it must fail whole.  The
 * agent's "pfnmap" memory kind.
 *
 * The mapping must be MAP_SHARED, at offset 0, at most
 * UAFAULT_MMAP_MAX_LEN bytes.  A split (munmap or mprotect of part of it)
 * shares the buffer; the last VMA to go frees it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/slab.h>

#include "internal.h"

struct uafault_mmap_buf {
	refcount_t users;	/* VMAs that map it */
	void *mem;
	size_t len;
};

static void uafault_mmap_put(struct uafault_mmap_buf *buf)
{
	if (!refcount_dec_and_test(&buf->users))
		return;
	free_pages_exact(buf->mem, buf->len);
	kfree(buf);
}

/* A split or a fork's copy: one more VMA on the buffer. */
static void uafault_vm_open(struct vm_area_struct *vma)
{
	struct uafault_mmap_buf *buf = vma->vm_private_data;

	refcount_inc(&buf->users);
}

static void uafault_vm_close(struct vm_area_struct *vma)
{
	uafault_mmap_put(vma->vm_private_data);
}

static const struct vm_operations_struct uafault_vm_ops = {
	.open = uafault_vm_open,
	.close = uafault_vm_close,
};

int uafault_mmap(struct file *file, struct vm_area_struct *vma)
{
	size_t len = vma->vm_end - vma->vm_start;
	struct uafault_mmap_buf *buf;
	int err;

	if (vma->vm_pgoff || len > UAFAULT_MMAP_MAX_LEN ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	buf->len = len;
	buf->mem = alloc_pages_exact(len, GFP_KERNEL | __GFP_ZERO);
	if (!buf->mem) {
		err = -ENOMEM;
		goto err_buf;
	}
	refcount_set(&buf->users, 1);
	err = remap_pfn_range(vma, vma->vm_start,
			      PHYS_PFN(virt_to_phys(buf->mem)), len,
			      vma->vm_page_prot);
	if (err)
		goto err_mem;
	vma->vm_private_data = buf;
	vma->vm_ops = &uafault_vm_ops;
	return 0;

err_mem:
	free_pages_exact(buf->mem, len);
err_buf:
	kfree(buf);
	return err;
}
