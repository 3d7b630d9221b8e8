// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_limits: every user-access API at the limits of its length
 * argument (0, 1, INT_MAX, INT_MAX + 1, U32_MAX + 2 and SIZE_MAX), over one
 * mapped page followed by an unmapped one.  Each case asserts the outcome
 * the API documents: a length over INT_MAX is refused whole by the copies
 * (check_copy_size()), a range that wraps is refused by access_ok(), a
 * long one is done up to the fault and reported short, a count of zero
 * does nothing.  U32_MAX + 2 is 1 when truncated to 32 bits, so a length
 * that loses its high bits on the way reports the wrong outcome instead of
 * passing unseen.
 *
 * A length the caller's kernel buffer must hold (INT_MAX for the copies,
 * any large count for strncpy_from_user()) is the caller's contract, not
 * the API's, and is not run: the call would rightly write that far.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mman.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "uafault_kunit.h"

/* The page: a string, a struct, then zeroes to its end. */
#define STR		"uafault-limits"
#define STR_LEN		(sizeof(STR) - 1)
#define STRUCT_AT	48	/* the user's struct, KSIZE bytes of pattern */
#define ZERO_AT		64	/* from here to the hole: zeroes */
#define KSIZE		16	/* the kernel's struct */
#define KBUF_LEN	32	/* what the copies may touch: 0 or 1 byte */
#define LIMITS_SEED	0x4c

static const struct limit {
	const char *name;
	u64 len;
} limits[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "INT_MAX", INT_MAX },
	{ "INT_MAX+1", (u64)INT_MAX + 1 },
	{ "U32_MAX+2", (u64)U32_MAX + 2 },
	{ "SIZE_MAX", U64_MAX },
};

/* What one case runs on: the mapped page and a poisoned kernel buffer. */
struct limits_env {
	struct kunit *test;
	unsigned long base;	/* the page; base + PAGE_SIZE is the hole */
	u8 before[PAGE_SIZE];
	u8 *kbuf;
};

struct limits_op {
	const char *name;
	void (*run)(struct limits_env *e, u64 len);
	/* The lengths it does not take, and why (NULL: it takes all). */
	bool (*skips)(u64 len, const char **why);
};

/* The page as it is now must equal @e->before, but for [from, to). */
static void expect_page_kept(struct limits_env *e, size_t from, size_t to)
{
	u8 now[64];
	size_t off, i, n;

	for (off = 0; off < PAGE_SIZE; off += n) {
		n = min_t(size_t, sizeof(now), PAGE_SIZE - off);
		KUNIT_ASSERT_EQ(e->test, copy_from_user(now,
				(void __user *)(e->base + off), n), 0);
		for (i = 0; i < n; i++) {
			if (off + i >= from && off + i < to)
				continue;
			KUNIT_ASSERT_EQ_MSG(e->test, now[i], e->before[off + i],
					    "user byte %zu changed", off + i);
		}
	}
}

/* @e->kbuf holds poison but for its first @n bytes; its guards hold. */
static void expect_kbuf_kept(struct limits_env *e, size_t n)
{
	KUNIT_EXPECT_TRUE_MSG(e->test,
			      !memchr_inv(e->kbuf + n, UAFAULT_POISON,
					  KBUF_LEN - n),
			      "the kernel buffer changed past byte %zu", n);
	uafault_expect_guards(e->test, e->kbuf, KBUF_LEN);
}

/*
 * A copy of more than INT_MAX bytes is refused whole (check_copy_size(),
 * which WARNs once a boot: the harness is told, or it would fail the case
 * for the report).
 */
static bool over_int_max(struct limits_env *e, u64 len)
{
	if (len <= INT_MAX)
		return false;
	kunit_info(e->test, "uafault-expect-report: check_copy_size() WARNs once for a length over INT_MAX");
	return true;
}

/*
 * Those WARNs are by design, but a kernel report outside a case (the
 * suites run at module load in the guest) fails the boot: they run only
 * when asked for, as kunit.py's runs do, or once the module is loaded.
 */
static bool allow_warn;
module_param(allow_warn, bool, 0644);
MODULE_PARM_DESC(allow_warn, "run the copies over INT_MAX, which WARN by design");

