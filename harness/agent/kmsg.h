/* SPDX-License-Identifier: GPL-2.0 */
/* kmsg.c: the kernel log since the last look. */
#ifndef UAFAULT_KMSG_H
#define UAFAULT_KMSG_H

#include <stdbool.h>

#include "agent.h"
#include "verdict.h"

/* What a read of the kernel log saw besides reports. */
enum { NR_INJECTORS = 4 };
extern const char * const injector_names[NR_INJECTORS];
struct kmsg_seen {
	bool oopsed;
	unsigned int injected[NR_INJECTORS];	/* by injector_names[] */
};

void kmsg_scan(const struct agent *a, struct verdict *v, bool expect_oops,
	       struct kmsg_seen *seen);
void kmsg_check(const struct agent *a, struct verdict *v, bool expect_oops,
		bool *oopsed);

#endif
