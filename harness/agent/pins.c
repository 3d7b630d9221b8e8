// SPDX-License-Identifier: GPL-2.0
/*
 * The pin oracle's counters (the FOLL_PIN balance, VmPin), the references
 * of the pages under a mapping, and the shared zero page's bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "pins.h"
#include "profile.h"
#include "protocol.h"
#include "sys.h"

long vmstat_value(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long value = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			value = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/*
 * The device the pin counters are read through (UAFAULT_IOC_PIN_BALANCE),
 * once open_device() has it: one for the whole agent, as the counters are.
 */
static int balance_dev = -1;

/* The device the counters are read through from now on (open_device()). */
void pins_use_device(int dev)
{
	balance_dev = dev;
}

/*
 * Pins taken minus pins released since boot, or PIN_BALANCE_UNKNOWN.
 * The counters are per-CPU first: uafault.ko adds the CPUs' diffs itself;
 * without it /proc/vmstat lags behind by whatever each CPU has not yet
 * flushed until stat_refresh folds them (a work item on every CPU: the
 * most costly of a case's checks under emulation, bench/profile showed).
 */
long pin_balance(void)
{
	struct uafault_pin_balance b;
	long acquired, released;
	bool folded;

	if (balance_dev >= 0 && !ioctl(balance_dev, UAFAULT_IOC_PIN_BALANCE, &b))
		return b.acquired - b.released;
	folded = !write_knob("/proc/sys/vm/stat_refresh", "1");
	acquired = vmstat_value("nr_foll_pin_acquired");
	released = vmstat_value("nr_foll_pin_released");
	if (!folded || acquired < 0 || released < 0)
		return PIN_BALANCE_UNKNOWN;
	return acquired - released;
}

/* @field ("VmPin") of /proc/self/status in kB, -1 when it cannot be read. */
long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = strlen(field);
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

bool pins_equal(struct pins x, struct pins y)
{
	return x.foll == y.foll && x.vm_kb == y.vm_kb;
}

/*
 * Waits up to @ms, a millisecond at a time, for the counters to be back
 * at @before; false if they are not by then.
 */
bool pins_back(struct pins before, unsigned int ms)
{
	const struct timespec tick = { .tv_nsec = 1000 * 1000 };
	unsigned int waited;

	for (waited = 0; !pins_equal(pins_now(), before); waited++) {
		if (waited >= ms)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

struct pins pins_now(void)
{
	struct pins p;

	phase_begin(PH_PINS);
	p = (struct pins){ .foll = pin_balance(), .vm_kb = status_kb("VmPin") };
	phase_end();
	return p;
}

/*
 * Empties every CPU's LRU batches, whose reference on a page lasts until
 * they drain: move_pages() of no page still does lru_cache_disable(),
 * which drains them all.  Without NUMA it fails, and the oracle compares
 * only the pages that are on an LRU list anyway.
 */
static void lru_drain(void)
{
	int node = 0;

	syscall(SYS_move_pages, 0, 0UL, NULL, &node, NULL, 0);
}

/*
 * The pages of [@base, @base + @len) (page-aligned), after the LRU batches
 * drained when @drain; -errno, or -ENODEV without the device.
 */
int page_refs_now(const struct agent *a, const void *base, size_t len,
		  struct page_refs *out, bool drain)
{
	struct uafault_page_refs req = {
		.addr = (uintptr_t)base,
		.npages = len / PAGE,
		.refs = (uintptr_t)out->ref,
	};

	if (a->dev < 0)
		return -ENODEV;
	if (!req.npages || req.npages > MAX_PAGES)
		return -EINVAL;
	if (drain)
		lru_drain();
	if (ioctl(a->dev, UAFAULT_IOC_PAGE_REFS, &req))
		return -errno;
	out->n = req.npages;
	return 0;
}

/*
 * A page of private anonymous memory that is only ever read, so it maps
 * the shared zero page.  A kernel write through a pin taken without
 * FOLL_WRITE can land in that page, and every never-written page of
 * every process then reads its bytes.  Mapped once, before any case:
 * mapped later, it could land in a hole a fault kind punched in a range,
 * and go when that range does.
 */
static unsigned char *zero_probe;

void zero_page_probe(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p != MAP_FAILED && !madvise(p, PAGE, MADV_POPULATE_READ))
		zero_probe = p;
}

/* Whether the shared zero page still reads zero (true without a probe). */
bool zero_page_intact(void)
{
	static const unsigned char zeros[PAGE];

	return !zero_probe || !memcmp(zero_probe, zeros, PAGE);
}
