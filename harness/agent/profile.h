/* SPDX-License-Identifier: GPL-2.0 */
/* profile.c: where a case's time goes, each phase's own time. */
#ifndef UAFAULT_PROFILE_H
#define UAFAULT_PROFILE_H

#include <stdint.h>

enum phase {
	PH_SETUP,	/* laying the range out, proving its memory */
	PH_CALL,	/* the target: UAFAULT_IOC_RUN or a path's calls */
	PH_PINS,	/* the pin counters (stat_refresh, vmstat, VmPin) */
	PH_KMSG,	/* reading the kernel log */
	PH_REFS,	/* page references (UAFAULT_IOC_PAGE_REFS, settling) */
	PH_RESULT,	/* judging the result: bytes, checksums */
	PH_SETTLE,	/* after a failed case: the pins holding still */
	PH_CASE,	/* the rest of a case: the kind's own work */
	NR_PHASES
};

void phase_begin(enum phase ph);
void phase_end(void);
void phase_api_ns(uint64_t ns);
void print_profile(void);
/* CLOCK_MONOTONIC, in seconds. */
double now_seconds(void);

#endif
