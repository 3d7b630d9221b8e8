// SPDX-License-Identifier: GPL-2.0
/*
 * uafault-fuzz: hammer /dev/uafault with random ioctls.
 *
 *   uafault-fuzz [-n CALLS] [-s SEED]
 *
 * Random command numbers, the real commands (list, run, hold a pin, read
 * it, release it) with well-formed, random-byte, truncated and
 * unreadable arguments, random target names
 * (listed ones, garbage, unterminated), and random ranges: in a scratch
 * arena with read-only, PROT_NONE, unmapped and doubly mapped shared
 * pages, NULL, kernel, non-canonical, misaligned and huge addresses,
 * lengths from 0 to ~0.  Targets flagged UAFAULT_TF_CRASH (raw_deref) are
 * never run.  The module must answer every call without an oops or a
 * WARN; run it under KASAN and watch the kernel log.
 *
 * The fuzzer only writes to its own buffers.  The kernel only writes to
 * the arena (a range starting in it ends within its trailing guard) or to
 * addresses no mapping of this process can have.
 *
 * Prints "fuzz: N calls, K ok, E errors by errno: ..." and exits as exit.h
 * says: 0, 2 on a usage error, 3 when the device or its memory cannot be
 * set up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

#define PG		4096UL
/* Usable arena pages; ranges start there and end before the guard ends. */
#define ARENA_PAGES	96
#define GUARD_PAGES	(UAFAULT_MAX_LEN / PG + 2)
/* Special arena pages (the rest is read-write). */
#define P_RDONLY	70
#define P_NONE		72
#define P_HOLE		74
#define P_SHARED	76	/* and 77: one memfd page mapped twice */
#define P_HOLE2		80
#define MAX_NAMES	256
#define MAX_ERRNO	256

static const unsigned int special_pages[] = {
	P_RDONLY, P_NONE, P_HOLE, P_SHARED, P_SHARED + 1, P_HOLE2,
	ARENA_PAGES,
};

static uint64_t rng;
static unsigned char *arena;
/* Two pages, the second PROT_NONE: ioctl arguments live in the first. */
static unsigned char *argbuf;

static char names[MAX_NAMES][UAFAULT_NAME_LEN];
static unsigned int nnames;
static char crash_names[MAX_NAMES][UAFAULT_NAME_LEN];
static unsigned int ncrash;

static unsigned long long nok, nerr, by_errno[MAX_ERRNO], other_errno;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* True with probability num/den. */
static int chance(unsigned int num, unsigned int den)
{
	return below(den) < num;
}

/* An address no user mapping of this process can have. */
static uint64_t wild_addr(void)
{
	uint64_t a = rnd();

	/* Keep out of the canonical user half: kernel or non-canonical. */
	if (!(a >> 47))
		a |= 1ULL << (47 + below(17));
	return a;
}

static uint64_t bad_addr(void)
{
	static const uint64_t fixed[] = {
		0, 1, 8, 4095, 4096, 65535,
		0x00007ffffffff000ULL,		/* last user page: guard */
		0x00007fffffffffffULL,
		0x0000800000000000ULL,		/* first non-canonical */
		0x00ffffffffffffffULL,
		0x7fffffffffffffffULL,
		0x8000000000000000ULL,
		0xffff800000000000ULL,		/* kernel direct map */
		0xffff888000000000ULL,
		0xffffc90000000000ULL,		/* vmalloc */
		0xffffea0000000000ULL,		/* vmemmap */
		0xffffffff81000000ULL,		/* kernel text */
		0xffffffffff600000ULL,		/* vsyscall */
		0xfffffffffffff000ULL,
		0xffffffffffffffffULL,
	};

	switch (below(4)) {
	case 0:
		return fixed[below(ARRAY_SIZE(fixed))];
	case 1:
		return fixed[below(ARRAY_SIZE(fixed))] -
		       below(64) + below(64);
	case 2:
		return below(65536);		/* below mmap_min_addr */
	default:
		return wild_addr();
	}
}

/* A safe address outside the arena must not reach canonical user space. */
static uint64_t clamp_outside(uint64_t a)
{
	if (a >= 65536 && a < 0x00007ffffffff000ULL)
		return wild_addr();
	return a;
}

