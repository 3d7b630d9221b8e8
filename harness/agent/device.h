/* SPDX-License-Identifier: GPL-2.0 */
/* device.c: /dev/uafault, its targets, and a run of one. */
#ifndef UAFAULT_DEVICE_H
#define UAFAULT_DEVICE_H

#include "agent.h"
#include "failnth.h"
#include "target.h"

/* Target runs so far, for the scenarios-per-second figure. */
extern unsigned long target_runs;
int open_device(struct agent *a);
int read_targets(struct agent *a);
int run_target_armed(const struct agent *a, const struct target *t,
		     void *addr, size_t len, struct uafault_run *r,
		     struct fail_arm *arm);
int run_target(const struct agent *a, const struct target *t, void *addr,
	       size_t len, struct uafault_run *r);

#endif
