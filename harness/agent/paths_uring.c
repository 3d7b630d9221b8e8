// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring fixed buffers (io_uring/rsrc.c): IORING_REGISTER_BUFFERS pins
 * the range with pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) and
 * charges it to the locked memory (VmPin); a page that cannot be pinned
 * fails the whole registration with every page given back
 * (e1c75831f682 fixed a page leaked on that path).  Every buffer is
 * pinned writable, even one only written from.  A call registers the
 * range, reads a pipe into it with IORING_OP_READ_FIXED or writes it to
 * the pipe with IORING_OP_WRITE_FIXED, and unregisters it: all or
 * nothing (UAFAULT_RES_ALL), and no pin may outlive the call.  Raw system calls: the guest has no liburing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "paths.h"

struct uring {
	int fd;
	struct io_uring_params p;
	unsigned char *sq, *cq;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	/* The held read's (read_held_call()): an unregister made while held. */
	pthread_t unregistering;
	bool unregister_started;
	int unregister_err;
	bool unregister_done;
};

static void uring_unmap(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->p.sq_entries * sizeof(*u->sqes));
	if (u->cq && u->cq != MAP_FAILED && u->cq != u->sq)
		munmap(u->cq, u->cq_len);
	if (u->sq && u->sq != MAP_FAILED)
		munmap(u->sq, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

static void *ring_map(int fd, size_t len, off_t what)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, what);
}

static struct uring *uring_open(void)
{
	struct uring *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->fd = syscall(__NR_io_uring_setup, 4, &u->p);
	if (u->fd < 0)
		goto fail;
	u->sq_len = u->p.sq_off.array + u->p.sq_entries * sizeof(__u32);
	u->cq_len = u->p.cq_off.cqes +
		    u->p.cq_entries * sizeof(struct io_uring_cqe);
	if (u->p.features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_len > u->sq_len)
			u->sq_len = u->cq_len;
		u->sq = ring_map(u->fd, u->sq_len, IORING_OFF_SQ_RING);
		u->cq = u->sq;
	} else {
		u->sq = ring_map(u->fd, u->sq_len, IORING_OFF_SQ_RING);
		u->cq = ring_map(u->fd, u->cq_len, IORING_OFF_CQ_RING);
	}
	u->sqes = ring_map(u->fd, u->p.sq_entries * sizeof(*u->sqes),
			   IORING_OFF_SQES);
	if (u->sq == MAP_FAILED || u->cq == MAP_FAILED ||
	    u->sqes == MAP_FAILED)
		goto fail;
	return u;
fail:
	errno = errno ?: ENOMEM;
	uring_unmap(u);
	return NULL;
}

static unsigned int *ring_u32(unsigned char *ring, __u32 off)
{
	return (unsigned int *)(ring + off);
}

/* Queues one @op (READ_FIXED, WRITE_FIXED) of @fd and buffer 0 at @addr. */
static int uring_submit(struct uring *u, __u8 op, int fd, void *addr,
			size_t len)
{
	unsigned int tail = *ring_u32(u->sq, u->p.sq_off.tail);
	unsigned int idx = tail & *ring_u32(u->sq, u->p.sq_off.ring_mask);

	memset(&u->sqes[idx], 0, sizeof(u->sqes[idx]));
	u->sqes[idx].opcode = op;
	u->sqes[idx].fd = fd;
	u->sqes[idx].addr = (uintptr_t)addr;
	u->sqes[idx].len = len;
	u->sqes[idx].off = (__u64)-1;	/* a pipe has no position */
	u->sqes[idx].buf_index = 0;
	ring_u32(u->sq, u->p.sq_off.array)[idx] = idx;
	__atomic_store_n(ring_u32(u->sq, u->p.sq_off.tail), tail + 1,
			 __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0) != 1)
		return errno ? -errno : -EIO;
	return 0;
}

