// SPDX-License-Identifier: GPL-2.0
/*
 * --caller: who makes a case's calls (protocol.h's CALLERS), and the
 * accounting oracle ([accounting]) that only a caller without
 * CAP_IPC_LOCK gives anything to see.
 *
 * Pin accounting (io_uring's fixed buffers, AF_XDP's umem, iommufd's
 * pages) charges the pages a call pins to RLIMIT_MEMLOCK: to its user's
 * locked_vm, which is per uid and outlives the process, and to its mm's
 * pinned_vm (VmPin).  It charges nobody with CAP_IPC_LOCK, so as root a
 * charge an error path forgets to take back is invisible.  The user
 * caller runs the case in a child of a uid of its own, its capabilities
 * all but CAP_IPC_LOCK (what the paths open still opens, only the
 * accounting changes), under an RLIMIT_MEMLOCK of CALLER_MEMLOCK, with
 * its path opened again in the child so its ring or socket is charged to
 * it.  The oracle: VmPin and VmLck are back at their start after the
 * case's calls, and, once the child is gone, a process of the same uid
 * (the keeper) can still register as much of the limit as it could
 * before the case: the limit, less what its own ring is charged.  The
 * keeper lives through the case: a uid's locked_vm lives as long as
 * something holds the uid, so a leak would otherwise vanish with its
 * last process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "caller.h"
#include "paths.h"
#include "pins.h"
#include "protocol.h"
#include "target.h"
#include "verdict.h"
#include "watchdog.h"

/*
 * The user caller's uids and gids, one a case in turn: nobody else's, so
 * a uid's locked_vm is its case's.  A uid's charges live as long as its
 * user_struct, which the worker that frees a closed ring or socket still
 * holds for a while: a case's leak must not be the next case's.
 */
#define CALLER_UID	64242
#define CALLER_UIDS	1000

static uid_t caller_uid = CALLER_UID;
/*
 * Its RLIMIT_MEMLOCK: room for a range across two huge pages (io_uring
 * charges a huge page whole) and for what a newer kernel charges for a
 * ring's own memory, and small enough to register whole.
 */
#define CALLER_MEMLOCK	(2 * HPAGE + 64 * PAGE)
/*
 * How long the registration of the limit may keep failing while a closed
 * ring or socket is freed in a worker (AF_XDP's umem, io_uring's ring):
 * a correct case stops waiting as soon as the worker ran, so the bound
 * is generous for a busy host under TCG, and only a real leak waits it
 * out.
 */
#define ACCOUNTING_WAIT_MS	30000
#define ACCOUNTING_STEP_MS	10

static const char *const caller_names[] = { CALLERS };

/* The caller named @name (enum caller), -1 for none. */
int find_caller(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caller_names); i++)
		if (!strcmp(caller_names[i], name))
			return i;
	return -1;
}

const char *caller_name(int caller)
{
	return caller_names[caller];
}

/* CAP_IPC_LOCK out of this process's permitted and effective sets. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	unsigned int i = CAP_TO_INDEX(CAP_IPC_LOCK);

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[i].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	d[i].inheritable &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	for (i = 0; i < ARRAY_SIZE(d); i++)
		d[i].effective = d[i].permitted;
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * This process as the user caller: uid and gid caller_uid, every
 * capability it had but CAP_IPC_LOCK (out of its bounding set too),
 * RLIMIT_MEMLOCK CALLER_MEMLOCK; dumpable again, so its /proc files
 * (fail-nth, status) are its own.  0 or -errno.
 */
static int become_user(void)
{
	struct rlimit limit = { CALLER_MEMLOCK, CALLER_MEMLOCK };
	int err;

	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(caller_uid, caller_uid, caller_uid) ||
	    setresuid(caller_uid, caller_uid, caller_uid))
		return -errno;
	err = drop_ipc_lock();
	if (err)
		return err;
	if (setrlimit(RLIMIT_MEMLOCK, &limit) ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

/* One try at registering @len bytes at @buf as @ring's only buffer. */
static int register_once(int ring, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		NULL, 0);
	return 0;
}

/*
 * The keeper's registration: a ring, and CALLER_MEMLOCK bytes of small
 * pages (each charged one page; a huge page is charged whole), which
 * io_account_mem() charges to the uid's locked_vm.  @len: the most of
 * the limit it could register before the case, the limit less what the
 * ring itself is charged (a newer kernel charges its rings' memory).
 */
