// SPDX-License-Identifier: GPL-2.0
/*
 * Layout faults: the range as the target finds it, planted before the
 * call and holding still during it.  No fault; a page unmapped, PROT_NONE
 * or read-only at each position; every page swapped out to zram; and a
 * kernel address passed as the user range.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "coverage.h"
#include "device.h"
#include "faults.h"
#include "kmsg.h"
#include "memory.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "protocol.h"
#include "sys.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* How long a returned call's range must stay still (quiesce). */
#define QUIET_MS	100
#define SWAP_PAGES	8
#define SWAP_TRIES	5

/* Runs the target once on a freshly laid out plan and checks it. */
static void run_plan(const struct agent *a, const struct target *t,
		     struct verdict *v, const struct plan *p)
{
	struct pins balance = pins_now();
	struct verdict one = { 0 };
	struct umem m;

	if (set_up(a, t, &one, &m, p)) {
		run_checked(a, t, &one, &m);
		umem_free(&m);
	}
	check_pins(&one, balance);
	kmsg_check(a, &one, false, NULL);
	if (one.failed || one.unresolved) {
		describe_plan(v, p);
		note(v, "%s", one.msg);
		v->failed |= one.failed;
		v->unresolved |= one.unresolved;
	}
}

/* Every position of one fault kind in a 3-page range. */
static void hole_kind(const struct agent *a, const struct target *t,
		      struct verdict *v, const struct fault_kind *k)
{
	static const size_t offsets[] = { 0, 100 };
	struct plan p = { .npages = RANGE_PAGES, .fault = k->arg };
	unsigned int runs = 0;
	size_t o;

	for (p.hole = 0; p.hole < RANGE_PAGES; p.hole++) {
		for (o = 0; o < 2; o++) {
			if (o && a->offset >= 0 && !t->fixed_len)
				break;	/* one start: the run's */
			/* Fixed length: in the hole, and straddling into it. */
			if (t->fixed_len)
				place(a, &p, t, p.hole * PAGE -
					     (o && p.hole ? t->fixed_len / 2 : 0));
			else
				place(a, &p, t, offsets[o]);
			run_plan(a, t, v, &p);
			runs++;
		}
	}
	note(v, "# %u placements\n", runs);
}

/*
 * Over-reads and over-writes: an inaccessible guard page right after the
 * range's last page and one right before its first.  The range is all
 * the target was given, so it must do exactly what it does with no
 * fault; touching a guard is a short or failed call the result oracle
 * sees.  Without the guards, whether a stray access past the range
 * faults depends on what happens to be mapped next to it.
 */
static void fault_guards(const struct agent *a, const struct target *t,
			 struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .fault = F_PROT_NONE };
	size_t pages;

	/* After: from its start (a fixed length: the end of page 0). */
	place(a, &p, t, t->fixed_len ? PAGE - t->fixed_len : 0);
	p.hole = (p.offset + p.len + PAGE - 1) / PAGE;
	p.npages = p.hole + 1;
	if (p.npages <= MAX_PAGES)
		run_plan(a, t, v, &p);
	else
		note(v, "# no room for a guard after the range's end\n");
	/* Before: the same range a page further in, page 0 the guard. */
	place(a, &p, t, 0);
	p.offset += PAGE;
	p.hole = 0;
	pages = (p.offset + p.len + PAGE - 1) / PAGE;
	p.npages = pages > RANGE_PAGES ? pages : RANGE_PAGES;
	if (p.npages <= MAX_PAGES)
		run_plan(a, t, v, &p);
	else
		note(v, "# no room for a guard before the range's start\n");
	note(v, "# guard pages after the range's end and before its start\n");
}

/*
 * Quiescence: once the call has returned the range is the caller's
 * again.  The agent reuses it at once, as a caller does (new bytes in
 * every byte of it), waits QUIET_MS and reads them back: any change is a
 * write after the return, the class of a device, a completion or
 * deferred work that outlives the call (or its unpin) and clobbers a
 * buffer its owner has moved on with.
 */
