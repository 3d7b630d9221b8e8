// SPDX-License-Identifier: GPL-2.0
/*
 * The modules under test, loaded and unloaded with libkmod, and whether
 * a user's module registered any target.
 */
#include <errno.h>
#include <libkmod.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "modules.h"
#include "target.h"
#include "protocol.h"

int load_modules(struct kmod_ctx *ctx, char **paths, char **params,
			int n, bool allow_crash, struct kmod_module **mods)
{
	int i, err;

	for (i = 0; i < n; i++) {
		err = kmod_module_new_from_path(ctx, paths[i], &mods[i]);
		if (err < 0) {
			fprintf(stderr, AGENT_ERROR_PREFIX "%s: %s\n", paths[i],
				strerror(-err));
			return err;
		}
		/* Only the first module, uafault.ko, takes allow_crash. */
		err = kmod_module_insert_module(mods[i], 0,
						!i && allow_crash ?
						"allow_crash=1" : params[i]);
		if (err < 0 && err != -EEXIST) {
			fprintf(stderr, AGENT_ERROR_PREFIX "insert %s: %s\n",
				paths[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

void unload_modules(struct kmod_module **mods, int n)
{
	int i, err;

	for (i = n - 1; i >= 0; i--) {
		err = kmod_module_remove_module(mods[i], 0);
		if (err < 0)
			fprintf(stderr, AGENT_ERROR_PREFIX "remove %s: %s\n",
				kmod_module_get_name(mods[i]), strerror(-err));
		kmod_module_unref(mods[i]);
	}
}

/*
 * --expect-targets NAME,...: a user's module directory built these
 * modules; one of them must have registered a target, or nothing of it
 * can be tested (its init forgot uafault_register_targets()).
 */
bool registered_any(const struct agent *a, const char *names)
{
	const char *p = names;
	unsigned int i;

	while (*p) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < a->ntargets; i++)
			if (strlen(a->targets[i].owner) == n &&
			    !strncmp(a->targets[i].owner, p, n))
				return true;
		p += n + (p[n] == ',');
	}
	return false;
}
