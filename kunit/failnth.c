// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_failnth: usercopy fault injection through current->fail_nth, the
 * knob behind /proc/thread-self/fail-nth.  For each path, fail_nth = 1, 2,
 * ... until a run no longer consumes it: each injected step must end in
 * the documented error with nothing leaked, and the number of sites found
 * must match what the path is known to consult.  Paths that never consult
 * should_fail_usercopy() are listed with 0 sites, so a kernel that adds a
 * site (or drops one) fails here instead of being silently skipped.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "uafault_kunit.h"

#define KERNEL_SEED	77
#define NR_SEGS		3
#define SEG_LEN		512
#define MAX_SITES	8

struct failnth_env {
	struct kunit *test;
	struct uafault_layout layout;
	struct uafault_umem m;
	u8 *kbuf;
	struct iovec iov[NR_SEGS];
	struct iov_iter iter;
	struct page *page;
	long ret;
};

/**
 * struct failnth_path - one user-access path under fail_nth
 * @name: what it runs
 * @sites: should_fail_usercopy() calls one run makes (0: never consults)
 * @run: the access alone, with fail_nth armed
 * @check: the outcome, given the 1-based site that failed (0: none)
 */
struct failnth_path {
	const char *name;
	unsigned int sites;
	void (*run)(struct failnth_env *env);
	void (*check)(struct failnth_env *env, unsigned int failed_at);
};

/* Offsets in the page: the iovec array, and a struct's zeroed tail. */
#define UVEC_OFF	(NR_SEGS * SEG_LEN)
#define KSTRUCT_SIZE	32
#define USTRUCT_SIZE	64

/*
 * Everything the paths need in user memory is written here, before the
 * snapshot: a write inside a run would consume a site of its own.
 */
static void prepare(struct kunit *test, struct failnth_env *env)
{
	void __user *page;
	size_t i;

	env->test = test;
	env->layout = (struct uafault_layout) { .npages = 1, .hole = -1 };
	uafault_umem_map(test, &env->m, &env->layout, 1);
	page = (void __user *)env->m.addr;
	for (i = 0; i < NR_SEGS; i++) {
		env->iov[i].iov_base = page + i * SEG_LEN;
		env->iov[i].iov_len = SEG_LEN;
	}
	KUNIT_ASSERT_EQ(test, copy_to_user(page + UVEC_OFF, env->iov,
					   sizeof(env->iov)), 0);
	KUNIT_ASSERT_EQ(test, clear_user(page + KSTRUCT_SIZE,
					 USTRUCT_SIZE - KSTRUCT_SIZE), 0);
	uafault_umem_arm(&env->m);

	env->kbuf = uafault_kbuf(test, env->m.len);
	for (i = 0; i < env->m.len; i++)
		env->kbuf[i] = uafault_pattern(i, KERNEL_SEED);
}

static void run_copy_from_user(struct failnth_env *env)
{
	env->ret = copy_from_user(env->kbuf, (void __user *)env->m.addr,
				  env->m.len);
}

/* An injected failure is all or nothing, and the destination is zeroed. */
static void check_copy_from_user(struct failnth_env *env, unsigned int at)
{
	size_t done = at ? 0 : env->m.len;

	KUNIT_EXPECT_EQ(env->test, env->ret, env->m.len - done);
	uafault_expect_kbuf_read(&env->m, env->kbuf, done, true);
}

static void run_copy_to_user(struct failnth_env *env)
{
	env->ret = copy_to_user((void __user *)env->m.addr, env->kbuf,
				env->m.len);
}

static void check_copy_to_user(struct failnth_env *env, unsigned int at)
{
	size_t done = at ? 0 : env->m.len;

	KUNIT_EXPECT_EQ(env->test, env->ret, env->m.len - done);
	uafault_expect_user_write(&env->m, env->kbuf, done, done);
}

static void run_copy_from_iter(struct failnth_env *env)
{
	iov_iter_init(&env->iter, ITER_SOURCE, env->iov, NR_SEGS,
		      NR_SEGS * SEG_LEN);
	env->ret = copy_from_iter(env->kbuf, NR_SEGS * SEG_LEN, &env->iter);
}

