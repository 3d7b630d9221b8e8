/* SPDX-License-Identifier: GPL-2.0 */
/* kinds_held.c: a pin held across what the process does next. */
#ifndef UAFAULT_KINDS_HELD_H
#define UAFAULT_KINDS_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "target.h"
#include "umem.h"
#include "verdict.h"

bool hold_pin(const struct agent *a, const struct target *t,
	      const struct umem *m, struct verdict *v);
void check_held(const struct agent *a, struct verdict *v,
		const unsigned char *want, size_t len, const char *why);

#endif
