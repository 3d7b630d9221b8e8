// SPDX-License-Identifier: GPL-2.0
/*
 * The fault kinds: one function each, and the table that names them.
 * Each prepares real user memory, runs the target through /dev/uafault
 * and hands the result to the oracle (umem.c) with the reach the fault
 * plan allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define RANGE_PAGES	3
#define SWAP_PAGES	8
#define SWAP_TRIES	5

static void describe_plan(struct verdict *v, const struct plan *p)
{
	static const char * const names[] = {
		"none", "unmapped", "prot_none", "read_only",
	};

	note(v, "# plan: pages=%u hole=%d:%s offset=%zu len=%zu\n",
	     p->npages, p->hole, names[p->fault], p->offset, p->len);
}

/*
 * The range of a plan: a fixed-length target's length, else the run's
 * --size, else to the end of the kind's pages.  A run's --offset replaces
 * the kind's own start.  The mapping grows to hold the range.
 */
static void place(const struct agent *a, struct plan *p,
		  const struct target *t, size_t offset)
{
	size_t need;

	if (a->offset >= 0 && !t->fixed_len)
		offset = a->offset;
	p->offset = offset;
	if (t->fixed_len)
		p->len = t->fixed_len;
	else if (a->size)
		p->len = a->size;
	else
		p->len = p->npages * PAGE - offset;
	need = (p->offset + p->len + PAGE - 1) / PAGE;
	if (need > p->npages)
		p->npages = need;
}

/*
 * Where a kind's range starts: at @offset, or for a fixed-length target
 * (get_user, put_user) straddling the boundary into page 1.
 */
static size_t start_at(const struct target *t, size_t offset)
{
	return t->fixed_len ? PAGE - t->fixed_len / 2 : offset;
}

static void check_pins(struct verdict *v, long balance)
{
	long now = pin_balance();

	if (balance == PIN_BALANCE_UNKNOWN || now == PIN_BALANCE_UNKNOWN)
		unresolved(v, "cannot read the pin counters (/proc/sys/vm/stat_refresh, /proc/vmstat)");
	else if (now != balance)
		fail(v, "[pins] pin balance %ld -> %ld: pins leaked", balance, now);
}

/*
 * Runs the target on @m's range as it is now and hands the result to the
 * oracle with the reach @m's plan allows.
 */
static void run_checked(const struct agent *a, const struct target *t,
			struct verdict *v, struct umem *m)
{
	struct uafault_run r;
	int err = run_target(a, t, m->addr, m->plan.len, &r);

	if (err)
		fail(v, "ioctl refused: %s", strerror(-err));
	else
		check_result(v, m, t, &r,
			     plan_reach(&m->plan, target_writes(t)));
}

/* Lays @p out in @m; false (and the case unresolved) when it cannot. */
static bool set_up(const struct agent *a, const struct target *t,
		   struct verdict *v, struct umem *m, const struct plan *p)
{
	int err = umem_setup(m, p, t, a->seed);

	if (err) {
		unresolved(v, "setting up user memory: %s", strerror(-err));
		umem_free(m);
	}
	return !err;
}

/* Runs the target once on a freshly laid out plan and checks it. */
static void run_plan(const struct agent *a, const struct target *t,
		     struct verdict *v, const struct plan *p)
{
	long balance = pin_balance();
	struct verdict one = { 0 };
	struct umem m;

	if (set_up(a, t, &one, &m, p)) {
		run_checked(a, t, &one, &m);
		umem_free(&m);
	}
	check_pins(&one, balance);
	kmsg_check(a, &one, false, NULL);
	if (one.failed || one.unresolved) {
		describe_plan(v, p);
		note(v, "%s", one.msg);
		v->failed |= one.failed;
		v->unresolved |= one.unresolved;
	}
}

/* Every position of one fault kind in a 3-page range. */
static void hole_kind(const struct agent *a, const struct target *t,
		      struct verdict *v, const struct fault_kind *k)
{
	static const size_t offsets[] = { 0, 100 };
	struct plan p = { .npages = RANGE_PAGES, .fault = k->arg };
	unsigned int runs = 0;
	size_t o;

