// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_copy: copy_from_user, copy_to_user, clear_user and get/put_user
 * over 1-3 page ranges with an unmapped, PROT_NONE or read-only page at
 * every position, ranges starting at awkward offsets, and ranges that
 * start in kernel space.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "uafault_kunit.h"

/* User bytes are pattern(seed 1); what the kernel writes is pattern(seed 77). */
#define KERNEL_SEED	77

struct copy_op {
	const char *name;
	bool write;
	unsigned long (*run)(struct uafault_umem *m, u8 *kbuf);
};

static unsigned long run_copy_from_user(struct uafault_umem *m, u8 *kbuf)
{
	return copy_from_user(kbuf, (void __user *)m->addr, m->len);
}

static unsigned long run_copy_to_user(struct uafault_umem *m, u8 *kbuf)
{
	return copy_to_user((void __user *)m->addr, kbuf, m->len);
}

static unsigned long run_clear_user(struct uafault_umem *m, u8 *kbuf)
{
	return clear_user((void __user *)m->addr, m->len);
}

static const struct copy_op copy_ops[] = {
	{ "copy_from_user",	false,	run_copy_from_user },
	{ "copy_to_user",	true,	run_copy_to_user },
	{ "clear_user",		true,	run_clear_user },
};

static void copy_case_name(const struct uafault_case *c, char *desc)
{
	int n = scnprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s ",
			  copy_ops[c->op].name);

	uafault_layout_name(&c->layout, desc + n, KUNIT_PARAM_DESC_SIZE - n);
}

/* 3 ops x 21 fault plans x 4 offsets x 2 trims, less the empty ranges. */
UAFAULT_LAYOUT_TABLE(copy_range, 512, copy_case_name);

static const u16 copy_offsets[] = { 0, 1, PAGE_SIZE - 8, PAGE_SIZE - 1 };
static const u16 copy_trims[] = { 0, 3 };
static const u8 hole_faults[] = {
	UAFAULT_UNMAPPED, UAFAULT_PROT_NONE, UAFAULT_READ_ONLY,
};

static void copy_range_test(struct kunit *test)
{
	const struct uafault_case *c = test->param_value;
	const struct copy_op *op = &copy_ops[c->op];
	struct uafault_umem m;
	size_t reach, done, i;
	u8 *kbuf;

	uafault_umem_setup(test, &m, &c->layout, 1);
	kbuf = uafault_kbuf(test, m.len);
	if (op->write) {
		for (i = 0; i < m.len; i++)
			kbuf[i] = uafault_pattern(i, KERNEL_SEED);
	}
	reach = uafault_umem_reach(&m, op->write);

	done = m.len - op->run(&m, kbuf);

	uafault_expect_bound(test, m.len, m.len - done, reach);
	uafault_expect_guards(test, kbuf, m.len);
	if (!op->write) {
		/* copy_from_user() zero-fills what it could not copy. */
		uafault_expect_kbuf_read(&m, kbuf, done, true);
		uafault_expect_user_write(&m, NULL, 0, 0);
	} else {
		uafault_expect_user_write(&m, op->run == run_clear_user ?
					  NULL : kbuf, done, reach);
	}
}

/*
 * A "user" pointer into kernel space (the CVE-2017-5123 shape) must be
 * refused whole.  On x86 access_ok() refuses it; on UML kernel addresses
 * can lie below TASK_SIZE, pass access_ok() and then find nothing mapped
 * in the user mm, so the outcome is the same.
 */
enum kaddr_kind { KADDR_KMALLOC, KADDR_TASK_SIZE, KADDR_STRADDLE };

struct kaddr_case {
	u8 op;
	u8 kind;
};

static const char * const kaddr_names[] = {
	[KADDR_KMALLOC]		= "kmalloc buffer",
	[KADDR_TASK_SIZE]	= "TASK_SIZE",
	[KADDR_STRADDLE]	= "TASK_SIZE-8 (straddling)",
};

static const struct kaddr_case kaddr_cases[] = {
	{ 0, KADDR_KMALLOC }, { 0, KADDR_TASK_SIZE }, { 0, KADDR_STRADDLE },
	{ 1, KADDR_KMALLOC }, { 1, KADDR_TASK_SIZE }, { 1, KADDR_STRADDLE },
	{ 2, KADDR_KMALLOC }, { 2, KADDR_TASK_SIZE }, { 2, KADDR_STRADDLE },
};

