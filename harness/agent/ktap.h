/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktap.c: the one KTAP writer.  @indent is the level's ("" at the top,
 * four spaces in a suite); the spellings are protocol.h's.
 */
#ifndef UAFAULT_KTAP_H
#define UAFAULT_KTAP_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol.h"

/* "KTAP version 1" */
void ktap_version(const char *indent);
/* "1..N" */
void ktap_plan(const char *indent, unsigned int n);
/* "# Subtest: NAME" */
void ktap_subtest(const char *indent, const char *name);
/* "# " and the rest as @fmt says (its own newline) */
[[gnu::format(printf, 2, 3)]] void ktap_diag(const char *indent,
					     const char *fmt, ...);
/* A diagnostic line of @n bytes of @text: "# " first unless it has one. */
void ktap_note(const char *indent, const char *text, int n);
/* "ok N NAME" or "not ok N NAME" */
void ktap_result(const char *indent, bool ok, unsigned int number,
		 const char *name);
/* "ok N NAME # SKIP", then " " and @fmt's reason unless it is NULL */
[[gnu::format(printf, 4, 5)]] void ktap_skip(const char *indent,
					     unsigned int number,
					     const char *name,
					     const char *fmt, ...);
/* "# NAME: pass:P fail:F skip:S total:T", a suite's totals */
void ktap_totals(const char *name, unsigned int pass, unsigned int fail,
		 unsigned int skip, unsigned int total);
/* Returns once what was printed has left the serial line. */
void console_sync(void);

#endif
