// SPDX-License-Identifier: GPL-2.0
/*
 * AF_XDP's umem registration leaks locked memory on a partial pin
 * (net/xdp/xdp_umem.c, 6.12): xdp_umem_reg() charges umem->npgs pages to
 * the user's locked_vm (xdp_umem_account_pages()); when pin_user_pages()
 * pins only some of them, xdp_umem_pin_pages() sets umem->npgs to the
 * number pinned before it fails with -ENOMEM, and the unwind's
 * xdp_umem_unaccount_pages() takes back only that many.  The rest stays
 * charged to the uid for as long as the uid has a process or a reference.
 * Only a caller without CAP_IPC_LOCK is charged at all: as root it never
 * shows.
 *
 * Run as root (it needs CAP_NET_RAW for the socket, kept): a child of a
 * uid of its own, without CAP_IPC_LOCK, under an RLIMIT_MEMLOCK of LIMIT
 * pages,
 * registers LIMIT mapped pages (they fit the limit), then LIMIT pages of
 * which the LIMIT/2-th is unmapped (pin_user_pages() pins the first half:
 * the registration fails with -ENOMEM, as it must), then LIMIT mapped
 * pages again, which must still fit: with the leak, -ENOBUFS.  Exit
 * status: 0 the last registration succeeded, 1 it failed (the leak),
 * 3 the set-up failed.  A PROT_NONE or read-only page instead of the hole
 * leaks the same (the pin is FOLL_WRITE).  Build: cc -O2 -o repro THIS_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_xdp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP	44
#endif
/* A uid of its own each run: a leak lives as long as the uid's user_struct. */
#define REPRO_UID	(70000 + getpid() % 10000)
#define PAGE	4096UL
#define LIMIT	16UL

/* Drops to @uid with every capability but CAP_IPC_LOCK. */
static int become_user(uid_t uid)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	struct rlimit limit = { LIMIT * PAGE, LIMIT * PAGE };
	unsigned int i;

	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ||
	    syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		d[i].effective = d[i].permitted;
	if (syscall(SYS_capset, &h, d))
		return -1;
	return setrlimit(RLIMIT_MEMLOCK, &limit);
}

/* XDP_UMEM_REG of @pages pages at @addr on a new socket: 0 or -errno. */
static int umem_reg(void *addr, unsigned long pages)
{
	struct xdp_umem_reg mr = {
		.addr = (unsigned long)addr, .len = pages * PAGE,
		.chunk_size = PAGE,
	};
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	err = setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) ?
	      -errno : 0;
	close(fd);
	return err;
}

/* A mapping of the limit, every page present. */
static unsigned char *limit_map(void)
{
	void *p = mmap(NULL, LIMIT * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A registration of LIMIT pages at @p, tried for up to two seconds while
 * the limit refuses it: an earlier socket's umem is released (and
 * uncharged) in a worker.
 */
static int reg_limit(unsigned char *p)
{
	int tries = 200, err;

	while ((err = umem_reg(p, LIMIT)) == -ENOBUFS && --tries)
		usleep(10000);
	return err;
}

static int child(uid_t uid)
{
	unsigned char *p, *q;
	int err;

	if (become_user(uid)) {
		perror("credentials");
		return 3;
	}
	p = limit_map();
	q = limit_map();
	if (!p || !q)
		return 3;
	err = reg_limit(q);
	printf("registration of RLIMIT_MEMLOCK (%lu pages) before: %s\n",
	       LIMIT, err ? strerror(-err) : "ok");
	if (err)
		return 3;
	munmap(p + LIMIT / 2 * PAGE, PAGE);
	err = reg_limit(p);
	printf("registration with a hole at page %lu: %s (must fail)\n",
	       LIMIT / 2, err ? strerror(-err) : "ok");
	if (err != -ENOMEM)
		return 3;
	err = reg_limit(q);
	printf("registration of RLIMIT_MEMLOCK (%lu pages) after: %s\n",
	       LIMIT, err ? strerror(-err) : "ok");
	return err ? 1 : 0;
}

int main(void)
{
	uid_t uid = REPRO_UID;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 3;
	if (!pid) {
		status = child(uid);
		fflush(stdout);
		_exit(status);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 3;
	if (WEXITSTATUS(status) == 1)
		printf("LEAK: the failed registration left %lu pages charged to uid %d\n",
		       LIMIT / 2, uid);
	return WEXITSTATUS(status);
}
