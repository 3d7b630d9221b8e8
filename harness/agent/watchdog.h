/* SPDX-License-Identifier: GPL-2.0 */
/* watchdog.c: a call that never returns is named, then the agent ends */
#ifndef UAFAULT_WATCHDOG_H
#define UAFAULT_WATCHDOG_H

#include <sys/types.h>

#include "agent.h"

extern unsigned int watchdog_seconds;
int watchdog_start(void);
void watch_call(const struct agent *a);
void watch_done(void);
void watch_server(pid_t pid);
void unwatch_server(pid_t pid);

#endif
