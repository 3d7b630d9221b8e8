// SPDX-License-Identifier: GPL-2.0
/*
 * Pins held across what the process does next: a fork that shares the
 * range copy-on-write, MADV_DONTNEED, and the migration a long-term hold
 * must make out of ZONE_MOVABLE.  The held pages must keep what the GUP
 * contract says, and letting go must leak nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "coverage.h"
#include "faults.h"
#include "kinds_held.h"
#include "memory.h"
#include "oracle.h"
#include "paths.h"
#include "pins.h"
#include "plan.h"
#include "protocol.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/*
 * The hold of a range its memory refuses (memory_refuses_hold()), judged
 * as a refused call is: GUP's -EFAULT with nothing held is the contract,
 * and the case, having nothing held to go on with, passes on it.  A
 * target that kept such a range took its pages some other way than a
 * buffer kept for a device must be (not long-term, or not for writing).
 * Returns false: nothing is held.
 */
static bool hold_refused(const struct agent *a, const struct target *t,
			 const struct umem *m, struct verdict *v, long ret)
{
	const char *memory = m->plan.memory->name;

	if (ret == -EFAULT) {
		note(v, "# %s memory refuses %s's hold (a long-term%s pin): -EFAULT, nothing held, as GUP's contract says\n",
		     memory, t->name, needs_write(t) ? " write" : "");
		return false;
	}
	if (!ret) {
		fail(v, "[result] %s kept a range of %s memory, which refuses a long-term%s pin: it took the pages some other way",
		     t->name, memory, needs_write(t) ? " write" : "");
		if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
			fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
		return false;
	}
	fail(v, "[result] %s could not keep a range of %s memory: %s, expected the refusal (%s)",
	     t->name, memory, strerror((int)-ret), strerror(EFAULT));
	return false;
}

/*
 * A pin held across the calls that follow (UAFAULT_IOC_PIN): read-only and
 * long-term, the way a driver pins a buffer the device only reads, or, for
 * a target that keeps pages itself (UAFAULT_TF_HOLD), the way that driver
 * does.  Long-term also moves the pages out of ZONE_MOVABLE first, as it
 * must: a FOLL_LONGTERM target run under a short-term pin there could not
 * migrate them and would fail with -ENOMEM.  Every page must be held, but
 * where the memory refuses the target's hold (hold_refused()).
 */
bool hold_pin(const struct agent *a, const struct target *t,
	      const struct umem *m, struct verdict *v)
{
	struct uafault_pin pin = {
		.addr = (uintptr_t)m->addr,
		.len = m->plan.len,
		.flags = UAFAULT_PIN_LONGTERM,
	};

	if (t->flags & UAFAULT_TF_HOLD) {
		memcpy(pin.target, t->name, sizeof(pin.target));
		pin.flags = 0;
	}

	coverage_call();
	if (ioctl(a->dev, UAFAULT_IOC_PIN, &pin)) {
		unresolved(v, "UAFAULT_IOC_PIN: %s", strerror(errno));
		return false;
	}
	if (memory_refuses_hold(&m->plan, t))
		return hold_refused(a, t, m, v, (long)pin.ret);
	/* A driver must be able to keep a mapped, writable buffer. */
	if (pin.ret && (t->flags & UAFAULT_TF_HOLD))
		fail(v, "[result] %s could not keep a mapped range: %s",
		     t->name, strerror((int)-pin.ret));
	else if (pin.ret)
		unresolved(v, "holding a pin on the range: %s",
			   strerror((int)-pin.ret));
	return !pin.ret;
}

/* The held pages must hold @want now; then the pin is released. */
void check_held(const struct agent *a, struct verdict *v,
		const unsigned char *want, size_t len, const char *why)
{
	struct uafault_pin pin = { 0 };
	uint64_t csum = uafault_csum(UAFAULT_CSUM_INIT, want, len);

	if (ioctl(a->dev, UAFAULT_IOC_PIN_READ, &pin))
		fail(v, "UAFAULT_IOC_PIN_READ: %s", strerror(errno));
	else if (pin.csum != csum)
		fail(v, "[pinned-contents] the pinned pages do not hold %s", why);
	if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
		fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
}

