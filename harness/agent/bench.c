// SPDX-License-Identifier: GPL-2.0
/*
 * The bench's baseline: every target's ioctl in a bare loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "bench.h"
#include "device.h"
#include "profile.h"
#include "protocol.h"
#include "target.h"

/*
 * The bench's baseline: the same ioctl on every target, @calls times
 * each, on one mapped range with no fault planted and nothing checked.
 */
void bare_loop(const struct agent *a, unsigned int calls)
{
	size_t map_len = 3 * PAGE;
	unsigned long done = 0;
	struct uafault_run r;
	unsigned char *base;
	unsigned int i, k;
	double start;

	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (base == MAP_FAILED) {
		printf(BARE_MARKER " mmap: %s\n", strerror(errno));
		return;
	}
	memset(base, 0, map_len);
	start = now_seconds();
	for (i = 0; i < a->ntargets; i++) {
		const struct target *t = &a->targets[i];
		size_t len = t->fixed_len ? t->fixed_len : map_len;

		if (target_crashes(t))
			continue;
		for (k = 0; k < calls; k++, done++)
			run_target(a, t, base, len, &r);
	}
	printf(BARE_LINE, done, now_seconds() - start);
	munmap(base, map_len);
}
