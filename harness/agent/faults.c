// SPDX-License-Identifier: GPL-2.0
/*
 * The fault kinds' registry: the families (kinds_layout.c, kinds_race.c,
 * kinds_held.c, kinds_inject.c, kinds_mm.c) each have one function per
 * kind and export their table, the way lkdtm's categories do; here they
 * are one list, looked up by name, and matched to the targets they mean
 * something for.  The kinds themselves call the plan (plan.c), user
 * memory (umem.c) and the oracles (oracle.c), never back in here.
 */
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "faults.h"
#include "target.h"

static const struct fault_family * const families[] = {
	&layout_family, &race_family, &held_family, &inject_family,
	&mm_family,
};

unsigned int nr_fault_kinds(void)
{
	unsigned int f, n = 0;

	for (f = 0; f < ARRAY_SIZE(families); f++)
		n += families[f]->n;
	return n;
}

/* The @i-th kind of all families, in family order; NULL past the last. */
const struct fault_kind *fault_kind_at(unsigned int i)
{
	unsigned int f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		if (i < families[f]->n)
			return &families[f]->kinds[i];
		i -= families[f]->n;
	}
	return NULL;
}

const char *kind_missing(const struct fault_kind *k)
{
	return k->probe && access(k->probe, F_OK) ? k->config : NULL;
}

bool kind_applies(const struct fault_kind *k, const struct target *t)
{
	return k->crash_only == target_crashes(t) &&
	       (t->flags & k->needs) == k->needs && !(t->flags & k->shuns) &&
	       (!k->held || target_holds(t)) &&
	       (!k->module_only || !t->path) &&
	       (t->changes & k->changes) == k->changes &&
	       (!k->results || k->results & 1U << t->result);
}

const struct fault_kind *find_kind(const char *name)
{
	const struct fault_kind *kind;
	unsigned int k;

	for_each_fault_kind(k, kind)
		if (!strcmp(kind->name, name))
			return kind;
	return NULL;
}
