"""Each mutant applied to the tree, the suites built and run by kunit.py
(kunit/runner.py, as the `kunit` command runs them), the edit undone, and
the outcome written at once: a killed run keeps every finished mutant."""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.results import LayerResult
from ..kunit.runner import KunitRequest, run_kunit_layer
from ..setup.tree_edit import edited
from .catalogue import Mutant

OUTCOMES_NAME = "mutants.json"
# Only the project's suites: a mutant of mm/ also breaks the tree's own.
SUITES = "uafault_*"
KILLED, SURVIVED, UNBUILDABLE = "killed", "survived", "unbuildable"
# The unedited suites run in well under a minute on either arch; a mutant
# that makes a case loop (a fault reported as done over INT_MAX bytes) is
# killed by the timeout instead of costing minutes.
MUTANT_TIMEOUT = 120


@dataclass(frozen=True)
class Outcome:
    mutant: str
    arch: str
    mistake: str
    verdict: str        # KILLED, SURVIVED or UNBUILDABLE
    by: list[str]       # the suites that failed, or the run's message
    seconds: float


def classify(result: LayerResult) -> tuple[str, list[str]]:
    if result.exit_code is ExitCode.OK:
        return SURVIVED, []
    if result.exit_code is ExitCode.BUILD_FAILED:
        return UNBUILDABLE, [result.message]
    failed = sorted(s for s, c in (result.suites or {}).items() if c.failed)
    return KILLED, failed or [result.message]


def score(outcomes: list[Outcome]) -> tuple[int, int]:
    """Killed of the mutants that built."""
    built = [o for o in outcomes if o.verdict != UNBUILDABLE]
    return sum(o.verdict == KILLED for o in built), len(built)


def run_baseline(layout: Layout, arch: str, jobs: int, timeout: int, out_dir: Path) -> LayerResult:
    """The suites on the unedited tree: a mutant is killed only if they pass there."""
    return run_kunit_layer(layout, KunitRequest(arch, jobs, timeout, SUITES), out_dir / "baseline")


def run_mutants(layout: Layout, mutants: list[Mutant], jobs: int, timeout: int, out_dir: Path) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for m in mutants:
        print(f"[uafault] mutant {m.name} ({m.file}): {m.mistake}", flush=True)
        started = time.monotonic()
        text = (layout.tree / m.file).read_text()
        with edited(layout.cache, layout.tree, m.name, m.file, m.apply_to(text)):
            result = run_kunit_layer(layout, KunitRequest(m.arch, jobs, timeout, SUITES), out_dir / m.name)
        verdict, by = classify(result)
        outcomes.append(Outcome(m.name, m.arch, m.mistake, verdict, by, round(time.monotonic() - started, 1)))
        print(f"[uafault] mutant {m.name}: {verdict}{' by ' + ', '.join(by) if by else ''}", flush=True)
        fsutil.atomic_write_text(out_dir / OUTCOMES_NAME, json.dumps([asdict(o) for o in outcomes], indent=1) + "\n")
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    width = max([len(o.mutant) for o in outcomes] + [6])
    rows = [f"{'mutant':<{width}}  {'verdict':<11}  {'secs':>5}  by / class"]
    for o in outcomes:
        what = ", ".join(o.by) if o.verdict == KILLED else o.mistake
        rows.append(f"{o.mutant:<{width}}  {o.verdict:<11}  {o.seconds:>5.0f}  {what}")
    killed, built = score(outcomes)
    rows.append(f"score: {killed}/{built} killed" + (f" ({100 * killed // built}%)" if built else ""))
    return "\n".join(rows)


def select(mutants: list[Mutant], globs: list[str]) -> list[Mutant]:
    """The mutants whose names match one of @globs (all without any)."""
    return [m for m in mutants if not globs or any(fnmatch.fnmatchcase(m.name, g) for g in globs)]
