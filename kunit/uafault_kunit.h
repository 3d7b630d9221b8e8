/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the uafault KUnit suites: user memory with a fault
 * planted in it, the oracle that says which bytes an access may reach, and
 * the checks every suite applies to the bytes on both sides of an access.
 */
#ifndef _UAFAULT_KUNIT_H
#define _UAFAULT_KUNIT_H

#include <kunit/test.h>
#include <linux/types.h>

#include "../module/uafault_known.h"
#include "compat.h"

/* Poison of kernel buffers; user patterns stay below it (see pattern). */
#define UAFAULT_POISON		0xa5
/* Poisoned bytes kept on both sides of every kernel buffer. */
#define UAFAULT_GUARD		16
/* Pages of the largest mapping a layout describes. */
#define UAFAULT_MAX_PAGES	3
/* Most layouts one uafault_layouts() call makes: plans x offsets. */
#define UAFAULT_MAX_LAYOUTS	64

/**
 * enum uafault_fault - what is wrong with the page of a range that faults
 * @UAFAULT_NONE: nothing; every page is mapped read-write
 * @UAFAULT_UNMAPPED: the page is munmapped (a hole in the range)
 * @UAFAULT_PROT_NONE: the page is mapped PROT_NONE
 * @UAFAULT_READ_ONLY: the page is mapped PROT_READ (and reads as zeroes)
 * @UAFAULT_NR_FAULTS: number of fault kinds
 */
enum uafault_fault {
	UAFAULT_NONE,
	UAFAULT_UNMAPPED,
	UAFAULT_PROT_NONE,
	UAFAULT_READ_ONLY,
	UAFAULT_NR_FAULTS,
};

/**
 * struct uafault_layout - a user range and the fault planted in it
 * @npages: pages in the mapping
 * @hole: index of the faulting page, or -1
 * @fault: kind of fault at @hole
 * @offset: first byte of the range, from the start of the mapping
 * @trim: bytes of the mapping left after the range
 */
struct uafault_layout {
	u8 npages;
	s8 hole;
	u8 fault;
	u16 offset;
	u16 trim;
};

/**
 * struct uafault_umem - user memory laid out as a &struct uafault_layout
 * @test: the test owning the mapping
 * @layout: the plan
 * @base: first byte of the mapping
 * @addr: first byte of the range
 * @len: bytes in the range
 * @map_len: bytes in the mapping
 * @before: the readable bytes of the mapping, read after the fault was
 *	    planted and before the access under test
 */
struct uafault_umem {
	struct kunit *test;
	const struct uafault_layout *layout;
	unsigned long base;
	unsigned long addr;
	size_t len;
	size_t map_len;
	u8 *before;
};

/**
 * struct uafault_case - one access over one layout
 * @op: which access, an index into the suite's own table
 * @flags: the access's flags (FOLL_*), if it takes any
 * @layout: the user memory it runs on
 */
struct uafault_case {
	u8 op;
	unsigned int flags;
	struct uafault_layout layout;
};

/*
 * Parameter tables too large to write out: a static array filled by the
 * suite's .suite_init from small dimension tables, and a generator that
 * walks the filled part.  @describe writes the case name.  .suite_init
 * runs again for every run of the suite (debugfs's kunit/<suite>/run), so
 * it starts with name##_reset(), or the rerun would add the cases twice.
 */
