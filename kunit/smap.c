// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_smap: on x86_64, SMAP is really on, a raw dereference of a user
 * pointer faults (oopses) while the same bytes read through the uaccess
 * API succeed.  The raw access runs in a nested kunit_try_catch thread
 * that borrows the test's mm, so only that thread dies and the test sees
 * that it did.  The oops taints the kernel: this file links last so that
 * these are the last cases of a boot.
 */
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#if defined(CONFIG_X86_64) && !defined(CONFIG_UML)
#include <asm/cpufeature.h>
#include <asm/tlbflush.h>
#endif

#include "uafault_kunit.h"

#define SMAP_VALUE	0x5a5aa5a5deadbeefULL

/*
 * The raw accesses oops (in a thread of their own) and taint the kernel,
 * so they run only when asked for: uafault_kunit.allow_oops=1 on the
 * command line of a kernel with the suites built in (the harness passes
 * it to kunit.py), or written to the parameter of a loaded
 * uafault_kunit.ko before its suites run again through debugfs (the
 * guest does, after everything else).
 */
static bool allow_oops;
module_param(allow_oops, bool, 0644);
MODULE_PARM_DESC(allow_oops, "run the raw user accesses that oops under SMAP");

struct smap_ctx {
	struct mm_struct *mm;
	u64 __user *uptr;
	void (*access)(struct smap_ctx *ctx);
	u64 value;
	int ret;
	bool started;
	bool finished;
	bool caught;
};

/* One small function per access, as in drivers/misc/lkdtm. */
static void raw_read(struct smap_ctx *ctx)
{
	ctx->value = READ_ONCE(*(__force u64 *)ctx->uptr);
}

static void raw_write(struct smap_ctx *ctx)
{
	WRITE_ONCE(*(__force u64 *)ctx->uptr, SMAP_VALUE);
}

static void api_get_user(struct smap_ctx *ctx)
{
	ctx->ret = get_user(ctx->value, ctx->uptr);
}

static void api_put_user(struct smap_ctx *ctx)
{
	ctx->ret = put_user(SMAP_VALUE, ctx->uptr);
}

/* The unsafe_ accessors are legal inside user_access_begin() (stac). */
static void api_unsafe_get_user(struct smap_ctx *ctx)
{
	ctx->ret = -EFAULT;
	if (!user_access_begin(ctx->uptr, sizeof(*ctx->uptr)))
		return;
	unsafe_get_user(ctx->value, ctx->uptr, out);
	ctx->ret = 0;
out:
	user_access_end();
}

struct smap_case {
	const char *name;
	void (*access)(struct smap_ctx *ctx);
	bool faults;
	bool writes;
};

/* The oopsing accesses last: nothing after them runs on a tainted kernel. */
static const struct smap_case smap_cases[] = {
	{ "get_user",		api_get_user,		false,	false },
	{ "put_user",		api_put_user,		false,	true },
	{ "unsafe_get_user",	api_unsafe_get_user,	false,	false },
	{ "raw read",		raw_read,		true,	false },
	{ "raw write",		raw_write,		true,	true },
};

static void smap_case_name(const struct smap_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s %s", c->name,
		 c->faults ? "oopses" : "succeeds");
}

KUNIT_ARRAY_PARAM(smap, smap_cases, smap_case_name);

#if defined(CONFIG_X86_64) && !defined(CONFIG_UML)
static const char *smap_missing(void)
{
	if (!boot_cpu_has(X86_FEATURE_SMAP))
		return "the CPU has no SMAP (QEMU needs -cpu max)";
	if (!(cr4_read_shadow() & X86_CR4_SMAP))
		return "SMAP is disabled (CR4.SMAP clear)";
	return NULL;
}

