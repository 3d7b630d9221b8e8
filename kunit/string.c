// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_string: strncpy_from_user and strnlen_user on a string that ends
 * @d bytes before an unmapped page, with the NUL before, at (the first byte
 * of the hole) and past the fault, and counts smaller and larger than the
 * string.  The user bytes after the NUL are junk, and must not reach the
 * kernel copy (6fa6d28051e9, "lib/strncpy_from_user.c: Mask out bytes after
 * NUL terminator").
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/uaccess.h>

#include "uafault_kunit.h"

enum nul_where { NUL_BEFORE, NUL_AT, NUL_PAST };

struct string_case {
	bool strnlen;
	u8 fault;	/* of the page after the string's start */
	u16 room;	/* readable bytes from the string's start to that page */
	u16 len;	/* of the string, i.e. index of its NUL */
	u16 count;
};

static void string_case_name(const struct string_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE,
		 "%s len=%u count=%u room=%u next=%s",
		 c->strnlen ? "strnlen_user" : "strncpy_from_user",
		 c->len, c->count, c->room, uafault_fault_name(c->fault));
}

UAFAULT_PARAM_TABLE(string, struct string_case, 256, string_case_name);

/* What the oracle derives from the plan. */
enum string_outcome { FOUND_NUL, HIT_COUNT, FAULTED };

static enum string_outcome string_expect(const struct string_case *c)
{
	size_t readable = c->fault == UAFAULT_NONE ? SIZE_MAX : c->room;

	if (c->len < c->count && c->len < readable)
		return FOUND_NUL;
	if (c->count <= readable)
		return HIT_COUNT;
	return FAULTED;
}

static void map_string(struct kunit *test, struct uafault_umem *m,
		       struct uafault_layout *l, const struct string_case *c)
{
	*l = (struct uafault_layout) {
		.npages = 2,
		.hole = c->fault == UAFAULT_NONE ? -1 : 1,
		.fault = c->fault,
		.offset = PAGE_SIZE - c->room,
	};
	uafault_umem_map(test, m, l, 1);
	/* The pattern is never 0: this is the only NUL, the rest is junk. */
	KUNIT_ASSERT_EQ(test, put_user(0, (char __user *)m->addr + c->len), 0);
	uafault_umem_arm(m);
}

static void strncpy_check(struct kunit *test, const struct uafault_umem *m,
			  const struct string_case *c, long ret, const u8 *dst)
{
	size_t i;

	switch (string_expect(c)) {
	case FOUND_NUL:
		KUNIT_ASSERT_EQ(test, ret, c->len);
		for (i = 0; i < c->len; i++)
			KUNIT_ASSERT_EQ_MSG(test, dst[i], uafault_umem_byte(m, i),
					    "byte %zu", i);
		KUNIT_EXPECT_EQ(test, dst[c->len], 0);
		/* After the NUL: untouched or zero, never the user's junk. */
		for (i = c->len + 1; i < c->count; i++)
			KUNIT_ASSERT_TRUE_MSG(test, dst[i] == 0 ||
					      dst[i] == UAFAULT_POISON,
					      "stale byte %#x at %zu after the NUL",
					      dst[i], i);
		break;
	case HIT_COUNT:
		KUNIT_ASSERT_EQ(test, ret, c->count);
		for (i = 0; i < c->count; i++)
			KUNIT_ASSERT_EQ_MSG(test, dst[i], uafault_umem_byte(m, i),
					    "byte %zu", i);
		break;
	case FAULTED:
		KUNIT_EXPECT_EQ(test, ret, -EFAULT);
		break;
	}
	uafault_expect_guards(test, dst, c->count);
}

static void strnlen_check(struct kunit *test, const struct string_case *c,
			  long ret)
{
	switch (string_expect(c)) {
	case FOUND_NUL:
		/* The size of the string including its NUL. */
		KUNIT_EXPECT_EQ(test, ret, c->len + 1);
		break;
	case HIT_COUNT:
		/* "Too long" is any value above count: it may overshoot. */
		KUNIT_EXPECT_GT(test, ret, c->count);
		break;
	case FAULTED:
		KUNIT_EXPECT_EQ(test, ret, 0);
		break;
	}
}

static void string_test(struct kunit *test)
{
	const struct string_case *c = test->param_value;
	struct uafault_layout l;
	struct uafault_umem m;
	u8 *dst;

	map_string(test, &m, &l, c);
	if (c->strnlen) {
		strnlen_check(test, c,
			      strnlen_user((const char __user *)m.addr,
					   c->count));
	} else {
		dst = uafault_kbuf(test, c->count);
		strncpy_check(test, &m, c,
			      strncpy_from_user(dst, (const char __user *)m.addr,
						c->count), dst);
	}
	uafault_expect_user_write(&m, NULL, 0, 0);
}

