"""What a coverage run found, whoever ran it (a guest's cases through gcov,
kunit.py's UML run through lcov): per source file of the code under test
its instrumented lines and functions, and the lines each case ran."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .profiled import Profiled, load_profiled


@dataclass
class SourceFile:
    """One source file of the code under test, as gcov saw it."""
    # Its name in reports: relative to the tree (mm/gup.c), or to the
    # modules' build directory (module/uaccess.c).
    name: str
    # Where its text is on this host.
    path: str
    # The lines gcov instrumented, and each function's first and last line.
    lines: set[int] = field(default_factory=set)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Coverage:
    files: dict[str, SourceFile] = field(default_factory=dict)
    # case -> file name -> the lines it ran
    hits: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    # What gcov could not read (a notes file gone or rebuilt since).
    problems: list[str] = field(default_factory=list)

    def merge(self, other: Coverage) -> None:
        for name, f in other.files.items():
            mine = self.files.setdefault(name, SourceFile(f.name, f.path))
            mine.lines |= f.lines
            mine.functions.update(f.functions)
        for case, by_file in other.hits.items():
            for name, lines in by_file.items():
                self.hits.setdefault(case, {}).setdefault(name, set()).update(lines)
        self.problems += other.problems


@dataclass(frozen=True)
class Sources:
    """How a compiled source path becomes a report name: the code under
    test in the kernel tree, and modules built under a directory."""
    tree: Path
    profiled: Profiled
    modules: tuple[Path, ...] = ()

    def name(self, path: str) -> str | None:
        p = Path(os.path.normpath(path))
        for home in self.modules:
            if p.is_relative_to(home) and p.suffix == ".c":
                return str(p.relative_to(home))
        if p.is_relative_to(self.tree):
            rel = str(p.relative_to(self.tree))
            return rel if self.profiled.covers(rel) else None
        return None


def sources_for(tree: Path, project: Path, homes: tuple[Path, ...]) -> Sources:
    """The tree's code under test (configs/coverage.paths) and the modules
    built under homes (each guest kernel's artefacts)."""
    return Sources(tree.resolve(), load_profiled(project), homes)


def ranges(lines: set[int]) -> str:
    """1,2,3,7 -> "1-3,7": how line sets are kept (SQLite, JSON)."""
    out: list[str] = []
    for n in sorted(lines):
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ",".join(out)


def parse_ranges(text: str) -> set[int]:
    lines: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        lines.update(range(int(first), int(last or first) + 1))
    return lines


def from_tracefile(text: str, name_of: Callable[[str], str | None], case: str) -> Coverage:
    """An lcov tracefile as one case's coverage: the files name_of names
    (None: not code under test)."""
    cov = Coverage()
    name: str | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "SF":
            name = name_of(value)
            if name is not None:
                cov.files.setdefault(name, SourceFile(name, value))
                cov.hits.setdefault(case, {}).setdefault(name, set())
        elif name is None:
            continue
        elif key == "DA":
            number, count = value.split(",")[:2]
            cov.files[name].lines.add(int(number))
            if int(count):
                cov.hits[case][name].add(int(number))
        elif key == "FN":
            first, fn = value.split(",", 1)
            cov.files[name].functions[fn] = (int(first), int(first))
        elif key == "end_of_record":
            name = None
    # lcov gives a function's first line only: it ends where the next begins.
    for f in cov.files.values():
        starts = sorted(f.functions.items(), key=lambda kv: kv[1][0])
        last = max(f.lines, default=0)
        for (fn, (first, _)), following in zip(starts, starts[1:] + [("", (last + 1, 0))]):
            f.functions[fn] = (first, max(first, following[1][0] - 1))
    return cov
