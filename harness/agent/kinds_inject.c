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
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

static int fail_nth_set(int fd, unsigned int nth)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", nth);

	return pwrite(fd, buf, n, 0) == n ? 0 : -errno;
}

/*
 * Reads back what is left of fail-nth.  The read's own copy_to_user is a
 * site too: EFAULT means one was left, which it consumed.
 */
static long fail_nth_left(int fd)
{
	char buf[16] = { 0 };

	if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
		return errno == EFAULT ? 1 : -errno;
	return strtol(buf, NULL, 10);
}

/*
 * fail-nth = 1, 2, ... until the call no longer consumes it.  Every
 * injected step must end cleanly: the ioctl refuses with EFAULT/ENOMEM
 * (its own argument copies) or the target reports an error, nothing done
 * past what it reports, no pin leaked, no kernel report.
 */
static void fault_fail_nth(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	unsigned int nth, refused = 0, reported = 0;
	long balance = pin_balance(), left = 0;
	struct uafault_run r;
	struct umem m;
	int fd, err;

	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0) {
		unresolved(v, "/proc/thread-self/fail-nth: %s", strerror(errno));
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	for (nth = 1; nth < 64; nth++) {
		err = umem_setup(&m, &p, t, a->seed);
		if (err || fail_nth_set(fd, nth)) {
			unresolved(v, "setting up step %u", nth);
			umem_free(&m);
			break;
		}
		err = run_target(a, t, m.addr, p.len, &r);
		left = fail_nth_left(fd);
		fail_nth_set(fd, 0);
		if (left != 0) {
			/* Not consumed: a clean run, which must be right. */
			if (err)
				fail(v, "clean run refused: %s", strerror(-err));
			else
				check_result(v, &m, t, &r, p.len);
			umem_free(&m);
			break;
		}
		if (err) {
			refused++;
			if (err != -EFAULT && err != -ENOMEM)
				fail(v, "site %u: ioctl failed with %s", nth,
				     strerror(-err));
		} else {
			reported++;
			if (r.ret > 0 || r.done > p.len + 1)
				fail(v, "[result] site %u: ret %lld done %llu", nth,
				     (long long)r.ret,
				     (unsigned long long)r.done);
		}
		umem_free(&m);
		final_checks(a, v, balance);
		if (v->failed)
			break;
	}
	close(fd);
	note(v, "# %u fault sites: %u refused by the ioctl, %u reported by the target\n",
	     nth - 1, refused, reported);
	/* The ioctl copies its argument in and the result out: two sites. */
	if (nth - 1 < 2 && !v->failed)
		fail(v, "only %u fault sites found; the ioctl alone has two",
		     nth - 1);
}

/*
 * The raw user dereference, in a child: under SMAP the child must die of
 * the oops, the kernel log must show a permissions-violation page fault,
 * and the agent goes on.
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

	printf("    # uafault-expect-oops: %s\n", a->case_name);
	console_sync();	/* on the console before the oops it announces */
	place(a, &p, t, k->start);
	if (!set_up(a, t, v, &m, &p))
		return;
	pid = fork();
	if (pid == 0)
		_exit(run_target(a, t, m.addr, p.len, &r) ? 2 : 0);
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
	else if (!strstr(v->msg, "permissions violation"))
		fail(v, "the oops is not a permissions violation (SMAP)");
	umem_free(&m);
}

const struct fault_kind inject_kinds[] = {
	{ .name = "fail_nth", .run = fault_fail_nth },
	{ .name = "smap", .run = fault_smap, .crash_only = true },
};

const struct fault_family inject_family = FAULT_FAMILY(inject_kinds);
