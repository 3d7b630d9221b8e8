// SPDX-License-Identifier: GPL-2.0
/*
 * User memory laid out by a fault plan, and the oracle: what a target may
 * report for a range, derived from where the first faulting byte lies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"

void note(struct verdict *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->used >= sizeof(v->msg) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(v->msg + v->used, sizeof(v->msg) - v->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		v->used += (size_t)n < sizeof(v->msg) - v->used ?
			   (size_t)n : sizeof(v->msg) - v->used - 1;
}

/* The host tells a set-up failure from a skip by its tag (protocol.py). */
void judge(struct verdict *v, enum outcome how, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(v, "%s%s\n", how == UNRESOLVED ? "[setup] " : "", line);
	if (how == UNRESOLVED)
		v->unresolved = true;
	else
		v->failed = true;
}

/* Never 0, so a string has exactly the NUL we plant. */
static unsigned char pattern(size_t i, unsigned int seed)
{
	return (unsigned char)((i * 7 + seed) % 251 + 1);
}

bool target_writes(const struct target *t)
{
	return t->flags & UAFAULT_TF_WRITE;
}

/* A read-only page stops @t: it writes there, or pins for writing. */
bool needs_write(const struct target *t)
{
	return target_writes(t) || t->contract.write_pin;
}

/* A range @t's contract refuses whole: misaligned, or too short. */
static bool refused_whole(const struct target *t, const void *addr, size_t len)
{
	const struct contract *c = &t->contract;

	return (c->addr_align && (uintptr_t)addr % c->addr_align) ||
	       (c->len_align && len % c->len_align) || len < c->min_len;
}

static bool blocks(enum fault f, bool write)
{
	return f == F_UNMAPPED || f == F_PROT_NONE ||
	       (f == F_READ_ONLY && write);
}

size_t plan_reach(const struct plan *p, bool write)
{
	size_t hole_start;

	if (p->hole < 0 || !blocks(p->fault, write))
		return p->len;
	hole_start = (size_t)p->hole * PAGE;
	if (hole_start + PAGE <= p->offset)
		return p->len;		/* a guard before the range */
	if (hole_start <= p->offset)
		return 0;
	return hole_start - p->offset < p->len ? hole_start - p->offset :
						 p->len;
}

/*
 * The memory refuses the way @t takes its pages, so it gets none whatever
 * the fault: a long-term write pin of ext4 page cache, or any GUP of a
 * VM_IO | VM_PFNMAP mapping (check_vma_flags()).  Every kind's
 * expectation goes through here (expect_for(), contract_refusal()).
 */
static bool memory_refuses(const struct plan *p, const struct target *t)
{
	if (!p->memory)
		return false;
	if (p->memory->no_longterm_write && t->flags & UAFAULT_TF_LONGTERM &&
	    needs_write(t))
		return true;
	return p->memory->device && t->flags & UAFAULT_TF_PIN;
}

/* What the target can get at: the plan's reach, or what the memory allows. */
size_t target_reach(const struct plan *p, const struct target *t)
{
	return memory_refuses(p, t) ? 0 : plan_reach(p, needs_write(t));
}

void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The bytes of the range each semantics needs: a NUL, zeroes, or pattern. */
static void shape_range(unsigned char *r, size_t len, enum uafault_result result)
{
	switch (result) {
	case UAFAULT_RES_STRLEN:
	case UAFAULT_RES_STRSIZE:
		r[len - 1] = 0;
		break;
	case UAFAULT_RES_STRBUF:
		/* Bytes after the NUL, in its word: they must not get in. */
		r[len > 8 ? len - 8 : len - 1] = 0;
		break;
	case UAFAULT_RES_ZEROED:
		memset(r, 0, len);
		break;
	case UAFAULT_RES_HEADER:
		if (len >= sizeof(uint32_t))
			put_le32(r, len);
		break;
	case UAFAULT_RES_STRUCT:
		if (len > UAFAULT_STRUCT_KSIZE)
			memset(r + UAFAULT_STRUCT_KSIZE, 0,
			       len - UAFAULT_STRUCT_KSIZE);
		break;
	default:
		break;
	}
}