static bool copy_skips(u64 len, const char **why)
{
	if (len > INT_MAX && !allow_warn) {
		*why = "WARNs by design: needs uafault_kunit.allow_warn=1";
		return true;
	}
	*why = "the kernel buffer would have to hold INT_MAX bytes (the caller's contract)";
	return len == INT_MAX;
}

static void copy_from_user_limit(struct limits_env *e, u64 len)
{
	void *kbuf = e->kbuf;
	unsigned long left;

	/* A buffer of unknown size, as a driver's: check_copy_size()'s case. */
	OPTIMIZER_HIDE_VAR(kbuf);
	if (over_int_max(e, len)) {
		left = copy_from_user(kbuf, (void __user *)e->base, len);
		KUNIT_EXPECT_EQ(e->test, left, len);
		expect_kbuf_kept(e, 0);
		return;
	}
	KUNIT_EXPECT_EQ(e->test, copy_from_user(kbuf, (void __user *)e->base,
						len), 0);
	KUNIT_EXPECT_EQ(e->test, memcmp(e->kbuf, e->before, len), 0);
	expect_kbuf_kept(e, len);
}

static void copy_to_user_limit(struct limits_env *e, u64 len)
{
	void *kbuf = e->kbuf;
	unsigned long left;

	e->kbuf[0] = LIMITS_SEED;
	OPTIMIZER_HIDE_VAR(kbuf);
	if (over_int_max(e, len)) {
		left = copy_to_user((void __user *)e->base, kbuf, len);
		KUNIT_EXPECT_EQ(e->test, left, len);
		expect_page_kept(e, 0, 0);
		return;
	}
	KUNIT_EXPECT_EQ(e->test, copy_to_user((void __user *)e->base, kbuf,
					      len), 0);
	if (len)
		e->before[0] = LIMITS_SEED;
	expect_page_kept(e, 0, 0);
}

/*
 * UML's uaccess (arch/um/kernel/skas/uaccess.c) walks pages with an int
 * length: a count over INT_MAX turns negative and the walk runs past the
 * range (memset, strncpy of a size_t-sized count), U32_MAX + 2 turns 1.
 */
#define UML_INT_LEN	"known um-buffer-op-int-length, UML's buffer_op() takes an int length"

static bool uml_negative(u64 len, const char **why)
{
	*why = UML_INT_LEN ": over INT_MAX it turns negative and the walk runs past the range";
	return IS_ENABLED(CONFIG_UML) && (u32)len > INT_MAX;
}

/* access_ok() refuses SIZE_MAX before UML's walk could go wrong. */
static bool clear_skips(u64 len, const char **why)
{
	return len != U64_MAX && uml_negative(len, why);
}

/*
 * clear_user(): a range that wraps is refused whole by access_ok(); a
 * long one is cleared up to the hole and the rest reported.
 */
static void clear_user_limit(struct limits_env *e, u64 len)
{
	unsigned long left = clear_user((void __user *)e->base, len);
	size_t done;

	if (len == U64_MAX) {
		KUNIT_EXPECT_EQ(e->test, left, len);
		expect_page_kept(e, 0, 0);
		return;
	}
	if (IS_ENABLED(CONFIG_UML) && len == (u64)U32_MAX + 2 &&
	    uafault_known(e->test, UAFAULT_KNOWN_UM_INT_LENGTH, left == 0)) {
		e->before[0] = 0;
		expect_page_kept(e, 0, 0);
		return;
	}
	uafault_expect_bound(e->test, len, left, PAGE_SIZE);
	done = len - left;
	memset(e->before, 0, done);
	expect_page_kept(e, done, min_t(u64, len, PAGE_SIZE));
}

/* A count is a long: SIZE_MAX is -1, which does nothing. */
static void strnlen_user_limit(struct limits_env *e, u64 len)
{
	long count = (long)len;
	long ret = strnlen_user((const char __user *)e->base, count);

	if (IS_ENABLED(CONFIG_UML) && count <= 0 &&
	    uafault_known(e->test, UAFAULT_KNOWN_UM_STRNLEN_COUNT, ret > 0)) {
		KUNIT_EXPECT_EQ(e->test, ret, count ? STR_LEN + 1 : 1);
	} else if (count <= 0) {
		/* "On exception (or invalid count), returns 0." */
		KUNIT_EXPECT_EQ(e->test, ret, 0);
	} else if (count <= STR_LEN) {
		/* Too long: a number larger than @count. */
		KUNIT_EXPECT_GT(e->test, ret, count);
	} else if (IS_ENABLED(CONFIG_UML) && (u32)len == 1 &&
		   uafault_known(e->test, UAFAULT_KNOWN_UM_INT_LENGTH,
				 ret == 2)) {
		KUNIT_EXPECT_EQ(e->test, ret, 2);
	} else {
		KUNIT_EXPECT_EQ(e->test, ret, STR_LEN + 1);
	}
}