struct limit {
	int ring;
	void *buf;
	size_t len;
};

/* How far below the limit the keeper looks for what its ring left. */
#define RING_CHARGE_MAX	(16 * PAGE)

static int limit_open(struct limit *l)
{
	struct io_uring_params p = { 0 };
	int err = -ENOMEM;

	l->buf = mmap(NULL, CALLER_MEMLOCK, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->buf == MAP_FAILED)
		return -errno;
	madvise(l->buf, CALLER_MEMLOCK, MADV_NOHUGEPAGE);
	l->ring = syscall(__NR_io_uring_setup, 1, &p);
	if (l->ring < 0)
		return -errno;
	for (l->len = CALLER_MEMLOCK;
	     l->len >= CALLER_MEMLOCK - RING_CHARGE_MAX; l->len -= PAGE) {
		err = register_once(l->ring, l->buf, l->len);
		if (err != -ENOMEM)
			break;
	}
	return err;
}

/*
 * The registration of l->len after the case: 0, or -errno of its last
 * try, -ENOMEM still after @ms (a closed ring or socket is uncharged by
 * a worker).
 */
static int limit_check(struct limit *l, unsigned int ms)
{
	int err;

	while ((err = register_once(l->ring, l->buf, l->len)) == -ENOMEM &&
	       ms) {
		usleep(ACCOUNTING_STEP_MS * 1000);
		ms -= ms < ACCOUNTING_STEP_MS ? ms : ACCOUNTING_STEP_MS;
	}
	return err;
}

/*
 * The keeper: a process of the caller's uid through the case, which
 * registers what it can of the limit before the case and again, when
 * told, after it.
 */
struct keeper {
	pid_t pid;
	int go;		/* a byte: check now */
	int answer;	/* -errno: of the start, then of the check */
	size_t len;	/* what it registered before the case */
};

static void keeper_main(int go, int answer, unsigned int ms)
{
	struct limit l = { .ring = -1 };
	int err = become_user();
	char c;

	if (!err)
		err = limit_open(&l);
	if (write(answer, &err, sizeof(err)) != sizeof(err) ||
	    write(answer, &l.len, sizeof(l.len)) != sizeof(l.len))
		_exit(1);
	if (read(go, &c, 1) == 1 && !err)
		err = limit_check(&l, ms);
	if (write(answer, &err, sizeof(err)) != sizeof(err))
		_exit(1);
	_exit(0);
}

/* The keeper's first answer: 0 and its length, or -errno. */
static int keeper_ready(struct keeper *k)
{
	int err = -EPIPE;

	if (read(k->answer, &err, sizeof(err)) != sizeof(err) ||
	    read(k->answer, &k->len, sizeof(k->len)) != sizeof(k->len))
		err = -EPIPE;
	return err;
}

/* The keeper's check after the case, and its end: 0 or -errno. */
static int keeper_check(struct keeper *k)
{
	int err = -EPIPE;

	if (write(k->go, "g", 1) != 1 ||
	    read(k->answer, &err, sizeof(err)) != sizeof(err))
		err = -EPIPE;
	close(k->go);
	close(k->answer);
	waitpid(k->pid, NULL, 0);
	return err;
}

/* The keeper, started and ready (else ended): 0 or -errno. */
static int keeper_start(struct keeper *k, unsigned int ms)
{
	int go[2], answer[2], err;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(answer, O_CLOEXEC))
		goto close_go;
	k->pid = fork();
	if (k->pid < 0)
		goto close_answer;
	if (!k->pid) {
		close(go[1]);
		close(answer[0]);
		keeper_main(go[0], answer[1], ms);
	}
	close(go[0]);
	close(answer[1]);
	k->go = go[1];
	k->answer = answer[0];
	err = keeper_ready(k);
	if (err)
		keeper_check(k);
	return err;
close_answer:
	close(answer[0]);
	close(answer[1]);
close_go:
	close(go[0]);
	close(go[1]);
	return -errno;
}

/* A counter of /proc/self/status the case's calls must leave at @before. */
static void check_status(struct verdict *v, const char *field, long before)
{
	long after = status_kb(field);

	if (after != before)
		fail(v, "[" ACCOUNTING_TAG "] %s %ld kB after the case, %ld kB before: charged and not given back",
		     field, after, before);
}

/*
 * The case's child: the user caller, its path opened again, the case
 * run into @v (shared with the parent), the counters checked.  Under
 * --misuse-paths it keeps its path (a kept registration stays charged)
 * until the parent's check is done: it says so on @done and waits.
 */
