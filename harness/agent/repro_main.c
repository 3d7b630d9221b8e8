// SPDX-License-Identifier: GPL-2.0
/*
 * main() of a standalone reproducer.  harness/uafault minimize writes one
 * C file: the uapi header, the Makefile's REPRO_HDRS and REPRO_SRCS (this
 * last), with the case baked in as REPRO_CASE (and REPRO_ROUNDS when the case
 * sets its race's rounds, REPRO_PATHS when it runs a described path).  It runs with
 * uafault.ko (and the module of the target) already loaded, opens
 * /dev/uafault (and the kernel path the case names, if it names one), runs
 * the case and prints it the way the agent's --cases does.  Exit status:
 * 0 the case passed, 1 it failed, 3 the device could not be set up.
 *
 * A case whose outcome depends on the schedule (a fault-site walk whose
 * sites shift with what the kernel allocates, a race) runs up to
 * REPRO_TRIES times in the one process, until a try does not pass: as
 * many chances as its repro config gives it (runs - threshold + 1).
 * Every try announces the case; the one result line is the last try's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "cases.h"
#include "device.h"
#include "paths.h"
#include "pins.h"
#include "target.h"
#include "verdict.h"
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
#ifndef REPRO_TRIES
#define REPRO_TRIES	1
#endif

/* A plain pass: nothing found, nothing skipped or left unresolved. */
static bool passed_plainly(const struct verdict *v)
{
	return !v->failed && !v->skipped && !v->unresolved && !v->known;
}

int main(void)
{
	struct campaign_case c = REPRO_CASE;
	struct agent a = {
		.dev = -1, .kmsg = -1, .seed = c.seed, .rounds = REPRO_ROUNDS,
		.offset = -1, .take_module_mode = true,
	};
	struct verdict v;
	unsigned int try;

	setvbuf(stdout, NULL, _IOLBF, 0);
	zero_page_probe();
	if (open_device(&a) || add_described_paths(&a, REPRO_PATHS) ||
	    add_kernel_path(&a, c.target) || watchdog_start())
		return EXIT_SETUP;
	printf("KTAP version 1\n1..1\n");
	for (try = 1;; try++) {
		judge_case(&a, &c, &v);
		if (try >= REPRO_TRIES || !passed_plainly(&v))
			break;
		printf("# try %u of %u passed: the case runs again\n", try,
		       REPRO_TRIES);
	}
	print_result(&v, "", 1, c.id);
	free(a.targets);
	return v.failed ? EXIT_FAIL : EXIT_PASS;
}
