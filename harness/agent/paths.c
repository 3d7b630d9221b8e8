// SPDX-License-Identifier: GPL-2.0
/*
 * Path targets: real kernel code reached from user space, run by the
 * agent as targets next to the module's.  A path (paths_*.c, one small
 * function each, a table per family the way lkdtm's categories export
 * theirs) sets up what its call needs (a pipe, a ring), makes the call
 * that consumes the user range, reports what the kernel moved the way a
 * module target does (ret, done, the checksum of the bytes) and gives
 * everything back.  Every fault kind and oracle then runs on it unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "failnth.h"
#include "paths.h"
#include "pins.h"
#include "protocol.h"
#include "target.h"
#include "watchdog.h"

/* How long a deferred tear-down may take to give its pins back. */
#define SETTLE_MS	20000

static const struct kpath_family * const path_families[] = {
	&pipe_paths, &vm_paths, &uring_paths, &block_paths, &iommufd_paths,
	&xdp_paths, &fuse_paths, &v4l2_paths, &gup_paths,
};

/* The bytes a writing path's source holds: what a module target writes. */
void path_fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = uafault_fill(seed, i);
}

/*
 * A call's outcome in a module target's terms: @n bytes moved of @len,
 * or the call failed with -@err.  A short count is -EFAULT, as
 * copy_{from,to}_user()'s callers report one.
 */
void path_result(struct uafault_run *r, long n, int err, size_t len)
{
	if (n < 0) {
		r->ret = -err;
		r->done = 0;
		return;
	}
	r->done = n;
	r->ret = (size_t)n == len ? 0 : -EFAULT;
}

/* path_result(), and the checksum of the first done bytes of s->buf. */
void path_report(struct kpath_state *s, struct uafault_run *r, long n, int err)
{
	path_result(r, n, err, s->len);
	r->csum = uafault_csum(UAFAULT_CSUM_INIT, s->buf, r->done);
}

/*
 * Ends what fail-nth may reach in this call: a path calls it after the
 * call that consumes the range and before its tear-down (unregister,
 * unmap, drain), so an injected failure never makes the agent's own
 * clean-up fail and leave behind what the kernel would have given back.
 */
void path_disarm(struct kpath_state *s)
{
	if (s->arm)
		fail_arm_read(s->arm);
	s->arm = NULL;
}

/*
 * Waits, up to SETTLE_MS (a loaded TCG guest's RCU grace period and
 * worker), for the pin counters to come back to @before: what a deferred
 * tear-down left pinned after that is the pin oracle's.  Once a wait has
 * run out, the path's next calls wait a tick only: a leak every call
 * must not cost SETTLE_MS a call.
 */
static void settle_pins(struct kpath_state *s, struct pins before)
{
	s->unsettled = !pins_back(before, s->unsettled ? 10 : SETTLE_MS);
}

/*
 * One call: prepared, then made with @arm (when not NULL) armed right
 * before it and read back right after it, so nothing but the call
 * consumes the injected failure.
 */
int path_run(const struct agent *a, const struct target *t, void *addr,
	     size_t len, struct uafault_run *r, struct fail_arm *arm)
{
	struct kpath_state *s = t->state;
	struct pins before = { 0 };
	int err = 0;

	if (len > PATH_BUF_LEN)
		return -E2BIG;
	s->len = len;
	s->seed = a->seed;
	if (t->path->prepare)
		err = t->path->prepare(s);
	s->was_held = false;
	s->changed = 0;
	/*
	 * --misuse-paths: the held phase before the call pins anything,
	 * what a pinner that left its pages where they were would show.
	 */
	if (!err && a->misuse_paths && t->path->held)
		path_held(s, addr);
	if (!err && t->path->deferred)
		before = pins_now();
	if (!err && arm)
		err = fail_arm_set(arm);
	if (err)
		return err;
	s->misuse = a->misuse_paths;
	s->hang = a->hang_paths;
	s->raced = a->raced;
	s->arm = arm;
	watch_call(a);
	t->path->call(s, addr, r);
	watch_done();
	path_disarm(s);
	if (t->path->deferred && !s->misuse)	/* kept: nothing to wait for */
		settle_pins(s, before);
	if (s->misuse)
		r->done++;	/* a broken contract the result oracle must see */
	return 0;
}

