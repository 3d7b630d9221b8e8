"""What gcov counts in the guest kernels: configs/coverage.paths, read once
here for both sides, the build (one make variable) and the coverage
reports (which source files are code under test)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExitCode, HarnessError

COVERAGE_PATHS = Path("configs/coverage.paths")
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class Profiled:
    # Source files (mm/gup.c) and directories (io_uring/), as listed.
    files: tuple[str, ...]
    dirs: tuple[str, ...]
    # The list's text, for the build stamp.
    text: str = ""

    def make_variable(self) -> str:
        """GCOV_PROFILE for make's command line.  Kbuild reads it per object
        with $(obj) (the object's directory) and $(target-stem) (its name)
        set, so the one variable names files and directories alike; a
        file's own GCOV_PROFILE_x.o := n in its Makefile still wins, and
        everything not listed stays uninstrumented."""
        stems = " ".join(f[:-2] for f in self.files)
        dirs = " ".join(d.rstrip("/") for d in self.dirs)
        return f"GCOV_PROFILE=$(if $(filter {stems},$(obj)/$(target-stem))$(filter {dirs},$(obj)),y)"

    def missing_in(self, tree: Path) -> list[str]:
        """Listed paths the tree lacks (an older or trimmed tree): gcov
        counts nothing for them."""
        return [p for p in self.files + self.dirs if not (tree / p).exists()]

    def covers(self, relpath: str) -> bool:
        """Whether relpath (a source file relative to the tree) is listed."""
        return relpath in self.files or any(
            relpath.startswith(d) and "/" not in relpath[len(d):] for d in self.dirs)


def parse_profiled(text: str, origin: str) -> Profiled:
    """The list; a bad line fails with origin:line and why."""
    files: list[str] = []
    dirs: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        why = None
        if not _PATH.fullmatch(line) or ".." in line.split("/"):
            why = "not a relative kernel source path"
        elif line.endswith("/"):
            dirs.append(line)
        elif line.endswith(".c"):
            files.append(line)
        else:
            why = "neither a C file nor a directory ending in /"
        if why is not None:
            raise HarnessError(ExitCode.BAD_CONFIG, f"{origin}:{number}: {line!r}: {why}")
    if not files and not dirs:
        raise HarnessError(ExitCode.BAD_CONFIG, f"{origin}: lists no source path")
    return Profiled(tuple(files), tuple(dirs), text)


def load_profiled(project: Path) -> Profiled:
    path = project / COVERAGE_PATHS
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HarnessError(ExitCode.MISSING_PREREQ, f"{path} is missing") from None
    return parse_profiled(text, str(path))
