// SPDX-License-Identifier: GPL-2.0
/*
 * Injected failures: fail-nth at every usercopy and allocation site the
 * call consults, and the raw dereference SMAP stops (a crashing target,
 * run in a child).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "device.h"
#include "failnth.h"
#include "faults.h"
#include "kmsg.h"
#include "ktap.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "protocol.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* More steps than any target has sites: the last one is a clean run. */
#define MAX_FAIL_STEPS	256

/* "fail_usercopy 2, failslab 1, fail_page_alloc 0" */
static void note_injected(struct verdict *v, const struct kmsg_seen *seen)
{
	unsigned int i;

	for (i = 0; i < NR_INJECTORS; i++)
		note(v, "%s%s %u", i ? ", " : "", injector_names[i],
		     seen->injected[i]);
}

/*
 * fail-nth = 1, 2, ... until the call no longer consumes it: every
 * usercopy and every allocation the call makes fails once, each in a
 * step of its own (failslab and fail_page_alloc count sleeping
 * allocations too: /init turns their ignore-gfp-wait off).  Every step
 * must end cleanly: refused with EFAULT/ENOMEM (the ioctl's own argument
 * copies) or an error the target reports, nothing done past what it
 * reports, no pin leaked, no kernel report.
 */
/*
 * Which step failed the case: its site, the injector that fired in it
 * (what @seen counts beyond @prev) and what the call said.
 */
static void note_step(struct verdict *v, unsigned int nth,
		      const struct kmsg_seen *prev, const struct kmsg_seen *seen,
		      const struct uafault_run *r, int err)
{
	const char *by = "no injector";
	unsigned int i;

	for (i = 0; i < NR_INJECTORS; i++)
		if (seen->injected[i] != prev->injected[i])
			by = injector_names[i];
	if (err)
		note(v, "# at site %u (%s): the call failed with %s\n", nth,
		     by, strerror(-err));
	else
		note(v, "# at site %u (%s): ret %lld done %llu\n", nth, by,
		     (long long)r->ret, (unsigned long long)r->done);
}

static void fault_fail_nth(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	unsigned int nth, refused = 0, reported = 0;
	/*
	 * The ioctl copies its argument in and the result out: two sites.
	 * A path may have none (a direct read of a few pages neither copies
	 * nor allocates); the module's targets prove injection works.
	 */
	unsigned int least = t->path ? 0 : 2;
	struct pins balance = pins_now();
	struct kmsg_seen seen = { 0 }, prev;
	struct fail_arm arm = { 0 };
	bool clean = false;
	struct uafault_run r;
	struct umem m;
	int err;

	arm.fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (arm.fd < 0) {
		unresolved(v, "/proc/thread-self/fail-nth: %s", strerror(errno));
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	for (nth = 1; nth <= MAX_FAIL_STEPS && !clean && !v->failed; nth++) {
		err = umem_setup(&m, &p, t, a->seed);
		if (err) {
			unresolved(v, "setting up step %u: %s", nth,
				   umem_error(&m, err));
			umem_free(&m);
			break;
		}
		arm.nth = nth;
		err = run_target_armed(a, t, m.addr, p.len, &r, &arm);
		clean = arm.left != 0;
		if (clean) {
			/* Not consumed: a clean run, which must be right. */
			if (err)
				fail(v, "clean run refused: %s", strerror(-err));
			else
				check_result(v, &m, t, &r, p.len);
		} else if (err) {
			refused++;
			if (err != -EFAULT && err != -ENOMEM)
				fail(v, "site %u: %s failed with %s", nth,
				     t->path ? "set-up" : "ioctl",
				     strerror(-err));
		} else {
			reported++;
			if (r.ret > 0 || r.done > p.len + 1)
				fail(v, "[result] site %u: ret %lld done %llu", nth,
				     (long long)r.ret,
				     (unsigned long long)r.done);
		}
		umem_free(&m);
		check_pins(v, balance);
		prev = seen;
		kmsg_scan(a, v, false, &seen);
		if (v->failed)
			note_step(v, nth, &prev, &seen, &r, err);
	}
	close(arm.fd);
	note(v, "# %u fault sites (", refused + reported);
	note_injected(v, &seen);
	note(v, "): %u refused by the %s, %u reported by the target%s\n",
	     refused, t->path ? "call" : "ioctl", reported,
	     clean || v->failed ? "" : "; no clean run within the steps");
	if (refused + reported < least && !v->failed)
		fail(v, "only %u fault sites found; the ioctl alone has two",
		     refused + reported);
}

/*
 * The child maps the range in itself: fork() copies no page table entry
 * of a file mapping without anonymous pages, and the oops of a page not
 * present is no SMAP violation.  (A VM_PFNMAP range, which populating
 * refuses, has its entries copied.)
 */
static void map_in_child(const struct umem *m)
{
	madvise(m->base, m->map_len, MADV_POPULATE_READ);
}

/*
 * The raw user dereference, in a child: under SMAP the child must die of
 * the oops, the kernel log must show a permissions-violation page fault
 * (under KASAN the shadow check of the address oopses first, "probably
 * user-memory-access"), and the agent goes on.
 */
static void fault_smap(const struct agent *a, const struct target *t,
		       struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = 1, .hole = -1 };
	bool oopsed = false;
	struct uafault_run r;
	struct umem m;
	int status;
	pid_t pid;

	printf("    " EXPECT_OOPS_MARKER " %s\n", a->case_name);
	console_sync();	/* on the console before the oops it announces */
	place(a, &p, t, k->start);
	if (!set_up(a, t, v, &m, &p))
		return;
	pid = fork();
	if (pid == 0) {
		map_in_child(&m);
		_exit(run_target(a, t, m.addr, p.len, &r) ? 2 : 0);
	}
	if (pid < 0) {
		unresolved(v, "fork: %s", strerror(errno));
	} else if (waitpid(pid, &status, 0) != pid) {
		fail(v, "lost the child: %s", strerror(errno));
	} else if (!WIFSIGNALED(status)) {
		fail(v, "the raw dereference did not oops (child exit %d): no SMAP?",
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	kmsg_check(a, v, true, &oopsed);
	if (!oopsed)
		fail(v, "no oops in the kernel log");
	else if (!strstr(v->msg, "permissions violation") &&
		 !strstr(v->msg, "user-memory-access"))
		fail(v, "the oops is not a permissions violation (SMAP), nor KASAN's user-memory-access (its check of the address comes first)");
	umem_free(&m);
}

const struct fault_kind inject_kinds[] = {
	{ .name = "fail_nth", .run = fault_fail_nth,
	  .config = "CONFIG_FAULT_INJECTION", .probe = "/proc/self/fail-nth" },
	{ .name = "smap", .run = fault_smap, .crash_only = true },
};

const struct fault_family inject_family = FAMILY(inject_kinds);