static bool strncpy_skips(u64 len, const char **why)
{
	if (uml_negative(len, why))
		return true;
	*why = "the kernel buffer would have to hold the count (the caller's contract)";
	return len > 1 && len != U64_MAX;
}

static void strncpy_from_user_limit(struct limits_env *e, u64 len)
{
	long count = (long)len;
	long ret = strncpy_from_user(e->kbuf,
				     (const char __user *)e->base, count);

	if (count <= 0) {
		KUNIT_EXPECT_EQ(e->test, ret, 0);
		expect_kbuf_kept(e, 0);
		return;
	}
	/* Shorter than the string: @count bytes, no NUL. */
	KUNIT_EXPECT_EQ(e->test, ret, count);
	KUNIT_EXPECT_EQ(e->test, memcmp(e->kbuf, STR, count), 0);
	expect_kbuf_kept(e, count);
}

/*
 * check_zeroed_user() over the zeroes: empty and short ranges are zero; a
 * long one reaches the hole (-EFAULT); a wrapping one fails access_ok().
 */
static void check_zeroed_user_limit(struct limits_env *e, u64 len)
{
	int ret = check_zeroed_user((void __user *)(e->base + ZERO_AT), len);

	KUNIT_EXPECT_EQ(e->test, ret, len <= PAGE_SIZE - ZERO_AT ? 1 : -EFAULT);
}

/*
 * copy_struct_from_user() of a struct followed by zeroes: a user struct
 * shorter than the kernel's is copied and zero-filled; a longer one must
 * have a zero tail, which a long one reaches the hole checking (-EFAULT),
 * and on any error the kernel's struct is not touched.
 */
static void copy_struct_from_user_limit(struct limits_env *e, u64 len)
{
	void __user *src = (void __user *)(e->base + STRUCT_AT);
	int ret = copy_struct_from_user(e->kbuf, KSIZE, src, len);
	size_t n = min_t(u64, len, KSIZE);

	if (len > PAGE_SIZE - STRUCT_AT) {
		KUNIT_EXPECT_EQ(e->test, ret, -EFAULT);
		expect_kbuf_kept(e, 0);
		return;
	}
	KUNIT_EXPECT_EQ(e->test, ret, 0);
	KUNIT_EXPECT_EQ(e->test, memcmp(e->kbuf, e->before + STRUCT_AT, n), 0);
	KUNIT_EXPECT_TRUE(e->test, !memchr_inv(e->kbuf + n, 0, KSIZE - n));
	expect_kbuf_kept(e, KSIZE);
}

/*
 * The fast GUP entries take an int count.  Of a long range they pin what
 * they can (the page before the hole) or nothing with an error.  For a
 * count of 0 or less the kernel-doc says "returns 0", which every case
 * asserts; two kernels' departures from it are records (uafault_known.h):
 * a negative count that fails, and a count of 0 that pins with GUP-fast
 * (the hole after the first page stops that walk at one page, written to
 * pages[0] of an array the caller sized 0).  The array past what was
 * pinned is not written, and every pin is let go.
 */
static void fast_gup_limit(struct limits_env *e, u64 len, bool pin)
{
	struct page *pages[3] = { NULL, NULL, ERR_PTR(-EINVAL) };
	long balance = uafault_pin_balance();
	int nr = (int)len;
	int ret = pin ? pin_user_pages_fast(e->base, nr, FOLL_WRITE, pages) :
			get_user_pages_fast(e->base, nr, FOLL_WRITE, pages);

	if (ret > 0 && pin)
		unpin_user_pages(pages, ret);
	else if (ret > 0)
		release_pages(pages, ret);
	KUNIT_EXPECT_EQ(e->test, uafault_pin_balance(), balance);
	KUNIT_EXPECT_PTR_EQ(e->test, pages[2], ERR_PTR(-EINVAL));
	if (nr == 0 && UAFAULT_HAVE_GUP_FAST &&
	    uafault_known(e->test, UAFAULT_KNOWN_GUP_FAST_ZERO, ret == 1)) {
		KUNIT_EXPECT_PTR_EQ(e->test, pages[1], NULL);
	} else if (nr < 0 &&
		   uafault_known(e->test, UAFAULT_KNOWN_GUP_FAST_NEGATIVE,
				 ret < 0)) {
		KUNIT_EXPECT_PTR_EQ(e->test, pages[0], NULL);
	} else if (nr <= 0) {
		KUNIT_EXPECT_EQ(e->test, ret, 0);
		KUNIT_EXPECT_PTR_EQ(e->test, pages[0], NULL);
	} else if (nr == 1 || ret > 0) {
		KUNIT_EXPECT_EQ(e->test, ret, 1);
		KUNIT_EXPECT_PTR_EQ(e->test, pages[1], NULL);
	} else {
		KUNIT_EXPECT_LT(e->test, ret, 0);
	}
}

