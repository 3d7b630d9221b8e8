/* SPDX-License-Identifier: GPL-2.0 */
/* list.c: the lines of --list-faults and --list-targets. */
#ifndef UAFAULT_LIST_H
#define UAFAULT_LIST_H

#include "faults.h"
#include "target.h"

void list_kind(const struct fault_kind *k);
void list_target(const struct target *t);
void list_unavailable(void);

#endif
