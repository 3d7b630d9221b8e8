/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exit status of every in-guest program (the agent, the fuzzer, a
 * standalone reproducer): one scheme, so the harness reads them alike.
 */
#ifndef UAFAULT_EXIT_H
#define UAFAULT_EXIT_H

enum {
	EXIT_PASS,	/* everything ran and passed */
	EXIT_FAIL,	/* a case failed */
	EXIT_USAGE,	/* bad arguments */
	EXIT_SETUP,	/* a module, the device or memory could not be set up */
};

#endif
