// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-memory paths (mm/process_vm_access.c): process_vm_readv() and
 * process_vm_writev() on the agent's own range as the "remote" one.  The
 * kernel pins the remote pages with pin_user_pages_remote() (FOLL_PIN,
 * FOLL_WRITE to write), sixteen at a time, and copies what it pinned: a
 * fault ends the copy at the start of the page that faults
 * (UAFAULT_RES_PAGES), -EFAULT when nothing moved.
 */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "paths.h"

/* process_vm_writev()'s source: the bytes a writing target stores. */
static int vm_prepare(struct kpath_state *s)
{
	path_fill(s->buf, s->len, s->seed);
	return 0;
}

/* Both calls take the same arguments: local first, then the remote. */
typedef ssize_t (*vm_rw_fn)(pid_t pid, const struct iovec *local,
			    unsigned long nlocal, const struct iovec *remote,
			    unsigned long nremote, unsigned long flags);

static void vm_call(struct kpath_state *s, void *addr, struct uafault_run *r,
		    vm_rw_fn rw)
{
	struct iovec local = { .iov_base = s->buf, .iov_len = s->len };
	struct iovec remote = { .iov_base = addr, .iov_len = s->len };
	long n = rw(getpid(), &local, 1, &remote, 1, 0);

	path_report(s, r, n, errno);
}

static void vm_readv_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r)
{
	vm_call(s, addr, r, process_vm_readv);
}

static void vm_writev_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	vm_call(s, addr, r, process_vm_writev);
}

static const struct kpath vm_table[] = {
	{ .name = "process_vm_readv", .flags = UAFAULT_TF_READ | UAFAULT_TF_PIN,
	  .result = UAFAULT_RES_PAGES, .call = vm_readv_call },
	{ .name = "process_vm_writev", .flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN,
	  .result = UAFAULT_RES_PAGES, .prepare = vm_prepare,
	  .call = vm_writev_call },
};

const struct kpath_family vm_paths = PATH_FAMILY(vm_table, NULL);
