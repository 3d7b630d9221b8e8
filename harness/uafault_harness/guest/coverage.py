"""`--coverage`: the lines of the code under test each case ran.

The agent (harness/agent/coverage.c) resets gcov's counters at every
case's first call and writes the .gcda of every object the case ran to the
coverage disk.  Here each record goes beside its object's notes file (.gcno, in the
build directory the guest's path names) and the host's gcov says which
lines ran (its JSON: `gcov --json-format --stdout`)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..core.agent_header import agent_string
from ..core.coverage import Coverage, SourceFile, Sources

RECORD = agent_string("COVERAGE_RECORD")
# Records per gcov process, at least.
_GCOV_MIN_BATCH = 50


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


def _gcov(gcov: str, work: Path, gcdas: list[Path]) -> tuple[list[dict[str, object]], str]:
    """gcov's JSON of every file, a process per CPU (a boot's few hundred
    records take gcov seconds)."""
    def one(part: list[Path]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([gcov, "--json-format", "--stdout", *map(str, part)], cwd=work, capture_output=True,
                              text=True, check=False)

    size = max(_GCOV_MIN_BATCH, -(-len(gcdas) // (os.cpu_count() or 1)))
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        procs = list(pool.map(one, [gcdas[i:i + size] for i in range(0, len(gcdas), size)]))
    docs = [json.loads(line) for p in procs for line in p.stdout.splitlines() if line.startswith("{")]
    # A source touched since its build (the mutants layer edits and restores
    # the tree) is only a timestamp: the build's stamp vouches for its text.
    errors = [line for p in procs for line in p.stderr.splitlines()
              if line.strip() and "is newer than notes file" not in line]
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
