// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_struct: check_zeroed_user and copy_struct_from_user (the
 * extensible-struct ABI of clone3, openat2, sched_setattr ...) with an
 * unmapped page at, inside or after the tail region, user sizes smaller
 * than, equal to and larger than the kernel's, and a non-zero byte placed
 * before or after the fault.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/uaccess.h>

#include "uafault_kunit.h"

#define NO_BYTE		(-1)

/* The kernel's version of an extensible struct. */
struct kstruct {
	u8 bytes[64];
};

#define KSIZE		sizeof(struct kstruct)

/*
 * check_zeroed_user() reads aligned words in order and stops at the first
 * non-zero one.  Holes are page aligned, so a non-zero byte before the
 * hole always lies in an earlier word than the hole: whichever comes first
 * decides.  Bytes outside the range share words with it and must be
 * masked off (the mapping's other bytes are non-zero junk).
 */
static int zeroed_expect(size_t size, size_t nonzero, size_t hole)
{
	if (min(nonzero, hole) >= size)
		return 1;
	return nonzero < hole ? 0 : -EFAULT;
}

struct zeroed_case {
	bool copy_struct;	/* copy_struct_from_user, else check_zeroed_user */
	u8 fault;		/* of page 1 */
	u16 room;		/* bytes from the start to page 1 */
	u16 size;		/* size, or usize */
	s16 nonzero;		/* index of the one non-zero byte, or NO_BYTE */
};

static void zeroed_case_name(const struct zeroed_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE,
		 "%s %s=%u room=%u nonzero=%d next=%s",
		 c->copy_struct ? "copy_struct_from_user" : "check_zeroed_user",
		 c->copy_struct ? "usize" : "size", c->size, c->room,
		 c->nonzero, uafault_fault_name(c->fault));
}

UAFAULT_PARAM_TABLE(zeroed, struct zeroed_case, 320, zeroed_case_name);

static size_t hole_index(const struct zeroed_case *c)
{
	return c->fault == UAFAULT_NONE ? SIZE_MAX : c->room;
}

static size_t nonzero_index(const struct zeroed_case *c)
{
	return c->nonzero == NO_BYTE ? SIZE_MAX : c->nonzero;
}

/* copy_struct_from_user() checks the tail first, then copies the head. */
static int copy_struct_expect(const struct zeroed_case *c)
{
	size_t hole = hole_index(c), nonzero = nonzero_index(c);
	size_t size = min_t(size_t, KSIZE, c->size);
	int zeroed;

	if (c->size > KSIZE) {
		zeroed = zeroed_expect(c->size - KSIZE,
				       nonzero == SIZE_MAX ? SIZE_MAX :
							     nonzero - KSIZE,
				       hole <= KSIZE ? 0 :
				       hole == SIZE_MAX ? SIZE_MAX : hole - KSIZE);
		if (zeroed <= 0)
			return zeroed ?: -E2BIG;
	}
	return hole < size ? -EFAULT : 0;
}

/*
 * The range is zero but for its head (a kstruct's worth of pattern, for
 * copy_struct_from_user) and the one non-zero byte; the bytes around it
 * keep the non-zero pattern.
 */
static void map_zeroed(struct kunit *test, struct uafault_umem *m,
		       struct uafault_layout *l, const struct zeroed_case *c)
{
	size_t head = c->copy_struct ? min_t(size_t, KSIZE, c->size) : 0;

	*l = (struct uafault_layout) {
		.npages = 2,
		.hole = c->fault == UAFAULT_NONE ? -1 : 1,
		.fault = c->fault,
		.offset = PAGE_SIZE - c->room,
		.trim = PAGE_SIZE + c->room - c->size,
	};
	uafault_umem_map(test, m, l, 1);
	KUNIT_ASSERT_EQ(test, clear_user((void __user *)m->addr + head,
					 c->size - head), 0);
	if (c->nonzero != NO_BYTE)
		KUNIT_ASSERT_EQ(test, put_user((u8)0x5a,
					       (u8 __user *)m->addr + c->nonzero),
				0);
	uafault_umem_arm(m);
}