static void run_import_iovec_copy(struct failnth_env *env)
{
	struct iovec fast[UIO_FASTIOV], *iov = fast;
	unsigned long uvec = env->m.addr + UVEC_OFF;
	ssize_t ret;

	ret = import_iovec(ITER_SOURCE, (const struct iovec __user *)uvec,
			   NR_SEGS, UIO_FASTIOV, &iov, &env->iter);
	env->ret = ret;
	if (ret < 0)
		return;
	env->ret = copy_from_iter(env->kbuf, NR_SEGS * SEG_LEN, &env->iter);
}

/* Site k is segment k: the segments before it were copied whole. */
static void check_copy_from_iter(struct failnth_env *env, unsigned int at)
{
	size_t done = at ? (at - 1) * SEG_LEN : NR_SEGS * SEG_LEN;

	KUNIT_EXPECT_EQ(env->test, env->ret, done);
	KUNIT_EXPECT_EQ(env->test, iov_iter_count(&env->iter),
			NR_SEGS * SEG_LEN - done);
	KUNIT_EXPECT_EQ(env->test, memcmp(env->kbuf, env->m.before, done), 0);
}

/*
 * Where reading the iovec array consults fail_nth (compat.h), its site
 * comes first and import_iovec() fails whole: nothing was copied.
 */
static void check_import_iovec_copy(struct failnth_env *env, unsigned int at)
{
	if (at && at <= UAFAULT_IOVEC_ARRAY_SITES) {
		KUNIT_EXPECT_EQ(env->test, env->ret, -EFAULT);
		uafault_expect_guards(env->test, env->kbuf, env->m.len);
		return;
	}
	check_copy_from_iter(env, at ? at - UAFAULT_IOVEC_ARRAY_SITES : 0);
}

static void run_copy_to_iter(struct failnth_env *env)
{
	iov_iter_init(&env->iter, ITER_DEST, env->iov, NR_SEGS,
		      NR_SEGS * SEG_LEN);
	env->ret = copy_to_iter(env->kbuf, NR_SEGS * SEG_LEN, &env->iter);
}

static void check_copy_to_iter(struct failnth_env *env, unsigned int at)
{
	size_t done = at ? (at - 1) * SEG_LEN : NR_SEGS * SEG_LEN;

	KUNIT_EXPECT_EQ(env->test, env->ret, done);
	KUNIT_EXPECT_EQ(env->test, iov_iter_count(&env->iter),
			NR_SEGS * SEG_LEN - done);
	uafault_expect_user_write(&env->m, env->kbuf, done, done);
}

static void run_strncpy_from_user(struct failnth_env *env)
{
	env->ret = strncpy_from_user(env->kbuf, (void __user *)env->m.addr,
				     16);
}

/* The pattern has no NUL: a clean run copies all 16 bytes. */
static void check_strncpy_from_user(struct failnth_env *env, unsigned int at)
{
	KUNIT_EXPECT_EQ(env->test, env->ret, at ? -EFAULT : 16);
}

static void run_copy_struct_from_user(struct failnth_env *env)
{
	u8 dst[KSTRUCT_SIZE];

	/* usize > ksize: the (zero) tail is checked, then the head copied. */
	env->ret = copy_struct_from_user(dst, sizeof(dst),
					 (void __user *)env->m.addr,
					 USTRUCT_SIZE);
}

static void check_copy_struct_from_user(struct failnth_env *env,
					unsigned int at)
{
	KUNIT_EXPECT_EQ(env->test, env->ret, at ? -EFAULT : 0);
}

static void run_get_user(struct failnth_env *env)
{
	u64 v = 0;

	env->ret = get_user(v, (u64 __user *)env->m.addr);
}

static void run_put_user(struct failnth_env *env)
{
	env->ret = put_user((u64)1, (u64 __user *)env->m.addr);
}

static void run_clear_user(struct failnth_env *env)
{
	env->ret = clear_user((void __user *)env->m.addr, env->m.len);
}

static void run_strnlen_user(struct failnth_env *env)
{
	/* The pattern has no NUL: "too long" is anything above count. */
	env->ret = strnlen_user((void __user *)env->m.addr, 16) > 16 ? 0 :
		   -EFAULT;
}

static void run_check_zeroed_user(struct failnth_env *env)
{
	/* The head holds the non-zero pattern: 0 is the clean answer. */
	env->ret = check_zeroed_user((void __user *)env->m.addr, USTRUCT_SIZE);
}