#define UAFAULT_PARAM_TABLE(name, type, max, describe)			\
static type name##_table[max];						\
static unsigned int name##_count;					\
static void name##_reset(void)						\
{									\
	name##_count = 0;						\
}									\
static type *name##_add(void)						\
{									\
	if (name##_count >= ARRAY_SIZE(name##_table))			\
		return NULL;						\
	return memset(&name##_table[name##_count++], 0, sizeof(type));	\
}									\
static const void *name##_gen_params(const void *prev, char *desc)	\
{									\
	const type *next = prev ? (const type *)prev + 1 : name##_table;	\
									\
	if (next >= name##_table + name##_count)			\
		return NULL;						\
	describe(next, desc);						\
	return next;							\
}

/*
 * A case that runs the suite's .suite_init @init again, as a rerun through
 * debugfs does, and checks that its tables, @cases() cases in all, come
 * out the same size and not doubled.
 */
#define UAFAULT_REINIT_TEST(name, init, cases)				\
static void name##_reinit_test(struct kunit *test)			\
{									\
	unsigned int before = cases();					\
									\
	KUNIT_ASSERT_EQ(test, init(NULL), 0);				\
	KUNIT_EXPECT_EQ(test, cases(), before);				\
}

/*
 * A table of &struct uafault_case, and name##_add_layouts() to add one
 * access over every layout uafault_layouts() makes.
 */
#define UAFAULT_LAYOUT_TABLE(name, max, describe)			\
UAFAULT_PARAM_TABLE(name, struct uafault_case, max, describe)		\
static int name##_add_layouts(u8 op, unsigned int flags, u8 npages,	\
			      const u8 *faults, unsigned int nfaults,	\
			      const u16 *offsets, unsigned int noffsets,	\
			      u16 trim)					\
{									\
	struct uafault_layout l[UAFAULT_MAX_LAYOUTS];			\
	int n = uafault_layouts(l, ARRAY_SIZE(l), npages, faults,	\
				nfaults, offsets, noffsets, trim);	\
	struct uafault_case *c;						\
	int i;								\
									\
	for (i = 0; i < n; i++) {					\
		c = name##_add();					\
		if (!c)							\
			return -ENOSPC;					\
		*c = (struct uafault_case) { op, flags, l[i] };		\
	}								\
	return n < 0 ? n : 0;						\
}

/*
 * uafault_known() - the kernel shows a recorded deviation (or does not)
 * @test: the case
 * @id: the record (module/uafault_known.h)
 * @shows: the case observed the record's deviation instead of the contract
 *
 * Call it where the deviation would show if the kernel had it.  When it
 * does, the case is a known deviation: a SKIP whose reason starts XFAIL
 * and names the record and its fix (unless the case already failed), and
 * the caller asserts the rest of the deviation's shape.  When it does not,
 * the log says so and the caller asserts the contract.  Returns @shows.
 */
bool uafault_known(struct kunit *test, enum uafault_known_id id, bool shows);

const char *uafault_fault_name(enum uafault_fault fault);
bool uafault_fault_blocks(enum uafault_fault fault, bool write);
u8 uafault_pattern(size_t index, u8 seed);
int uafault_layouts(struct uafault_layout *out, unsigned int max, u8 npages,
		    const u8 *faults, unsigned int nfaults, const u16 *offsets,
		    unsigned int noffsets, u16 trim);
int uafault_layout_name(const struct uafault_layout *l, char *buf,
			size_t size);

unsigned long uafault_mmap(struct kunit *test, size_t len,
			   unsigned long prot);
void uafault_plant(struct kunit *test, unsigned long page,
		   enum uafault_fault fault);
void uafault_umem_map(struct kunit *test, struct uafault_umem *m,
		      const struct uafault_layout *l, u8 seed);
void uafault_umem_arm(struct uafault_umem *m);
void uafault_umem_setup(struct kunit *test, struct uafault_umem *m,
			const struct uafault_layout *l, u8 seed);
size_t uafault_umem_reach(const struct uafault_umem *m, bool write);
u8 *uafault_umem_snapshot(const struct uafault_umem *m);
u8 uafault_umem_byte(const struct uafault_umem *m, size_t index);

void uafault_expect_bound(struct kunit *test, size_t len, size_t not_done,
			  size_t reach);
void uafault_expect_user_write(const struct uafault_umem *m,
			       const u8 *src, size_t done, size_t reach);

u8 *uafault_kbuf(struct kunit *test, size_t len);
void uafault_expect_guards(struct kunit *test, const u8 *kbuf, size_t len);
void uafault_expect_kbuf_read(const struct uafault_umem *m, const u8 *kbuf,
			      size_t done, bool zero_tail);

long uafault_pin_balance(void);

#endif /* _UAFAULT_KUNIT_H */