void umem_snapshot(struct umem *m, unsigned char *buf)
{
	unsigned int pg;

	for (pg = 0; pg < m->plan.npages; pg++)
		if (m->readable[pg])
			memcpy(buf + pg * PAGE, m->base + pg * PAGE, PAGE);
}

/*
 * Lays @p out: the mapping of its memory kind holding the case's bytes,
 * proven to be that memory, then the fault planted.  -errno, with the
 * reason in m->why when errno does not say it.
 */
static int lay_out(struct umem *m, const struct plan *p, const struct target *t,
		   unsigned int seed)
{
	const struct memory_kind *mk = p->memory ?: &memory_kinds[0];
	size_t i;
	int prot, err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->plan = *p;
	m->map_len = p->npages * PAGE;
	m->before = calloc(1, m->map_len);
	if (!m->before)
		return -ENOMEM;
	/* The bytes it gets; never-touched memory keeps its zeroes. */
	if (!mk->untouched) {
		for (i = 0; i < m->map_len; i++)
			m->before[i] = pattern(i, seed);
		shape_range(m->before + p->offset, p->len, t->result);
	}
	err = memory_map(m, mk, m->before);
	if (err)
		return err;
	m->addr = m->base + p->offset;
	if (p->broken)
		memory_break(m, mk);
	if (!memory_proven(m, mk))
		return -EPROTO;

	for (i = 0; i < p->npages; i++)
		m->readable[i] = true;
	if (p->hole >= 0) {
		unsigned char *page = m->base + (size_t)p->hole * PAGE;

		if (p->fault == F_UNMAPPED) {
			if (munmap(page, PAGE))
				return -errno;
		} else {
			prot = p->fault == F_READ_ONLY ? PROT_READ : PROT_NONE;
			if (mprotect(page, PAGE, prot))
				return -errno;
		}
		m->readable[p->hole] = !blocks(p->fault, false);
	}
	umem_snapshot(m, m->before);
	return 0;
}

int umem_setup(struct umem *m, const struct plan *p, const struct target *t,
	       unsigned int seed)
{
	int err;

	phase_begin(PH_SETUP);
	err = lay_out(m, p, t, seed);
	phase_end();
	return err;
}

/* Why umem_setup() failed with @err. */
const char *umem_error(const struct umem *m, int err)
{
	return m->why[0] ? m->why : strerror(-err);
}

void umem_free(struct umem *m)
{
	if (m->base)
		munmap(m->base, m->vma_len ?: m->map_len);
	if (m->fd >= 0)
		close(m->fd);
	if (m->twin)
		munmap(m->twin, m->map_len);
	m->twin = NULL;
	m->fd = -1;
	free(m->before);
	m->base = NULL;
	m->before = NULL;
}

/* What the result must say, given the reach; per semantics. */
struct expect {
	bool exact;		/* done must equal want; else the copy bound */
	size_t want;
	long ret;		/* expected ret when @exact */
	bool csum;		/* check the csum over done bytes */
};

/* Index of the first byte of the range equal (or not) to 0, or len. */
static size_t scan(const struct umem *m, size_t from, bool want_zero)
{
	const unsigned char *r = m->before + m->plan.offset;
	size_t i;

	for (i = from; i < m->plan.len; i++)
		if ((r[i] == 0) == want_zero)
			return i;
	return m->plan.len;
}

static void expect_exact(struct expect *e, size_t want, long ret)
{
	e->want = want;
	e->ret = ret;
}

/*
 * The string, zero and struct oracles read the range's bytes as the run
 * found them (a fork or MADV_DONTNEED case may have changed them) and ask
 * which comes first: the byte that decides, the fault, or the end.
 */
