"""`--coverage`: the lines of the code under test each case ran.

The agent (harness/agent/coverage.c) resets gcov's counters before every
case and writes the .gcda of every object the case ran to the coverage
disk.  Here each record goes beside its object's notes file (.gcno, in the
build directory the guest's path names) and the host's gcov says which
lines ran (its JSON: `gcov --json-format --stdout`)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..core.agent_header import agent_string
from .profiled import Profiled, load_profiled

RECORD = agent_string("COVERAGE_RECORD")
AGENT_COVERAGE = "--coverage"
COVERAGE_NAME = "coverage.img"
# Sparse: a case writes the objects it ran, tens of KB.
COVERAGE_BYTES = 256 << 20
# gcov's command line per call.
_GCOV_BATCH = 400


def coverage_disk(out_dir: Path) -> Path:
    image = out_dir / COVERAGE_NAME
    with image.open("wb") as f:
        f.truncate(COVERAGE_BYTES)
    return image


@dataclass(frozen=True)
class Record:
    case: str
    # The object's .gcda as the guest names it: its build's own path.
    gcda: str
    data: bytes


def read_records(image: Path) -> list[Record]:
    """Every whole record (its bytes and the newline after them), up to the
    first that is not: the disk's zeros, or one a guest that died was
    writing."""
    records: list[Record] = []
    with image.open("rb") as f:
        while True:
            head = f.readline(4096).decode(errors="replace")
            parts = head.rstrip("\n").split(" ", 3)
            if not head.endswith("\n") or len(parts) != 4 or parts[0] != RECORD or not parts[1].isdigit():
                return records
            data = f.read(int(parts[1]))
            if len(data) != int(parts[1]) or f.read(1) != b"\n":
                return records
            records.append(Record(parts[2], parts[3], data))


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
        if p.is_relative_to(self.tree):
            rel = str(p.relative_to(self.tree))
            return rel if self.profiled.covers(rel) else None
        for home in self.modules:
            if p.is_relative_to(home) and p.suffix == ".c":
                return str(p.relative_to(home))
        return None


def sources_for(tree: Path, project: Path, homes: tuple[Path, ...]) -> Sources:
    """The tree's code under test (configs/coverage.paths) and the modules
    built under homes (each guest kernel's artefacts)."""
    return Sources(tree.resolve(), load_profiled(project), homes)


def _gcov(gcov: str, work: Path, gcdas: list[Path]) -> tuple[list[dict[str, object]], str]:
    docs: list[dict[str, object]] = []
    errors: list[str] = []
    for i in range(0, len(gcdas), _GCOV_BATCH):
        proc = subprocess.run([gcov, "--json-format", "--stdout", *map(str, gcdas[i:i + _GCOV_BATCH])],
                              cwd=work, capture_output=True, text=True, check=False)
        docs += [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        errors += [line for line in proc.stderr.splitlines() if line.strip()]
    return docs, "\n".join(errors)


def case_coverage(records: list[Record], sources: Sources, gcov: str = "gcov") -> Coverage:
    """The lines each record's case ran, per source file of the code under
    test; every instrumented line and function of those files too."""
    cov = Coverage()
    with tempfile.TemporaryDirectory(prefix="uafault-gcov-") as tmp:
        work = Path(tmp)
        gcdas: list[Path] = []
        cases: dict[str, str] = {}
        for i, record in enumerate(records):
            notes = Path(record.gcda).with_suffix(".gcno")
            if not notes.is_file():
                cov.problems.append(f"{notes}: no notes file (the build was removed?)")
                continue
            where = work / str(i)
            where.mkdir()
            gcda = where / Path(record.gcda).name
            gcda.write_bytes(record.data)
            (where / notes.name).symlink_to(notes)
            gcdas.append(gcda.relative_to(work))
            cases[str(gcda.relative_to(work))] = record.case
        docs, errors = _gcov(gcov, work, gcdas)
        if errors:
            cov.problems.append(errors)
    for doc in docs:
        case = cases.get(str(doc.get("data_file", "")))
        cwd = str(doc.get("current_working_directory", ""))
        if case is None:
            continue
        for entry in doc.get("files", []):  # type: ignore[union-attr]
            source = os.path.join(cwd, entry["file"])
            name = sources.name(source)
            if name is None:
                continue
            f = cov.files.setdefault(name, SourceFile(name, os.path.normpath(source)))
            ran = cov.hits.setdefault(case, {}).setdefault(name, set())
            for line in entry["lines"]:
                f.lines.add(line["line_number"])
                if line["count"]:
                    ran.add(line["line_number"])
            for fn in entry["functions"]:
                f.functions[fn["name"]] = (fn["start_line"], fn["end_line"])
    return cov


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
