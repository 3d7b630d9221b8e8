// SPDX-License-Identifier: GPL-2.0
/*
 * uafault_race: the user's mapping changes while a copy or a pin is in
 * flight.
 *
 * Deterministic: the range is [anon page][trap page][anon page].  The trap
 * page belongs to a file mapping whose ->fault, the first time it is
 * called, drops the fault lock, lets a second kthread sharing the mm
 * munmap (or PROT_NONE) part of the range, and asks for a retry, the way
 * userfaultfd does.  The access then resumes against the changed mapping
 * and must end with the exact partial result the new mapping allows (or
 * -EFAULT), no crash and no leaked pin.
 *
 * Stochastic: a kthread munmaps and remaps the second page of a range in
 * a loop while the test copies and pins it.  Meaningful with -smp 2.
 */
#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "uafault_kunit.h"

#define KERNEL_SEED	77
#define STOCHASTIC_ROUNDS	200

enum race_access {
	RACE_COPY_FROM_USER,
	RACE_COPY_TO_USER,
	RACE_PIN_FAST,
	RACE_PIN_UNLOCKED_WRITE,
	RACE_EXTRACT_PAGES,
	RACE_NR_ACCESSES,
};

static const char * const race_access_names[] = {
	[RACE_COPY_FROM_USER]		= "copy_from_user",
	[RACE_COPY_TO_USER]		= "copy_to_user",
	[RACE_PIN_FAST]			= "pin_user_pages_fast",
	[RACE_PIN_UNLOCKED_WRITE]	= "pin_user_pages_unlocked WRITE",
	[RACE_EXTRACT_PAGES]		= "iov_iter_extract_pages",
};

enum race_action { UNMAP_REST, UNMAP_TRAP, PROT_NONE_REST, RACE_NR_ACTIONS };

static const char * const race_action_names[] = {
	[UNMAP_REST]		= "munmap rest",
	[UNMAP_TRAP]		= "munmap trap+rest",
	[PROT_NONE_REST]	= "PROT_NONE rest",
};

/* Pages of the range: anon, trap, anon. */
#define TRAP_PAGE	1
#define REST_PAGE	2
#define RANGE_PAGES	3

struct trap {
	struct mm_struct *mm;
	struct page *page;		/* served by the trap mapping */
	unsigned long base;
	enum race_action action;
	struct completion faulted;	/* the access reached the trap */
	struct completion raced;	/* the racer changed the mapping */
	bool armed;
	bool raced_in_flight;
	int racer_err;
};

static vm_fault_t trap_fault(struct vm_fault *vmf)
{
	struct trap *trap = vmf->vma->vm_private_data;

	/*
	 * Without FAULT_FLAG_ALLOW_RETRY the lock cannot be dropped and the
	 * racer could never take mmap_lock for writing: serve the page, and
	 * the test sees that no race happened.
	 */
	if (trap->armed && (vmf->flags & FAULT_FLAG_ALLOW_RETRY) &&
	    !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT)) {
		trap->armed = false;
		trap->raced_in_flight = true;
		uafault_release_fault_lock(vmf);
		complete(&trap->faulted);
		wait_for_completion(&trap->raced);
		return VM_FAULT_RETRY;
	}
	get_page(trap->page);
	vmf->page = trap->page;
	return 0;
}

static const struct vm_operations_struct trap_vm_ops = {
	.fault = trap_fault,
};

static int trap_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_ops = &trap_vm_ops;
	vma->vm_private_data = file->private_data;
	return 0;
}

static const struct file_operations trap_fops = {
	.owner = THIS_MODULE,
	.mmap = trap_mmap,
};

static int racer_fn(void *data)
{
	struct trap *trap = data;
	unsigned long rest = trap->base + REST_PAGE * PAGE_SIZE;
	unsigned long ret;
	int err = 0;

	wait_for_completion(&trap->faulted);
	kthread_use_mm(trap->mm);
	switch (trap->action) {
	case UNMAP_REST:
		err = vm_munmap(rest, PAGE_SIZE);
		break;
	case UNMAP_TRAP:
		err = vm_munmap(trap->base + TRAP_PAGE * PAGE_SIZE,
				2 * PAGE_SIZE);
		break;
	case PROT_NONE_REST:
		ret = vm_mmap(NULL, rest, PAGE_SIZE, PROT_NONE,
			      MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, 0);
		err = ret == rest ? 0 : -EINVAL;
		break;
	default:
		err = -EINVAL;
	}
	kthread_unuse_mm(trap->mm);
	trap->racer_err = err;
	/* Both the trapped access and the test wait for this. */
	complete_all(&trap->raced);
	return 0;
}