/*
 * A string pointer into kernel space: strncpy_from_user() says -EFAULT,
 * strnlen_user() documents 0 for "on exception".
 */
struct string_kaddr_case {
	bool strnlen;
	bool task_size;	/* TASK_SIZE itself, else a kmalloc()ed string */
};

static const struct string_kaddr_case string_kaddr_cases[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static void string_kaddr_name(const struct string_kaddr_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s from %s",
		 c->strnlen ? "strnlen_user" : "strncpy_from_user",
		 c->task_size ? "TASK_SIZE" : "kmalloc string");
}

KUNIT_ARRAY_PARAM(string_kaddr, string_kaddr_cases, string_kaddr_name);

static void string_kernel_addr_test(struct kunit *test)
{
	const struct string_kaddr_case *c = test->param_value;
	struct uafault_layout none = { .npages = 1, .hole = -1 };
	struct uafault_umem m;
	const size_t count = 16;
	char *victim = uafault_kbuf(test, count);
	const char __user *src;
	u8 *dst = uafault_kbuf(test, count);

	uafault_umem_setup(test, &m, &none, 1);
	strscpy(victim, "kernel secret", count);
	src = c->task_size ? (const char __user *)TASK_SIZE :
			     (const char __user *)victim;

	if (c->strnlen) {
		/*
		 * arch/um's strnlen_user() returns -EFAULT when access_ok()
		 * fails: callers that test for 0 take it for a length.
		 */
		long ret = strnlen_user(src, count);

		if (!(IS_ENABLED(CONFIG_UML) && c->task_size &&
		      uafault_known(test, UAFAULT_KNOWN_UM_STRNLEN_EFAULT,
				    ret == -EFAULT)))
			KUNIT_EXPECT_EQ(test, ret, 0);
	} else {
		KUNIT_EXPECT_EQ(test, strncpy_from_user(dst, src, count),
				-EFAULT);
		KUNIT_EXPECT_TRUE_MSG(test, !strnstr(dst, "secret", count),
				      "kernel string copied");
		uafault_expect_guards(test, dst, count);
	}
}

static int add_string_case(bool strnlen, u8 fault, u16 room, u16 len,
			   u16 count)
{
	struct string_case *c;
	unsigned int i;

	for (i = 0; i < string_count; i++) {
		c = &string_table[i];
		if (c->strnlen == strnlen && c->fault == fault &&
		    c->room == room && c->len == len && c->count == count)
			return 0;
	}
	c = string_add();
	if (!c)
		return -ENOSPC;
	*c = (struct string_case) { strnlen, fault, room, len, count };
	return 0;
}

/* Counts below, at and above the string and the fault, for each NUL. */
static int add_string_cases(bool strnlen, u8 fault, u16 room)
{
	unsigned int w, k;
	int ret = 0;

	for (w = NUL_BEFORE; w <= NUL_PAST && !ret; w++) {
		u16 len = w == NUL_BEFORE ? room - 1 :
			  w == NUL_AT ? room : room + 5;
		const u16 counts[] = {
			len, len + 1, room, room + 1, 2 * PAGE_SIZE,
		};

		for (k = 0; k < ARRAY_SIZE(counts) && !ret; k++) {
			if (!counts[k])
				continue;	/* count 0 is a no-op */
			ret = add_string_case(strnlen, fault, room, len,
					      counts[k]);
		}
	}
	return ret;
}

static int string_suite_init(struct kunit_suite *suite)
{
	static const u16 rooms[] = { 1, 7, 8, 100 };
	static const u8 faults[] = { UAFAULT_NONE, UAFAULT_UNMAPPED };
	unsigned int op, f, r;
	int ret = 0;

	string_reset();
	for (op = 0; op < 2 && !ret; op++)
		for (f = 0; f < ARRAY_SIZE(faults) && !ret; f++)
			for (r = 0; r < ARRAY_SIZE(rooms) && !ret; r++)
				ret = add_string_cases(op, faults[f], rooms[r]);
	return ret;
}

static unsigned int string_cases(void)
{
	return string_count;
}

UAFAULT_REINIT_TEST(string, string_suite_init, string_cases);

static struct kunit_case string_test_cases[] = {
	KUNIT_CASE_PARAM(string_test, string_gen_params),
	KUNIT_CASE_PARAM(string_kernel_addr_test, string_kaddr_gen_params),
	KUNIT_CASE(string_reinit_test),
	{}
};

static struct kunit_suite uafault_string_suite = {
	.name = "uafault_string",
	.suite_init = string_suite_init,
	.test_cases = string_test_cases,
};

kunit_test_suite(uafault_string_suite);
