/* SPDX-License-Identifier: GPL-2.0 */
/* caller.c: who makes a case's calls, and the accounting oracle. */
#ifndef UAFAULT_CALLER_H
#define UAFAULT_CALLER_H

#include "agent.h"
#include "faults.h"
#include "target.h"
#include "verdict.h"

/* protocol.h's CALLERS, in its order. */
enum caller { CALLER_ROOT, CALLER_USER };

/* What a case runs once it is announced: the kind, its oracles. */
typedef void (*case_body_fn)(struct agent *a, const struct fault_kind *kind,
			     const struct target *t, struct verdict *v);

int find_caller(const char *name);
const char *caller_name(int caller);
void run_as_caller(struct agent *a, const struct fault_kind *kind,
		   const struct target *t, struct verdict *v,
		   case_body_fn body);

#endif
