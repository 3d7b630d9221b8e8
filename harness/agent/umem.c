// SPDX-License-Identifier: GPL-2.0
/*
 * User memory laid out by a fault plan: the mapping of its memory kind
 * holding the case's bytes, proven, with the fault planted; and taken
 * down.  What a target may do to it is the oracles' (oracle.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"
#include "memory.h"
#include "plan.h"
#include "profile.h"
#include "protocol.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

/* Never 0, so a string has exactly the NUL we plant. */
static unsigned char pattern(size_t i, unsigned int seed)
{
	return (unsigned char)((i * 7 + seed) % 251 + 1);
}

void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

uint32_t get_le32(const unsigned char *p)
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
		m->readable[p->hole] = !fault_blocks(p->fault, false);
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
	if (m->vma)
		munmap(m->vma, m->vma_len ?: m->map_len);
	if (m->fd >= 0)
		close(m->fd);
	if (m->twin)
		munmap(m->twin, m->map_len);
	m->twin = NULL;
	m->fd = -1;
	free(m->before);
	m->vma = m->base = NULL;
	m->before = NULL;
}

/* Lays @p out in @m; false (and the case unresolved) when it cannot. */
bool set_up(const struct agent *a, const struct target *t,
		   struct verdict *v, struct umem *m, const struct plan *p)
{
	int err = umem_setup(m, p, t, a->seed);

	if (err) {
		unresolved(v, "setting up user memory: %s", umem_error(m, err));
		umem_free(m);
	}
	return !err;
}
