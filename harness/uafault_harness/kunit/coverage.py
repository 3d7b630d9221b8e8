"""`kunit --coverage` on UML: kunit.py's documented gcov route
(Documentation/dev-tools/kunit/running_tips.rst).  The tree's
coverage_uml.config is added to the suites' kunitconfig (CONFIG_GCOV: the
UML binary writes its .gcda files next to the objects when it exits), the
build goes to a directory of its own, the counters are zeroed before the
exec and lcov captures them after it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..core.errors import ExitCode, HarnessError

COVERAGE_KUNITCONFIG = Path("tools/testing/kunit/configs/coverage_uml.config")
# The build directory's variant (core/paths.py: kunit-um-coverage).
COVERAGE_VARIANT = "coverage"
INFO_NAME = "coverage.info"
# GCC 11 and later export mangle_path() from libgcov, which fs/seq_file.c
# defines too: the UML link fails ("multiple definition of mangle_path",
# the "compile errors" running_tips.rst warns of).  Letting the linker
# keep one breaks libgcov, which calls its own to name every .gcda file
# (no file is written).  So the kernel's is renamed, everywhere it is
# named, by the preprocessor.
COVERAGE_MAKE_OPTIONS: tuple[str, ...] = ("KCFLAGS=-Dmangle_path=kernel_mangle_path",)


def zero_counters(build_dir: Path) -> int:
    """Removes an earlier exec's counters; how many files."""
    stale = list(build_dir.rglob("*.gcda"))
    for gcda in stale:
        gcda.unlink()
    return len(stale)


def capture(build_dir: Path, info: Path) -> str | None:
    """lcov's capture of the exec's counters into info; why not, or None."""
    lcov = shutil.which("lcov")
    if lcov is None:
        raise HarnessError(ExitCode.MISSING_PREREQ, "lcov is missing: harness/uafault setup --for coverage installs it")
    if not any(build_dir.rglob("*.gcda")):
        return f"the UML run wrote no .gcda under {build_dir} (did it exit cleanly?)"
    proc = subprocess.run([lcov, "--quiet", "--capture", "--directory", str(build_dir), "--output-file", str(info)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not info.is_file():
        return f"lcov --capture failed: {(proc.stderr or proc.stdout).strip()[:300]}"
    return None