static uint64_t arena_addr(void)
{
	unsigned int p;

	switch (below(4)) {
	case 0:		/* just before a special page, to straddle into it */
		p = special_pages[below(ARRAY_SIZE(special_pages))];
		return (uint64_t)(uintptr_t)arena + p * PG - 1 - below(256);
	case 1:		/* page aligned */
		return (uint64_t)(uintptr_t)arena + below(ARENA_PAGES) * PG;
	default:	/* anywhere, misaligned */
		return (uint64_t)(uintptr_t)arena + below(ARENA_PAGES * PG);
	}
}

static uint64_t pick_len(void)
{
	switch (below(10)) {
	case 0:
		return below(17);
	case 1:
		return 8;
	case 2:
		return (1 + below(UAFAULT_MAX_LEN / PG)) * PG;
	case 3:
		return UAFAULT_MAX_LEN - below(2) + below(2);
	case 4:
		return rnd();
	case 5:
		return ~0ULL - below(4096);
	case 6:
		return 1 + below(64);
	default:
		return 1 + below(UAFAULT_MAX_LEN);
	}
}

/* A name and its NUL; whatever @dst holds after that stays. */
static void copy_name(char *dst, const char *src)
{
	memcpy(dst, src, strnlen(src, UAFAULT_NAME_LEN - 1) + 1);
}

static int is_crash_name(const char *name)
{
	unsigned int i;

	if (!strncmp(name, "raw_deref", UAFAULT_NAME_LEN))
		return 1;
	for (i = 0; i < ncrash; i++)
		if (!strncmp(name, crash_names[i], UAFAULT_NAME_LEN))
			return 1;
	return 0;
}

static void pick_name(char *name)
{
	size_t i, n;

	switch (below(8)) {
	case 0:		/* random bytes, maybe unterminated */
		for (i = 0; i < UAFAULT_NAME_LEN; i++)
			name[i] = (char)rnd();
		break;
	case 1:		/* unterminated letters */
		for (i = 0; i < UAFAULT_NAME_LEN; i++)
			name[i] = 'a' + below(26);
		break;
	case 2:		/* empty */
		memset(name, 0, UAFAULT_NAME_LEN);
		break;
	case 3:		/* a listed name, mangled */
		memset(name, 0, UAFAULT_NAME_LEN);
		if (nnames)
			copy_name(name, names[below(nnames)]);
		n = strlen(name);
		if (n && chance(1, 2))
			name[below(n)] ^= 1 << below(8);
		else if (n)
			name[n - 1] = 0;
		break;
	case 4:		/* a listed name with garbage after its NUL */
		for (i = 0; i < UAFAULT_NAME_LEN; i++)
			name[i] = (char)rnd();
		if (nnames)
			copy_name(name, names[below(nnames)]);
		else
			name[0] = 0;
		break;
	default:	/* a listed name */
		memset(name, 0, UAFAULT_NAME_LEN);
		if (nnames)
			copy_name(name, names[below(nnames)]);
		break;
	}
	if (is_crash_name(name))
		memset(name, 0, UAFAULT_NAME_LEN);
}

/*
 * The argument pointer: usually argbuf (or a misaligned or
 * PROT_NONE-straddling spot in it), sometimes an address that no
 * writable mapping of ours has.  Returns where to build the struct, or
 * NULL when the pointer is not ours to write.
 */
static unsigned char *pick_arg(size_t size, uint64_t *arg)
{
	unsigned char *p;

	switch (below(12)) {
	case 0:
		*arg = bad_addr();
		*arg = clamp_outside(*arg);
		return NULL;
	case 1:		/* read-only arena page: copy_to_user fails */
		*arg = (uint64_t)(uintptr_t)arena + P_RDONLY * PG +
		       below(PG - size);
		return NULL;
	case 2:		/* straddles into the PROT_NONE page */
		p = argbuf + PG - 1 - below(size - 1);
		break;
	case 3:		/* misaligned */
		p = argbuf + 1 + below(15);
		break;
	default:
		p = argbuf;
		break;
	}
	*arg = (uint64_t)(uintptr_t)p;
	return p;
}

