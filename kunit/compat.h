/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels the suites build on, in one place:
 * the suites test features, never version numbers.
 */
#ifndef _UAFAULT_KUNIT_COMPAT_H
#define _UAFAULT_KUNIT_COMPAT_H

#include <linux/kconfig.h>

/* The lockless GUP walk: CONFIG_HAVE_FAST_GUP until 6.9 renamed it. */
#define UAFAULT_HAVE_GUP_FAST	(IS_ENABLED(CONFIG_HAVE_GUP_FAST) || \
				 IS_ENABLED(CONFIG_HAVE_FAST_GUP))

#endif /* _UAFAULT_KUNIT_COMPAT_H */