static struct expect expect_for(const struct umem *m, const struct target *t,
				size_t reach)
{
	const struct plan *p = &m->plan;
	struct expect e = { .exact = true, .csum = true };
	size_t len = p->len, pages, nul, nonzero, head;

	if (refused_whole(t, m->addr, len)) {
		expect_exact(&e, 0, -EINVAL);
		return e;
	}
	if (memory_refuses(p, t))
		reach = 0;
	switch (t->result) {
	case UAFAULT_RES_DIO:
		/* Aligned: the pinned pages before the fault, in blocks. */
	case UAFAULT_RES_PAGES:
		/* Whole pages before the fault; done covers them in the range. */
		pages = (p->offset + reach) / PAGE;
		if (reach == len)
			expect_exact(&e, len, 0);
		else if (pages * PAGE > p->offset)
			expect_exact(&e, pages * PAGE - p->offset, -EFAULT);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_CHUNKS:
		/* Whole PAGE_SIZE chunks of the range before the fault. */
		if (reach == len)
			expect_exact(&e, len, 0);
		else
			expect_exact(&e, reach / PAGE * PAGE, -EFAULT);
		break;
	case UAFAULT_RES_STRLEN:
	case UAFAULT_RES_STRSIZE:
	case UAFAULT_RES_STRBUF:
		nul = scan(m, 0, true);
		if (nul < len && nul < reach)
			expect_exact(&e, nul + (t->result == UAFAULT_RES_STRSIZE), 0);
		else if (reach == len)	/* no NUL: count, or "too long" */
			expect_exact(&e, len + (t->result == UAFAULT_RES_STRSIZE), 0);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_ZEROED:
		nonzero = scan(m, 0, false);
		e.csum = false;
		if (nonzero >= len && reach == len)
			expect_exact(&e, len, 0);
		else if (nonzero < reach)
			expect_exact(&e, 0, 0);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	case UAFAULT_RES_STRUCT:
		/* The tail beyond ksize must be zero; it is checked first. */
		head = len < UAFAULT_STRUCT_KSIZE ? len : UAFAULT_STRUCT_KSIZE;
		nonzero = len > head ? scan(m, head, false) : len;
		if (nonzero < len && nonzero < reach)
			expect_exact(&e, 0, -E2BIG);
		else if (reach < len)
			expect_exact(&e, 0, -EFAULT);
		else
			expect_exact(&e, head, 0);
		break;
	case UAFAULT_RES_HEADER:
		if (len < sizeof(uint32_t)) {
			expect_exact(&e, 0, -EINVAL);
			break;
		}
		/* The header as the run found it (zero after MADV_DONTNEED). */
		if (reach >= sizeof(uint32_t) &&
		    get_le32(m->before + p->offset) != len) {
			expect_exact(&e, 0, -EINVAL);
			break;
		}
		/* A well-formed message is all or nothing. */
		[[fallthrough]];
	case UAFAULT_RES_ALL:
		pages = (p->offset + reach) / PAGE - p->offset / PAGE;
		if (reach == len)
			expect_exact(&e, len, 0);
		else if (t->contract.partial_err && pages)
			expect_exact(&e, 0, -t->contract.partial_err);
		else
			expect_exact(&e, 0, -EFAULT);
		break;
	default:
		e.exact = false;
		expect_exact(&e, reach, reach == len ? 0 : -EFAULT);
		break;
	}
	return e;
}

/*
 * The error @t's contract gives @m's range before touching it, whatever
 * is planted there (-EINVAL: an unaligned direct I/O range, a message
 * too short for its header; -EFAULT: memory GUP takes no page of), or 0.
 * A race has nothing to race then.
 */
long contract_refusal(const struct umem *m, const struct target *t)
{
	struct expect e = expect_for(m, t, m->plan.len);

	if (e.exact && e.ret == -EINVAL)
		return -EINVAL;
	return m->plan.len && memory_refuses(&m->plan, t) ? -EFAULT : 0;
}

/*
 * raw_copy_{from,to}_user() may stop short of the fault, never past it,
 * and may report nothing only when nothing could be copied.
 */