static void pin_user_pages_fast_limit(struct limits_env *e, u64 len)
{
	fast_gup_limit(e, len, true);
}

static void get_user_pages_fast_limit(struct limits_env *e, u64 len)
{
	fast_gup_limit(e, len, false);
}

static const struct limits_op ops[] = {
	{ "copy_from_user", copy_from_user_limit, copy_skips },
	{ "copy_to_user", copy_to_user_limit, copy_skips },
	{ "clear_user", clear_user_limit, clear_skips },
	{ "strnlen_user", strnlen_user_limit },
	{ "strncpy_from_user", strncpy_from_user_limit, strncpy_skips },
	{ "check_zeroed_user", check_zeroed_user_limit },
	{ "copy_struct_from_user", copy_struct_from_user_limit },
	{ "pin_user_pages_fast", pin_user_pages_fast_limit },
	{ "get_user_pages_fast", get_user_pages_fast_limit },
};

struct limits_case {
	u8 op;
	u8 limit;
};

static void limits_case_name(const struct limits_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s len=%s", ops[c->op].name,
		 limits[c->limit].name);
}

UAFAULT_PARAM_TABLE(limits, struct limits_case,
		    ARRAY_SIZE(ops) * ARRAY_SIZE(limits), limits_case_name);

static int limits_suite_init(struct kunit_suite *suite)
{
	struct limits_case *c;
	unsigned int op, l;

	limits_reset();
	for (op = 0; op < ARRAY_SIZE(ops); op++) {
		for (l = 0; l < ARRAY_SIZE(limits); l++) {
			c = limits_add();
			if (!c)
				return -ENOSPC;
			*c = (struct limits_case){ op, l };
		}
	}
	return 0;
}

static unsigned int limits_cases(void)
{
	return limits_count;
}

/* The page: STR and its NUL, pattern at STRUCT_AT, zeroes from ZERO_AT. */
static void limits_env_setup(struct kunit *test, struct limits_env *e)
{
	size_t i;

	e->test = test;
	e->base = uafault_mmap(test, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	uafault_plant(test, e->base + PAGE_SIZE, UAFAULT_UNMAPPED);
	memset(e->before, 0, sizeof(e->before));
	memcpy(e->before, STR, STR_LEN + 1);
	for (i = STRUCT_AT; i < ZERO_AT; i++)
		e->before[i] = uafault_pattern(i, LIMITS_SEED);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)e->base, e->before,
					   PAGE_SIZE), 0);
	e->kbuf = uafault_kbuf(test, KBUF_LEN);
}

static void limits_test(struct kunit *test)
{
	const struct limits_case *c = test->param_value;
	const struct limits_op *op = &ops[c->op];
	u64 len = limits[c->limit].len;
	const char *why = NULL;
	struct limits_env *e;

	if (op->skips && op->skips(len, &why))
		kunit_skip(test, "%s", why);
	e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e);
	limits_env_setup(test, e);
	op->run(e, len);
}

UAFAULT_REINIT_TEST(limits, limits_suite_init, limits_cases)

static struct kunit_case limits_test_cases[] = {
	KUNIT_CASE_PARAM(limits_test, limits_gen_params),
	KUNIT_CASE(limits_reinit_test),
	{}
};

static struct kunit_suite uafault_limits_suite = {
	.name = "uafault_limits",
	.suite_init = limits_suite_init,
	.test_cases = limits_test_cases,
};

kunit_test_suite(uafault_limits_suite);