static void kaddr_case_name(const struct kaddr_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s to %s",
		 copy_ops[c->op].name, kaddr_names[c->kind]);
}

KUNIT_ARRAY_PARAM(copy_kaddr, kaddr_cases, kaddr_case_name);

static void copy_kernel_addr_test(struct kunit *test)
{
	const struct kaddr_case *c = test->param_value;
	const struct copy_op *op = &copy_ops[c->op];
	const size_t len = 16;
	struct uafault_layout none = { .npages = 1, .hole = -1 };
	struct uafault_umem m;
	u8 *victim, *kbuf;

	/* A mapping, so the mm exists and user space is not simply empty. */
	uafault_umem_setup(test, &m, &none, 1);
	victim = uafault_kbuf(test, len);
	kbuf = uafault_kbuf(test, len);
	memset(kbuf, 0x5a, len);

	switch (c->kind) {
	case KADDR_KMALLOC:
		m.addr = (unsigned long)victim;
		break;
	case KADDR_TASK_SIZE:
		m.addr = TASK_SIZE;
		break;
	case KADDR_STRADDLE:
		m.addr = TASK_SIZE - len / 2;
		break;
	}
	m.len = len;

	KUNIT_EXPECT_EQ(test, op->run(&m, kbuf), len);
	KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(victim, UAFAULT_POISON, len),
			      "kernel memory behind the pointer was written");
	uafault_expect_guards(test, victim, len);
	if (!op->write)
		KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(kbuf, 0, len),
				      "destination not zero-filled");
}

/*
 * get_user/put_user of 1, 2, 4 and 8 bytes at the end of page 0, straddling
 * into page 1, and at the start of page 1, with page 1 faulting or not.
 */
struct getput_case {
	bool put;
	u8 size;
	s16 pos;	/* from the start of page 1 */
	u8 fault;	/* of page 1 */
};

static void getput_case_name(const struct getput_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s_user size=%u at page1%+d page1=%s",
		 c->put ? "put" : "get", c->size, c->pos,
		 uafault_fault_name(c->fault));
}

/* 2 ops x 4 sizes x 4 positions x 4 faults, less 1-byte straddles. */
UAFAULT_PARAM_TABLE(getput, struct getput_case, 128, getput_case_name);

static int sized_get_user(unsigned long addr, u8 size, u8 *out)
{
	int ret = -EINVAL;

#define GET_SIZED(type) do {						\
		type v;							\
		ret = get_user(v, (type __user *)addr);			\
		memcpy(out, &v, sizeof(v));				\
	} while (0)

	switch (size) {
	case 1:
		GET_SIZED(u8);
		break;
	case 2:
		GET_SIZED(u16);
		break;
	case 4:
		GET_SIZED(u32);
		break;
	case 8:
		GET_SIZED(u64);
		break;
	}
#undef GET_SIZED
	return ret;
}

static int sized_put_user(unsigned long addr, u8 size, const u8 *in)
{
	int ret = -EINVAL;

#define PUT_SIZED(type) do {						\
		type v;							\
		memcpy(&v, in, sizeof(v));				\
		ret = put_user(v, (type __user *)addr);			\
	} while (0)

	switch (size) {
	case 1:
		PUT_SIZED(u8);
		break;
	case 2:
		PUT_SIZED(u16);
		break;
	case 4:
		PUT_SIZED(u32);
		break;
	case 8:
		PUT_SIZED(u64);
		break;
	}
#undef PUT_SIZED
	return ret;
}

/*
 * Whether @val holds the user's first @n bytes where a failed get_user()
 * must leave zeroes: a prefix of zeroes says nothing either way.
 */
static bool holds_prefix(const struct uafault_umem *m, const u8 *val,
			 size_t n)
{
	bool nonzero = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (val[i] != uafault_umem_byte(m, i))
			return false;
		nonzero |= val[i] != 0;
	}
	return nonzero;
}