static void fault_quiesce(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	const struct timespec quiet = { .tv_nsec = QUIET_MS * 1000 * 1000 };
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	unsigned char *left, *later;
	struct umem m;
	size_t i;

	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	left = malloc(m.map_len);
	later = malloc(m.map_len);
	if (!left || !later) {
		unresolved(v, "out of memory");
		goto out;
	}
	run_checked(a, t, v, &m);
	for (i = 0; i < p.len; i++)
		m.addr[i] = (unsigned char)~m.addr[i];
	umem_snapshot(&m, left);
	nanosleep(&quiet, NULL);
	umem_snapshot(&m, later);
	for (i = 0; i < m.map_len; i++) {
		if (!m.readable[i / PAGE] || left[i] == later[i])
			continue;
		fail(v, "[quiesce] byte %zu of the mapping changed within %d ms of the call's return, after the caller reused it (%#x -> %#x)",
		     i, QUIET_MS, left[i], later[i]);
		break;
	}
out:
	free(left);
	free(later);
	umem_free(&m);
	final_checks(a, v, balance);
}

static void fault_none(const struct agent *a, const struct target *t,
		       struct verdict *v, const struct fault_kind *k)
{
	static const size_t offsets[] = { 0, 1, PAGE - 1 };
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	size_t o;

	for (o = 0; o < 3; o++) {
		if (o && a->offset >= 0 && !t->fixed_len)
			break;	/* one start: the run's */
		place(a, &p, t, t->fixed_len ? PAGE - t->fixed_len / 2 * o :
				     offsets[o]);
		run_plan(a, t, v, &p);
	}
}

/* "used of size KiB" of the swap devices, for a set-up failure's note. */
static bool swap_usage(long *used, long *size)
{
	char line[256];
	long s, u;
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "r");

	*used = *size = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (lines++ && sscanf(line, "%*s %*s %ld %ld", &s, &u) == 2) {
			*size += s;
			*used += u;
		}
	}
	fclose(f);
	return lines > 1;
}

/*
 * Pages the range out and counts the pages swapped (memory_swapped()).
 * MADV_PAGEOUT reclaims only pages on an LRU list, and a page faulted in
 * waits first in the lru_add batch of the CPU that faulted it; madvise
 * drains the batch of the CPU it runs on, no other.  So the caller faults
 * the range in on the CPU it is bound to, and each retry pages out from
 * every CPU of @cpus in turn, which drains every batch the pages can be
 * in.  Unbound, an agent moved between the fault-in and the madvise left
 * every page resident.
 */
static unsigned int page_out(struct umem *m, const cpu_set_t *cpus,
			     unsigned int *tries)
{
	unsigned int swapped;
	int cpu;

	/* First where the range was faulted in: that drains its batch. */
	madvise(m->base, m->map_len, MADV_PAGEOUT);
	swapped = memory_swapped(m, SWAP_PAGES);
	for (*tries = 1; *tries < SWAP_TRIES && swapped < SWAP_PAGES; (*tries)++) {
		for (cpu = 0; cpu < CPU_SETSIZE && swapped < SWAP_PAGES; cpu++) {
			if (!CPU_ISSET(cpu, cpus) || !pin_to_cpu(pthread_self(), cpu))
				continue;
			madvise(m->base, m->map_len, MADV_PAGEOUT);
			swapped = memory_swapped(m, SWAP_PAGES);
		}
	}
	return swapped;
}

/*
 * The whole range swapped out to zram before the call, proven page by
 * page by pagemap; the target must bring every byte back.
 */
