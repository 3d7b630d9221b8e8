/* SPDX-License-Identifier: GPL-2.0 */
/* umem.c: user memory laid out by a fault plan. */
#ifndef UAFAULT_UMEM_H
#define UAFAULT_UMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "plan.h"
#include "target.h"
#include "verdict.h"

struct umem {
	struct plan plan;
	unsigned char *base;	/* the plan's page 0 */
	size_t map_len;
	unsigned char *vma;	/* the mapping: base, or huge pages around it */
	size_t vma_len;		/* mapped from vma, when more than map_len */
	unsigned char *addr;
	unsigned char *before;	/* readable bytes before the run */
	bool readable[MAX_PAGES];
	int fd;			/* the backing file (backed kinds), or -1 */
	unsigned char *twin;	/* a merged kind's KSM partner, map_len */
	/* page_twice: pages twice - 1 and twice map one frame; 0: none */
	unsigned int twice;
	char why[160];		/* a set-up failure's reason, "" for errno's */
};

int umem_setup(struct umem *m, const struct plan *p, const struct target *t,
	       unsigned int seed);
void umem_snapshot(struct umem *m, unsigned char *buf);
void umem_free(struct umem *m);
const char *umem_error(const struct umem *m, int err);
bool set_up(const struct agent *a, const struct target *t, struct verdict *v,
	    struct umem *m, const struct plan *p);
void put_le32(unsigned char *p, uint32_t v);
uint32_t get_le32(const unsigned char *p);

#endif