static void put_trap_page(void *page)
{
	put_page(page);
}

/*
 * Maps the three pages, the middle one from the trap file, all holding
 * pattern(seed 1) by their index in the range.
 */
static struct trap *map_trap_range(struct kunit *test, enum race_action act)
{
	struct trap *trap = kunit_kzalloc(test, sizeof(*trap), GFP_KERNEL);
	unsigned long addr;
	struct file *file;
	u8 *kaddr, *fill;
	size_t i;

	KUNIT_ASSERT_NOT_NULL(test, trap);
	init_completion(&trap->faulted);
	init_completion(&trap->raced);
	trap->action = act;
	trap->armed = true;

	trap->page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, trap->page);
	KUNIT_ASSERT_EQ(test, uafault_add_action_or_reset(test, put_trap_page,
							  trap->page), 0);
	kaddr = kmap_local_page(trap->page);
	for (i = 0; i < PAGE_SIZE; i++)
		kaddr[i] = uafault_pattern(TRAP_PAGE * PAGE_SIZE + i, 1);
	kunmap_local(kaddr);

	trap->base = uafault_mmap(test, RANGE_PAGES * PAGE_SIZE,
				  PROT_READ | PROT_WRITE);
	/* The test thread has an mm only from its first mapping on. */
	trap->mm = current->mm;
	fill = kunit_kmalloc(test, RANGE_PAGES * PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fill);
	for (i = 0; i < RANGE_PAGES * PAGE_SIZE; i++)
		fill[i] = uafault_pattern(i, 1);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)trap->base, fill,
					   RANGE_PAGES * PAGE_SIZE), 0);

	file = anon_inode_getfile("[uafault-trap]", &trap_fops, trap, O_RDWR);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	addr = vm_mmap(file, trap->base + TRAP_PAGE * PAGE_SIZE, PAGE_SIZE,
		       PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, 0);
	fput(file);
	KUNIT_ASSERT_EQ(test, addr, trap->base + TRAP_PAGE * PAGE_SIZE);
	return trap;
}

struct race_case {
	u8 access;
	u8 action;
	u16 offset;
};

static void race_case_name(const struct race_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s vs %s off=%u",
		 race_access_names[c->access], race_action_names[c->action],
		 c->offset);
}

UAFAULT_PARAM_TABLE(race, struct race_case, 32, race_case_name);

static void expect_range_bytes(struct kunit *test, const u8 *buf, size_t off,
			       size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != uafault_pattern(off + i, seed)) {
			KUNIT_FAIL(test, "byte %zu of the range is %#x, expected %#x",
				   off + i, buf[i], uafault_pattern(off + i, seed));
			return;
		}
	}
}

static void race_copy(struct kunit *test, const struct race_case *c,
		      unsigned long start, size_t len, size_t reach)
{
	bool to_user = c->access == RACE_COPY_TO_USER;
	u8 *kbuf = uafault_kbuf(test, len);
	size_t done, i;

	if (to_user)
		for (i = 0; i < len; i++)
			kbuf[i] = uafault_pattern(c->offset + i, KERNEL_SEED);
	done = len - (to_user ?
		      copy_to_user((void __user *)start, kbuf, len) :
		      copy_from_user(kbuf, (void __user *)start, len));

	uafault_expect_bound(test, len, len - done, reach);
	uafault_expect_guards(test, kbuf, len);
	if (!to_user) {
		expect_range_bytes(test, kbuf, c->offset, done, 1);
		KUNIT_EXPECT_TRUE(test, !memchr_inv(kbuf + done, 0, len - done));
		return;
	}
	/* What copy_to_user() reports written reads back. */
	memset(kbuf, 0, len);
	KUNIT_ASSERT_EQ(test, copy_from_user(kbuf, (void __user *)start, done),
			0);
	expect_range_bytes(test, kbuf, c->offset, done, KERNEL_SEED);
}