static void smap_on_test(struct kunit *test)
{
	const char *missing = smap_missing();

	if (missing)
		kunit_skip(test, "%s", missing);
	KUNIT_EXPECT_TRUE(test, this_cpu_has(X86_FEATURE_SMAP));
	KUNIT_EXPECT_TRUE(test, cr4_read_shadow() & X86_CR4_SMAP);
}

/*
 * If the access oopses, the thread dies inside kthread_use_mm(): exit_mm()
 * then mmput()s the mm as if the thread owned a user (hence the mmget()
 * here) and nobody drops kthread_use_mm()'s mmgrab() (the caller does).
 */
static void smap_try(void *data)
{
	struct smap_ctx *ctx = data;

	mmget(ctx->mm);
	kthread_use_mm(ctx->mm);
	ctx->started = true;
	ctx->access(ctx);
	ctx->finished = true;
	kthread_unuse_mm(ctx->mm);
	mmput(ctx->mm);
}

static void smap_catch(void *data)
{
	struct smap_ctx *ctx = data;

	ctx->caught = true;
}

static void smap_access_test(struct kunit *test)
{
	const struct smap_case *c = test->param_value;
	struct kunit_try_catch try_catch = {
		.test = test, .try = smap_try, .catch = smap_catch,
	};
	struct smap_ctx ctx = { .access = c->access };
	const char *missing = smap_missing();
	unsigned long addr;
	u64 seen = 0;

	if (missing)
		kunit_skip(test, "%s", missing);
	if (c->faults && !allow_oops)
		kunit_skip(test, "oopses on purpose: needs uafault_kunit.allow_oops=1");
	if (c->faults && uafault_missing(UAFAULT_KUNIT_FAULT))
		kunit_skip(test, "%s", uafault_missing(UAFAULT_KUNIT_FAULT));

	addr = uafault_mmap(test, PAGE_SIZE, PROT_READ | PROT_WRITE);
	ctx.uptr = (u64 __user *)addr;
	ctx.mm = current->mm;
	/* Present and writable: SMAP is the only reason left to fault. */
	KUNIT_ASSERT_EQ(test, put_user(~SMAP_VALUE, ctx.uptr), 0);

	/* The harness fails a case the kernel reports in, unless told. */
	if (c->faults)
		kunit_info(test, "uafault-expect-report: the raw access oopses under SMAP");
	kunit_try_catch_run(&try_catch, &ctx);

	KUNIT_ASSERT_TRUE(test, ctx.started);
	if (c->faults) {
		KUNIT_EXPECT_FALSE_MSG(test, ctx.finished,
				       "a raw user access did not fault");
		KUNIT_EXPECT_TRUE(test, ctx.caught);
		if (!ctx.finished)
			mmdrop(ctx.mm);
	} else {
		KUNIT_EXPECT_TRUE(test, ctx.finished);
		KUNIT_EXPECT_FALSE(test, ctx.caught);
		KUNIT_EXPECT_EQ(test, ctx.ret, 0);
		if (!c->writes)
			KUNIT_EXPECT_EQ(test, ctx.value, ~SMAP_VALUE);
	}
	/* A faulting write stored nothing; a good one stored its value. */
	KUNIT_ASSERT_EQ(test, get_user(seen, ctx.uptr), 0);
	KUNIT_EXPECT_EQ(test, seen, c->writes && !c->faults ? SMAP_VALUE :
							      ~SMAP_VALUE);
}
#else
static void smap_on_test(struct kunit *test)
{
	kunit_skip(test, "no SMAP on this architecture");
}

static void smap_access_test(struct kunit *test)
{
	kunit_skip(test, "no SMAP on this architecture");
}
#endif

static struct kunit_case smap_test_cases[] = {
	KUNIT_CASE(smap_on_test),
	KUNIT_CASE_PARAM(smap_access_test, smap_gen_params),
	{}
};

static struct kunit_suite uafault_smap_suite = {
	.name = "uafault_smap",
	.test_cases = smap_test_cases,
};

kunit_test_suite(uafault_smap_suite);