/* Copy as much of @src to @dst as is before argbuf's PROT_NONE page. */
static void put_arg(unsigned char *dst, const void *src, size_t size)
{
	size_t room = argbuf + PG - dst;

	memcpy(dst, src, size < room ? size : room);
}

static void random_bytes(void *buf, size_t size)
{
	unsigned char *p = buf;

	while (size--)
		*p++ = (unsigned char)rnd();
}

static unsigned int random_cmd(void)
{
	static const unsigned int real[] = {
		UAFAULT_IOC_VERSION, UAFAULT_IOC_TARGET, UAFAULT_IOC_RUN,
		UAFAULT_IOC_PIN, UAFAULT_IOC_PIN_READ, UAFAULT_IOC_UNPIN,
		UAFAULT_IOC_TRAP, UAFAULT_IOC_UNTRAP, UAFAULT_IOC_PAGE_REFS,
		UAFAULT_IOC_PIN_BALANCE, UAFAULT_IOC_TARGET_V7,
	};
	unsigned int cmd;

	switch (below(4)) {
	case 0:		/* a real command with a wrong size or direction */
		cmd = real[below(ARRAY_SIZE(real))];
		if (chance(1, 2))
			return _IOC(below(4), _IOC_TYPE(cmd), _IOC_NR(cmd),
				    _IOC_SIZE(cmd));
		return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd),
			    below(1 << _IOC_SIZEBITS));
	case 1:		/* our magic, another number */
		return _IOC(below(4), UAFAULT_IOC_MAGIC, below(256),
			    below(1 << _IOC_SIZEBITS));
	default:	/* anything, but the generic VFS ioctls */
		do {
			cmd = (unsigned int)rnd();
		} while (_IOC_TYPE(cmd) != UAFAULT_IOC_MAGIC &&
			 (_IOC_TYPE(cmd) == 'X' || _IOC_TYPE(cmd) == 'f' ||
			  _IOC_TYPE(cmd) == 0x94 || _IOC_TYPE(cmd) == 'T' ||
			  _IOC_TYPE(cmd) == 0 || _IOC_TYPE(cmd) == 0x15));
		return cmd;
	}
}

/* Whether @r, built on our side, names a target that must not run. */
static int run_is_crash(const struct uafault_run *r)
{
	return is_crash_name(r->name);
}

static void fill_run(struct uafault_run *r)
{
	memset(r, 0, sizeof(*r));
	if (chance(1, 8)) {
		random_bytes(r, sizeof(*r));
	} else {
		pick_name(r->name);
		if (chance(3, 4))
			r->addr = arena_addr();
		else
			r->addr = clamp_outside(bad_addr());
		r->len = pick_len();
		r->seed = (uint32_t)rnd();
		r->flags = chance(1, 16) ? (uint32_t)rnd() : 0;
		if (chance(1, 8))
			random_bytes(&r->ret, sizeof(*r) -
				     offsetof(struct uafault_run, ret));
	}
	/*
	 * Never let a valid-looking run reach our own mappings: a range
	 * that starts in the arena and is short enough to run ends in its
	 * guard; any other in-range start is pushed out of user space.
	 */
	if (r->addr < (uint64_t)(uintptr_t)arena ||
	    r->addr >= (uint64_t)(uintptr_t)arena + ARENA_PAGES * PG)
		r->addr = clamp_outside(r->addr);
	if (run_is_crash(r))
		memset(r->name, 0, sizeof(r->name));
}

/* A pin to hold: mostly in the arena, any flags now and then. */
static void fill_pin(struct uafault_pin *pin)
{
	memset(pin, 0, sizeof(*pin));
	if (chance(1, 8)) {
		random_bytes(pin, sizeof(*pin));
	} else {
		pin->addr = chance(3, 4) ? arena_addr() : bad_addr();
		pin->len = pick_len();
		pin->flags = chance(1, 8) ? (uint32_t)rnd() :
			     (uint32_t)below(UAFAULT_PIN_ALL + 1);
		pin->reserved = chance(1, 16) ? (uint32_t)rnd() : 0;
		/* Now and then through a target's own hold(). */
		if (chance(1, 4)) {
			pick_name(pin->target);
			if (chance(3, 4))
				pin->flags = 0;
		}
	}
	if (pin->addr < (uint64_t)(uintptr_t)arena ||
	    pin->addr >= (uint64_t)(uintptr_t)arena + ARENA_PAGES * PG)
		pin->addr = clamp_outside(pin->addr);
}

