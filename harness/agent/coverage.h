/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coverage.c: --coverage, each case's gcov counters to the disk of
 * COVERAGE_SERIAL, one COVERAGE_RECORD per object the case ran.
 */
#ifndef UAFAULT_COVERAGE_H
#define UAFAULT_COVERAGE_H

#define COVERAGE_DIR	"/sys/kernel/debug/gcov"
int coverage_start(void);
void coverage_begin(void);
void coverage_call(void);
void coverage_end(const char *case_name);

#endif