static void check_done(struct verdict *v, const struct umem *m,
		       const struct uafault_run *r, const struct expect *e,
		       size_t reach)
{
	size_t len = m->plan.len;

	if (e->exact) {
		if (r->done != e->want || r->ret != e->ret)
			fail(v, "[result] ret %lld done %llu, expected ret %ld done %zu (reach %zu of %zu)",
			     (long long)r->ret, (unsigned long long)r->done,
			     e->ret, e->want, reach, len);
		return;
	}
	if (r->done > reach)
		fail(v, "[result] done %llu is past the fault at %zu",
		     (unsigned long long)r->done, reach);
	else if (reach && !r->done)
		fail(v, "[result] nothing done although %zu bytes were reachable",
		     reach);
	else if (reach == len && r->done != len)
		fail(v, "[result] done %llu of %zu with no fault",
		     (unsigned long long)r->done, len);
	if (r->ret != (r->done == len ? 0 : -EFAULT))
		fail(v, "[result] ret %lld with done %llu of %zu",
		     (long long)r->ret, (unsigned long long)r->done, len);
}

/*
 * A writing target stores uafault_fill() bytes, or zeroes (clear_user,
 * padding it cleared); any other byte is kernel memory it never
 * initialised, leaking out (CVE-2016-4482's padding).
 */
static void check_stored(struct verdict *v, const unsigned char *r,
			 size_t done, uint32_t seed)
{
	size_t i;

	for (i = 0; i < done; i++) {
		if (r[i] == 0 || r[i] == uafault_fill(seed, i))
			continue;
		fail(v, "[stored-bytes] byte %zu written as %#x: neither uafault_fill() (%#x) nor 0, kernel memory leaked",
		     i, r[i], uafault_fill(seed, i));
		return;
	}
}

/*
 * The checksum a target must report for what it read or wrote, given the
 * range's bytes as @seen (before the run for a read, after it for a
 * write).  A STRBUF target checksums its whole zeroed buffer.
 */
uint64_t user_csum(const struct umem *m, const struct target *t,
		   const struct uafault_run *r, const unsigned char *seen)
{
	static const unsigned char zero[64];
	uint64_t csum = uafault_csum(UAFAULT_CSUM_INIT, seen + m->plan.offset,
				     r->done);
	size_t tail;

	if (t->result != UAFAULT_RES_STRBUF || r->ret)
		return csum;
	for (tail = m->plan.len - r->done; tail; ) {
		size_t n = tail < sizeof(zero) ? tail : sizeof(zero);

		csum = uafault_csum(csum, zero, n);
		tail -= n;
	}
	return csum;
}

void check_result(struct verdict *v, const struct umem *m,
		  const struct target *t, const struct uafault_run *r,
		  size_t reach)
{
	const struct plan *p = &m->plan;
	struct expect e = expect_for(m, t, reach);
	/* A device's own bytes: only where it may write is checked. */
	bool writes = target_writes(t), data = !t->opaque;
	unsigned char *after = calloc(1, m->map_len);
	size_t i, done = r->done;
	uint64_t csum;

	if (!after) {
		fail(v, "out of memory");
		return;
	}
	check_done(v, m, r, &e, reach);
	umem_snapshot((struct umem *)m, after);
	if (data && e.csum && t->result != UAFAULT_RES_STRSIZE &&
	    done <= p->len) {
		csum = user_csum(m, t, r, writes ? after : m->before);
		if (csum != r->csum)
			fail(v, "[csum] kernel csum %#llx of %zu bytes, user has %#llx",
			     (unsigned long long)r->csum, done,
			     (unsigned long long)csum);
	}
	if (data && writes && done <= p->len)
		check_stored(v, after + p->offset, done, r->seed);
	/* Nothing outside what the target may write changes. */
	for (i = 0; i < m->map_len; i++) {
		bool mayw = writes && i >= p->offset && i < p->offset + reach;

		if (!m->readable[i / PAGE] || mayw || after[i] == m->before[i])
			continue;
		fail(v, "[unchanged] byte %zu of the mapping changed (%#x -> %#x)", i,
		     m->before[i], after[i]);
		break;
	}
	free(after);
}