static long race_pin(const struct race_case *c, unsigned long start,
		     size_t len, struct page **pages, size_t *offset)
{
	struct iov_iter iter;
	ssize_t got;

	switch (c->access) {
	case RACE_PIN_FAST:
		return pin_user_pages_fast(start, RANGE_PAGES, 0, pages);
	case RACE_PIN_UNLOCKED_WRITE:
		return pin_user_pages_unlocked(start, RANGE_PAGES, pages,
					       FOLL_WRITE);
	default:
		if (uafault_import_ubuf(ITER_SOURCE, (void __user *)start, len,
					&iter))
			return -EINVAL;
		got = uafault_iov_iter_extract_pages(&iter, &pages, len,
						     RANGE_PAGES, offset);
		return got <= 0 ? got : DIV_ROUND_UP(*offset + got, PAGE_SIZE);
	}
}

static void race_pin_test(struct kunit *test, const struct race_case *c,
			  unsigned long start, size_t len, size_t reach)
{
	long balance = uafault_pin_balance(), want, got, i;
	struct page *pages[RANGE_PAGES];
	size_t offset = 0;
	u8 *kaddr;

	/* The fault is page aligned: the pages wholly before it. */
	want = (c->offset + reach) / PAGE_SIZE;
	got = race_pin(c, start, len, pages, &offset);
	KUNIT_ASSERT_EQ(test, got, want ?: -EFAULT);
	for (i = 0; i < got; i++) {
		kaddr = kmap_local_page(pages[i]);
		expect_range_bytes(test, kaddr, i * PAGE_SIZE, PAGE_SIZE, 1);
		kunmap_local(kaddr);
	}
	if (got > 0)
		unpin_user_pages(pages, got);
	KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
}

static void race_trap_test(struct kunit *test)
{
	const struct race_case *c = test->param_value;
	size_t len = RANGE_PAGES * PAGE_SIZE - c->offset;
	size_t reach = (c->action == UNMAP_TRAP ? TRAP_PAGE : REST_PAGE) *
		       PAGE_SIZE - c->offset;
	const char *missing = c->access == RACE_EXTRACT_PAGES ?
			      uafault_missing(UAFAULT_ITER_EXTRACT) : NULL;
	struct task_struct *racer;
	unsigned long start;
	struct trap *trap;

	if (missing)
		kunit_skip(test, "%s", missing);
	trap = map_trap_range(test, c->action);
	start = trap->base + c->offset;
	racer = kthread_run(racer_fn, trap, "uafault-racer");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, racer);

	if (c->access <= RACE_COPY_TO_USER)
		race_copy(test, c, start, len, reach);
	else
		race_pin_test(test, c, start, len, reach);

	/* Let the racer finish even if the access never reached the trap. */
	complete(&trap->faulted);
	wait_for_completion(&trap->raced);
	KUNIT_EXPECT_EQ(test, trap->racer_err, 0);
	KUNIT_EXPECT_TRUE_MSG(test, trap->raced_in_flight,
			      "the access never waited in the trap: no race was run");
}

/* Stochastic: munmap/remap of page 1 of two pages while copying or pinning. */
struct churn {
	struct mm_struct *mm;
	unsigned long page;
	u8 *fill;
	unsigned long rounds;
};

static int churn_fn(void *data)
{
	struct churn *ch = data;

	kthread_use_mm(ch->mm);
	while (!kthread_should_stop()) {
		if (vm_munmap(ch->page, PAGE_SIZE))
			break;
		if (vm_mmap(NULL, ch->page, PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, 0) !=
		    ch->page)
			break;
		if (copy_to_user((void __user *)ch->page, ch->fill, PAGE_SIZE))
			break;
		ch->rounds++;
		cond_resched();
	}
	kthread_unuse_mm(ch->mm);
	/* Wait for kthread_stop() so the caller's reference stays valid. */
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* Bytes of the churned page are its pattern, or 0 between remap and fill. */
static void expect_churned(struct kunit *test, const u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		u8 want = uafault_pattern(i, 1);

		if (i >= PAGE_SIZE && buf[i] == 0)
			continue;
		if (buf[i] != want) {
			KUNIT_FAIL(test, "byte %zu is %#x, expected %#x%s",
				   i, buf[i], want,
				   i >= PAGE_SIZE ? " or 0" : "");
			return;
		}
	}
}

