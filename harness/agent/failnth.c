// SPDX-License-Identifier: GPL-2.0
/*
 * fail-nth (CONFIG_FAULT_INJECTION): armed on this thread right before a
 * target's call, read back and disarmed right after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "failnth.h"

int fail_arm_set(struct fail_arm *arm)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", arm->nth);

	return pwrite(arm->fd, buf, n, 0) == n ? 0 : -errno;
}

/*
 * Reads back what is left of fail-nth, then disarms it.  The read's own
 * copy_to_user is a site too: EFAULT means one was left, which it
 * consumed.
 */
void fail_arm_read(struct fail_arm *arm)
{
	char buf[16] = { 0 };

	if (pread(arm->fd, buf, sizeof(buf) - 1, 0) < 0)
		arm->left = errno == EFAULT ? 1 : -errno;
	else
		arm->left = strtol(buf, NULL, 10);
	pwrite(arm->fd, "0", 1, 0);
}
