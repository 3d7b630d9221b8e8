/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uafault-agent: runs in the QEMU guest, loads uafault.ko with libkmod,
 * prepares real user memory for each fault kind, calls each target through
 * /dev/uafault and checks the result against an oracle derived from the
 * fault plan.  Output is KTAP on stdout.
 *
 * This header is what every part shares: the run's state (struct agent)
 * and the few helpers of C itself.  Each area has its own header.
 */
#ifndef UAFAULT_AGENT_H
#define UAFAULT_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../module/uafault.h"
#include "exit.h"
#include "protocol.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* A family (of fault kinds, of paths) as its files export it: a table. */
#define FAMILY(table)	{ (table), ARRAY_SIZE(table) }

struct target;
struct memory_kind;

struct agent {
	int dev;
	int kmsg;
	struct target *targets;
	unsigned int ntargets;
	bool allow_crash;
	unsigned int seed;
	unsigned int rounds;
	const char *target_glob;
	const char *fault_list;
	const char *fuzzer;	/* uafault-fuzz, run as one more suite */
	unsigned int fuzz_calls;
	size_t size;		/* range length for every kind, 0: theirs */
	/*
	 * Range start in page 0, -1: the kind's; on memory of large folios,
	 * in the first folio (struct plan's folio_page).
	 */
	long offset;
	const struct memory_kind *memory;	/* NULL: private anonymous */
	/* --break-memory: each kind's promise undone before its proof */
	bool break_memory;
	char case_name[128];	/* the case in flight, as the console names it */
	bool raced;		/* ... and a thread changes its range meanwhile */
	/* A reproducer: take the module's allow_crash as it is. */
	bool take_module_mode;
	bool misuse_paths;	/* --misuse-paths: see struct kpath_state */
	bool hang_paths;	/* --hang-paths: the same */
	/* --refs-passer-by: a reference held through the looks before a call */
	bool refs_passer_by;
	/* --caller, a case's caller field: who makes its calls (caller.h) */
	int caller;
	/* --known-issue: cases ("target.kind" globs) expected to fail */
	char **known;
	int nknown;
	unsigned int abi;	/* the module's UAFAULT_ABI_VERSION */
	/* UAFAULT_RUN_* of every UAFAULT_IOC_RUN: a kind's copy sets them */
	unsigned int run_flags;
};

#endif