	for (p.hole = 0; p.hole < RANGE_PAGES; p.hole++) {
		for (o = 0; o < 2; o++) {
			if (o && a->offset >= 0 && !t->fixed_len)
				break;	/* one start: the run's */
			/* Fixed length: in the hole, and straddling into it. */
			if (t->fixed_len)
				place(a, &p, t, p.hole * PAGE -
					     (o && p.hole ? t->fixed_len / 2 : 0));
			else
				place(a, &p, t, offsets[o]);
			run_plan(a, t, v, &p);
			runs++;
		}
	}
	note(v, "# %u placements\n", runs);
}

static void fault_none(const struct agent *a, const struct target *t,
		       struct verdict *v, const struct fault_kind *k)
{
	static const size_t offsets[] = { 0, 1, PAGE - 1 };
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	size_t o;

	for (o = 0; o < 3; o++) {
		if (o && a->offset >= 0 && !t->fixed_len)
			break;	/* one start: the run's */
		place(a, &p, t, t->fixed_len ? PAGE - t->fixed_len / 2 * o :
				     offsets[o]);
		run_plan(a, t, v, &p);
	}
}

/* Bits 63 (present) and 62 (swapped) of a /proc/self/pagemap entry. */
static unsigned int count_swapped(const unsigned char *addr, size_t npages)
{
	unsigned int swapped = 0;
	uint64_t entry;
	size_t i;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	for (i = 0; i < npages; i++) {
		off_t off = ((uintptr_t)addr / PAGE + i) * sizeof(entry);

		if (pread(fd, &entry, sizeof(entry), off) != sizeof(entry))
			break;
		swapped += !(entry >> 63 & 1) && (entry >> 62 & 1);
	}
	close(fd);
	return swapped;
}

/* "used of size KiB" of the swap devices, for a set-up failure's note. */
static bool swap_usage(long *used, long *size)
{
	char line[256];
	long s, u;
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "r");

	*used = *size = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (lines++ && sscanf(line, "%*s %*s %ld %ld", &s, &u) == 2) {
			*size += s;
			*used += u;
		}
	}
	fclose(f);
	return lines > 1;
}

/*
 * Binds @thread to @cpu.  A race needs both sides running at once: the
 * target's task on one CPU, the racing thread on another (the scheduler
 * may otherwise stack them); a swap-out needs one CPU (page_out()).
 */
static bool pin_to_cpu(pthread_t thread, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !pthread_setaffinity_np(thread, sizeof(set), &set);
}

/*
 * Pages the range out and counts, by pagemap, the pages swapped.
 * MADV_PAGEOUT reclaims only pages on an LRU list, and a page faulted in
 * waits first in the lru_add batch of the CPU that faulted it; madvise
 * drains the batch of the CPU it runs on, no other.  So the caller faults
 * the range in on the CPU it is bound to, and each retry pages out from
 * every CPU of @cpus in turn, which drains every batch the pages can be
 * in.  Unbound, an agent moved between the fault-in and the madvise left
 * every page resident.
 */
static unsigned int page_out(struct umem *m, const cpu_set_t *cpus,
			     unsigned int *tries)
{
	unsigned int swapped;
	int cpu;

	/* First where the range was faulted in: that drains its batch. */
	madvise(m->base, m->map_len, MADV_PAGEOUT);
	swapped = count_swapped(m->base, SWAP_PAGES);
	for (*tries = 1; *tries < SWAP_TRIES && swapped < SWAP_PAGES; (*tries)++) {
		for (cpu = 0; cpu < CPU_SETSIZE && swapped < SWAP_PAGES; cpu++) {
			if (!CPU_ISSET(cpu, cpus) || !pin_to_cpu(pthread_self(), cpu))
				continue;
			madvise(m->base, m->map_len, MADV_PAGEOUT);
			swapped = count_swapped(m->base, SWAP_PAGES);
		}
	}
	return swapped;
}

