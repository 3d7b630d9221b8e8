/* SPDX-License-Identifier: GPL-2.0 */
/* failnth.c: fail-nth armed right before a target's call, read back right after. */
#ifndef UAFAULT_FAILNTH_H
#define UAFAULT_FAILNTH_H

struct fail_arm {
	int fd;			/* /proc/thread-self/fail-nth */
	unsigned int nth;
	long left;		/* what the call did not consume */
};

int fail_arm_set(struct fail_arm *arm);
void fail_arm_read(struct fail_arm *arm);

#endif
