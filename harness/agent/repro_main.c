// SPDX-License-Identifier: GPL-2.0
/*
 * main() of a standalone reproducer.  harness/uafault minimize writes one
 * C file: the uapi header, the Makefile's REPRO_HDRS and REPRO_SRCS (this
 * last), with the case baked in as REPRO_CASE (and REPRO_ROUNDS when the case
 * sets its race's rounds, REPRO_PATHS when it runs a described path).  It runs with
 * uafault.ko (and the module of the target) already loaded, opens
 * /dev/uafault (and the kernel path the case names, if it names one), runs
 * the case once and prints it the way the agent's
 * --cases does.  Exit status: 0 the case passed, 1 it failed, 3 the
 * device could not be set up.
 */
#include <stdlib.h>

#include "agent.h"
#include "cases.h"
#include "device.h"
#include "paths.h"
#include "pins.h"
#include "target.h"
#include "watchdog.h"

/* The Makefile builds this file as it is, to keep it compiling. */
#ifndef REPRO_CASE
#define REPRO_CASE	{ "copy_from_user.none.0", "copy_from_user", "none", 0, -1, 1, "anon", "root" }
#endif
#ifndef REPRO_ROUNDS
#define REPRO_ROUNDS	DEFAULT_ROUNDS
#endif
/* The described paths' lines, when the case runs one. */
#ifndef REPRO_PATHS
#define REPRO_PATHS	""
#endif

int main(void)
{
	struct campaign_case c = REPRO_CASE;
	struct agent a = {
		.dev = -1, .kmsg = -1, .seed = c.seed, .rounds = REPRO_ROUNDS,
		.offset = -1, .take_module_mode = true,
	};
	bool passed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	zero_page_probe();
	if (open_device(&a) || add_described_paths(&a, REPRO_PATHS) ||
	    add_kernel_path(&a, c.target) || watchdog_start())
		return EXIT_SETUP;
	printf("KTAP version 1\n1..1\n");
	passed = run_case(&a, &c, 1);
	free(a.targets);
	return passed ? EXIT_PASS : EXIT_FAIL;
}