static void run_pin_user_pages_fast(struct failnth_env *env)
{
	env->ret = pin_user_pages_fast(env->m.addr, 1, 0, &env->page);
	if (env->ret == 1)
		unpin_user_page(env->page);
	env->ret = env->ret == 1 ? 0 : -EFAULT;
}

/* For the paths that never consult fail_nth: a clean run returns 0. */
static void check_clean(struct failnth_env *env, unsigned int at)
{
	KUNIT_EXPECT_EQ(env->test, env->ret, 0);
}

static const struct failnth_path failnth_paths[] = {
	{ "copy_from_user", 1, run_copy_from_user, check_copy_from_user },
	{ "copy_to_user", 1, run_copy_to_user, check_copy_to_user },
	/* One site per segment (copy_from_user_iter / copy_to_user_iter). */
	{ "copy_from_iter 3 segments", NR_SEGS, run_copy_from_iter,
	  check_copy_from_iter },
	{ "copy_to_iter 3 segments", NR_SEGS, run_copy_to_iter,
	  check_copy_to_iter },
	/* The array's read: unsafe_get_user() (no site) or a copy (one). */
	{ "import_iovec + copy_from_iter", UAFAULT_IOVEC_ARRAY_SITES + NR_SEGS,
	  run_import_iovec_copy, check_import_iovec_copy },
	/* Only lib/strncpy_from_user.c consults it; UML has its own. */
	{ "strncpy_from_user",
	  IS_ENABLED(CONFIG_GENERIC_STRNCPY_FROM_USER) ? 1 : 0,
	  run_strncpy_from_user, check_strncpy_from_user },
	/* check_zeroed_user() has no site; the head's copy_from_user() has. */
	{ "copy_struct_from_user", 1, run_copy_struct_from_user,
	  check_copy_struct_from_user },
	{ "get_user", 0, run_get_user, check_clean },
	{ "put_user", 0, run_put_user, check_clean },
	{ "clear_user", 0, run_clear_user, check_clean },
	{ "strnlen_user", 0, run_strnlen_user, check_clean },
	{ "check_zeroed_user", 0, run_check_zeroed_user, check_clean },
	/* mm/gup.c has no should_fail site at all. */
	{ "pin_user_pages_fast", 0, run_pin_user_pages_fast, check_clean },
};

static void failnth_path_name(const struct failnth_path *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s (%u sites)", p->name,
		 p->sites);
}

KUNIT_ARRAY_PARAM(failnth, failnth_paths, failnth_path_name);

#ifdef CONFIG_FAULT_INJECTION
/* Arms fail_nth around the access alone, never around the checks. */
static unsigned int run_with_fail_nth(const struct failnth_path *p,
				      struct failnth_env *env, unsigned int nth)
{
	unsigned int left;

	WRITE_ONCE(current->fail_nth, nth);
	p->run(env);
	left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, 0);
	return left;
}

static void failnth_test(struct kunit *test)
{
	const struct failnth_path *p = test->param_value;
	struct failnth_env env;
	unsigned int nth;

	if (!IS_ENABLED(CONFIG_FAULT_INJECTION_USERCOPY))
		kunit_skip(test, "needs CONFIG_FAULT_INJECTION_USERCOPY");

	for (nth = 1; nth <= MAX_SITES + 1; nth++) {
		memset(&env, 0, sizeof(env));
		prepare(test, &env);
		if (run_with_fail_nth(p, &env, nth)) {
			/* Not consumed: a clean run through nth - 1 sites. */
			p->check(&env, 0);
			break;
		}
		p->check(&env, nth);
	}
	kunit_info(test, "%s: %u should_fail_usercopy() sites", p->name,
		   nth - 1);
	KUNIT_EXPECT_EQ_MSG(test, nth - 1, p->sites,
			    "site count of %s changed", p->name);
}
#else
static void failnth_test(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION (current->fail_nth)");
}
#endif

static struct kunit_case failnth_test_cases[] = {
	KUNIT_CASE_PARAM(failnth_test, failnth_gen_params),
	{}
};

static struct kunit_suite uafault_failnth_suite = {
	.name = "uafault_failnth",
	.test_cases = failnth_test_cases,
};

kunit_test_suite(uafault_failnth_suite);
