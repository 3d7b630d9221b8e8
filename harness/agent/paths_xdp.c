// SPDX-License-Identifier: GPL-2.0
/*
 * AF_XDP's umem (net/xdp/xdp_umem.c): XDP_UMEM_REG on an AF_XDP socket
 * pins the whole range with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)
 * under mmap_lock, so a page userfaultfd would have to supply is a fault,
 * never a wait.  The address must be page aligned and the length a whole
 * number of chunks, else -EINVAL before anything is pinned.  A fault on
 * the first page is -EFAULT; one after some pages were pinned is -ENOMEM,
 * those pages given back (2b1667e54caf fixed the accounting on that
 * path).  No device is bound, so no byte moves: the path is opaque.
 * Closing the socket releases the umem in a worker after an RCU grace
 * period (xdp_put_umem(..., defer_cleanup)): the path is .deferred.
 */
#include <errno.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"
#include "target.h"

#ifndef AF_XDP
#define AF_XDP	44
#endif
#ifndef SOL_XDP
#define SOL_XDP	283
#endif

#define XDP_CHUNK	2048	/* XDP_UMEM_MIN_CHUNK_SIZE */

/* A fresh socket per call: a umem is registered once per socket. */
static int xdp_socket(struct kpath_state *s)
{
	if (s->fd[0] >= 0)
		close(s->fd[0]);	/* what --misuse-paths kept */
	s->fd[0] = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	return s->fd[0] < 0 ? -errno : 0;
}

static void umem_reg_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r)
{
	struct xdp_umem_reg reg = {
		.addr = (uintptr_t)addr, .len = s->len,
		.chunk_size = XDP_CHUNK,
	};
	long n = s->len;

	if (setsockopt(s->fd[0], SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)))
		n = -errno;
	path_disarm(s);
	if (n >= 0)
		path_held(s, addr);	/* registered: every page pinned */
	if (!s->misuse) {	/* the umem, and its pins, go with the socket */
		close(s->fd[0]);
		s->fd[0] = -1;
	}
	path_result(r, n < 0 ? -1 : n, -n, s->len);
	r->csum = UAFAULT_CSUM_INIT;
}

static const struct kpath xdp_table[] = {
	{
		.name = "xdp_umem_reg",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_NOWAIT |
			 UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = xdp_socket,
		.prepare = xdp_socket,
		.call = umem_reg_call,
		.contract = { .addr_align = PAGE, .len_align = XDP_CHUNK,
			      .partial_err = ENOMEM },
		.opaque = true,
		.deferred = true,
		.held = true,
	},
};

const struct kpath_family xdp_paths = PATH_FAMILY(xdp_table, "CONFIG_XDP_SOCKETS");
