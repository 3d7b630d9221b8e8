/* SPDX-License-Identifier: GPL-2.0 */
/* modules.c: the modules under test, with libkmod. */
#ifndef UAFAULT_MODULES_H
#define UAFAULT_MODULES_H

#include <libkmod.h>
#include <stdbool.h>

#include "agent.h"

#define MAX_MODULES	16

int load_modules(struct kmod_ctx *ctx, char **paths, char **params, int n,
		 bool allow_crash, struct kmod_module **mods);
void unload_modules(struct kmod_module **mods, int n);
/* --expect-targets NAME,...: whether one of these modules registered one. */
bool registered_any(const struct agent *a, const char *names);

#endif
