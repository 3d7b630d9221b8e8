// SPDX-License-Identifier: GPL-2.0
/*
 * Races: the range changes while the target runs.  Deterministic ones stop
 * the target at a chosen point (a userfaultfd fault it waits in, the data
 * breakpoint of uafault.ko's trap) and change the mapping or the bytes
 * there; stochastic ones race a thread against --rounds runs of the
 * target and are meant for campaigns (--list-faults says "raced").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "device.h"
#include "faults.h"
#include "kmsg.h"
#include "memory.h"
#include "oracle.h"
#include "pins.h"
#include "plan.h"
#include "protocol.h"
#include "sys.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* Only a kernel with CONFIG_USERFAULTFD has it. */
#define UFFD_PROBE	"/proc/sys/vm/unprivileged_userfaultfd"

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
 * Makes @page of @m missing, the way userfaultfd's missing mode sees it:
 * no page table entry, and for shmem no page in the page cache either
 * (a hole punched in the file, MADV_REMOVE without one), or a fault
 * would find the old page there.
 */
static int make_missing(const struct umem *m, unsigned char *page)
{
	const struct memory_kind *mk = m->plan.memory;

	if (madvise(page, PAGE, MADV_DONTNEED))
		return -errno;
	if (m->fd >= 0 &&
	    fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      page - m->base, PAGE))
		return -errno;
	if (m->fd < 0 && mk && mk->map_flags & MAP_SHARED &&
	    madvise(page, PAGE, MADV_REMOVE))
		return -errno;
	return 0;
}

/*
 * A long-term pin that may wait for userfaultfd and did not: 6.1's
 * FOLL_LONGTERM slow path faults without FAULT_FLAG_ALLOW_RETRY, so the
 * handler is never asked and the pin stops at page 1 with -EFAULT, as it
 * would at a hole there (record gup-longterm-uffd-sigbus).  A long-term
 * pin that waited says the record did not show.
 */
static bool uffd_refused(const struct target *t, const struct umem *m,
			 const struct uafault_run *r, bool raced,
			 struct verdict *v)
{
	const unsigned int pin = UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM;
	struct verdict probe = { 0 };
	struct umem hole1 = *m;

	if ((t->flags & pin) != pin)
		return false;
	if (!raced) {
		hole1.plan.hole = 1;
		hole1.plan.fault = F_UNMAPPED;
		hole1.readable[1] = false;
		check_result(&probe, &hole1, t, r, target_reach(&hole1.plan, t));
	}
	return known_deviation(v, UAFAULT_KNOWN_GUP_LONGTERM_UFFD,
			       !raced && !probe.failed);
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
	struct pins balance = pins_now();
	struct uafault_run r;
	pthread_t thread;
	struct umem m;
	long refusal;
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
	err = make_missing(&m, race.trap);
	if (err) {
		unresolved(v, "making page 1 missing: %s", strerror(-err));
		goto free;
	}
	race.uffd = uffd_register(race.trap);
	if (race.uffd < 0) {
		unresolved(v, "userfaultfd: %s", strerror(-race.uffd));
		goto free;
	}
	if (pipe(race.stop)) {
		unresolved(v, "pipe: %s", strerror(errno));
		goto close_uffd;
	}
	err = pthread_create(&thread, NULL, uffd_handler, &race);
	if (err) {
		unresolved(v, "the userfaultfd handler thread: %s", strerror(err));
		goto close_pipe;
	}
	err = run_target(a, t, m.addr, p.len, &r);
	if (write(race.stop[1], "s", 1) != 1)
		fail(v, "waking the uffd handler: %s", strerror(errno));
	pthread_join(thread, NULL);
	close(race.uffd);
	close(race.stop[0]);
	close(race.stop[1]);

