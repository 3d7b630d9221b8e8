/* SPDX-License-Identifier: GPL-2.0 */
/* paths.c and paths_*.c: real kernel paths run as targets */
#ifndef UAFAULT_PATHS_H
#define UAFAULT_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent.h"
#include "failnth.h"
#include "target.h"

struct kpath_state;

/*
 * A kind's work in a path's held phase: @addr is the range the call
 * pinned, s->len long, held long-term; the pins go back after it.
 */
typedef void (*path_held_fn)(struct kpath_state *s, void *addr, void *ctx);

/*
 * A change a path allows while its call holds the range (kpath.changes):
 * what a driver or the process may do to a pinned range before the pins
 * go back.  Each has a kind (kinds_held.c's held_<change>), which runs
 * it in the held phase through kpath.change and judges the pins by the
 * change's contract there.
 */
enum held_change {
	HELD_UNMAP,		/* the mapping under an access goes */
	HELD_DETACH,		/* the domain goes, and another comes */
	HELD_UPDATE,		/* the buffer is replaced under a request */
	HELD_UNREGISTER,	/* the buffers go under a request */
	HELD_REQUEUE,		/* the buffer queued again, another range */
	NR_HELD_CHANGES
};

#define HELD_CHANGE(c)	(1U << (c))

/*
 * What a path opened once, before any case (so nothing it maps can land
 * in a hole a fault kind plants later), and the call in flight.
 */
struct kpath_state {
	size_t len;		/* of the user range, this call */
	unsigned int seed;	/* of the bytes, this call */
	int fd[2];		/* -1: unused */
	unsigned char *buf;	/* the other side's bytes, PATH_BUF_LEN */
	void *priv;		/* a family's own: io_uring's rings, fuse's server */
	unsigned int id;	/* iommufd: the IOAS */
	const void *desc;	/* a described path's device and call */
	/*
	 * --misuse-paths, for the test that the oracles fire: a path keeps
	 * what it should give back (the io_uring registration), every
	 * path reports one byte more than the kernel moved, and a path's
	 * held phase comes before its call pins anything: the range as a
	 * long-term pinner that migrated nothing would hold it, which the
	 * movable kind must see still in ZONE_MOVABLE.
	 */
	bool misuse;
	bool hang;		/* --hang-paths: a call that never returns */
	bool raced;		/* the range may change under the call */
	bool unsettled;		/* a deferred tear-down's wait ran out */
	struct fail_arm *arm;	/* armed for this call: path_disarm() */
	/*
	 * The held phase (kpath.held): what a kind runs on the range while
	 * the path's call holds its pins (path_on_held()), and whether this
	 * call got there.
	 */
	path_held_fn at_held;
	void *held_ctx;
	bool was_held;
	unsigned int changed;	/* HELD_CHANGE() bits this call made */
};

/*
 * A path: @open(), if any, makes what its calls need, once (-errno: this
 * kernel lacks it); @prepare(), if any, readies one call (refills a pipe);
 * @call() makes the one call that consumes [addr, addr + s->len) and
 * fills @r as a module target would (path_result(); @csum over the bytes
 * the kernel moved) and gives back whatever the call took (unregisters,
 * drains).  @flags and @result are the contract, as for a module target.
 */
struct kpath {
	const char *name;
	unsigned int flags;
	enum uafault_result result;
	int (*open)(struct kpath_state *s);
	int (*prepare)(struct kpath_state *s);
	void (*call)(struct kpath_state *s, void *addr, struct uafault_run *r);
	void (*close)(struct kpath_state *s);	/* more than its fds */
	const void *data;	/* the entry's own, as s->desc (a device) */
	struct contract contract;
	bool opaque;		/* moves no bytes the agent can check */
	/*
	 * Its tear-down finishes in a worker after the call (AF_XDP's umem):
	 * path_run() waits for the pin counters to come back first.
	 */
	bool deferred;
	/*
	 * Its call keeps its pins for a while (FOLL_LONGTERM, as a device
	 * keeps a buffer), and it says where: path_held() once they are all
	 * held, before anything gives them back (the unregister, unmap,
	 * close, queue free or unpin that ends the call).  A kind that needs
	 * a hold (fault_kind.held) runs its check there.
	 */
	bool held;
	/*
	 * The changes legal while held (HELD_CHANGE() bits), and the one
	 * function that makes each on the range the call holds: 0, or the
	 * -errno the kernel refused it with.  The call gives back what the
	 * change left it (s->changed says which were made).
	 */
	unsigned int changes;
	int (*change)(struct kpath_state *s, void *addr, enum held_change c);
	/* The kernel option it needs, if not its family's (see below). */
	const char *config;
};

/* The longest range any kind maps: MAX_PAGES pages. */
#define PATH_BUF_LEN	(MAX_PAGES * PAGE)

struct kpath_family {
	const struct kpath *paths;
	unsigned int n;
	/* What a kernel needs for these paths, said when one will not open. */
	const char *config;
	/* Left out of this build: the family's name (e.g. no test header). */
	const char *absent;
};

#define PATH_FAMILY(table, cfg)	{ (table), ARRAY_SIZE(table), (cfg), NULL }
#define NO_PATH_FAMILY(name, cfg)	{ NULL, 0, (cfg), (name) }

extern const struct kpath_family pipe_paths, vm_paths, uring_paths,
	block_paths, iommufd_paths, xdp_paths, fuse_paths, v4l2_paths,
	gup_paths;

int add_paths(struct agent *a);
int add_kernel_path(struct agent *a, const char *target);
int add_path(struct agent *a, const struct kpath *path, const void *desc,
	     const char *owner, size_t fixed_len, bool opaque);
int add_described_paths(struct agent *a, const char *text);
void close_path(struct target *t);
void close_path_state(const struct kpath *path, struct kpath_state *s);
int reopen_path(struct target *t);
int path_run(const struct agent *a, const struct target *t, void *addr,
	     size_t len, struct uafault_run *r, struct fail_arm *arm);
void path_fill(unsigned char *buf, size_t len, unsigned int seed);
void path_result(struct uafault_run *r, long n, int err, size_t len);
void path_report(struct kpath_state *s, struct uafault_run *r, long n, int err);
int path_pipe(struct kpath_state *s);
size_t path_drain(struct kpath_state *s);
int path_refill(struct kpath_state *s);
int path_empty(struct kpath_state *s);
void path_disarm(struct kpath_state *s);
void path_read_back(struct kpath_state *s, long n, int err,
		    struct uafault_run *r);
void path_held(struct kpath_state *s, void *addr);
void path_on_held(const struct target *t, path_held_fn fn, void *ctx);
bool path_was_held(const struct target *t);
int path_change(const struct target *t, void *addr, enum held_change c);

#endif