/*
 * The held phase of a path (kpath.held): its call holds every pin it
 * took on [addr, addr + s->len) and has given none back.  Runs what a
 * kind set (path_on_held()) once a call; --misuse-paths ran it already,
 * before the pins.
 */
void path_held(struct kpath_state *s, void *addr)
{
	if (s->was_held)
		return;
	s->was_held = true;
	if (s->at_held)
		s->at_held(s, addr, s->held_ctx);
}

/*
 * What @t's calls run in their held phase from now on (@fn NULL: nothing),
 * with @ctx; for a path with one (target_holds()).
 */
void path_on_held(const struct target *t, path_held_fn fn, void *ctx)
{
	t->state->at_held = fn;
	t->state->held_ctx = fn ? ctx : NULL;
}

/* Whether @t's last call got to its held phase (its pins were taken). */
bool path_was_held(const struct target *t)
{
	return t->state && t->state->was_held;
}

/*
 * Makes change @c, one @t allows (kpath.changes), on the range its call
 * holds at @addr: from a kind's held phase.  0, or the kernel's -errno.
 */
int path_change(const struct target *t, void *addr, enum held_change c)
{
	int err;

	if (!(t->changes & HELD_CHANGE(c)))
		return -EOPNOTSUPP;
	err = t->path->change(t->state, addr, c);
	if (!err)
		t->state->changed |= HELD_CHANGE(c);
	return err;
}

/* A pipe whose reads never block: what is in it is all there is. */
int path_pipe(struct kpath_state *s)
{
	if (pipe2(s->fd, O_CLOEXEC))
		return -errno;
	if (fcntl(s->fd[0], F_SETFL, O_NONBLOCK)) {
		close(s->fd[0]);
		close(s->fd[1]);
		return -errno;
	}
	return 0;
}

/* Reads what the pipe holds into s->buf; the bytes read (at most len). */
size_t path_drain(struct kpath_state *s)
{
	size_t got = 0;
	ssize_t n;

	while (got < PATH_BUF_LEN &&
	       (n = read(s->fd[0], s->buf + got, PATH_BUF_LEN - got)) > 0)
		got += n;
	return got;
}

/* An empty pipe before each call that fills it. */
int path_empty(struct kpath_state *s)
{
	path_drain(s);
	return 0;
}

/*
 * A call that wrote @n bytes into the pipe (-1: failed with @err): its
 * checksum is of what came out of the pipe, which leaves it empty.
 */
void path_read_back(struct kpath_state *s, long n, int err,
		    struct uafault_run *r)
{
	size_t got;

	path_disarm(s);
	got = path_drain(s);
	path_result(r, n, err, s->len);
	r->csum = uafault_csum(UAFAULT_CSUM_INIT, s->buf,
			       got < r->done ? got : r->done);
}

/*
 * Empties the pipe (what an earlier short call left), then fills it with
 * the len bytes a writing target stores; the default pipe holds 16
 * pages, more than PATH_BUF_LEN, so this never blocks.
 */
int path_refill(struct kpath_state *s)
{
	path_drain(s);
	path_fill(s->buf, s->len, s->seed);
	if (write(s->fd[1], s->buf, s->len) != (ssize_t)s->len)
		return errno ? -errno : -EIO;
	return 0;
}

/*
 * Opens @path and appends it to @a's targets as "path_<name>"; -errno
 * (and nothing appended) when it cannot be opened.  @desc is what its
 * functions read (a described path's device and call), @opaque that the
 * bytes it moves are the device's own, so no data oracle applies.
 */
/* A state of @path, opened (path->open()): NULL and -errno in *@err. */
static struct kpath_state *open_state(const struct kpath *path,
				      const void *desc, int *err)
{
	struct kpath_state *s = calloc(1, sizeof(*s));

	*err = -ENOMEM;
	if (!s)
		return NULL;
	s->fd[0] = s->fd[1] = -1;
	s->desc = desc;
	s->buf = malloc(PATH_BUF_LEN);
	if (s->buf)
		*err = path->open ? path->open(s) : 0;
	if (!*err)
		return s;
	free(s->buf);
	free(s);
	return NULL;
}