/*
 * CVE-2020-29374's shape.  A read-only pin is taken, then the process
 * forks and the range is shared copy-on-write; the child overwrites its
 * copy.  The target then runs in the parent and must see (or write) the
 * parent's bytes only; the parent writes the range once more, and the
 * pinned pages must hold exactly what the parent sees: never the child's
 * bytes, never a page the parent no longer maps.  The child must still
 * see its own bytes.
 */
static void fault_fork_cow(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	int to_child[2], to_parent[2], status;
	struct umem m;
	char token;
	pid_t pid;
	size_t i;

	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	/* Nothing held (refused, maybe by contract): nothing can leak. */
	if (!hold_pin(a, t, &m, v))
		goto checks;
	if (pipe(to_child)) {
		unresolved(v, "pipe: %s", strerror(errno));
		goto unpin;
	}
	if (pipe(to_parent)) {
		unresolved(v, "pipe: %s", strerror(errno));
		goto close_child;
	}
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < m.map_len; i++)
			m.base[i] = (unsigned char)~m.before[i];
		if (write(to_parent[1], "w", 1) != 1 ||
		    read(to_child[0], &token, 1) != 1)
			_exit(2);
		for (i = 0; i < m.map_len; i++)
			if (m.base[i] != (unsigned char)~m.before[i])
				_exit(1);
		_exit(0);
	}
	if (pid < 0) {
		unresolved(v, "fork: %s", strerror(errno));
	} else if (read(to_parent[0], &token, 1) != 1) {
		fail(v, "the child died before writing its copy");
	} else {
		run_checked(a, t, v, &m);
		for (i = 0; i < p.len; i++)
			m.addr[i] ^= 0x5a;
		check_held(a, v, m.addr, p.len,
			   "what the parent wrote after fork");
		if (write(to_child[1], "c", 1) != 1 ||
		    waitpid(pid, &status, 0) != pid)
			fail(v, "lost the child: %s", strerror(errno));
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail(v, "[cow] the child's copy changed (status %#x): COW broken",
			     status);
	}
	if (pid < 0)
		ioctl(a->dev, UAFAULT_IOC_UNPIN);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	goto checks;

close_child:
	close(to_child[0]);
	close(to_child[1]);
unpin:
	ioctl(a->dev, UAFAULT_IOC_UNPIN);
checks:
	umem_free(&m);
	final_checks(a, v, balance);
}

/*
 * MADV_DONTNEED under a held pin: the process gets fresh zero pages (or
 * the page cache's again, for a file) and the target must see (or write)
 * those; the pinned pages keep the bytes they had, and releasing the pin
 * leaks nothing.  Shared memory drops no page: the pin and the mapping
 * hold the same ones, so the pin must hold what the target left there.
 */
static void fault_dontneed(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	unsigned char *old;
	struct umem m;
	int err;

	place(a, &p, t, start_at(t, k->start));
	err = umem_setup(&m, &p, t, a->seed);
	old = malloc(p.len);
	if (err || !old) {
		unresolved(v, "setting up: %s",
			   err ? umem_error(&m, err) : strerror(ENOMEM));
		goto out;
	}
	memcpy(old, m.addr, p.len);
	if (!hold_pin(a, t, &m, v))
		goto out;
	if (madvise(m.base, m.map_len, MADV_DONTNEED)) {
		unresolved(v, "MADV_DONTNEED: %s", strerror(errno));
		ioctl(a->dev, UAFAULT_IOC_UNPIN);
		goto out;
	}
	umem_snapshot(&m, m.before);
	run_checked(a, t, v, &m);
	if (p.memory && p.memory->map_flags & MAP_SHARED)
		check_held(a, v, m.addr, p.len,
			   "the bytes the shared mapping holds after the call");
	else
		check_held(a, v, old, p.len, "the bytes from before MADV_DONTNEED");
out:
	free(old);
	umem_free(&m);
	final_checks(a, v, balance);
}

/* A NUMA node's ZONE_MOVABLE: its page frames [start, end), free pages. */
struct zone_span {
	uint64_t start, end, free;
	int node;
};

#define MAX_NODES	8

/*
 * Every node's ZONE_MOVABLE (movablecore= splits it among the nodes),
 * from /proc/zoneinfo: how many there are, 0 without one.
 */
