/* SPDX-License-Identifier: GPL-2.0 */
/* pins.c: the pin counters, page references, the shared zero page. */
#ifndef UAFAULT_PINS_H
#define UAFAULT_PINS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

#define PIN_BALANCE_UNKNOWN	LONG_MIN
void pins_use_device(int dev);
long pin_balance(void);
long vmstat_value(const char *key);	/* /proc/vmstat's, -1: none */
long status_kb(const char *field);	/* /proc/self/status's, -1: none */
/* The pin oracle's counters: FOLL_PIN balance, VmPin (-1: unknown). */
struct pins {
	long foll;
	long vm_kb;
};

struct pins pins_now(void);
bool pins_equal(struct pins x, struct pins y);
bool pins_back(struct pins before, unsigned int ms);
/* Each page under a mapping, as UAFAULT_IOC_PAGE_REFS sees it. */
struct page_refs {
	unsigned int n;
	struct uafault_page_ref ref[MAX_PAGES];
};

int page_refs_now(const struct agent *a, const void *base, size_t len,
		  struct page_refs *out, bool drain);
void zero_page_probe(void);
bool zero_page_intact(void);

#endif
