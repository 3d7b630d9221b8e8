/* SPDX-License-Identifier: GPL-2.0 */
/* plan.c: a user range and the fault planted in it. */
#ifndef UAFAULT_PLAN_H
#define UAFAULT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "agent.h"
#include "target.h"
#include "verdict.h"

enum fault { F_NONE, F_UNMAPPED, F_PROT_NONE, F_READ_ONLY };

struct memory_kind;

/* A user range and the fault planted in it. */
struct plan {
	unsigned int npages;
	int hole;		/* page with the fault, -1 for none */
	enum fault fault;
	size_t offset;		/* range start from the mapping start */
	size_t len;
	/*
	 * On memory of large folios: which page of its first folio the
	 * plan's page 0 is (a case's offset past the first page), 0 else.
	 */
	unsigned int folio_page;
	const struct memory_kind *memory;	/* NULL: private anonymous */
	bool broken;		/* undo the memory's promise (--break-memory) */
};

#define RANGE_PAGES	3
void describe_plan(struct verdict *v, const struct plan *p);
void place(const struct agent *a, struct plan *p, const struct target *t,
	   size_t offset);
size_t start_at(const struct target *t, size_t offset);
bool target_writes(const struct target *t);
bool needs_write(const struct target *t);
bool refused_whole(const struct target *t, const void *addr, size_t len);
bool fault_blocks(enum fault f, bool write);
size_t plan_reach(const struct plan *p, bool write);
bool memory_refuses(const struct plan *p, const struct target *t);
bool pins_page_twice(const struct plan *p, const struct target *t,
		     size_t reach);
bool memory_refuses_hold(const struct plan *p, const struct target *t);
size_t target_reach(const struct plan *p, const struct target *t);

#endif