static unsigned int movable_zones(struct zone_span *z)
{
	unsigned long long v, spanned = 0, free = 0;
	unsigned int n = 0;
	bool in = false;
	char line[256];
	int node = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			in = strstr(line, "zone  Movable") && n < MAX_NODES &&
			     sscanf(line, "Node %d", &node) == 1;
			spanned = free = 0;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, " pages free %llu", &v) == 1) {
			free = v;
		} else if (sscanf(line, " spanned %llu", &v) == 1) {
			spanned = v;
		} else if (sscanf(line, " start_pfn: %llu", &v) == 1 &&
			   spanned) {
			z[n++] = (struct zone_span){ v, v + spanned, free, node };
			in = false;
		}
	}
	fclose(f);
	return n;
}

/* The node of the Movable zone with the most free pages. */
static int roomiest(const struct zone_span *z, unsigned int n)
{
	unsigned int i, best = 0;

	for (i = 1; i < n; i++)
		if (z[i].free > z[best].free)
			best = i;
	return z[best].node;
}

#define MPOL_DEFAULT	0
#define MPOL_PREFERRED	1

/* This thread's allocations from @node first; -1: the default again. */
static void prefer_node(int node)
{
	unsigned long mask = node >= 0 ? 1UL << node : 0;

	syscall(SYS_set_mempolicy, node >= 0 ? MPOL_PREFERRED : MPOL_DEFAULT,
		node >= 0 ? &mask : NULL, node >= 0 ? sizeof(mask) * 8 : 0);
}

/* How many of the range's pages sit in one of the @n zones; -1 unknown. */
static int pages_in(const struct umem *m, const struct zone_span *z,
		    unsigned int n_zones)
{
	size_t first = m->plan.offset / PAGE;
	size_t n = (m->plan.offset + m->plan.len + PAGE - 1) / PAGE - first;
	uint64_t pfn[MAX_PAGES];
	int in = 0;
	unsigned int j;
	size_t i;

	if (!page_frames(m->base + first * PAGE, n, pfn))
		return -1;
	for (i = 0; i < n; i++)
		for (j = 0; j < n_zones; j++)
			in += pfn[i] >= z[j].start && pfn[i] < z[j].end;
	return in;
}

/* What the movable kind found in a path's held phase. */
struct movable_look {
	const struct umem *m;
	const struct zone_span *zones;
	unsigned int n_zones;
	int in;			/* pages still in ZONE_MOVABLE; -1 unknown */
};

/* A path's held phase: where its long-term pins left the range's pages. */
static void movable_held(struct kpath_state *s, void *addr, void *ctx)
{
	struct movable_look *look = ctx;

	look->in = pages_in(look->m, look->zones, look->n_zones);
}

/*
 * The range, laid out in ZONE_MOVABLE, held by @t: through UAFAULT_IOC_PIN
 * for a module target, for a path by its own call, looked at in its held
 * phase (paths.h) with every pin taken and none given back.  How many of
 * its pages stayed in ZONE_MOVABLE, -1 unknown, or -2: nothing was held
 * (a refusal, already judged).
 */
static int held_in_movable(const struct agent *a, const struct target *t,
			   struct verdict *v, struct umem *m,
			   const struct zone_span *zones, unsigned int n_zones)
{
	struct movable_look look = { m, zones, n_zones, -1 };
	int in;

	if (!t->path) {
		if (!hold_pin(a, t, m, v))
			return -2;
		in = pages_in(m, zones, n_zones);
		if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
			fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
		return in;
	}
	path_on_held(t, movable_held, &look);
	run_checked(a, t, v, m);
	path_on_held(t, NULL, NULL);
	if (!path_was_held(t)) {
		note(v, "# %s pinned nothing (its call failed before its held phase): nothing to migrate\n",
		     t->name);
		return -2;
	}
	return look.in;
}

/*
 * A buffer a driver keeps for its device (UAFAULT_TF_HOLD) is a long-term
 * pin, and so is what a long-term pinning path holds (io_uring's fixed
 * buffers, iommufd's mapping, AF_XDP's umem, a videobuf2 USERPTR buffer,
 * gup_test's pin): its pages must not stay in ZONE_MOVABLE (or CMA),
 * where they would block memory offlining and compaction for as long as
 * the device holds them (FOLL_LONGTERM, d1e153fea2a8;
 * check_and_migrate_movable_pages()).  The range starts in the guest's
 * Movable zone (movablecore=); while it is held, /proc/self/pagemap must
 * show every page moved out of it (the user mapping of a migrated page
 * is the new page).  Other targets keep nothing.
 */