/* A trap to arm: mostly a few bytes in the arena, now and then anything. */
static void fill_trap(struct uafault_trap *trap)
{
	memset(trap, 0, sizeof(*trap));
	if (chance(1, 8)) {
		random_bytes(trap, sizeof(*trap));
	} else {
		trap->addr = chance(3, 4) ? arena_addr() :
			     bad_addr();
		trap->len = chance(1, 8) ? (uint32_t)rnd() :
			    (uint32_t)below(UAFAULT_TRAP_MAX_LEN + 2);
		trap->nth = chance(1, 8) ? (uint32_t)rnd() :
			    (uint32_t)below(4);
		random_bytes(trap->bytes, sizeof(trap->bytes));
	}
	if (trap->addr < (uint64_t)(uintptr_t)arena ||
	    trap->addr >= (uint64_t)(uintptr_t)arena + ARENA_PAGES * PG)
		trap->addr = clamp_outside(trap->addr);
}

/*
 * Pages to look at: mostly in the arena, the answer written into the
 * arena too (never past its end), or somewhere the kernel must refuse.
 */
static void fill_refs(struct uafault_page_refs *r)
{
	uint64_t end = (uint64_t)(uintptr_t)arena + ARENA_PAGES * PG;
	uint64_t most = UAFAULT_REFS_MAX_PAGES * sizeof(struct uafault_page_ref);

	memset(r, 0, sizeof(*r));
	r->addr = chance(3, 4) ? arena_addr() : bad_addr();
	r->npages = chance(1, 8) ? (uint32_t)rnd() :
		    (uint32_t)below(UAFAULT_REFS_MAX_PAGES + 2);
	r->reserved = chance(1, 16) ? (uint32_t)rnd() : 0;
	r->refs = chance(3, 4) ? arena_addr() : clamp_outside(bad_addr());
	if (r->refs >= (uint64_t)(uintptr_t)arena && r->refs < end &&
	    r->refs + most > end)
		r->refs = end - most;
}

static void count(int rc)
{
	if (rc == 0) {
		nok++;
		return;
	}
	nerr++;
	if (errno > 0 && errno < MAX_ERRNO)
		by_errno[errno]++;
	else
		other_errno++;
}

static int do_ioctl(int fd, unsigned int cmd, uint64_t arg)
{
	int rc = ioctl(fd, cmd, (unsigned long)arg);

	count(rc);
	return rc;
}

/*
 * mmap() of /dev/uafault with random lengths, offsets and flags; what it
 * maps is split (munmap, mprotect of a part), written, run through a
 * random target and unmapped: the module's VMA reference counting.
 */
static void fuzz_mmap(int fd)
{
	size_t len = chance(1, 8) ? rnd() : (1 + below(UAFAULT_MMAP_MAX_LEN / PG + 2)) * PG;
	off_t off = chance(1, 8) ? (off_t)(below(4) * PG) : 0;
	int flags = chance(1, 4) ? MAP_PRIVATE : MAP_SHARED;
	struct uafault_run r;
	unsigned char *m;
	size_t cut;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);
	if (m == MAP_FAILED)
		return;
	memset(m, 0x5a, len);
	cut = below(len / PG) * PG;
	if (chance(1, 2))
		mprotect(m + cut, PG, PROT_READ);
	else
		munmap(m + cut, PG);
	if (nnames) {
		memset(&r, 0, sizeof(r));
		copy_name(r.name, names[below(nnames)]);
		r.addr = (uintptr_t)m;
		r.len = 1 + below(len < UAFAULT_MAX_LEN ? len : UAFAULT_MAX_LEN);
		do_ioctl(fd, UAFAULT_IOC_RUN, (uintptr_t)&r);
	}
	munmap(m, len);
}