static void churn_round(struct kunit *test, unsigned long base, bool pin,
			unsigned int *partial)
{
	const size_t len = 2 * PAGE_SIZE;
	struct page *pages[2];
	u8 *kbuf, *kaddr;
	size_t left;
	long got, i;

	if (!pin) {
		kbuf = kunit_kzalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, kbuf);
		left = copy_from_user(kbuf, (void __user *)base, len);
		/*
		 * Page 0 is never touched, so it is always copied; with the
		 * churner on another CPU a copy may lose page 1 mid-page.
		 */
		KUNIT_EXPECT_LE(test, left, PAGE_SIZE);
		expect_churned(test, kbuf, len - left);
		KUNIT_EXPECT_TRUE(test, !memchr_inv(kbuf + len - left, 0, left));
		*partial += !!left;
		kunit_kfree(test, kbuf);
		return;
	}
	got = pin_user_pages_fast(base, 2, 0, pages);
	KUNIT_ASSERT_GE(test, got, 1);
	KUNIT_ASSERT_LE(test, got, 2);
	for (i = 0; i < got; i++) {
		kaddr = kmap_local_page(pages[i]);
		/* A pinned page keeps its bytes even if it was munmapped. */
		if (i == 0)
			expect_churned(test, kaddr, PAGE_SIZE);
		kunmap_local(kaddr);
	}
	unpin_user_pages(pages, got);
	*partial += got < 2;
}

static void race_churn_test(struct kunit *test)
{
	const bool *pin = test->param_value;
	long balance = uafault_pin_balance();
	unsigned int round, partial = 0;
	struct task_struct *churner;
	struct churn ch = {};
	unsigned long base;
	size_t i;

	base = uafault_mmap(test, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	ch.mm = current->mm;
	ch.page = base + PAGE_SIZE;
	ch.fill = kunit_kmalloc(test, 2 * PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ch.fill);
	for (i = 0; i < 2 * PAGE_SIZE; i++)
		ch.fill[i] = uafault_pattern(i, 1);
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)base, ch.fill,
					   2 * PAGE_SIZE), 0);
	ch.fill += PAGE_SIZE;

	churner = kthread_run(churn_fn, &ch, "uafault-churn");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, churner);
	get_task_struct(churner);
	for (round = 0; round < STOCHASTIC_ROUNDS && !test->status; round++) {
		churn_round(test, base, *pin, &partial);
		/* On one CPU the churner only runs while we sleep. */
		if (num_online_cpus() == 1)
			usleep_range(20, 50);
	}
	kthread_stop(churner);
	put_task_struct(churner);

	KUNIT_EXPECT_EQ(test, uafault_pin_balance(), balance);
	kunit_info(test, "%u rounds, %u partial, churner remapped %lu times, %u CPUs",
		   round, partial, ch.rounds, num_online_cpus());
}

static const bool churn_params[] = { false, true };

static void churn_name(const bool *pin, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s vs munmap/remap loop",
		 *pin ? "pin_user_pages_fast" : "copy_from_user");
}

KUNIT_ARRAY_PARAM(churn, churn_params, churn_name);

static int race_suite_init(struct kunit_suite *suite)
{
	static const u16 offsets[] = { 0, 100 };
	unsigned int a, act, o;
	struct race_case *c;

	race_reset();
	for (a = 0; a < RACE_NR_ACCESSES; a++) {
		for (act = 0; act < RACE_NR_ACTIONS; act++) {
			for (o = 0; o < ARRAY_SIZE(offsets); o++) {
				c = race_add();
				if (!c)
					return -ENOSPC;
				*c = (struct race_case) { a, act, offsets[o] };
			}
		}
	}
	return 0;
}

static unsigned int race_cases(void)
{
	return race_count;
}

UAFAULT_REINIT_TEST(race, race_suite_init, race_cases);

static struct kunit_case race_test_cases[] = {
	KUNIT_CASE_PARAM(race_trap_test, race_gen_params),
	KUNIT_CASE_PARAM(race_churn_test, churn_gen_params),
	KUNIT_CASE(race_reinit_test),
	{}
};

static struct kunit_suite uafault_race_suite = {
	.name = "uafault_race",
	.suite_init = race_suite_init,
	.test_cases = race_test_cases,
};

kunit_test_suite(uafault_race_suite);
