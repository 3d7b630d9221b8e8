/* SPDX-License-Identifier: GPL-2.0 */
/* memory.c: what backs a range, and its proof. */
#ifndef UAFAULT_MEMORY_H
#define UAFAULT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umem;

struct memory_kind {
	const char *name;
	int map_flags;		/* MAP_PRIVATE or MAP_SHARED, | MAP_ANONYMOUS */
	int (*open)(size_t len);	/* the file it maps, or -errno */
	int (*reserve)(void);	/* what it needs first (huge pages), -errno */
	bool untouched;		/* only read: its pages map the zero page */
	bool huge;		/* a THP-aligned huge page, MADV_HUGEPAGE */
	bool no_longterm_write;	/* GUP refuses FOLL_LONGTERM | FOLL_WRITE */
	bool merged;		/* merged by KSM with a twin of its bytes */
	bool device;		/* /dev/uafault's mmap: VM_PFNMAP, no GUP */
	bool backed;		/* MAP_SHARED of a file a disk backs */
	bool shmem;		/* shmem pages: swapped out, no swap PTE */
	uint64_t must, must_not;	/* kpageflags of every page */
	/*
	 * A range laid out page by page (out of order, a page twice):
	 * @map_pages maps it and puts the bytes in (0 or -errno), @proof
	 * proves the order by pagemap (the reason in m->why), @undo is
	 * --break-memory's.
	 */
	int (*map_pages)(struct umem *m, const unsigned char *bytes);
	bool (*proof)(struct umem *m, const struct memory_kind *mk);
	void (*undo)(struct umem *m);
	const char *skip;	/* fault kinds that mean nothing on it */
	const char *why;	/* ... and why */
};

extern const struct memory_kind memory_kinds[];
extern const unsigned int nr_memory_kinds;
const struct memory_kind *find_memory(const char *name);
const struct memory_kind *memory_of(const struct memory_kind *mk);
size_t memory_folio(const struct memory_kind *mk);
bool offset_fits(long offset, const struct memory_kind *mk);
bool memory_allows(const struct memory_kind *mk, const char *fault);
void list_memory(const struct memory_kind *mk);
int memory_map(struct umem *m, const struct memory_kind *mk,
	       const unsigned char *bytes);
bool memory_proven(struct umem *m, const struct memory_kind *mk);
void memory_break(struct umem *m, const struct memory_kind *mk);
bool memory_private_file(const struct memory_kind *mk);
long smaps_kb(const void *addr, const char *field);
unsigned int memory_swapped(const struct umem *m, size_t npages);
struct plan;
unsigned int memory_twice(const struct plan *p);
bool read_pagemap(const unsigned char *addr, size_t n, uint64_t *entries);
bool page_frames(const unsigned char *addr, size_t n, uint64_t *pfn);

#endif
