/* SPDX-License-Identifier: GPL-2.0 */
/* kunit_rerun.c: a loaded module's KUnit suites, run again through debugfs */
#ifndef UAFAULT_KUNIT_RERUN_H
#define UAFAULT_KUNIT_RERUN_H

#include <stdbool.h>

#include "agent.h"

#define MAX_KUNIT_PARAMS	8
struct kunit_rerun {
	const char *glob;		/* the suites to run again */
	const char *last;		/* those that oops on purpose: run last */
	char *params[MAX_KUNIT_PARAMS];	/* MODULE.NAME=VALUE, set first */
	int nparams;
	char **suites;			/* in the order they run */
	int nsuites;
};
bool kunit_param_ok(const char *setting);
int kunit_rerun_prepare(struct kunit_rerun *r);
bool kunit_rerun_all(struct agent *a, const struct kunit_rerun *r,
		     unsigned int *number);
void kunit_rerun_free(struct kunit_rerun *r);

#endif
