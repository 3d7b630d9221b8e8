"""Error-path coverage of a campaign run (`campaign --coverage`): per file of
the code under test, the lines reached with no fault planted and the lines
reached only under a fault (the error paths the faults opened); per
target, which fault kind first reached each such line and which lines of
an error path no fault reached (the gaps); and an lcov tree (genhtml) with
one test per fault kind.

An error-path line is a line no case of the target's without a fault
reached (kind "none"; the run's, when the target had none) that one of
its faulted cases did, and that is not the fault kind's own doing: a line
the kind reached on every target it ran on (three or more) is its
mechanics (fork_cow's child exiting, uffd_munmap's munmap), not an error
path of each target.  A run of one family of targets (all pinning, say)
therefore counts the error path they share as mechanics: add a target of
another family to tell them apart.  A gap is a line of a function in which the faults
opened an error path for the target, that reads like error handling (an
-E... value, a goto, an error label) and that none of its cases reached:
error handling next to what the faults reached, which no fault kind did."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..core.errors import ExitCode, HarnessError
from ..core.coverage import Coverage

NO_FAULT = "none"
# What error handling reads like in kernel C: an errno, a jump to an exit
# label, the label itself.
ERROR_LINE = re.compile(r"-E[A-Z0-9]{2,}\b|\bgoto\s+\w+\s*;|^\s*(?:err|out|fail|bad|undo|unpin|unlock|put|free)\w*:")
# Lines listed per target in the page.
LISTED = 25
# A fault kind's own lines are told from its targets' once it ran on this
# many targets (see mechanics()).
MECHANICS_TARGETS = 3
LCOV_DIR = "coverage"
LCOV_INFO = "uafault.info"


class Ran(NamedTuple):
    """A case as coverage sees it: its key in Coverage.hits, its target
    and fault kind."""
    case_id: str
    target: str
    fault: str


def ran_of_names(names: list[str]) -> list[Ran]:
    """The agent's own cases ("target.kind", `guest --coverage`)."""
    return [Ran(n, *n.rsplit(".", 1)) for n in names if "." in n]


@dataclass(frozen=True)
class FileRow:
    name: str
    lines: int
    reached: int
    no_fault: int
    only_fault: int


@dataclass
class Reach:
    """One target's error paths."""
    target: str
    # (file, line) -> the fault kind that first reached it, in plan order.
    opened: dict[tuple[str, int], str] = field(default_factory=dict)
    gaps: list[tuple[str, int]] = field(default_factory=list)


