// SPDX-License-Identifier: GPL-2.0
/*
 * The device: opened, its targets read (the paths after them), and a run
 * of one target, by ioctl or through its path.  No libkmod here: a
 * reproducer runs with the module already loaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "coverage.h"
#include "device.h"
#include "failnth.h"
#include "paths.h"
#include "pins.h"
#include "profile.h"
#include "protocol.h"
#include "target.h"
#include "watchdog.h"

/* Target runs so far, for the scenarios-per-second figure. */
unsigned long target_runs;

int run_target_armed(const struct agent *a, const struct target *t,
		     void *addr, size_t len, struct uafault_run *r,
		     struct fail_arm *arm)
{
	int err;

	target_runs++;
	coverage_call();
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", t->name);
	r->addr = (uintptr_t)addr;
	r->len = len;
	r->seed = a->seed;
	r->flags = a->run_flags;
	if (t->path) {
		phase_begin(PH_CALL);
		err = path_run(a, t, addr, len, r, arm);
		phase_end();
		return err;
	}
	err = arm ? fail_arm_set(arm) : 0;
	if (err)
		return err;
	watch_call(a);
	phase_begin(PH_CALL);
	err = ioctl(a->dev, UAFAULT_IOC_RUN, r) ? -errno : 0;
	phase_end();
	watch_done();
	if (!err)
		phase_api_ns(r->ns);
	if (arm)
		fail_arm_read(arm);
	return err;
}

int run_target(const struct agent *a, const struct target *t, void *addr,
	       size_t len, struct uafault_run *r)
{
	return run_target_armed(a, t, addr, len, r, NULL);
}

/* The oldest module ABI the agent reads: 7 lacks only changed_err. */
#define OLDEST_ABI	7

int read_targets(struct agent *a)
{
	struct uafault_version ver;
	unsigned long cmd;
	unsigned int i;

	if (ioctl(a->dev, UAFAULT_IOC_VERSION, &ver))
		return -errno;
	if (ver.abi < OLDEST_ABI || ver.abi > UAFAULT_ABI_VERSION) {
		fprintf(stderr, AGENT_ERROR_PREFIX "module ABI %u, agent ABI %u (reads %u to %u)\n",
			ver.abi, UAFAULT_ABI_VERSION, OLDEST_ABI,
			UAFAULT_ABI_VERSION);
		return -EPROTO;
	}
	a->abi = ver.abi;
	if (a->take_module_mode)
		a->allow_crash = ver.flags & UAFAULT_MOD_ALLOW_CRASH;
	if (!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH) != a->allow_crash) {
		fprintf(stderr, AGENT_ERROR_PREFIX "module allow_crash=%d, asked for %d\n",
			!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH), a->allow_crash);
		return -EPROTO;
	}
	cmd = ver.abi < 8 ? UAFAULT_IOC_TARGET_V7 : UAFAULT_IOC_TARGET;
	a->targets = calloc(ver.ntargets, sizeof(*a->targets));
	if (!a->targets && ver.ntargets)
		return -ENOMEM;
	for (i = 0; i < ver.ntargets; i++) {
		struct uafault_target_info info = { .index = i };
		struct target *t = &a->targets[a->ntargets];

		if (ioctl(a->dev, cmd, &info))
			return -errno;
		memcpy(t->name, info.name, sizeof(t->name));
		memcpy(t->owner, info.owner, sizeof(t->owner));
		t->name[sizeof(t->name) - 1] = 0;
		t->owner[sizeof(t->owner) - 1] = 0;
		t->flags = info.flags;
		t->fixed_len = info.fixed_len;
		t->contract.min_len = info.min_len;
		if (info.changed_err > 0 || info.changed_err < -4095) {
			fprintf(stderr, AGENT_ERROR_PREFIX "target %s: changed_err %d is no errno\n",
				t->name, info.changed_err);
			return -EPROTO;
		}
		t->contract.changed_err = info.changed_err;
		if (info.result >= UAFAULT_RES_MAX) {
			fprintf(stderr, AGENT_ERROR_PREFIX "target %s: unknown result kind %u\n",
				t->name, info.result);
			return -EPROTO;
		}
		t->result = info.result;
		/* Without allow_crash the module must offer nothing that oopses. */
		if (target_crashes(t) && !a->allow_crash) {
			fprintf(stderr, AGENT_ERROR_PREFIX "crashing target %s offered without allow_crash\n",
				t->name);
			return -EPROTO;
		}
		a->ntargets++;
	}
	/* The real kernel paths come after the module's targets. */
	return add_paths(a);
}

/*
 * Opens /dev/uafault and reads its targets, then /dev/kmsg from its end.
 * Returns 0, or a negative errno with a message on stderr.
 */
int open_device(struct agent *a)
{
	int err;

	a->dev = open(UAFAULT_DEVICE, O_RDWR);
	if (a->dev < 0) {
		err = -errno;
		fprintf(stderr, "uafault: %s: %s\n", UAFAULT_DEVICE, strerror(-err));
		return err;
	}
	pins_use_device(a->dev);
	err = read_targets(a);
	if (err) {
		fprintf(stderr, "uafault: reading the targets: %s\n", strerror(-err));
		return err;
	}
	a->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (a->kmsg >= 0)
		lseek(a->kmsg, 0, SEEK_END);
	return 0;
}
