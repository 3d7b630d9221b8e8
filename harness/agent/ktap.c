// SPDX-License-Identifier: GPL-2.0
/*
 * The one KTAP writer: every version line, plan, subtest header, result
 * and diagnostic the agent prints goes through here, at the indent of
 * its level ("" for the top, four spaces for a suite's cases).  The
 * spellings the host reads are protocol.h's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

#include "ktap.h"
#include "protocol.h"

void ktap_version(const char *indent)
{
	printf("%s" KTAP_VERSION_LINE "\n", indent);
}

void ktap_plan(const char *indent, unsigned int n)
{
	printf("%s1..%u\n", indent, n);
}

void ktap_subtest(const char *indent, const char *name)
{
	printf("%s" KTAP_SUBTEST "%s\n", indent, name);
}

void ktap_diag(const char *indent, const char *fmt, ...)
{
	va_list ap;

	printf("%s# ", indent);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void ktap_note(const char *indent, const char *text, int n)
{
	printf("%s%s%.*s\n", indent, text[0] == '#' ? "" : "# ", n, text);
}

void ktap_result(const char *indent, bool ok, unsigned int number,
		 const char *name)
{
	printf("%s%sok %u %s\n", indent, ok ? "" : "not ", number, name);
}

void ktap_skip(const char *indent, unsigned int number, const char *name,
	       const char *fmt, ...)
{
	va_list ap;

	printf("%sok %u %s # " KTAP_SKIP, indent, number, name);
	if (fmt) {
		putchar(' ');
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
}

void ktap_totals(const char *name, unsigned int pass, unsigned int fail,
		 unsigned int skip, unsigned int total)
{
	printf("# %s: pass:%u fail:%u skip:%u total:%u\n", name, pass, fail,
	       skip, total);
}

/*
 * Returns once what the agent printed has left the serial line.  The tty
 * sends user output from its transmit buffer, while the kernel prints a
 * report straight to the console: on a loaded host an oops overtook the
 * line that said it was expected, and the host charged it to the case
 * before.  Not a terminal (a pipe): nothing to wait for.
 */
void console_sync(void)
{
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
}