static void zeroed_test(struct kunit *test)
{
	const struct zeroed_case *c = test->param_value;
	struct uafault_layout l;
	struct uafault_umem m;
	struct kstruct dst;
	size_t size, i;
	int want, ret;

	map_zeroed(test, &m, &l, c);
	if (!c->copy_struct) {
		ret = check_zeroed_user((void __user *)m.addr, c->size);
		KUNIT_EXPECT_EQ(test, ret, zeroed_expect(c->size,
							 nonzero_index(c),
							 hole_index(c)));
		return;
	}

	memset(&dst, UAFAULT_POISON, sizeof(dst));
	want = copy_struct_expect(c);
	ret = copy_struct_from_user(&dst, sizeof(dst), (void __user *)m.addr,
				    c->size);
	KUNIT_ASSERT_EQ(test, ret, want);
	if (ret == -E2BIG)
		KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(&dst, UAFAULT_POISON,
							sizeof(dst)),
				      "-E2BIG but the struct was written");
	if (ret)
		return;
	size = min_t(size_t, KSIZE, c->size);
	for (i = 0; i < size; i++)
		KUNIT_ASSERT_EQ_MSG(test, dst.bytes[i], uafault_umem_byte(&m, i),
				    "byte %zu", i);
	KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(dst.bytes + size, 0,
						KSIZE - size),
			      "the kernel's extra fields are not zeroed");
}

static int add_zeroed_case(bool copy_struct, u8 fault, u16 room, u16 size,
			   s16 nonzero)
{
	struct zeroed_case *c;
	unsigned int i;

	if (nonzero != NO_BYTE && nonzero >= size)
		return 0;
	for (i = 0; i < zeroed_count; i++) {
		c = &zeroed_table[i];
		if (c->copy_struct == copy_struct && c->fault == fault &&
		    c->room == room && c->size == size && c->nonzero == nonzero)
			return 0;
	}
	c = zeroed_add();
	if (!c)
		return -ENOSPC;
	*c = (struct zeroed_case) { copy_struct, fault, room, size, nonzero };
	return 0;
}

static int zeroed_suite_init(struct kunit_suite *suite)
{
	static const u8 faults[] = { UAFAULT_NONE, UAFAULT_UNMAPPED };
	static const u16 check_rooms[] = { 3, 8, 13, 64 };
	static const u16 struct_rooms[] = { 8, 40, 64, 72, 100 };
	static const u16 usizes[] = { KSIZE / 2, KSIZE, KSIZE + 8, 2 * KSIZE };
	unsigned int f, r, s, z;
	int ret = 0;

	zeroed_reset();
	for (f = 0; f < ARRAY_SIZE(faults); f++) {
		for (r = 0; r < ARRAY_SIZE(check_rooms); r++) {
			u16 room = check_rooms[r];
			const u16 sizes[] = {
				room - 1, room, room + 5, room + PAGE_SIZE / 2,
			};

			for (s = 0; s < ARRAY_SIZE(sizes); s++) {
				const s16 nonzero[] = {
					NO_BYTE, 0, room - 1, room, sizes[s] - 1,
				};

				for (z = 0; z < ARRAY_SIZE(nonzero) && !ret; z++)
					ret = add_zeroed_case(false, faults[f],
							      room, sizes[s],
							      nonzero[z]);
			}
		}
		for (r = 0; r < ARRAY_SIZE(struct_rooms); r++) {
			for (s = 0; s < ARRAY_SIZE(usizes); s++) {
				u16 usize = usizes[s];
				const s16 nonzero[] = {
					NO_BYTE, KSIZE, KSIZE + 7, usize - 1,
				};

				for (z = 0; z < ARRAY_SIZE(nonzero) && !ret; z++) {
					if (nonzero[z] != NO_BYTE &&
					    nonzero[z] < KSIZE)
						continue;
					ret = add_zeroed_case(true, faults[f],
							      struct_rooms[r],
							      usize, nonzero[z]);
				}
			}
		}
		if (ret)
			return ret;
	}
	return 0;
}

static unsigned int zeroed_cases(void)
{
	return zeroed_count;
}

UAFAULT_REINIT_TEST(zeroed, zeroed_suite_init, zeroed_cases);

static struct kunit_case struct_test_cases[] = {
	KUNIT_CASE_PARAM(zeroed_test, zeroed_gen_params),
	KUNIT_CASE(zeroed_reinit_test),
	{}
};

static struct kunit_suite uafault_struct_suite = {
	.name = "uafault_struct",
	.suite_init = zeroed_suite_init,
	.test_cases = struct_test_cases,
};

kunit_test_suite(uafault_struct_suite);