int add_path(struct agent *a, const struct kpath *path, const void *desc,
	     const char *owner, size_t fixed_len, bool opaque)
{
	struct target *grown, *t;
	int err;
	struct kpath_state *s = open_state(path, desc, &err);

	grown = err ? NULL : realloc(a->targets,
				     (a->ntargets + 1) * sizeof(*grown));
	if (!grown) {
		if (s)
			close_path_state(path, s);
		return err ?: -ENOMEM;
	}
	a->targets = grown;
	t = &a->targets[a->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "path_%s", path->name);
	snprintf(t->owner, sizeof(t->owner), "%s", owner);
	t->flags = path->flags;
	t->result = path->result;
	t->fixed_len = fixed_len;
	t->path = path;
	t->state = s;
	t->held = path->held;
	t->changes = path->changes;
	t->opaque = opaque || path->opaque;
	t->contract = path->contract;
	/* The block size is part of what UAFAULT_RES_DIO means. */
	if (path->result == UAFAULT_RES_DIO)
		t->contract.addr_align = t->contract.len_align =
			UAFAULT_DIO_ALIGN;
	return 0;
}

/*
 * Closes what a path target opened: before the modules are unloaded (a
 * described path may hold a module's device open), or when --targets
 * leaves it out.
 */
void close_path(struct target *t)
{
	if (!t->state)
		return;
	close_path_state(t->path, t->state);
	t->state = NULL;
}

/* Closes and frees @s, a state of @path. */
void close_path_state(const struct kpath *path, struct kpath_state *s)
{
	unsigned int f;

	if (path->close)
		path->close(s);
	for (f = 0; f < ARRAY_SIZE(s->fd); f++)
		if (s->fd[f] >= 0)
			close(s->fd[f]);
	free(s->buf);
	free(s);
}

/*
 * @t's path opened again, by whoever runs now (a --caller's child, whose
 * rings and sockets must be its own to be charged to it): 0, or -errno
 * and @t as it was.  The state it had is left as it is, the parent's.
 */
int reopen_path(struct target *t)
{
	struct kpath_state *s;
	int err;

	if (!t->path)
		return 0;
	s = open_state(t->path, t->state->desc, &err);
	if (s)
		t->state = s;
	return err;
}

/*
 * A path this kernel lacks, left out: "uafault-unavailable: path NAME
 * CONFIG_X: why" (the option the path or its family needs, if any).
 */
static void path_unavailable(const struct kpath *path,
			     const struct kpath_family *family, int err)
{
	const char *config = path->config ?: family->config;

	printf("%s path %s %s: %s\n", UNAVAILABLE_MARKER, path->name,
	       config ?: "-", strerror(-err));
}

/*
 * Appends the kernel paths named @name (NULL: every one) to @a's targets,
 * each opened now, owner "kernel"; a path this kernel lacks is said and
 * left out.  The last error, or 0.
 */
static int add_kernel_paths(struct agent *a, const char *name)
{
	unsigned int f, i;
	int err = 0;

	for (f = 0; f < ARRAY_SIZE(path_families); f++) {
		const struct kpath_family *family = path_families[f];

		if (family->absent && !name)
			printf("%s paths %s %s: not in this agent (built without that kernel's test header, or one too old)\n",
			       UNAVAILABLE_MARKER, family->absent, family->config);
		for (i = 0; i < family->n; i++) {
			const struct kpath *path = &family->paths[i];

			if (name && strcmp(path->name, name))
				continue;
			err = add_path(a, path, path->data, "kernel", 0, false);
			if (err)
				path_unavailable(path, family, err);
		}
	}
	return err;
}

/*
 * Appends the kernel path named @target ("path_<name>"): a reproducer
 * opens only its own.  0 when @target is no kernel path.
 */
int add_kernel_path(struct agent *a, const char *target)
{
	return strncmp(target, "path_", 5) ? 0 : add_kernel_paths(a, target + 5);
}

/*
 * Appends every path this kernel offers, each opened before any case
 * maps or unmaps a thing (a kernel without io_uring has no io_uring
 * path); one it lacks is no error.
 */
int add_paths(struct agent *a)
{
	add_kernel_paths(a, NULL);
	return 0;
}
