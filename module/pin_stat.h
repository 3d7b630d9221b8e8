/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The FOLL_PIN counters, exactly: each node's counter plus every CPU's
 * delta not yet folded into it, without the vmstat refresh (a work item on
 * every CPU) /proc/vmstat needs.  uafault.ko's UAFAULT_IOC_PIN_BALANCE and
 * the KUnit suites' pin oracle read them through here.
 */
#ifndef _UAFAULT_PIN_STAT_H
#define _UAFAULT_PIN_STAT_H

#include <linux/cpumask.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/vmstat.h>

static inline s64 uafault_node_stat_exact(enum node_stat_item item)
{
	s64 sum = 0;
	int nid, cpu;

	for_each_online_node(nid) {
		struct pglist_data *pgdat = NODE_DATA(nid);

		sum += atomic_long_read(&pgdat->vm_stat[item]);
		for_each_possible_cpu(cpu)
			sum += per_cpu_ptr(pgdat->per_cpu_nodestats,
					   cpu)->vm_node_stat_diff[item];
	}
	return sum;
}

/*
 * Pins taken and released since boot.  A fold moves a delta from a CPU to
 * its node while the sum is read, so read until two reads agree.
 */
static inline void uafault_pin_counts(s64 *acquired, s64 *released)
{
	s64 acq = S64_MIN, rel = S64_MIN, a, r;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		a = uafault_node_stat_exact(NR_FOLL_PIN_ACQUIRED);
		r = uafault_node_stat_exact(NR_FOLL_PIN_RELEASED);
		if (a == acq && r == rel)
			break;
		acq = a;
		rel = r;
	}
	*acquired = a;
	*released = r;
}

#endif /* _UAFAULT_PIN_STAT_H */