static void getput_test(struct kunit *test)
{
	const struct getput_case *c = test->param_value;
	unsigned int start = PAGE_SIZE + c->pos;
	struct uafault_layout l = {
		.npages = 2,
		.hole = c->fault == UAFAULT_NONE ? -1 : 1,
		.fault = c->fault,
		.offset = start,
		.trim = 2 * PAGE_SIZE - start - c->size,
	};
	struct uafault_umem m;
	u8 val[8], i;
	size_t reach = 0;
	bool faults;
	int ret;

	uafault_umem_setup(test, &m, &l, 1);
	faults = uafault_umem_reach(&m, c->put) < c->size;

	if (!c->put) {
		memset(val, UAFAULT_POISON, sizeof(val));
		ret = sized_get_user(m.addr, c->size, val);
		KUNIT_EXPECT_EQ(test, ret, faults ? -EFAULT : 0);
		/*
		 * On a fault the variable is set to zero.  asm-generic's
		 * __get_user() (UML) copies into a temporary and assigns it
		 * whatever the partial copy left there: the bytes before
		 * the fault (a record, uafault_known.h).
		 */
		if (IS_ENABLED(CONFIG_UML) && faults &&
		    uafault_umem_reach(&m, false) &&
		    uafault_known(test, UAFAULT_KNOWN_UM_GET_USER_PARTIAL,
				  holds_prefix(&m, val, uafault_umem_reach(&m, false))))
			reach = uafault_umem_reach(&m, false);
		for (i = 0; i < c->size; i++) {
			u8 want = faults && i >= reach ? 0 :
				  uafault_umem_byte(&m, i);

			KUNIT_EXPECT_EQ_MSG(test, val[i], want, "byte %u", i);
		}
		uafault_expect_user_write(&m, NULL, 0, 0);
		return;
	}

	for (i = 0; i < c->size; i++)
		val[i] = uafault_pattern(i, KERNEL_SEED);
	ret = sized_put_user(m.addr, c->size, val);
	KUNIT_EXPECT_EQ(test, ret, faults ? -EFAULT : 0);
	/*
	 * A faulting straddling put_user is one store on x86 (nothing
	 * written) but a page-by-page copy on UML (first page written):
	 * both are allowed, so only bytes before the fault may change.
	 */
	uafault_expect_user_write(&m, val, faults ? 0 : c->size,
				  uafault_umem_reach(&m, true));
}

static int add_getput_cases(bool put, u8 size)
{
	const s16 pos[] = { -(s16)PAGE_SIZE, -size, -size / 2, 0 };
	struct getput_case *c;
	unsigned int p, f;

	for (p = 0; p < ARRAY_SIZE(pos); p++) {
		if (p == 2 && size == 1)
			continue;	/* a byte cannot straddle */
		for (f = 0; f < UAFAULT_NR_FAULTS; f++) {
			c = getput_add();
			if (!c)
				return -ENOSPC;
			*c = (struct getput_case) {
				.put = put, .size = size, .pos = pos[p],
				.fault = f,
			};
		}
	}
	return 0;
}

static int copy_suite_init(struct kunit_suite *suite)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	unsigned int op, t, s;
	int ret = 0;
	u8 npages;

	copy_range_reset();
	getput_reset();
	for (op = 0; op < ARRAY_SIZE(copy_ops) && !ret; op++) {
		for (npages = 1; npages <= UAFAULT_MAX_PAGES && !ret; npages++) {
			for (t = 0; t < ARRAY_SIZE(copy_trims) && !ret; t++)
				ret = copy_range_add_layouts(op, 0, npages,
							     hole_faults,
							     ARRAY_SIZE(hole_faults),
							     copy_offsets,
							     ARRAY_SIZE(copy_offsets),
							     copy_trims[t]);
		}
	}
	for (op = 0; op < 2 && !ret; op++)
		for (s = 0; s < ARRAY_SIZE(sizes) && !ret; s++)
			ret = add_getput_cases(op, sizes[s]);
	return ret;
}

static unsigned int copy_cases(void)
{
	return copy_range_count + getput_count;
}

UAFAULT_REINIT_TEST(copy, copy_suite_init, copy_cases);

static struct kunit_case copy_test_cases[] = {
	KUNIT_CASE_PARAM(copy_range_test, copy_range_gen_params),
	KUNIT_CASE_PARAM(copy_kernel_addr_test, copy_kaddr_gen_params),
	KUNIT_CASE_PARAM(getput_test, getput_gen_params),
	KUNIT_CASE(copy_reinit_test),
	{}
};

static struct kunit_suite uafault_copy_suite = {
	.name = "uafault_copy",
	.suite_init = copy_suite_init,
	.test_cases = copy_test_cases,
};

kunit_test_suite(uafault_copy_suite);
