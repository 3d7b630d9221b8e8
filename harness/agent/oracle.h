/* SPDX-License-Identifier: GPL-2.0 */
/* oracle.c: what a case's result must be, and what it must leave. */
#ifndef UAFAULT_ORACLE_H
#define UAFAULT_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "pins.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

uint64_t user_csum(const struct umem *m, const struct target *t,
		   const struct uafault_run *r, const unsigned char *seen);
long contract_refusal(const struct umem *m, const struct target *t);
void check_result(struct verdict *v, const struct umem *m,
		  const struct target *t, const struct uafault_run *r,
		  size_t reach);
void check_pins(struct verdict *v, struct pins start);
void final_checks(const struct agent *a, struct verdict *v, struct pins balance);
void run_checked(const struct agent *a, const struct target *t,
		 struct verdict *v, struct umem *m);
void check_writeback(struct verdict *v, const struct umem *m);
void passer_by_note(struct verdict *v);

#endif