static void fault_swapped(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = SWAP_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	long used, size;
	unsigned int swapped, tries;
	cpu_set_t cpus;
	struct umem m;

	if (!swap_usage(&used, &size)) {
		unresolved(v, "no swap device is on in the guest");
		return;
	}
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) ||
	    !pin_to_cpu(pthread_self(), sched_getcpu())) {
		unresolved(v, "binding the agent to its CPU: %s", strerror(errno));
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	if (set_up(a, t, v, &m, &p)) {
		swapped = page_out(&m, &cpus, &tries);
		note(v, "# %u of %u pages swapped out before the call (%u tries)\n",
		     swapped, SWAP_PAGES, tries);
		if (swapped < SWAP_PAGES) {
			swap_usage(&used, &size);
			unresolved(v, "MADV_PAGEOUT left %u of %u pages resident after %u tries on every CPU (swap: %ld of %ld KiB used)",
				   SWAP_PAGES - swapped, SWAP_PAGES, tries,
				   used, size);
		} else {
			run_checked(a, t, v, &m);
		}
		umem_free(&m);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	final_checks(a, v, balance);
}

/*
 * A kernel address as the "user" range: the direct-map alias of a page of
 * the agent's, held by UAFAULT_IOC_PIN so it stays put.  Every target must
 * refuse it (-EFAULT, nothing done or pinned) and leave the page as it
 * was: one that skips access_ok() reads or writes kernel memory, here
 * harmlessly the page the agent watches (CVE-2017-5123's shape).  The
 * range stays inside the page: the next page's alias is not ours.
 */
static void fault_kernel_alias(const struct agent *a, const struct target *t,
			       struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = 1, .hole = -1 };
	struct uafault_pin pin = { .len = PAGE, .flags = UAFAULT_PIN_WRITE };
	struct pins balance = pins_now();
	struct uafault_run r;
	struct umem m;
	unsigned int align;
	long want;
	int err;

	/* Where the contract wants an aligned start, one: not refused. */
	align = t->contract.addr_align ?: 1;
	place(a, &p, t, k->start / align * align);
	if (p.npages > 1) {
		note(v, "# the range leaves the one page whose alias is ours\n");
		v->skipped = true;
		return;
	}
	if (!set_up(a, t, v, &m, &p))
		goto out;
	pin.addr = (uintptr_t)m.base;
	coverage_call();
	if (ioctl(a->dev, UAFAULT_IOC_PIN, &pin) || pin.ret) {
		unresolved(v, "holding the page: %s",
		     strerror(pin.ret ? (int)-pin.ret : errno));
		goto out;
	}
	note(v, "# kernel alias %#llx of user %p\n",
	     (unsigned long long)pin.kaddr + p.offset, (void *)m.addr);
	err = run_target(a, t, (void *)(uintptr_t)(pin.kaddr + p.offset),
			 p.len, &r);
	/*
	 * The alias has the range's alignment: a refusal of it is the same.
	 * A system call that imports the range first (read(), write():
	 * access_ok() in import_ubuf()) refuses the address before the
	 * path's own checks, so -EFAULT is a refusal too.
	 */
	want = contract_refusal(&m, t) ?: -EFAULT;
	if (err)
		fail(v, "ioctl refused: %s", strerror(-err));
	else if ((r.ret != want && r.ret != -EFAULT) || r.done || r.pinned)
		fail(v, "[kernel-address] a kernel address was taken as user memory: ret %lld done %llu pinned %llu, expected %ld and nothing done",
		     (long long)r.ret, (unsigned long long)r.done,
		     (unsigned long long)r.pinned, want);
	if (memcmp(m.base, m.before, PAGE))
		fail(v, "[kernel-address] the page behind the kernel address changed");
	if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
		fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
out:
	umem_free(&m);
	final_checks(a, v, balance);
}

const struct fault_kind layout_kinds[] = {
	{ .name = "none", .run = fault_none, .start = SEVERAL_STARTS },
	{ .name = "unmapped", .run = hole_kind, .arg = F_UNMAPPED,
	  .start = SEVERAL_STARTS },
	{ .name = "prot_none", .run = hole_kind, .arg = F_PROT_NONE,
	  .start = SEVERAL_STARTS },
	{ .name = "read_only", .run = hole_kind, .arg = F_READ_ONLY,
	  .start = SEVERAL_STARTS },
	{ .name = "guards", .run = fault_guards },
	{ .name = "quiesce", .run = fault_quiesce },
	{ .name = "swapped", .run = fault_swapped },
	{ .name = "kernel_alias", .run = fault_kernel_alias, .start = 100 },
};

const struct fault_family layout_family = FAMILY(layout_kinds);