def _union(cov: Coverage, cases: list[Ran]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for c in cases:
        for name, lines in cov.hits.get(c.case_id, {}).items():
            out.setdefault(name, set()).update(lines)
    return out


def file_rows(cov: Coverage, cases: list[Ran]) -> list[FileRow]:
    none = _union(cov, [c for c in cases if c.fault == NO_FAULT])
    faulted = _union(cov, [c for c in cases if c.fault != NO_FAULT])
    return [FileRow(name, len(f.lines), len(none.get(name, set()) | faulted.get(name, set())),
                    len(none.get(name, set())), len(faulted.get(name, set()) - none.get(name, set())))
            for name, f in sorted(cov.files.items())]


def summary(cov: Coverage, cases: list[Ran]) -> str:
    """The per-file table as text."""
    width = max((len(n) for n in cov.files), default=4)
    lines = [f"{'file':<{width}}  lines  reached  no-fault  only-fault"]
    lines += [f"{r.name:<{width}}  {r.lines:5}  {r.reached:7}  {r.no_fault:8}  {r.only_fault:10}"
              for r in file_rows(cov, cases)]
    return "\n".join(lines)


def source_texts(cov: Coverage) -> dict[str, list[str]]:
    """Each file's lines, read once (empty when it is gone)."""
    return {name: _source_lines(f.path) for name, f in cov.files.items()}


def _source_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []


def mechanics(cov: Coverage, cases: list[Ran]) -> dict[str, dict[str, set[int]]]:
    """Per fault kind that ran on MECHANICS_TARGETS targets or more, the
    lines it reached on every one of them: the kind's own doing (the
    child's exit after fork_cow, the racing munmap), not a target's."""
    out: dict[str, dict[str, set[int]]] = {}
    for kind in dict.fromkeys(c.fault for c in cases if c.fault != NO_FAULT):
        per_target = [_union(cov, [c for c in cases if c.fault == kind and c.target == t])
                      for t in dict.fromkeys(c.target for c in cases if c.fault == kind and c.case_id in cov.hits)]
        if len(per_target) < MECHANICS_TARGETS:
            continue
        common = per_target[0]
        for other in per_target[1:]:
            common = {n: lines & other.get(n, set()) for n, lines in common.items()}
        out[kind] = {n: lines for n, lines in common.items() if lines}
    return out


def reach(cov: Coverage, cases: list[Ran], texts: dict[str, list[str]] | None = None) -> list[Reach]:
    """Per target with coverage, in plan order."""
    texts = source_texts(cov) if texts is None else texts
    run_none = _union(cov, [c for c in cases if c.fault == NO_FAULT])
    own = mechanics(cov, cases)
    out: list[Reach] = []
    for target in dict.fromkeys(c.target for c in cases):
        mine = [c for c in cases if c.target == target and c.case_id in cov.hits]
        if not mine:
            continue
        own_none = [c for c in mine if c.fault == NO_FAULT]
        baseline = _union(cov, own_none) if own_none else run_none
        r = Reach(target)
        for c in mine:
            if c.fault == NO_FAULT:
                continue
            kind_own = own.get(c.fault, {})
            for name, lines in cov.hits[c.case_id].items():
                for line in sorted(lines - baseline.get(name, set()) - kind_own.get(name, set())):
                    r.opened.setdefault((name, line), c.fault)
        ran = _union(cov, mine)
        for name, lines in sorted(ran.items()):
            f, text = cov.files[name], texts[name]
            opened = [n for (file, n) in r.opened if file == name]
            for first, last in sorted(f.functions.values()):
                if not any(first <= n <= last for n in opened):
                    continue
                r.gaps += [(name, n) for n in range(first, last + 1)
                           if n in f.lines and n not in lines and n <= len(text) and ERROR_LINE.search(text[n - 1])]
        out.append(r)
    return out


def _line_text(texts: dict[str, list[str]], name: str, line: int) -> str:
    text = texts[name]
    return text[line - 1].strip() if line <= len(text) else ""


def section(cov: Coverage, cases: list[Ran], lcov_href: str | None) -> str:
    """The report's coverage section (empty without coverage)."""
    if not cov.files:
        return ""
    rows = file_rows(cov, cases)
    body = "".join(
        f'<tr class="cov-file"><td>{html.escape(r.name)}</td><td>{r.lines}</td><td>{r.reached}</td>'
        f'<td class="no-fault">{r.no_fault}</td><td class="only-fault">{r.only_fault}</td>'
        f'<td>{100 * r.reached / max(r.lines, 1):.1f}%</td></tr>' for r in rows)
    link = f'<p><a id="lcov" href="{html.escape(lcov_href)}">lcov tree of every line</a> (genhtml; one test per ' \
           f'fault kind).</p>' if lcov_href else ""
    texts = source_texts(cov)
    targets = []
    for r in reach(cov, cases, texts):
        kinds: dict[str, int] = {}
        for kind in r.opened.values():
            kinds[kind] = kinds.get(kind, 0) + 1
        listed = "".join(f"<li>{html.escape(n)}:{line} <b>{html.escape(k)}</b> "
                         f"<code>{html.escape(_line_text(texts, n, line))}</code></li>"
                         for (n, line), k in list(r.opened.items())[:LISTED])
        gaps = "".join(f"<li>{html.escape(n)}:{line} <code>{html.escape(_line_text(texts, n, line))}</code></li>"
                       for n, line in r.gaps[:LISTED])
        by_kind = ", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"
        targets.append(
            f'<tr class="reach"><td>{html.escape(r.target)}</td><td class="opened">{len(r.opened)}</td>'
            f'<td>{html.escape(by_kind)}</td><td class="gaps">{len(r.gaps)}</td><td><details><summary>lines'
            f'</summary><p>first reached by</p><ul>{listed}</ul><p>gaps</p><ul>{gaps}</ul></details></td></tr>')
    return (f'<h2>Error-path coverage</h2>{link}<table class="coverage"><tr><th>file</th><th>lines</th>'
            f'<th>reached</th><th>with no fault</th><th>only under a fault</th><th>reached %</th></tr>{body}</table>'
            f'<h3>Fault reach per target</h3><p>Error-path lines: reached by a faulted case of the target and '
            f'by none of its cases without a fault; gaps: error-handling lines (an errno, a goto, an error '
            f'label) that no case reached, in the functions where the faults opened an error path.</p><table class="reach"><tr><th>target</th>'
            f'<th>error-path lines</th><th>first reached by</th><th>gaps</th><th></th></tr>{"".join(targets)}'
            f'</table>')


def tracefile(cov: Coverage, cases: list[Ran]) -> str:
    """lcov's format, one test (TN) per fault kind: a line's count is how
    many of that kind's cases ran it."""
    out: list[str] = []
    for kind in dict.fromkeys(c.fault for c in cases):
        counts: dict[str, dict[int, int]] = {}
        for c in cases:
            if c.fault != kind:
                continue
            for name, lines in cov.hits.get(c.case_id, {}).items():
                for line in lines:
                    counts.setdefault(name, {})[line] = counts.setdefault(name, {}).get(line, 0) + 1
        for name, f in sorted(cov.files.items()):
            ran = counts.get(name, {})
            out += [f"TN:{re.sub(r'[^A-Za-z0-9_]', '_', kind)}", f"SF:{f.path}"]
            # A function ran if a line of it did: its count, its first line's.
            entered = {fn: max((ran.get(n, 0) for n in range(a, b + 1)), default=0)
                       for fn, (a, b) in f.functions.items()}
            out += [f"FN:{a},{fn}" for fn, (a, _) in sorted(f.functions.items(), key=lambda kv: kv[1])]
            out += [f"FNDA:{entered[fn]},{fn}" for fn in sorted(f.functions)]
            out += [f"FNF:{len(entered)}", f"FNH:{sum(1 for n in entered.values() if n)}"]
            out += [f"DA:{n},{ran.get(n, 0)}" for n in sorted(f.lines)]
            out += [f"LF:{len(f.lines)}", f"LH:{sum(1 for n in f.lines if ran.get(n))}", "end_of_record"]
    return "\n".join(out) + "\n"


def write_lcov(cov: Coverage, cases: list[Ran], out_dir: Path, title: str) -> Path:
    """The tracefile and genhtml's tree under out_dir; its index.html."""
    genhtml = shutil.which("genhtml")
    if genhtml is None:
        raise HarnessError(ExitCode.MISSING_PREREQ, "genhtml is missing: harness/uafault setup --for coverage "
                                                    "installs lcov")
    out_dir.mkdir(parents=True, exist_ok=True)
    info = out_dir / LCOV_INFO
    info.write_text(tracefile(cov, cases))
    proc = subprocess.run([genhtml, "--quiet", "--show-details", "--legend", "--title", title,
                           "--ignore-errors", "source", "--output-directory", str(out_dir), str(info)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (out_dir / "index.html").is_file():
        raise HarnessError(ExitCode.RUN_FAILED, f"genhtml failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    return out_dir / "index.html"