/* Waits for the one request in flight: its result. */
static long uring_reap(struct uring *u)
{
	unsigned int head;
	struct io_uring_cqe *cqe;
	long res, got;

	/* A signal ends the wait, not the request: waits again. */
	do
		got = syscall(__NR_io_uring_enter, u->fd, 0, 1,
			      IORING_ENTER_GETEVENTS, NULL, 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	head = __atomic_load_n(ring_u32(u->cq, u->p.cq_off.head),
			       __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(ring_u32(u->cq, u->p.cq_off.tail),
				    __ATOMIC_ACQUIRE))
		return -EIO;
	cqe = (struct io_uring_cqe *)(u->cq + u->p.cq_off.cqes) +
	      (head & *ring_u32(u->cq, u->p.cq_off.ring_mask));
	res = cqe->res;
	__atomic_store_n(ring_u32(u->cq, u->p.cq_off.head), head + 1,
			 __ATOMIC_RELEASE);
	return res;
}

/* One @op of @fd and buffer 0 at @addr, to its completion: its result. */
static long uring_fixed(struct uring *u, __u8 op, int fd, void *addr,
			size_t len)
{
	int err = uring_submit(u, op, fd, addr, len);

	return err ?: uring_reap(u);
}

/*
 * Registers the range as buffer 0, makes one @op on @fd through it and
 * unregisters it: the op's result, or -errno of a failed registration.
 */
static long fixed_call(struct kpath_state *s, void *addr, __u8 op, int fd)
{
	struct iovec iov = { .iov_base = addr, .iov_len = s->len };
	struct uring *u = s->priv;
	long n;

	if (syscall(__NR_io_uring_register, u->fd, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	n = uring_fixed(u, op, fd, addr, s->len);
	path_disarm(s);
	path_held(s, addr);	/* registered: every page pinned */
	/* The device is done with the buffer: every pin goes back now. */
	if (!s->misuse &&
	    syscall(__NR_io_uring_register, u->fd, IORING_UNREGISTER_BUFFERS,
		    NULL, 0) && n >= 0)
		n = -errno;
	return n;
}

/* A ring, and a pipe that holds the bytes the read stores. */
static int uring_setup(struct kpath_state *s)
{
	struct uring *u = uring_open();
	int err;

	if (!u)
		return -errno;
	err = path_pipe(s);
	if (err) {
		uring_unmap(u);
		return err;
	}
	s->priv = u;
	return 0;
}

static void uring_close(struct kpath_state *s)
{
	uring_unmap(s->priv);
	s->priv = NULL;
}

static void read_fixed_call(struct kpath_state *s, void *addr,
			    struct uafault_run *r)
{
	long n = fixed_call(s, addr, IORING_OP_READ_FIXED, s->fd[0]);

	path_report(s, r, n < 0 ? -1 : n, -n);
}

static void write_fixed_call(struct kpath_state *s, void *addr,
			     struct uafault_run *r)
{
	long n = fixed_call(s, addr, IORING_OP_WRITE_FIXED, s->fd[1]);

	path_read_back(s, n < 0 ? -1 : n, -n, r);
}

/*
 * The held read: the pipe is blocking and empty when the read is queued,
 * so io_uring arms a poll and the read stays in flight, holding its
 * buffer, until the call writes the bytes: the held phase comes in
 * between, where a change of the registration runs under the request.
 */
static int held_setup(struct kpath_state *s)
{
	struct uring *u = uring_open();

	if (!u)
		return -errno;
	if (pipe2(s->fd, O_CLOEXEC)) {
		uring_unmap(u);
		return -errno;
	}
	s->priv = u;
	return 0;
}

/* Empties the blocking pipe (what a short read left) without blocking. */
static int held_empty(struct kpath_state *s)
{
	int left = 0;

	while (!ioctl(s->fd[0], FIONREAD, &left) && left > 0)
		if (read(s->fd[0], s->buf, (size_t)left < PATH_BUF_LEN ?
			 (size_t)left : PATH_BUF_LEN) <= 0)
			return -EIO;
	return 0;
}

static int buffers_register(struct uring *u, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };

	return syscall(__NR_io_uring_register, u->fd, IORING_REGISTER_BUFFERS,
		       &iov, 1) ? -errno : 0;
}

static int buffers_unregister(struct uring *u)
{
	return syscall(__NR_io_uring_register, u->fd,
		       IORING_UNREGISTER_BUFFERS, NULL, 0) ? -errno : 0;
}

/* Buffer 0 replaced by an empty slot (no pages): what the update pins. */
static int buffer_update(struct uring *u)
{
	struct iovec none = { 0 };
	struct io_uring_rsrc_update2 up = {
		.offset = 0, .data = (uintptr_t)&none, .nr = 1,
	};
	long n = syscall(__NR_io_uring_register, u->fd,
			 IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));

	return n < 0 ? -errno : n == 1 ? 0 : -EIO;
}

static void *unregister_thread(void *arg)
{
	struct uring *u = arg;

	u->unregister_err = buffers_unregister(u);
	__atomic_store_n(&u->unregister_done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* How long a held unregister may take to return before the request ends. */
#define UNREGISTER_WAIT_MS	100

/*
 * IORING_UNREGISTER_BUFFERS under the request, from a thread: 6.12 waits
 * there for the request to finish (io_rsrc_ref_quiesce()), later kernels
 * return and the request keeps its buffer's node.  0, or the -errno it
 * failed with at once; the call joins it (held_unregistered()).
 */
static int held_unregister(struct uring *u)
{
	const struct timespec tick = { .tv_nsec = 1000 * 1000 };
	unsigned int waited;
	int err;

	u->unregister_done = false;
	err = -pthread_create(&u->unregistering, NULL, unregister_thread, u);
	if (err)
		return err;
	u->unregister_started = true;
	for (waited = 0; waited < UNREGISTER_WAIT_MS &&
	     !__atomic_load_n(&u->unregister_done, __ATOMIC_ACQUIRE); waited++)
		nanosleep(&tick, NULL);
	if (!__atomic_load_n(&u->unregister_done, __ATOMIC_ACQUIRE))
		return 0;	/* waiting for the request, as 6.12 does */
	pthread_join(u->unregistering, NULL);
	u->unregister_started = false;
	return u->unregister_err;
}

/* The held unregister, over once the request is: its error, or 0. */
static int held_unregistered(struct uring *u)
{
	if (u->unregister_started) {
		pthread_join(u->unregistering, NULL);
		u->unregister_started = false;
	}
	return u->unregister_err;
}

/* A held change of the read: HELD_UPDATE or HELD_UNREGISTER. */
static int held_change(struct kpath_state *s, void *addr,
		       enum held_change change)
{
	struct uring *u = s->priv;

	return change == HELD_UPDATE ? buffer_update(u) : held_unregister(u);
}

/*
 * Gives the registration back once the read is done: what a held
 * unregister left, or the unregister itself.  --misuse-paths keeps it.
 */
static int held_release(struct kpath_state *s)
{
	struct uring *u = s->priv;

	if (s->changed & HELD_CHANGE(HELD_UNREGISTER))
		return held_unregistered(u);
	return s->misuse ? 0 : buffers_unregister(u);
}

/*
 * Registers the range as buffer 0, queues a READ_FIXED of the empty pipe
 * through it (held in flight), holds, then writes the bytes the read
 * stores, waits for it and unregisters.
 */
static void read_held_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	struct uring *u = s->priv;
	long n;
	int err;

	path_fill(s->buf, s->len, s->seed);
	n = buffers_register(u, addr, s->len);
	if (n) {
		path_disarm(s);
		path_report(s, r, -1, -n);
		return;
	}
	n = uring_submit(u, IORING_OP_READ_FIXED, s->fd[0], addr, s->len);
	path_disarm(s);
	if (!n) {
		path_held(s, addr);	/* registered, and a read using it */
		n = write(s->fd[1], s->buf, s->len) == (ssize_t)s->len ?
		    uring_reap(u) : -EIO;
	}
	err = held_release(s);
	if (err && n >= 0)
		n = err;
	path_report(s, r, n < 0 ? -1 : n, -n);
}

/*
 * A fixed-buffer path: @dir is what the op does to the range; every
 * registration pins it writable (.write_pin), all or nothing.
 */
#define FIXED_PATH(op, dir, ready, fn)					\
	{ .name = "io_uring_" op "_fixed",					\
	  .flags = dir | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,		\
	  .result = UAFAULT_RES_ALL, .open = uring_setup,		\
	  .prepare = ready, .call = fn, .close = uring_close,		\
	  .contract = { .write_pin = true }, .held = true }

static const struct kpath uring_table[] = {
	FIXED_PATH("read", UAFAULT_TF_WRITE, path_refill, read_fixed_call),
	FIXED_PATH("write", UAFAULT_TF_READ, path_empty, write_fixed_call),
	{
		.name = "io_uring_read_fixed_held",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL, .open = held_setup,
		.prepare = held_empty, .call = read_held_call,
		.close = uring_close, .contract = { .write_pin = true },
		.held = true,
		.changes = HELD_CHANGE(HELD_UPDATE) |
			   HELD_CHANGE(HELD_UNREGISTER),
		.change = held_change,
	},
};

const struct kpath_family uring_paths = PATH_FAMILY(uring_table, "CONFIG_IO_URING");