/*
 * The whole range swapped out to zram before the call, proven page by
 * page by pagemap; the target must bring every byte back.
 */
static void fault_swapped(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = SWAP_PAGES, .hole = -1 };
	long balance = pin_balance(), used, size;
	unsigned int swapped, tries;
	cpu_set_t cpus;
	struct umem m;

	if (!swap_usage(&used, &size)) {
		unresolved(v, "no swap device is on in the guest");
		return;
	}
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) ||
	    !pin_to_cpu(pthread_self(), sched_getcpu())) {
		unresolved(v, "binding the agent to its CPU: %s", strerror(errno));
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	if (set_up(a, t, v, &m, &p)) {
		swapped = page_out(&m, &cpus, &tries);
		note(v, "# pagemap: %u of %u pages swapped out before the call (%u tries)\n",
		     swapped, SWAP_PAGES, tries);
		if (swapped < SWAP_PAGES) {
			swap_usage(&used, &size);
			unresolved(v, "MADV_PAGEOUT left %u of %u pages resident after %u tries on every CPU (swap: %ld of %ld KiB used)",
				   SWAP_PAGES - swapped, SWAP_PAGES, tries,
				   used, size);
		} else {
			run_checked(a, t, v, &m);
		}
		umem_free(&m);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/* What the userfaultfd handler does to the rest of the range. */
struct uffd_race {
	int uffd;
	int stop[2];		/* written once the target has returned */
	unsigned char *trap;	/* the missing page the target faults on */
	unsigned char *rest;	/* the page after it */
	const unsigned char *fill;	/* what the trap page resolves to */
	bool protect;		/* PROT_NONE the rest, else munmap it */
	bool raced;
	int err;
};

static void *uffd_handler(void *arg)
{
	struct uffd_race *race = arg;
	struct pollfd pfd[2] = {
		{ .fd = race->uffd, .events = POLLIN },
		{ .fd = race->stop[0], .events = POLLIN },
	};
	struct uffdio_copy copy = { 0 };
	struct uffd_msg msg;

	if (poll(pfd, 2, 10000) < 1) {
		race->err = ETIMEDOUT;
		return NULL;
	}
	if (!(pfd[0].revents & POLLIN))
		return NULL;	/* the target returned without a fault */
	if (read(race->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT) {
		race->err = ETIMEDOUT;
		return NULL;
	}
	/* The target is parked in the fault: change the mapping under it. */
	if (race->protect ? mprotect(race->rest, PAGE, PROT_NONE) :
			    munmap(race->rest, PAGE))
		race->err = errno;
	race->raced = true;
	copy.dst = (uintptr_t)race->trap;
	copy.src = (uintptr_t)race->fill;
	copy.len = PAGE;
	if (ioctl(race->uffd, UFFDIO_COPY, &copy) && !race->err)
		race->err = errno;
	return NULL;
}

static int uffd_register(unsigned char *page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)page, .len = PAGE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Deterministic munmap race: page 1 of three is missing and registered
 * with userfaultfd; when the target faults on it, the handler thread
 * munmaps (or PROT_NONEs) page 2, then resolves page 1.  The target must
 * end with exactly what a range whose page 2 faults allows.  A
 * UAFAULT_TF_NOWAIT target cannot wait for the handler: for it page 1 is
 * a fault, and nothing may race.
 */
static void uffd_kind(const struct agent *a, const struct target *t,
		      struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct uffd_race race = { .protect = k->arg };
	long balance = pin_balance();
	struct uafault_run r;
	pthread_t thread;
	struct umem m;
	int err;

	place(a, &p, t, start_at(t, k->start));
	if (p.offset + p.len <= PAGE) {
		note(v, "# the range ends before page 1, the userfaultfd page\n");
		v->skipped = true;
		return;
	}
	if (!set_up(a, t, v, &m, &p))
		return;
	race.trap = m.base + PAGE;
	race.rest = m.base + 2 * PAGE;
	race.fill = m.before + PAGE;
	madvise(race.trap, PAGE, MADV_DONTNEED);
	race.uffd = uffd_register(race.trap);
	if (race.uffd < 0) {
		unresolved(v, "userfaultfd: %s", strerror(-race.uffd));
		umem_free(&m);
		return;
	}
	if (pipe(race.stop)) {
		unresolved(v, "pipe: %s", strerror(errno));
		close(race.uffd);
		umem_free(&m);
		return;
	}
	err = pthread_create(&thread, NULL, uffd_handler, &race);
	if (err) {
		unresolved(v, "the userfaultfd handler thread: %s", strerror(err));
		close(race.uffd);
		close(race.stop[0]);
		close(race.stop[1]);
		umem_free(&m);
		return;
	}
	err = run_target(a, t, m.addr, p.len, &r);
	if (write(race.stop[1], "s", 1) != 1)
		fail(v, "waking the uffd handler: %s", strerror(errno));
	pthread_join(thread, NULL);
	close(race.uffd);
	close(race.stop[0]);
	close(race.stop[1]);

	/* From here on the plan is the one the race left behind. */
	if (t->flags & UAFAULT_TF_NOWAIT) {
		m.plan.hole = 1;
		m.plan.fault = F_UNMAPPED;
		m.readable[1] = false;
		if (race.raced)
			fail(v, "[result] a NOWAIT target waited for userfaultfd");
	} else {
		m.plan.hole = 2;
		m.plan.fault = k->arg ? F_PROT_NONE : F_UNMAPPED;
		m.readable[2] = false;
		if (!race.raced && !race.err)
			fail(v, "the target never faulted on the userfaultfd page");
	}
	if (race.err)
		fail(v, "uffd handler: %s", strerror(race.err));
	if (err)
		fail(v, "ioctl refused: %s", strerror(-err));
	else
		check_result(v, &m, t, &r, plan_reach(&m.plan, target_writes(t)));
	if (v->failed)
		describe_plan(v, &m.plan);
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/* Stochastic: page 1 vanishes and comes back, refilled, in a loop. */
struct churn {
	unsigned char *page;
	const unsigned char *fill;
	bool stop;	/* __atomic: set by the main thread */
	unsigned long rounds;
};

static void *churn_thread(void *arg)
{
	struct churn *ch = arg;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
		unsigned char *fresh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (fresh == MAP_FAILED)
			break;
		memcpy(fresh, ch->fill, PAGE);
		munmap(ch->page, PAGE);
		/* mremap puts the filled page in at once: never half full. */
		if (mremap(fresh, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   ch->page) == MAP_FAILED)
			break;
		ch->rounds++;
	}
	return NULL;
}

static void fault_stochastic(const struct agent *a, const struct target *t,
			     struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = 2, .hole = -1 };
	long balance = pin_balance();
	unsigned int round, partial = 0;
	struct churn ch = { 0 };
	struct uafault_run r;
	pthread_t thread;
	struct umem m;
	int err;

	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	ch.page = m.base + PAGE;
	ch.fill = m.before + PAGE;
	err = pthread_create(&thread, NULL, churn_thread, &ch);
	if (err) {
		unresolved(v, "the munmap thread: %s", strerror(err));
		umem_free(&m);
		return;
	}
	for (round = 0; round < a->rounds && !v->failed; round++) {
		uint64_t csum;

		err = run_target(a, t, m.addr, p.len, &r);
		if (err) {
			fail(v, "round %u: ioctl refused: %s", round,
			     strerror(-err));
			break;
		}
		if (r.done > p.len + (t->result == UAFAULT_RES_STRSIZE) ||
		    (r.ret && r.ret != -EFAULT)) {
			fail(v, "[result] round %u: ret %lld done %llu of %zu", round,
			     (long long)r.ret, (unsigned long long)r.done,
			     p.len);
			break;
		}
		partial += r.ret != 0;
		/* Page 1 only ever holds its own bytes: a read must see them. */
		if (t->flags & UAFAULT_TF_READ && t->result != UAFAULT_RES_ZEROED &&
		    t->result != UAFAULT_RES_STRSIZE && r.done <= p.len) {
			csum = user_csum(&m, t, &r, m.before);
			if (csum != r.csum)
				fail(v, "[csum] round %u: csum of %llu bytes read differs",
				     round, (unsigned long long)r.done);
		}
	}
	__atomic_store_n(&ch.stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	note(v, "# %u rounds, %u partial, page remapped %lu times\n", round,
	     partial, ch.rounds);
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/*
 * A pin held across the calls that follow (UAFAULT_IOC_PIN): read-only and
 * long-term, the way a driver pins a buffer the device only reads, or, for
 * a target that keeps pages itself (UAFAULT_TF_HOLD), the way that driver
 * does.  Long-term also moves the pages out of ZONE_MOVABLE first, as it
 * must: a FOLL_LONGTERM target run under a short-term pin there could not
 * migrate them and would fail with -ENOMEM.  Every page must be held.
 */
static bool hold_pin(const struct agent *a, const struct target *t,
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

	if (ioctl(a->dev, UAFAULT_IOC_PIN, &pin)) {
		unresolved(v, "UAFAULT_IOC_PIN: %s", strerror(errno));
		return false;
	}
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
static void check_held(const struct agent *a, struct verdict *v,
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
	long balance = pin_balance();
	int to_child[2], to_parent[2], status;
	struct umem m;
	char token;
	pid_t pid;
	size_t i;

	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	if (pipe(to_child)) {
		unresolved(v, "pipe: %s", strerror(errno));
		umem_free(&m);
		return;
	}
	if (pipe(to_parent)) {
		unresolved(v, "pipe: %s", strerror(errno));
		close(to_child[0]);
		close(to_child[1]);
		umem_free(&m);
		return;
	}
	if (!hold_pin(a, t, &m, v)) {
		umem_free(&m);
		return;
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
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/*
 * MADV_DONTNEED under a held pin: the process gets fresh zero pages and
 * the target must see (or write) those; the pinned pages keep the bytes
 * they had, and releasing the pin leaks nothing.
 */
static void fault_dontneed(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	long balance = pin_balance();
	unsigned char *old;
	struct umem m;
	int err;

	place(a, &p, t, start_at(t, k->start));
	err = umem_setup(&m, &p, t, a->seed);
	old = malloc(p.len);
	if (err || !old) {
		unresolved(v, "setting up: %s", strerror(err ? -err : ENOMEM));
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
	check_held(a, v, old, p.len, "the bytes from before MADV_DONTNEED");
out:
	free(old);
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

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
		check_pins(v, balance);
		kmsg_check(a, v, false, NULL);
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
	fflush(stdout);
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

/*
 * A kernel address as the "user" range: the direct-map alias of a page of
 * the agent's, held by UAFAULT_IOC_PIN so it stays put.  Every target must
 * refuse it (-EFAULT, nothing done or pinned) and leave the page as it
 * was: one that skips access_ok() reads or writes kernel memory, here
 * harmlessly the page the agent watches (CVE-2017-5123's shape).  The
 * range stays inside the page: the next page's alias is not ours.
 */
static void fault_kernel_alias(const struct agent *a, const struct target *t,
			       struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = 1, .hole = -1 };
	struct uafault_pin pin = { .len = PAGE, .flags = UAFAULT_PIN_WRITE };
	long balance = pin_balance();
	struct uafault_run r;
	struct umem m;
	int err;

	place(a, &p, t, k->start);
	if (p.npages > 1) {
		note(v, "# the range leaves the one page whose alias is ours\n");
		v->skipped = true;
		return;
	}
	if (!set_up(a, t, v, &m, &p))
		goto out;
	pin.addr = (uintptr_t)m.base;
	if (ioctl(a->dev, UAFAULT_IOC_PIN, &pin) || pin.ret) {
		unresolved(v, "holding the page: %s",
		     strerror(pin.ret ? (int)-pin.ret : errno));
		goto out;
	}
	note(v, "# kernel alias %#llx of user %p\n",
	     (unsigned long long)pin.kaddr + p.offset, (void *)m.addr);
	err = run_target(a, t, (void *)(uintptr_t)(pin.kaddr + p.offset),
			 p.len, &r);
	if (err)
		fail(v, "ioctl refused: %s", strerror(-err));
	else if (r.ret != -EFAULT || r.done || r.pinned)
		fail(v, "[kernel-address] a kernel address was taken as user memory: ret %lld done %llu pinned %llu, expected -EFAULT and nothing done",
		     (long long)r.ret, (unsigned long long)r.done,
		     (unsigned long long)r.pinned);
	if (memcmp(m.base, m.before, PAGE))
		fail(v, "[kernel-address] the page behind the kernel address changed");
	if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
		fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
out:
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/* The header race: a thread flips a message's length back and forth. */
struct flipper {
	unsigned char *header;
	uint32_t len;
	bool stop;	/* __atomic: set by the main thread */
	bool running;	/* __atomic: set by the flipper once on its CPU */
	unsigned long flips;
};

static void unpin_cpu(pthread_t thread)
{
	cpu_set_t set;
	int cpu;

	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &set);
	pthread_setaffinity_np(thread, sizeof(set), &set);
}

/*
 * A message (UAFAULT_RES_HEADER: its length in its first four bytes) laid
 * out in @m; false, the case skipped or unresolved, when the range is too
 * short for a header or the memory cannot be set up.
 */
static bool set_up_message(const struct agent *a, const struct target *t,
			   const struct fault_kind *k, struct verdict *v,
			   struct umem *m, struct plan *p)
{
	place(a, p, t, start_at(t, k->start));
	if (p->len < sizeof(uint32_t)) {
		note(v, "# no room for a message header\n");
		v->skipped = true;
		return false;
	}
	return set_up(a, t, v, m, p);
}

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	unsigned int seed = 1, spin;

	pin_to_cpu(pthread_self(), 1);
	__atomic_store_n(&f->running, true, __ATOMIC_RELEASE);
	/*
	 * Each value stays for a random while, so that over the rounds some
	 * change lands between a target's two fetches, however far apart.
	 */
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		put_le32(f->header, f->len + (f->flips & 1 ? 0 : 64));
		for (spin = rand_r(&seed) % 1024; spin; spin--)
			__asm__ volatile("" ::: "memory");
		f->flips++;
	}
	put_le32(f->header, f->len);
	return NULL;
}

/*
 * Double fetch: while the target runs --rounds times on a message
 * (UAFAULT_RES_HEADER), a thread flips the length in its header between
 * len and len + 64.  A target that reads the header twice must notice
 * (-EINVAL) or use the first read; one that trusts the second reads
 * past its buffer (KASAN) and reports the wrong length (CVE-2016-6480's
 * shape).  The window between two fetches is a few instructions wide, so
 * this kind runs @arg times --rounds.  Ranges that are not messages have
 * no header to race on.
 */
static void fault_race_header(const struct agent *a, const struct target *t,
			      struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct flipper f = { 0 };
	long balance = pin_balance();
	unsigned int round, refused = 0, rounds = k->arg * a->rounds, wait;
	struct uafault_run r;
	pthread_t thread;
	struct umem m;
	int err;

	if (!set_up_message(a, t, k, v, &m, &p))
		return;
	f.header = m.addr;
	f.len = p.len;
	pin_to_cpu(pthread_self(), 0);
	err = pthread_create(&thread, NULL, flip_thread, &f);
	if (err) {
		unresolved(v, "the flipping thread: %s", strerror(err));
		umem_free(&m);
		return;
	}
	for (wait = 0; wait < 1000 && !__atomic_load_n(&f.running, __ATOMIC_ACQUIRE); wait++)
		usleep(1000);
	for (round = 0; round < rounds && !v->failed; round++) {
		err = run_target(a, t, m.addr, p.len, &r);
		if (err) {
			fail(v, "round %u: ioctl refused: %s", round,
			     strerror(-err));
			break;
		}
		refused += r.ret == -EINVAL;
		if ((r.ret || r.done != p.len) &&
		    (r.ret != -EINVAL || r.done))
			fail(v, "[result] round %u: ret %lld done %llu of %zu: the header changed under the target",
			     round, (long long)r.ret,
			     (unsigned long long)r.done, p.len);
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	unpin_cpu(pthread_self());
	note(v, "# %u rounds, %u refused the changed header, %lu flips\n",
	     round, refused, f.flips);
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/*
 * The double fetch made deterministic: uafault.ko's trap (a data
 * breakpoint, UAFAULT_IOC_TRAP) rewrites the message's length to len + 64
 * right after the kernel's k->arg-th read of the header, whatever the load
 * on the host.  The target must notice (-EINVAL, nothing done) or keep to
 * what it read first: the whole message, exactly as it was.  One that
 * trusts a later fetch reports the wrong length and reads past its buffer
 * (KASAN), CVE-2016-6480's shape, on every run.
 */
static void fault_trap_header(const struct agent *a, const struct target *t,
			      struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct uafault_trap trap = { .len = sizeof(uint32_t), .nth = k->arg };
	long balance = pin_balance();
	struct uafault_run r;
	struct umem m;
	int err;

	if (!set_up_message(a, t, k, v, &m, &p))
		return;
	trap.addr = (uintptr_t)m.addr;
	put_le32(trap.bytes, p.len + 64);
	if (ioctl(a->dev, UAFAULT_IOC_TRAP, &trap)) {
		unresolved(v, "arming the trap on the header: %s", strerror(errno));
		goto out;
	}
	err = run_target(a, t, m.addr, p.len, &r);
	if (ioctl(a->dev, UAFAULT_IOC_UNTRAP, &trap)) {
		unresolved(v, "disarming the trap: %s", strerror(errno));
		goto out;
	}
	/* What the trap wrote is not the target's doing. */
	memcpy(m.addr, m.before + p.offset, sizeof(uint32_t));
	note(v, "# the kernel accessed the header %u time(s); it changed after access %d\n",
	     trap.hits, k->arg);
	if (err)
		fail(v, "ioctl refused: %s", strerror(-err));
	else if (!trap.fired)
		unresolved(v, "the header was accessed %u time(s), so the trap never fired",
			   trap.hits);
	else if (r.ret != -EINVAL || r.done)
		check_result(v, &m, t, &r, p.len);
out:
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

/* ZONE_MOVABLE's page frames, from /proc/zoneinfo; false without one. */
static bool movable_zone(uint64_t *start, uint64_t *end)
{
	char line[256];
	bool in = false, found = false;
	unsigned long long v;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return false;
	*start = *end = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			in = strstr(line, "zone  Movable") != NULL;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, " spanned %llu", &v) == 1)
			*end = v;
		else if (sscanf(line, " start_pfn: %llu", &v) == 1) {
			*start = v;
			found = true;
		}
	}
	fclose(f);
	*end += *start;
	return found && *end > *start;
}

/* Page frame of each page of [addr, addr + n pages), 0 when not present. */
static bool page_frames(const unsigned char *addr, size_t n, uint64_t *pfn)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t entry;
	size_t i;

	if (fd < 0)
		return false;
	for (i = 0; i < n; i++) {
		off_t off = ((uintptr_t)addr / PAGE + i) * sizeof(entry);

		if (pread(fd, &entry, sizeof(entry), off) != sizeof(entry)) {
			close(fd);
			return false;
		}
		pfn[i] = entry >> 63 & 1 ? entry & ((1ULL << 55) - 1) : 0;
	}
	close(fd);
	return true;
}

/* How many of the range's pages sit in [start, end); -1 unknown. */
static int pages_in(const struct umem *m, uint64_t start, uint64_t end)
{
	size_t first = m->plan.offset / PAGE;
	size_t n = (m->plan.offset + m->plan.len + PAGE - 1) / PAGE - first;
	uint64_t pfn[MAX_PAGES];
	int in = 0;
	size_t i;

	if (!page_frames(m->base + first * PAGE, n, pfn))
		return -1;
	for (i = 0; i < n; i++)
		in += pfn[i] >= start && pfn[i] < end;
	return in;
}

/*
 * A buffer a driver keeps for its device (UAFAULT_TF_HOLD) is a long-term
 * pin: its pages must not stay in ZONE_MOVABLE (or CMA), where they would
 * block memory offlining and compaction for as long as the device holds
 * them (FOLL_LONGTERM, d1e153fea2a8).  The range starts in the guest's
 * Movable zone (movablecore=); after the hold, /proc/self/pagemap must
 * show every page moved out of it.  Other targets keep nothing.
 */
static void fault_movable(const struct agent *a, const struct target *t,
			  struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	long balance = pin_balance();
	uint64_t start, end;
	struct umem m;
	int before, after;

	if (!movable_zone(&start, &end)) {
		unresolved(v, "no ZONE_MOVABLE in /proc/zoneinfo (movablecore= on the command line?)");
		return;
	}
	place(a, &p, t, start_at(t, k->start));
	if (!set_up(a, t, v, &m, &p))
		return;
	before = pages_in(&m, start, end);
	note(v, "# Movable zone pfn %#llx-%#llx: %d page(s) of the range in it\n",
	     (unsigned long long)start, (unsigned long long)end, before);
	if (before < 0) {
		unresolved(v, "cannot read /proc/self/pagemap");
	} else if (!before) {
		unresolved(v, "no page of the range landed in ZONE_MOVABLE");
	} else if (hold_pin(a, t, &m, v)) {
		after = pages_in(&m, start, end);
		if (after)
			fail(v, "[movable] %d held page(s) still in ZONE_MOVABLE: a long-term hold must migrate them out",
			     after);
		if (ioctl(a->dev, UAFAULT_IOC_UNPIN))
			fail(v, "UAFAULT_IOC_UNPIN: %s", strerror(errno));
	}
	umem_free(&m);
	check_pins(v, balance);
	kmsg_check(a, v, false, NULL);
}

#define MESSAGES	(1U << UAFAULT_RES_HEADER)

const struct fault_kind fault_kinds[] = {
	{ .name = "none", .run = fault_none, .start = SEVERAL_STARTS },
	{ .name = "unmapped", .run = hole_kind, .arg = F_UNMAPPED,
	  .start = SEVERAL_STARTS },
	{ .name = "prot_none", .run = hole_kind, .arg = F_PROT_NONE,
	  .start = SEVERAL_STARTS },
	{ .name = "read_only", .run = hole_kind, .arg = F_READ_ONLY,
	  .start = SEVERAL_STARTS },
	{ .name = "swapped", .run = fault_swapped },
	{ .name = "uffd_munmap", .run = uffd_kind, .arg = false, .start = 100 },
	{ .name = "uffd_mprotect", .run = uffd_kind, .arg = true, .start = 100 },
	{ .name = "stochastic_munmap", .run = fault_stochastic, .raced = true },
	{ .name = "race_header", .run = fault_race_header, .arg = 5,
	  .raced = true, .results = MESSAGES, .start = 100 },
	{ .name = "trap_header", .run = fault_trap_header, .arg = 1,
	  .results = MESSAGES, .start = 100 },
	{ .name = "fork_cow", .run = fault_fork_cow },
	{ .name = "dontneed", .run = fault_dontneed },
	{ .name = "movable", .run = fault_movable, .needs = UAFAULT_TF_HOLD },
	{ .name = "fail_nth", .run = fault_fail_nth },
	{ .name = "kernel_alias", .run = fault_kernel_alias, .start = 100 },
	{ .name = "smap", .run = fault_smap, .crash_only = true },
};

const unsigned int nr_fault_kinds = ARRAY_SIZE(fault_kinds);