	refusal = contract_refusal(&m, t);
	if (!err && refusal) {
		/* Refused before it touched the range: nothing raced. */
		if (r.ret != refusal || r.done)
			fail(v, "[result] ret %lld done %llu, expected %ld before it touched the range",
			     (long long)r.ret, (unsigned long long)r.done,
			     refusal);
		goto checks;
	}
	/* From here on the plan is the one the race left behind. */
	if (t->flags & UAFAULT_TF_NOWAIT) {
		m.plan.hole = 1;
		m.plan.fault = F_UNMAPPED;
		m.readable[1] = false;
		if (race.raced)
			fail(v, "[result] a NOWAIT target waited for userfaultfd");
	} else if (!race.err && uffd_refused(t, &m, &r, race.raced, v)) {
		/* The kernel treated page 1 as a fault: a known deviation. */
		m.plan.hole = 1;
		m.plan.fault = F_UNMAPPED;
		m.readable[1] = false;
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
		check_result(v, &m, t, &r, target_reach(&m.plan, t));
	if (v->failed)
		describe_plan(v, &m.plan);
checks:
	umem_free(&m);
	final_checks(a, v, balance);
	return;

close_pipe:
	close(race.stop[0]);
	close(race.stop[1]);
close_uffd:
	close(race.uffd);
free:
	umem_free(&m);
}

/*
 * Whether the case has failed, a kernel report included: a raced kind
 * reads the log after every round, so a target that makes the kernel
 * warn on each call stops at the first report instead of printing
 * --rounds of them on a slow serial console.
 */
static bool reported(const struct agent *a, struct verdict *v)
{
	if (!v->failed)
		kmsg_scan(a, v, false, NULL);
	return v->failed;
}

/* The refusal the contract gives (contract_refusal()), nothing done. */
static bool refused_as_said(const struct uafault_run *r, long refusal)
{
	return r->ret == refusal && !r->done;
}

/*
 * The refusal @t declares for a range whose bytes changed between two of
 * its fetches (contract.changed_err), nothing done: the safe way to live
 * with a double fetch.  A racing kind takes it only when the bytes did
 * change where the call could see it; refusing bytes that never changed
 * under the call is as wrong as any other result no snapshot gives.
 */
static bool refused_change(const struct target *t, const struct uafault_run *r)
{
	return t->contract.changed_err && r->ret == t->contract.changed_err &&
	       !r->done;
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
		__atomic_add_fetch(&ch->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Lays out @k's range for @t (false: not set up, said in @v) and gives
 * what @t's contract refuses in it, 0 for nothing.
 */
static bool set_up_refusal(const struct agent *a, const struct target *t,
			   struct verdict *v, const struct fault_kind *k,
			   struct umem *m, struct plan *p, long *refusal)
{
	place(a, p, t, start_at(t, k->start));
	if (!set_up(a, t, v, m, p))
		return false;
	*refusal = contract_refusal(m, t);
	return true;
}

/*
 * A FOLL_LONGTERM pin first migrates its pages out of ZONE_MOVABLE; when a
 * page is unmapped or written under that migration (it keeps an extra
 * reference through every retry), migrate_pages() fails and the
 * whole pin fails with -ENOMEM, every page given back (mm/gup.c,
 * migrate_longterm_unpinnable_folios()).  That is the contract, not a bug:
 * nothing done, nothing pinned; the pin balance still has to hold.
 */
static bool lost_migration(const struct target *t, const struct uafault_run *r)
{
	return t->flags & UAFAULT_TF_PIN && r->ret == -ENOMEM && !r->done &&
	       !r->pinned;
}

static void fault_stochastic(const struct agent *a, const struct target *t,
			     struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = 2, .hole = -1 };
	struct pins balance = pins_now();
	unsigned int round, partial = 0, lost = 0;
	struct churn ch = { 0 };
	struct uafault_run r;
	pthread_t thread;
	struct umem m;
	long refusal;
	int err;

	if (!set_up_refusal(a, t, v, k, &m, &p, &refusal))
		return;
	ch.page = m.base + PAGE;
	ch.fill = m.before + PAGE;
	err = pthread_create(&thread, NULL, churn_thread, &ch);
	if (err) {
		unresolved(v, "the munmap thread: %s", strerror(err));
		goto free;
	}
	for (round = 0; round < a->rounds && !reported(a, v); round++) {
		uint64_t csum;

		err = run_target(a, t, m.addr, p.len, &r);
		if (err) {
			fail(v, "round %u: ioctl refused: %s", round,
			     strerror(-err));
			break;
		}
		if (lost_migration(t, &r)) {
			lost++;
			continue;
		}
		if (refusal) {
			/* Refused whole before it touched the range, every time. */
			if (refused_as_said(&r, refusal))
				continue;
			fail(v, "[result] round %u: ret %lld done %llu, expected %ld before it touched the range",
			     round, (long long)r.ret, (unsigned long long)r.done,
			     refusal);
			break;
		}
		/*
		 * The page under the call is remapped all along: a target
		 * may refuse the change as its contract declares.
		 */
		if (refused_change(t, &r) &&
		    __atomic_load_n(&ch.rounds, __ATOMIC_RELAXED)) {
			partial++;
			continue;
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
		if (t->flags & UAFAULT_TF_READ && !t->opaque &&
		    t->result != UAFAULT_RES_ZEROED &&
		    t->result != UAFAULT_RES_STRSIZE && r.done <= p.len) {
			csum = user_csum(&m, t, &r, m.before);
			if (csum != r.csum)
				fail(v, "[csum] round %u: csum of %llu bytes read differs",
				     round, (unsigned long long)r.done);
		}
	}
	__atomic_store_n(&ch.stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	note(v, "# %u rounds, %u partial, %u lost a migration, page remapped %lu times\n",
	     round, partial, lost, ch.rounds);
	umem_free(&m);
	final_checks(a, v, balance);
	return;

free:
	umem_free(&m);
}

/* The header race: a thread flips a message's length back and forth. */
struct flipper {
	unsigned char *header;	/* the range's start */
	uint32_t len;
	bool any_byte;	/* flip any byte of the range, not the header */
	bool stop;	/* __atomic: set by the main thread */
	bool running;	/* __atomic: set by the flipper once on its CPU */
	/* __atomic: flips begun (before the bytes' stores), flips done (after) */
	unsigned long begun, flips;
};

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

/*
 * Every other flip lands in the range's first bytes, where lengths,
 * counts and terminators of a message usually sit.
 */
#define HEAD_BYTES	8

/* A store the compiler keeps, as the target's fetches race it. */
static void flip_byte(unsigned char *byte)
{
	__atomic_store_n(byte, (unsigned char)~__atomic_load_n(byte, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
}

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	unsigned int seed = 1, spin;

	__atomic_store_n(&f->running, true, __ATOMIC_RELEASE);
	/*
	 * Each value stays for a random while, so that over the rounds some
	 * change lands between a target's two fetches, however far apart.
	 */
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&f->begun, 1, __ATOMIC_SEQ_CST);
		if (f->any_byte)
			flip_byte(f->header + rand_r(&seed) %
				  (f->flips & 1 && f->len > HEAD_BYTES ?
				   HEAD_BYTES : f->len));
		else
			put_le32(f->header, f->len + (f->flips & 1 ? 0 : 64));
		__atomic_add_fetch(&f->flips, 1, __ATOMIC_SEQ_CST);
		for (spin = rand_r(&seed) % 1024; spin; spin--)
			__asm__ volatile("" ::: "memory");
	}
	if (!f->any_byte)
		put_le32(f->header, f->len);
	return NULL;
}

/* Starts @f's thread on CPU 1, this one on CPU 0 (@saved: its CPUs). */
static int flipper_start(struct flipper *f, struct racer *r)
{
	unsigned int wait;
	int err;

	err = racer_start(r, flip_thread, f);
	if (err)
		return err;
	for (wait = 0; wait < 1000 &&
	     !__atomic_load_n(&f->running, __ATOMIC_ACQUIRE); wait++)
		usleep(1000);
	return 0;
}

/* Flips done so far: read right before a call. */
static unsigned long flips_done(const struct flipper *f)
{
	return __atomic_load_n(&f->flips, __ATOMIC_SEQ_CST);
}

/*
 * Whether a flip may have changed the bytes during a call that started
 * when @done flips were done: read right after it.  Every flip begun by
 * then and not done before the call started may have landed inside it.
 */
static bool flipped_since(const struct flipper *f, unsigned long done)
{
	return __atomic_load_n(&f->begun, __ATOMIC_SEQ_CST) != done;
}

static void flipper_stop(struct flipper *f, struct racer *r)
{
	__atomic_store_n(&f->stop, true, __ATOMIC_RELAXED);
	racer_join(r);
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
	struct pins balance = pins_now();
	unsigned int round, refused = 0, rounds = k->arg * a->rounds;
	struct uafault_run r;
	struct racer racer;
	bool changed;
	struct umem m;
	int err;

	if (!set_up_message(a, t, k, v, &m, &p))
		return;
	f.header = m.addr;
	f.len = p.len;
	err = flipper_start(&f, &racer);
	if (err) {
		unresolved(v, "the flipping thread: %s", strerror(err));
		goto free;
	}
	for (round = 0; round < rounds && !reported(a, v); round++) {
		unsigned long done = flips_done(&f);

		err = run_target(a, t, m.addr, p.len, &r);
		if (err) {
			fail(v, "round %u: ioctl refused: %s", round,
			     strerror(-err));
			break;
		}
		changed = flipped_since(&f, done);
		refused += r.ret == -EINVAL ||
			   (changed && refused_change(t, &r));
		if ((r.ret || r.done != p.len) &&
		    (r.ret != -EINVAL || r.done) &&
		    !(changed && refused_change(t, &r)))
			fail(v, "[result] round %u: ret %lld done %llu of %zu: the header changed under the target",
			     round, (long long)r.ret,
			     (unsigned long long)r.done, p.len);
	}
	flipper_stop(&f, &racer);
	note(v, "# %u rounds, %u refused the changed header, %lu flips\n",
	     round, refused, f.flips);
	umem_free(&m);
	final_checks(a, v, balance);
	return;

free:
	umem_free(&m);
}

/*
 * What a target may return for a range whose bytes change while it runs,
 * whatever snapshot of them it took: a copy or a pin is whole, a string
 * ends at or before the range's end, a zero check says yes or no, a
 * struct copy takes its head or refuses a non-zero tail, a message is
 * whole or refused.  Anything else comes from bytes no snapshot held.
 */
static bool some_snapshot_gives(const struct target *t,
				const struct uafault_run *r, size_t len)
{
	size_t head = len < UAFAULT_STRUCT_KSIZE ? len : UAFAULT_STRUCT_KSIZE;

	switch (t->result) {
	case UAFAULT_RES_STRLEN:
	case UAFAULT_RES_STRBUF:
		return !r->ret && r->done <= len;
	case UAFAULT_RES_STRSIZE:
		return !r->ret && r->done >= 1 && r->done <= len + 1;
	case UAFAULT_RES_ZEROED:
		return !r->ret && (!r->done || r->done == len);
	case UAFAULT_RES_STRUCT:
		return (!r->ret && r->done == head) ||
		       (r->ret == -E2BIG && !r->done);
	case UAFAULT_RES_HEADER:
		return (!r->ret && r->done == len) ||
		       (r->ret == -EINVAL && !r->done);
	default:
		return !r->ret && r->done == len;
	}
}

/*
 * What a target refused by contract, else what some_snapshot_gives(); a
 * long-term pin may also lose its migration out of ZONE_MOVABLE to the
 * bytes changing under it (lost_migration()).
 */
static bool snapshot_allows(const struct target *t,
			    const struct uafault_run *r, size_t len,
			    long refusal)
{
	if (lost_migration(t, r))
		return true;
	return refusal ? refused_as_said(r, refusal) :
			 some_snapshot_gives(t, r, len);
}

/*
 * Every double fetch, not only a header's: while a target that reads the
 * range runs --rounds times, a thread on the other CPU flips bytes
 * anywhere in it, each for a random while.  The result must be one some
 * snapshot of the bytes allows (some_snapshot_gives()), and KASAN, the pin
 * balance and the kernel log must stay quiet: a target that fetched a
 * length, a terminator or any byte twice and trusted both shows here, on
 * a KASAN guest by the overflow it makes.  Stochastic: for campaigns.
 */
static void fault_race_bytes(const struct agent *a, const struct target *t,
			     struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct flipper f = { .any_byte = true };
	struct pins balance = pins_now();
	unsigned int round, refused = 0;
	struct uafault_run r;
	struct racer racer;
	struct umem m;
	long refusal;
	int err;

	if (!set_up_refusal(a, t, v, k, &m, &p, &refusal))
		return;
	f.header = m.addr;
	f.len = p.len;
	err = flipper_start(&f, &racer);
	if (err) {
		unresolved(v, "the flipping thread: %s", strerror(err));
		goto free;
	}
	for (round = 0; round < a->rounds && !reported(a, v); round++) {
		unsigned long done = flips_done(&f);

		err = run_target(a, t, m.addr, p.len, &r);
		if (err) {
			fail(v, "round %u: ioctl refused: %s", round,
			     strerror(-err));
			break;
		}
		if (snapshot_allows(t, &r, p.len, refusal))
			continue;
		if (!refusal && refused_change(t, &r)) {
			if (flipped_since(&f, done)) {
				refused++;
				continue;
			}
			fail(v, "[result] round %u: ret %lld done 0 of %zu, the refusal of a changed range, but no byte changed during the call",
			     round, (long long)r.ret, p.len);
			continue;
		}
		fail(v, "[result] round %u: ret %lld done %llu of %zu: no snapshot of the changing bytes gives that, nor the refusal of a change (%s)",
		     round, (long long)r.ret, (unsigned long long)r.done,
		     p.len, t->contract.changed_err ?
		     strerror(-t->contract.changed_err) : "none declared");
	}
	flipper_stop(&f, &racer);
	note(v, "# %u rounds, %lu byte flips, %u refused as changed\n", round,
	     f.flips, refused);
	umem_free(&m);
	final_checks(a, v, balance);
	return;

free:
	umem_free(&m);
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
	struct pins balance = pins_now();
	struct uafault_run r;
	struct umem m;
	int err;

	if (!set_up_message(a, t, k, v, &m, &p))
		return;
	trap.addr = (uintptr_t)m.addr;
	/*
	 * A trap stays in one page: a header across two is trapped in the
	 * first, whose bytes of the new length still change it.
	 */
	if (PAGE - trap.addr % PAGE < trap.len)
		trap.len = PAGE - trap.addr % PAGE;
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
	else if ((r.ret != -EINVAL || r.done) &&
		 !(trap.hits > trap.nth && refused_change(t, &r)))
		check_result(v, &m, t, &r, p.len);
out:
	umem_free(&m);
	final_checks(a, v, balance);
}

/* The range's first bytes the trap flips, one run each: lengths, headers. */
#define TRAP_HEAD	8

/* Flips byte @pos of @m's range right after the kernel's first read of it. */
static int trap_byte(const struct agent *a, struct umem *m, size_t pos,
		     const struct target *t, struct uafault_run *r,
		     struct uafault_trap *trap)
{
	int err;

	*trap = (struct uafault_trap){
		.addr = (uintptr_t)m->addr + pos, .len = 1, .nth = 1,
	};
	trap->bytes[0] = ~m->addr[pos];
	if (ioctl(a->dev, UAFAULT_IOC_TRAP, trap))
		return -errno;
	err = run_target(a, t, m->addr, m->plan.len, r);
	if (ioctl(a->dev, UAFAULT_IOC_UNTRAP, trap) && !err)
		err = -errno;
	/* What the trap wrote is not the target's doing. */
	m->addr[pos] = m->before[m->plan.offset + pos];
	return err;
}

/*
 * Every double fetch, made deterministic: for each of the range's first
 * TRAP_HEAD bytes and its last (where lengths, headers and terminators
 * sit), uafault.ko's trap flips that byte right after the kernel's first
 * read of it, and the target runs once.  Each result must be one some
 * snapshot of the bytes allows (some_snapshot_gives()), and the kernel
 * log and the pin balance must stay quiet: a target that reads a byte
 * twice and trusts both reads shows on every run, whatever the load.  The
 * trap is a breakpoint on the user address, so a target that reads through
 * pinned pages (UAFAULT_TF_PIN: a device, a page reference) never trips
 * it: those race_bytes covers.
 */
static void fault_trap_bytes(const struct agent *a, const struct target *t,
			     struct verdict *v, const struct fault_kind *k)
{
	struct plan p = { .npages = RANGE_PAGES, .hole = -1 };
	struct pins balance = pins_now();
	unsigned int runs = 0, fired = 0, refused = 0;
	size_t pos[TRAP_HEAD + 1], n = 0, i;
	struct uafault_trap trap;
	struct uafault_run r;
	struct umem m;
	long refusal;
	int err;

	if (!set_up_refusal(a, t, v, k, &m, &p, &refusal))
		return;
	for (i = 0; i < TRAP_HEAD && i < p.len; i++)
		pos[n++] = i;
	if (p.len > TRAP_HEAD)
		pos[n++] = p.len - 1;
	for (i = 0; i < n && !reported(a, v); i++) {
		err = trap_byte(a, &m, pos[i], t, &r, &trap);
		if (err) {
			unresolved(v, "trapping byte %zu: %s", pos[i],
				   strerror(-err));
			break;
		}
		runs++;
		/* A range its contract refuses is never read: still judged. */
		if (trap.fired)
			fired++;
		else if (!refusal && !refused_change(t, &r))
			continue;
		if (snapshot_allows(t, &r, p.len, refusal))
			continue;
		/*
		 * The declared refusal of a change: right only when the
		 * kernel read the byte again after it changed.
		 */
		if (!refusal && refused_change(t, &r)) {
			if (trap.fired && trap.hits > trap.nth) {
				refused++;
				continue;
			}
			fail(v, "[result] byte %zu: ret %lld done 0 of %zu, the refusal of a changed range, but the kernel never read the byte again after it changed (%u read(s), %s)",
			     pos[i], (long long)r.ret, p.len, trap.hits,
			     trap.fired ? "flipped after the first" : "never flipped");
			break;
		}
		fail(v, "[result] byte %zu flipped after the kernel's first read: ret %lld done %llu of %zu: no snapshot of the bytes gives that, nor the refusal of a change (%s)",
		     pos[i], (long long)r.ret, (unsigned long long)r.done, p.len,
		     t->contract.changed_err ?
		     strerror(-t->contract.changed_err) : "none declared");
		break;
	}
	note(v, "# %u of %u trapped bytes read by the kernel through the user address, %u refused as changed\n",
	     fired, runs, refused);
	if (runs && !fired && !refusal && !v->failed)
		unresolved(v, "the kernel never read the range through its user address, so no trap fired");
	umem_free(&m);
	final_checks(a, v, balance);
}

#define MESSAGES	(1U << UAFAULT_RES_HEADER)

const struct fault_kind race_kinds[] = {
	{ .name = "uffd_munmap", .run = uffd_kind, .arg = false, .start = 100,
	  .config = "CONFIG_USERFAULTFD", .probe = UFFD_PROBE },
	{ .name = "uffd_mprotect", .run = uffd_kind, .arg = true, .start = 100,
	  .config = "CONFIG_USERFAULTFD", .probe = UFFD_PROBE },
	{ .name = "stochastic_munmap", .run = fault_stochastic, .raced = true },
	{ .name = "race_header", .run = fault_race_header, .arg = 5,
	  .raced = true, .results = MESSAGES, .start = 100 },
	{ .name = "trap_header", .run = fault_trap_header, .arg = 1,
	  .results = MESSAGES, .start = 100 },
	{ .name = "race_bytes", .run = fault_race_bytes, .raced = true,
	  .needs = UAFAULT_TF_READ },
	{ .name = "trap_bytes", .run = fault_trap_bytes,
	  .needs = UAFAULT_TF_READ, .shuns = UAFAULT_TF_PIN },
};

const struct fault_family race_family = FAMILY(race_kinds);
