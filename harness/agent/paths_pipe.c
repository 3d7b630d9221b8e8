// SPDX-License-Identifier: GPL-2.0
/*
 * Pipe paths (fs/pipe.c, fs/splice.c).  write() and read() copy through
 * the pipe's page-sized buffers: a fault inside a chunk drops that chunk
 * (pipe_write() counts only full copies, pipe_read() only consumed
 * buffers), so what moved is the whole chunks before it
 * (UAFAULT_RES_CHUNKS).  vmsplice() takes page references with
 * get_user_pages (FOLL_GET, which the pin counters do not see) and
 * returns what it got before the first page that faults
 * (UAFAULT_RES_PAGES): the shape of CVE-2020-29374 and CVE-2015-1805.
 * writev() and readv() split the range into two segments at its middle:
 * the iov_iter crosses a segment inside a chunk, and the contract holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "paths.h"

static void pipe_write_call(struct kpath_state *s, void *addr,
			    struct uafault_run *r)
{
	long n = write(s->fd[1], addr, s->len);

	path_read_back(s, n, errno, r);
}

static void vmsplice_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r)
{
	struct iovec iov = { .iov_base = addr, .iov_len = s->len };
	long n = vmsplice(s->fd[1], &iov, 1, 0);

	/* --misuse-paths: the pipe keeps the pages' references past the call. */
	if (s->misuse) {
		path_disarm(s);
		path_report(s, r, n, errno);
		return;
	}
	path_read_back(s, n, errno, r);
}

/* The range as two segments, split at its middle. */
static void halves(struct iovec *iov, void *addr, size_t len)
{
	iov[0] = (struct iovec){ .iov_base = addr, .iov_len = len / 2 };
	iov[1] = (struct iovec){ .iov_base = (char *)addr + len / 2,
				 .iov_len = len - len / 2 };
}

static void pipe_writev_call(struct kpath_state *s, void *addr,
			     struct uafault_run *r)
{
	struct iovec iov[2];
	long n;

	halves(iov, addr, s->len);
	n = writev(s->fd[1], iov, 2);
	path_read_back(s, n, errno, r);
}

static void pipe_readv_call(struct kpath_state *s, void *addr,
			    struct uafault_run *r)
{
	struct iovec iov[2];
	long n;

	halves(iov, addr, s->len);
	n = readv(s->fd[0], iov, 2);
	path_report(s, r, n, errno);
}

static void pipe_read_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	long n = read(s->fd[0], addr, s->len);

	path_report(s, r, n, errno);
}

/* A path through a pipe: what it moves, its contract, its two steps. */
#define PIPE_PATH(path, dir, contract, ready, fn)			\
	{ .name = path, .flags = dir, .result = contract,		\
	  .open = path_pipe, .prepare = ready, .call = fn }

static const struct kpath pipe_table[] = {
	PIPE_PATH("pipe_write", UAFAULT_TF_READ, UAFAULT_RES_CHUNKS,
		  path_empty, pipe_write_call),
	PIPE_PATH("pipe_read", UAFAULT_TF_WRITE, UAFAULT_RES_CHUNKS,
		  path_refill, pipe_read_call),
	PIPE_PATH("pipe_writev", UAFAULT_TF_READ, UAFAULT_RES_CHUNKS,
		  path_empty, pipe_writev_call),
	PIPE_PATH("pipe_readv", UAFAULT_TF_WRITE, UAFAULT_RES_CHUNKS,
		  path_refill, pipe_readv_call),
	PIPE_PATH("vmsplice", UAFAULT_TF_READ | UAFAULT_TF_PIN, UAFAULT_RES_PAGES,
		  path_empty, vmsplice_call),
};

const struct kpath_family pipe_paths = PATH_FAMILY(pipe_table, NULL);
