// SPDX-License-Identifier: GPL-2.0
/*
 * Where a case's time goes: each phase's own time (a phase nested in
 * another is taken out of the outer one), summed over the agent's run and
 * printed as one line the host reads (bench/profile).  Two clock reads a
 * phase, so it is always on.
 */
#include <stdio.h>
#include <time.h>

#include "profile.h"
#include "protocol.h"

static const char *const phase_names[NR_PHASES] = {
	[PH_SETUP] = "setup",
	[PH_CALL] = "call",
	[PH_PINS] = "pins",
	[PH_KMSG] = "kmsg",
	[PH_REFS] = "refs",
	[PH_RESULT] = "result",
	[PH_SETTLE] = "settle",
	[PH_CASE] = "other",
};

#define MAX_DEPTH	8

static struct {
	uint64_t own[NR_PHASES];
	uint64_t api_ns;
	unsigned long cases;
	unsigned int depth;
	enum phase stack[MAX_DEPTH];
	uint64_t since[MAX_DEPTH];
} prof;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Charges the time since the last switch to the phase on top. */
static void charge(uint64_t now)
{
	if (prof.depth) {
		prof.own[prof.stack[prof.depth - 1]] +=
			now - prof.since[prof.depth - 1];
		prof.since[prof.depth - 1] = now;
	}
}

void phase_begin(enum phase ph)
{
	uint64_t now = now_ns();

	charge(now);
	if (prof.depth < MAX_DEPTH) {
		prof.stack[prof.depth] = ph;
		prof.since[prof.depth++] = now;
	}
	if (ph == PH_CASE)
		prof.cases++;
}

void phase_end(void)
{
	uint64_t now = now_ns();

	charge(now);
	if (prof.depth)
		prof.depth--;
	if (prof.depth)
		prof.since[prof.depth - 1] = now;
}

/* The kernel's own time in the user-access API, as uafault.ko measured it. */
void phase_api_ns(uint64_t ns)
{
	prof.api_ns += ns;
}

void print_profile(void)
{
	unsigned int i;

	printf("%s cases=%lu", PROFILE_MARKER, prof.cases);
	for (i = 0; i < NR_PHASES; i++)
		printf(" %s=%.3f", phase_names[i], prof.own[i] / 1e9);
	printf(" api=%.3f\n", prof.api_ns / 1e9);
	fflush(stdout);
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