static void fault_movable(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	struct zone_span zones[MAX_NODES];
	unsigned int nz = movable_zones(zones);
	struct umem m;
	int before, after;
	bool ok;

	if (!nz) {
		unresolved(v, "no ZONE_MOVABLE in /proc/zoneinfo (movablecore= on the command line?)");
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	/*
	 * A node allocates from its ZONE_MOVABLE first, but from its own
	 * DMA32 before another node's: the range is laid out on the node
	 * whose Movable zone has the most room.
	 */
	prefer_node(roomiest(zones, nz));
	ok = set_up(a, t, v, &m, &p);
	prefer_node(-1);
	if (!ok)
		return;
	before = pages_in(&m, zones, nz);
	note(v, "# %u Movable zone(s), the first pfn %#llx-%#llx: %d page(s) of the range in one\n",
	     nz, (unsigned long long)zones[0].start,
	     (unsigned long long)zones[0].end, before);
	if (before < 0) {
		unresolved(v, "cannot read /proc/self/pagemap");
	} else if (!before) {
		unresolved(v, "no page of the range landed in ZONE_MOVABLE");
	} else {
		after = held_in_movable(a, t, v, &m, zones, nz);
		if (after == -1)
			unresolved(v, "cannot read /proc/self/pagemap while held");
		else if (after > 0)
			fail(v, "[movable] %d held page(s) still in ZONE_MOVABLE: a long-term hold must migrate them out",
			     after);
	}
	umem_free(&m);
	final_checks(a, v, balance);
}

/*
 * A held change's contract (kpath.changes), what the kernel does with the
 * held pins at the change: @releases, gives them all back (the pin
 * balance and VmPin as before the call: an unmap calls the access's unmap
 * callback, which must unpin before the unmap returns); @keeps, still
 * holds pins after it (iommufd: the access keeps the pages while the
 * domain is detached and another attached; io_uring: a request holds its
 * buffer's node, so the pages outlive an update or an unregister until
 * it is done; 6.12's unregister waits for it, later kernels return and
 * keep the node; a videobuf2 buffer queued again at another range holds
 * that one's);
 * @unpins_range, no page of the case's range holds a pin after it (the
 * unmap; the re-queue released the old range, __prepare_userptr()).
 * @refused: an -errno a kernel may answer instead, by its contract,
 * nothing changed: a note, not a failure (0: none; 6.12 has none for
 * these: an unmap under an access that never lets go is -EDEADLOCK, a
 * bug, and io_uring refuses an update or an unregister only with no
 * buffers registered, -ENXIO).
 */
struct change_rule {
	bool releases, keeps, unpins_range;
	int refused;
};

static const struct change_rule change_rules[NR_HELD_CHANGES] = {
	[HELD_UNMAP] = { .releases = true, .unpins_range = true },
	[HELD_DETACH] = { .keeps = true },
	[HELD_UPDATE] = { .keeps = true },
	[HELD_UNREGISTER] = { .keeps = true },
	[HELD_REQUEUE] = { .keeps = true, .unpins_range = true },
};

/* How long a change that releases may take to give the pins back. */
#define CHANGE_SETTLE_MS	2000

/* What a held-change kind runs in the path's held phase, and saw. */
struct held_step {
	const char *kind;
	const struct agent *a;
	const struct umem *m;
	const struct target *t;
	struct verdict *v;
	enum held_change change;
	struct pins balance;	/* before the call pinned anything */
};

/*
 * Whether the counters say the call holds pins the case did not before
 * it (@before): the held phase must find the range pinned.
 */
static bool pins_held(struct pins before)
{
	struct pins now = pins_now();

	return now.foll != PIN_BALANCE_UNKNOWN && now.foll > before.foll;
}

/* How many pages of the case's mapping hold a pin; -1: unknown. */
static int range_pinned(const struct held_step *st)
{
	struct page_refs now;
	int pinned = 0;
	unsigned int i;

	if (page_refs_now(st->a, st->m->base, st->m->map_len, &now, false))
		return -1;
	for (i = 0; i < now.n; i++)
		pinned += now.ref[i].pfn && now.ref[i].pins;
	return pinned;
}

/* After a change that went through: the pins as its contract says. */
static void check_change(const struct held_step *st,
			 const struct change_rule *rule)
{
	int pinned;

	if (rule->releases && !pins_back(st->balance, CHANGE_SETTLE_MS))
		fail(st->v, HELD_CHANGE_ORACLE " %s left the pins held (balance %ld, VmPin %ld kB; %ld, %ld kB before the call): they must go back at the change",
		     st->kind, pins_now().foll, pins_now().vm_kb,
		     st->balance.foll, st->balance.vm_kb);
	if (rule->keeps && !pins_held(st->balance))
		fail(st->v, HELD_CHANGE_ORACLE " %s gave every pin back while the device or a request still had pages to use",
		     st->kind);
	pinned = rule->unpins_range ? range_pinned(st) : 0;
	if (pinned > 0)
		fail(st->v, HELD_CHANGE_ORACLE " %s left %d page(s) of the range pinned: the change must release the old range",
		     st->kind, pinned);
}

/*
 * The path's held phase: the pins must be there, then the change is
 * made, then the pins must be what its contract says (check_change()).
 */
static void change_held(struct kpath_state *s, void *addr, void *ctx)
{
	struct held_step *st = ctx;
	const struct change_rule *rule = &change_rules[st->change];
	int err;

	if (!pins_held(st->balance))
		fail(st->v, HELD_CHANGE_ORACLE " %s: %s held no pin of the range at the change: it changed nothing held",
		     st->kind, st->t->name);
	err = path_change(st->t, addr, st->change);
	if (err && rule->refused && err == -rule->refused) {
		note(st->v, "# %s while held: %s refused it (%s), as its contract allows; nothing changed\n",
		     st->kind, st->t->name, strerror(-err));
		return;
	}
	if (err) {
		fail(st->v, HELD_CHANGE_ORACLE " %s while held failed: %s",
		     st->kind, strerror(-err));
		return;
	}
	check_change(st, rule);
}

/*
 * A change legal while the path holds the range (kpath.changes), the
 * kind's one (k->changes): the path's call runs to its held phase, the
 * change is made there and judged (change_held()), then the call goes
 * on, completes what it started and gives back what the change left it.
 * Every oracle then applies as to any call: the result and the bytes
 * (what the device wrote must be in the range, whose pages were the
 * pinned ones), the page references, and, once the range is gone, the
 * pin balance and VmPin.  A change the kernel refuses by its contract is
 * a note, not a failure.
 */
static void fault_held_change(const struct agent *a, const struct target *t,
			      struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct umem m;
	struct held_step st = {
		.kind = k->name, .a = a, .m = &m, .t = t, .v = v,
		.change = __builtin_ctz(k->changes), .balance = pins_now(),
	};

	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	path_on_held(t, change_held, &st);
	run_checked(a, t, v, &m);
	path_on_held(t, NULL, NULL);
	if (!path_was_held(t))
		note(v, "# %s pinned nothing (its call failed before its held phase): nothing to change\n",
		     t->name);
	umem_free(&m);
	final_checks(a, v, st.balance);
}

const struct fault_kind held_kinds[] = {
	{ .name = "fork_cow", .run = fault_fork_cow },
	{ .name = "dontneed", .run = fault_dontneed },
	{ .name = "movable", .run = fault_movable, .held = true },
	{ .name = "held_unmap", .run = fault_held_change, .held = true,
	  .changes = HELD_CHANGE(HELD_UNMAP) },
	{ .name = "held_detach", .run = fault_held_change, .held = true,
	  .changes = HELD_CHANGE(HELD_DETACH) },
	{ .name = "held_update", .run = fault_held_change, .held = true,
	  .changes = HELD_CHANGE(HELD_UPDATE) },
	{ .name = "held_unregister", .run = fault_held_change, .held = true,
	  .changes = HELD_CHANGE(HELD_UNREGISTER) },
	{ .name = "held_requeue", .run = fault_held_change, .held = true,
	  .changes = HELD_CHANGE(HELD_REQUEUE) },
};

const struct fault_family held_family = FAMILY(held_kinds);