static void child_main(struct agent *a, const struct fault_kind *kind,
		       const struct target *t, struct verdict *v,
		       case_body_fn body, int done)
{
	struct target mine = *t;
	long pin, lck;
	const char *stage = "the credentials";
	int err = become_user();

	if (!err) {
		stage = "the watchdog";
		err = -watchdog_start();
	}
	if (!err) {
		stage = "its path will not open";
		err = reopen_path(&mine);
	}
	if (err) {
		unresolved(v, "caller %s (uid %u, no CAP_IPC_LOCK): %s: %s",
			   caller_name(CALLER_USER), caller_uid,
			   stage, strerror(-err));
		_exit(0);
	}
	pin = status_kb("VmPin");
	lck = status_kb("VmLck");
	body(a, kind, &mine, v);
	check_status(v, "VmPin", pin);
	check_status(v, "VmLck", lck);
	fflush(stdout);
	if (a->misuse_paths) {
		if (write(done, "k", 1) == 1)
			pause();
		_exit(0);
	}
	if (mine.path)
		close_path(&mine);
	_exit(0);
}

/* The verdict the case's child writes and the parent reads. */
static struct verdict *shared_verdict(void)
{
	static struct verdict *shared;
	void *p;

	if (!shared) {
		p = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		shared = p == MAP_FAILED ? NULL : p;
	}
	return shared;
}

/*
 * Waits for the case's child: its end, or under --misuse-paths its word
 * that it holds its path (*@held: the caller ends it after the check).
 * Whether it ended, or holds, as it should.
 */
static bool child_done(const struct agent *a, pid_t pid, int done, bool *held)
{
	int status;
	char c;

	*held = a->misuse_paths && read(done, &c, 1) == 1;
	if (*held)
		return true;
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/* The case's child, started: its pid, or -errno. */
static pid_t child_start(struct agent *a, const struct fault_kind *kind,
			 const struct target *t, struct verdict *shared,
			 case_body_fn body, const struct keeper *k, int done[2])
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(k->go);
		close(k->answer);
		close(done[0]);
		child_main(a, kind, t, shared, body, done[1]);
	}
	return pid;
}

/*
 * Runs @body (the case, announced) as a's caller: as the agent for root;
 * for user, in a child as the user caller, then the accounting oracle.
 */
void run_as_caller(struct agent *a, const struct fault_kind *kind,
		   const struct target *t, struct verdict *v,
		   case_body_fn body)
{
	static unsigned int serial;
	struct verdict *shared = shared_verdict();
	struct keeper k;
	int done[2], err;
	bool ended, held;
	pid_t pid;

	if (a->caller == CALLER_ROOT) {
		body(a, kind, t, v);
		return;
	}
	if (!shared) {
		unresolved(v, "caller %s: %s", caller_name(a->caller), strerror(ENOMEM));
		return;
	}
	*shared = *v;
	caller_uid = CALLER_UID + serial++ % CALLER_UIDS;
	err = keeper_start(&k, a->misuse_paths ? 0 : ACCOUNTING_WAIT_MS);
	if (err) {
		unresolved(v, "caller %s: uid %u's registration of its RLIMIT_MEMLOCK before the case: %s",
			   caller_name(a->caller), caller_uid, strerror(-err));
		return;
	}
	/* After the keeper: it must not hold the child's end of the pipe. */
	if (pipe2(done, O_CLOEXEC)) {
		pid = -errno;
		goto no_child;
	}
	pid = child_start(a, kind, t, shared, body, &k, done);
	close(done[1]);
	if (pid < 0)
		goto close_done;
	ended = child_done(a, pid, done[0], &held);
	err = keeper_check(&k);
	if (err && !shared->unresolved)
		fail(shared, "[" ACCOUNTING_TAG "] uid %u registered %zu bytes of its RLIMIT_MEMLOCK (%lu) before the case, not after it: %s",
		     caller_uid, k.len, CALLER_MEMLOCK, strerror(-err));
	if (held) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (!ended)
		fail(shared, "caller %s: the case's child did not end as it should",
		     caller_name(a->caller));
	*v = *shared;
	close(done[0]);
	return;
close_done:
	close(done[0]);
no_child:
	keeper_check(&k);
	unresolved(v, "caller %s: %s", caller_name(a->caller), strerror(-pid));
}
