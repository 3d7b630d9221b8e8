/* SPDX-License-Identifier: GPL-2.0 */
/* suite.c: the runs that print a KTAP suite, and a --cases batch. */
#ifndef UAFAULT_SUITE_H
#define UAFAULT_SUITE_H

#include <stdbool.h>

#include "agent.h"
#include "target.h"

/* One target as one KTAP suite, numbered @number: false if a case failed. */
bool run_suite(struct agent *a, const struct target *t, unsigned int number);
/* --break-memory: every memory kind's proof, shown catching its undoing. */
int run_memory_breaks(struct agent *a, const struct target *t);
/* The ioctl fuzzer as a suite of one case. */
bool run_fuzz_suite(struct agent *a, unsigned int number);
/* --cases FILE: the campaign's batch; the exit status. */
int run_cases(const struct agent *a, const char *path);

#endif