static void one_call(int fd)
{
	union {
		struct uafault_version v;
		struct uafault_target_info t;
		struct uafault_run r;
		struct uafault_pin pin;
		struct uafault_trap trap;
		struct uafault_page_refs refs;
		unsigned char raw[512];
	} u;
	unsigned int cmd;
	unsigned char *p;
	uint64_t arg;
	size_t size;

	switch (below(16)) {
	case 0:
		cmd = UAFAULT_IOC_VERSION;
		break;
	case 1:
	case 2:
		cmd = UAFAULT_IOC_TARGET;
		break;
	case 3:
		cmd = random_cmd();
		break;
	case 4:
		cmd = UAFAULT_IOC_PIN;
		break;
	case 5:
		cmd = UAFAULT_IOC_PIN_READ;
		break;
	case 6:
		cmd = UAFAULT_IOC_UNPIN;
		break;
	case 7:
		cmd = UAFAULT_IOC_TRAP;
		break;
	case 8:
		cmd = UAFAULT_IOC_UNTRAP;
		break;
	case 9:
		cmd = UAFAULT_IOC_PAGE_REFS;
		break;
	case 10:
		fuzz_mmap(fd);
		return;
	default:
		cmd = UAFAULT_IOC_RUN;
		break;
	}

	memset(&u, 0, sizeof(u));
	size = cmd == UAFAULT_IOC_VERSION ? sizeof(u.v) :
	       cmd == UAFAULT_IOC_TARGET ? sizeof(u.t) :
	       cmd == UAFAULT_IOC_RUN ? sizeof(u.r) :
	       cmd == UAFAULT_IOC_PIN || cmd == UAFAULT_IOC_PIN_READ ?
	       sizeof(u.pin) :
	       cmd == UAFAULT_IOC_TRAP || cmd == UAFAULT_IOC_UNTRAP ?
	       sizeof(u.trap) :
	       cmd == UAFAULT_IOC_PAGE_REFS ? sizeof(u.refs) : sizeof(u.raw);
	p = pick_arg(size < PG / 2 ? size : PG / 2, &arg);

	if (cmd == UAFAULT_IOC_TARGET) {
		if (chance(1, 4))
			random_bytes(&u.t, sizeof(u.t));
		else
			u.t.index = chance(3, 4) ? below(nnames + ncrash + 2) :
				    (uint32_t)rnd();
	} else if (cmd == UAFAULT_IOC_RUN) {
		fill_run(&u.r);
	} else if (cmd == UAFAULT_IOC_PIN) {
		fill_pin(&u.pin);
	} else if (cmd == UAFAULT_IOC_TRAP) {
		fill_trap(&u.trap);
	} else if (cmd == UAFAULT_IOC_PAGE_REFS) {
		fill_refs(&u.refs);
	} else if (cmd == UAFAULT_IOC_UNPIN) {
		arg = chance(1, 2) ? 0 : rnd();	/* _IO: the argument is unused */
		p = NULL;
	} else if (cmd != UAFAULT_IOC_VERSION &&
		   cmd != UAFAULT_IOC_PIN_READ &&
		   cmd != UAFAULT_IOC_UNTRAP) {
		/* Random command: random bytes, but never a crash run. */
		random_bytes(u.raw, sizeof(u.raw));
		memset(u.raw, 0, UAFAULT_NAME_LEN);
	}
	if (p)
		put_arg(p, &u, size < PG / 2 ? size : PG / 2);
	do_ioctl(fd, cmd, arg);
}

/* List the targets; remember the names, crashing ones apart. */
static void list_targets(int fd)
{
	struct uafault_version v;
	struct uafault_target_info t;
	unsigned int i;

	memset(&v, 0, sizeof(v));
	if (do_ioctl(fd, UAFAULT_IOC_VERSION, (uintptr_t)&v)) {
		fprintf(stderr, "fuzz: UAFAULT_IOC_VERSION: %s\n",
			strerror(errno));
		return;
	}
	for (i = 0; i < v.ntargets && i < MAX_NAMES; i++) {
		memset(&t, 0, sizeof(t));
		t.index = i;
		if (do_ioctl(fd, UAFAULT_IOC_TARGET, (uintptr_t)&t))
			continue;
		t.name[UAFAULT_NAME_LEN - 1] = 0;
		if ((t.flags & UAFAULT_TF_CRASH) ||
		    !strcmp(t.name, "raw_deref"))
			copy_name(crash_names[ncrash++], t.name);
		else
			copy_name(names[nnames++], t.name);
	}
	fprintf(stderr, "fuzz: abi %u, %u targets (%u skipped as crashing)\n",
		v.abi, nnames + ncrash, ncrash);
}

