// SPDX-License-Identifier: GPL-2.0
/*
 * UML with CONFIG_GCOV (kunit.py's coverage_uml.config): write gcov's
 * counters when the UML process halts.
 *
 * libgcov writes them from each object's destructor, and GCC 8 and later
 * put those in .fini_array.00100, which arch/um's linker script does not
 * gather into .fini_array: the destructors never run and no .gcda is
 * written (the trouble with "gcc 7 and up" that running_tips.rst notes).
 * A UML exitcall runs on the host side of the halt, where libgcov can
 * write files, so it dumps them itself.
 */
#include <init.h>

void __gcov_dump(void);

static void uafault_gcov_dump(void)
{
	__gcov_dump();
}
__uml_exitcall(uafault_gcov_dump);
