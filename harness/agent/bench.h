/* SPDX-License-Identifier: GPL-2.0 */
/* bench.c: --bare-calls, the bench's baseline. */
#ifndef UAFAULT_BENCH_H
#define UAFAULT_BENCH_H

#include "agent.h"

void bare_loop(const struct agent *a, unsigned int calls);

#endif