static int setup_memory(void)
{
	size_t total = (ARENA_PAGES + GUARD_PAGES) * PG;
	unsigned char *shared;
	unsigned int i;
	int mfd;

	arena = mmap(NULL, total, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	argbuf = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || argbuf == MAP_FAILED)
		return -1;
	if (mprotect(argbuf + PG, PG, PROT_NONE) ||
	    mprotect(arena + ARENA_PAGES * PG, GUARD_PAGES * PG, PROT_NONE))
		return -1;
	for (i = 0; i < ARENA_PAGES; i += 2)	/* half populated */
		arena[i * PG] = (unsigned char)i;
	if (mprotect(arena + P_RDONLY * PG, PG, PROT_READ) ||
	    mprotect(arena + P_NONE * PG, PG, PROT_NONE) ||
	    munmap(arena + P_HOLE * PG, PG) ||
	    munmap(arena + P_HOLE2 * PG, PG))
		return -1;

	mfd = (int)syscall(SYS_memfd_create, "uafault-fuzz", 0);
	if (mfd >= 0 && ftruncate(mfd, PG) == 0) {
		for (i = 0; i < 2; i++) {
			shared = mmap(arena + (P_SHARED + i) * PG, PG,
				      PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, mfd, 0);
			if (shared == MAP_FAILED)
				return -1;
		}
		shared[0] = 1;
	}
	if (mfd >= 0)
		close(mfd);
	return 0;
}

static const char *errno_name(int e)
{
	static const struct {
		int e;
		const char *name;
	} tab[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
		{ EIO, "EIO" }, { E2BIG, "E2BIG" }, { ENOMEM, "ENOMEM" },
		{ EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
		{ ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" },
		{ EOPNOTSUPP, "EOPNOTSUPP" },
	};
	static char buf[24];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tab); i++)
		if (tab[i].e == e)
			return tab[i].name;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static void print_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n CALLS] [-s SEED]\n", prog);
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	static char outbuf[4096];
	unsigned long long n = 100000, i;
	unsigned long long seed = 1;
	char *end;
	int opt, fd, e;

	while ((opt = getopt(argc, argv, "n:s:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoull(optarg, &end, 0);
			if (*end)
				print_usage(argv[0]);
			break;
		case 's':
			seed = strtoull(optarg, &end, 0);
			if (*end)
				print_usage(argv[0]);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	rng = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	if (!rng)
		rng = 1;

	fd = open(UAFAULT_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fuzz: cannot open %s: %s\n", UAFAULT_DEVICE,
			strerror(errno));
		return EXIT_SETUP;
	}
	/* stdout's buffer is static: nothing may map into the holes. */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	fprintf(stderr, "fuzz: %llu calls, seed %llu\n", n, seed);
	if (setup_memory()) {
		fprintf(stderr, "fuzz: memory setup: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	list_targets(fd);
	nok = nerr = other_errno = 0;
	memset(by_errno, 0, sizeof(by_errno));

	for (i = 0; i < n; i++) {
		one_call(fd);
		/* Now and then, give untouched (zero page) memory back. */
		if (i % 4096 == 4095)
			madvise(arena, P_RDONLY * PG, MADV_DONTNEED);
	}
	close(fd);

	printf("fuzz: %llu calls, %llu ok, %llu errors by errno:", n, nok,
	       nerr);
	for (e = 1; e < MAX_ERRNO; e++)
		if (by_errno[e])
			printf(" %s=%llu", errno_name(e), by_errno[e]);
	if (other_errno)
		printf(" other=%llu", other_errno);
	printf("\n");
	return EXIT_PASS;
}
