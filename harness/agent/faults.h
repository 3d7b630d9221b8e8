/* SPDX-License-Identifier: GPL-2.0 */
/* faults.c and kinds_*.c: the fault kinds, and their registry. */
#ifndef UAFAULT_FAULTS_H
#define UAFAULT_FAULTS_H

#include <stdbool.h>

#include "agent.h"
#include "target.h"
#include "verdict.h"

/*
 * A fault kind, and which targets it means something for: kind_applies()
 * reads @crash_only, @needs, @results, @held and @module_only, the planner
 * (--list-targets) too, so no kind is planned only to be skipped.
 */
struct fault_kind {
	const char *name;
	void (*run)(const struct agent *a, const struct target *t,
		    struct verdict *v, const struct fault_kind *k);
	int arg;		/* the variant of run: which fault, ... */
	bool crash_only;	/* runs only for crashing targets, they only it */
	bool raced;		/* a racing thread, --rounds runs of the target */
	unsigned int needs;	/* UAFAULT_TF_* bits the target must have */
	unsigned int shuns;	/* ... and those it must not have */
	unsigned int results;	/* 1 << enum uafault_result it takes; 0: any */
	/*
	 * Runs only where the range is held long-term past a point
	 * (target_holds()): a module target's hold, a path's held phase.
	 */
	bool held;
	/*
	 * Runs only the module's targets, by UAFAULT_IOC_RUN with run flags
	 * of its own (a path is the kernel's own call, never uafault's).
	 */
	bool module_only;
	/*
	 * The changes the target must allow while it holds (a path's
	 * kpath.changes, HELD_CHANGE() bits): a held-change kind's one.
	 */
	unsigned int changes;
	/*
	 * Where the range starts in its first page when the case leaves it
	 * to the kind (--offset -1), or SEVERAL_STARTS: the kind tries a few.
	 */
	int start;
	/*
	 * The kernel option the kind needs and a file only such a kernel
	 * has (NULL: none): elsewhere the kind is never listed, and a case
	 * of it is a SKIP that names the option.
	 */
	const char *config;
	const char *probe;
};

#define SEVERAL_STARTS	(-1)

/* A family of kinds (kinds_*.c) exports its table as one of these. */
struct fault_family {
	const struct fault_kind *kinds;
	unsigned int n;
};

extern const struct fault_family layout_family, race_family, held_family,
	mm_family, inject_family;
unsigned int nr_fault_kinds(void);
const struct fault_kind *fault_kind_at(unsigned int i);

/* Every kind of every family, in order: @kind at index @i. */
#define for_each_fault_kind(i, kind)					\
	for ((i) = 0; ((kind) = fault_kind_at(i)) != NULL; (i)++)

/* The option @k needs that this kernel lacks, or NULL. */
const char *kind_missing(const struct fault_kind *k);
bool kind_applies(const struct fault_kind *k, const struct target *t);
const struct fault_kind *find_kind(const char *name);

#endif
