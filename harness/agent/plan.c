// SPDX-License-Identifier: GPL-2.0
/*
 * The fault plan: where a case's range lies in its pages, which page holds
 * the fault, and how far a target can get into the range before it.
 */
#include <stdio.h>

#include "agent.h"
#include "memory.h"
#include "plan.h"
#include "protocol.h"
#include "target.h"
#include "verdict.h"

void describe_plan(struct verdict *v, const struct plan *p)
{
	static const char * const names[] = {
		"none", "unmapped", "prot_none", "read_only",
	};

	note(v, "# plan: pages=%u hole=%d:%s offset=%zu len=%zu\n",
	     p->npages, p->hole, names[p->fault], p->offset, p->len);
	if (p->folio_page)
		note(v, "# plan: page 0 is page %u of a large folio\n",
		     p->folio_page);
}

/*
 * The range of a plan: a fixed-length target's length, else the run's
 * --size, else to the end of the kind's pages.  A run's --offset replaces
 * the kind's own start; past the first page (memory of large folios,
 * offset_fits()) it says where in the first folio the plan's pages lie:
 * page 0 is that page of the folio, the range starts in it.  The mapping
 * grows to hold the range.
 */
void place(const struct agent *a, struct plan *p,
		  const struct target *t, size_t offset)
{
	size_t need;

	if (a->offset >= 0 && !t->fixed_len) {
		offset = a->offset % PAGE;
		p->folio_page = a->offset / PAGE;
	}
	p->offset = offset;
	p->memory = a->memory;
	p->broken = a->break_memory;
	if (t->fixed_len)
		p->len = t->fixed_len;
	else if (a->size)
		p->len = a->size;
	else
		p->len = p->npages * PAGE - offset;
	need = (p->offset + p->len + PAGE - 1) / PAGE;
	if (need > p->npages)
		p->npages = need;
}

/*
 * Where a kind's range starts: at @offset, or for a fixed-length target
 * (get_user, put_user) straddling the boundary into page 1.
 */
size_t start_at(const struct target *t, size_t offset)
{
	return t->fixed_len ? PAGE - t->fixed_len / 2 : offset;
}

bool target_writes(const struct target *t)
{
	return t->flags & UAFAULT_TF_WRITE;
}

/* A read-only page stops @t: it writes there, or pins for writing. */
bool needs_write(const struct target *t)
{
	return target_writes(t) || t->contract.write_pin;
}

/* A range @t's contract refuses whole: misaligned, or too short. */
bool refused_whole(const struct target *t, const void *addr, size_t len)
{
	const struct contract *c = &t->contract;

	return (c->addr_align && (uintptr_t)addr % c->addr_align) ||
	       (c->len_align && len % c->len_align) || len < c->min_len;
}

bool fault_blocks(enum fault f, bool write)
{
	return f == F_UNMAPPED || f == F_PROT_NONE ||
	       (f == F_READ_ONLY && write);
}

size_t plan_reach(const struct plan *p, bool write)
{
	size_t hole_start;

	if (p->hole < 0 || !fault_blocks(p->fault, write))
		return p->len;
	hole_start = (size_t)p->hole * PAGE;
	if (hole_start + PAGE <= p->offset)
		return p->len;		/* a guard before the range */
	if (hole_start <= p->offset)
		return 0;
	return hole_start - p->offset < p->len ? hole_start - p->offset :
						 p->len;
}

/*
 * The memory refuses the way @t takes its pages, so it gets none whatever
 * the fault: a long-term write pin of ext4 page cache, or any GUP of a
 * VM_IO | VM_PFNMAP mapping (check_vma_flags()).  Every kind's
 * expectation goes through here (expect_for(), contract_refusal()).
 */
bool memory_refuses(const struct plan *p, const struct target *t)
{
	if (!p->memory)
		return false;
	if (p->memory->no_longterm_write && t->flags & UAFAULT_TF_LONGTERM &&
	    needs_write(t))
		return true;
	return p->memory->device && t->flags & UAFAULT_TF_PIN;
}

/*
 * The memory refuses the pages a UAFAULT_TF_HOLD target keeps for its
 * device.  Such a buffer is a long-term pin whatever the target's run()
 * does (the movable kind holds every holding target to it), taken for
 * writing when the target writes the range: ext4 page cache refuses a
 * writing one, a VM_PFNMAP range every one (check_vma_flags()).  The
 * hold gets GUP's -EFAULT and keeps nothing, as a refused call does.
 */
bool memory_refuses_hold(const struct plan *p, const struct target *t)
{
	if (!p->memory || !(t->flags & UAFAULT_TF_HOLD))
		return false;
	if (p->memory->no_longterm_write && needs_write(t))
		return true;
	return p->memory->device;
}

/*
 * @t refuses the range whole, -EBUSY with nothing done, because what it
 * pins of it within @reach holds one page twice (page_twice memory, both
 * its pages pinned): a target that maps its pinned pages for its device
 * to write (UAFAULT_TF_UNIQUE_PAGES, pin_dma_write) must not map one page
 * twice, which the DMA API does not support (kernel/dma/debug.c,
 * add_dma_entry(): "overlapping mappings aren't supported").  Its pin
 * takes the pages from the range's first up to the fault.
 */
bool pins_page_twice(const struct plan *p, const struct target *t,
		     size_t reach)
{
	unsigned int twice = memory_twice(p);
	size_t first = p->offset / PAGE, end = (p->offset + reach + PAGE - 1) / PAGE;

	return t->flags & UAFAULT_TF_UNIQUE_PAGES && twice && reach &&
	       first <= twice - 1 && twice < end;
}

/* What the target can get at: the plan's reach, or what the memory allows. */
size_t target_reach(const struct plan *p, const struct target *t)
{
	return memory_refuses(p, t) ? 0 : plan_reach(p, needs_write(t));
}
