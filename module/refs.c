// SPDX-License-Identifier: GPL-2.0
/*
 * UAFAULT_IOC_PAGE_REFS: the references each page under a user range
 * holds beyond its mappings.  The pin counters see FOLL_PIN only; a
 * get_user_pages() user that keeps a page reference (vmsplice's pipe, a
 * driver's FOLL_GET buffer) or drops one it never took is seen here, as
 * a change the agent compares across a call.  UAFAULT_IOC_PIN_BALANCE: the
 * pin counters, exact without a vmstat refresh.
 */
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "internal.h"
#include "pin_stat.h"

/*
 * What the page cache (or swap cache) and a file system's private data
 * (buffer heads, attached at the first write fault) hold: theirs, not a
 * caller's, and they come and go while a call writes a file's page.
 */
static int cache_refs(struct folio *folio)
{
	int refs = folio_test_private(folio);

	if (folio_test_swapcache(folio) ||
	    (!folio_test_anon(folio) && folio->mapping))
		refs += folio_nr_pages(folio);
	return refs;
}

/* One page, taken without faulting it in (GUP-fast only). */
static void page_ref_of(unsigned long addr, struct uafault_page_ref *ref)
{
	struct folio *folio;
	struct page *page;
	int beyond;

	memset(ref, 0, sizeof(*ref));
	if (get_user_pages_fast_only(addr, 1, 0, &page) != 1)
		return;
	folio = page_folio(page);
	ref->pfn = page_to_pfn(page);
	/* Less the reference get_user_pages_fast_only() just took. */
	beyond = folio_ref_count(folio) - 1 - uafault_folio_mapcount(folio) -
		 cache_refs(folio);
	if (folio_test_large(folio)) {
		ref->pins = atomic_read(&folio->_pincount);
		ref->extra = beyond - ref->pins;
	} else {
		/*
		 * A small folio's pin is GUP_PIN_COUNTING_BIAS references;
		 * to the nearest, so a pin less a put_page() is still a pin.
		 */
		ref->pins = beyond > 0 ? (beyond + GUP_PIN_COUNTING_BIAS / 2) /
					 GUP_PIN_COUNTING_BIAS : 0;
		ref->extra = beyond - ref->pins * GUP_PIN_COUNTING_BIAS;
	}
	if (folio_test_lru(folio))
		ref->flags |= UAFAULT_REF_LRU;
	if (folio_test_large(folio))
		ref->flags |= UAFAULT_REF_LARGE;
	put_page(page);
}

long uafault_ioctl_pin_balance(struct uafault_pin_balance __user *uarg)
{
	struct uafault_pin_balance b;
	s64 acquired, released;

	uafault_pin_counts(&acquired, &released);
	b.acquired = acquired;
	b.released = released;
	return copy_to_user(uarg, &b, sizeof(b)) ? -EFAULT : 0;
}

long uafault_ioctl_page_refs(struct uafault_page_refs __user *uarg)
{
	struct uafault_page_ref __user *out;
	struct uafault_page_refs req;
	struct uafault_page_ref ref;
	u32 i;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (!req.npages || req.npages > UAFAULT_REFS_MAX_PAGES ||
	    req.reserved || !PAGE_ALIGNED(req.addr) ||
	    req.addr > TASK_SIZE - (u64)req.npages * PAGE_SIZE)
		return -EINVAL;
	out = u64_to_user_ptr(req.refs);
	for (i = 0; i < req.npages; i++) {
		page_ref_of(req.addr + (unsigned long)i * PAGE_SIZE, &ref);
		if (copy_to_user(&out[i], &ref, sizeof(ref)))
			return -EFAULT;
	}
	return 0;
}
