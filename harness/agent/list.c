// SPDX-License-Identifier: GPL-2.0
/*
 * The list modes' lines: --list-faults, and --list-targets' targets and
 * what this kernel cannot run, which the host plans from (protocol.h).
 */
#include <stdio.h>

#include "faults.h"
#include "list.h"
#include "protocol.h"
#include "target.h"

/*
 * A line of --list-faults: "NAME [crash] [raced] [start=N]", start when the
 * kind has one start of its own (an --offset of -1 means that one).
 */
void list_kind(const struct fault_kind *k)
{
	printf("%s%s%s", k->name, k->crash_only ? " crash" : "",
	       k->raced ? " raced" : "");
	if (k->start != SEVERAL_STARTS)
		printf(" start=%d", k->start);
	printf("\n");
}

/*
 * A line of --list-targets: "uafault-target: NAME OWNER fixed_len=N
 * align=A kinds=KIND,... [crash]", the kinds that mean something for the
 * target, so the host plans no case that would only be skipped, and the
 * alignment its contract wants of the range's address, so it plans the
 * starts the target accepts.
 */
void list_target(const struct target *t)
{
	const struct fault_kind *kind;
	const char *sep = "";
	unsigned int k;

	printf(TARGET_LINE, t->name, t->owner, t->fixed_len,
	       t->contract.addr_align);
	for_each_fault_kind(k, kind) {
		if (!kind_applies(kind, t) || kind_missing(kind))
			continue;
		printf("%s%s", sep, kind->name);
		sep = ",";
	}
	printf("%s\n", target_crashes(t) ? TARGET_CRASH : "");
}

/*
 * The kinds this kernel cannot run, after the targets: "uafault-unavailable:
 * kind NAME CONFIG_X", so the host reports them skipped with the option.
 */
void list_unavailable(void)
{
	const struct fault_kind *kind;
	unsigned int k;

	for_each_fault_kind(k, kind) {
		if (kind_missing(kind))
			printf("%s kind %s %s\n", UNAVAILABLE_MARKER, kind->name,
			       kind->config);
	}
}
