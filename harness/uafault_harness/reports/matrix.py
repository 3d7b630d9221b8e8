"""`report --variants [RUN]`: the detection matrix of correct and buggy
target pairs: the buggy-variant catalogue (module/variants/, twin_<shape>
and variant_<shape>) or any module's, as the campaign's `pairs` globs name
them.  For each shape, which fault kinds caught the buggy target and with
which oracle, and what its correct twin got.  The harness is proven only
when every buggy target was caught and no twin was flagged."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..campaign.spec import DEFAULT_PAIRS
from ..campaign.store import History, Row
from ..core.errors import ExitCode, HarnessError
from ..core.verdicts import VERDICTS, Verdict
from ..guest.protocol import oracle_tag



def oracle_of(row: Row) -> str:
    """Which check caught a case: the agent's oracle tag, or the kernel's
    report (an oops or a KASAN/WARN report) by its title."""
    oracle = oracle_tag(row.title)
    if oracle:
        return oracle
    if row.verdict == Verdict.TIMEOUT:
        return "watchdog"
    return f"kernel: {row.title}" if row.title else "unknown"


@dataclass
class Shape:
    name: str
    # fault kind -> oracle -> cases it caught
    caught: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    variant_cases: int = 0
    variant_unresolved: int = 0
    twin: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    twin_flags: list[str] = field(default_factory=list)

    @property
    def is_caught(self) -> bool:
        return bool(self.caught)

    @property
    def twin_flagged(self) -> bool:
        return bool(self.twin_flags)


def stem(glob: str, name: str) -> str | None:
    """What the one '*' of glob matched in name, or None."""
    prefix, _, suffix = glob.partition("*")
    if len(name) < len(prefix) + len(suffix) or not name.startswith(prefix) or not name.endswith(suffix):
        return None
    return name[len(prefix):len(name) - len(suffix)]


def _pair_of(target: str, pairs: tuple[tuple[str, str], ...]) -> tuple[str, bool] | None:
    """(shape name, is the buggy one) of a target, by the first pair that
    names it."""
    for correct, buggy in pairs:
        for glob, is_buggy in ((buggy, True), (correct, False)):
            matched = stem(glob, target)
            if matched:
                return (matched if len(pairs) == 1 else f"{matched} ({correct} / {buggy})"), is_buggy
    return None


def shapes_of(rows: list[Row], pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS) -> list[Shape]:
    shapes: dict[str, Shape] = {}
    for row in rows:
        found = _pair_of(row.case.target, pairs)
        if found is None:
            continue
        name, is_buggy = found
        shape = shapes.setdefault(name, Shape(name))
        if is_buggy:
            shape.variant_cases += 1
            shape.variant_unresolved += row.verdict == Verdict.UNRESOLVED
            if VERDICTS[row.verdict].catches:
                shape.caught[row.case.fault][oracle_of(row)] += 1
        else:
            shape.twin[row.verdict] += 1
            if not VERDICTS[row.verdict].twin_ok:
                shape.twin_flags.append(f"{row.case.fault}: {row.verdict} {row.title}".rstrip())
    return sorted(shapes.values(), key=lambda s: s.name)


def newest_variants_run(history: History) -> str:
    run_id = history.newest_paired_run()
    if run_id is None:
        raise HarnessError(ExitCode.NO_SUCH_RUN, "no campaign run with buggy targets of a pair in the database; "
                           "run: harness/uafault campaign configs/campaigns/variants.toml")
    return run_id


def render(shapes: list[Shape], run_id: str, pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS) -> str:
    said = "; ".join(f"{buggy} must be caught, {correct} must pass" for correct, buggy in pairs)
    lines = [f"detection matrix of run {run_id} ('*' is the shape): {said}", ""]
    width = max((len(s.name) for s in shapes), default=5)
    lines.append(f"{'shape':<{width}}  {'variant caught by (fault: oracle x cases)':<64}  twin")
    for s in shapes:
        caught = "; ".join(f"{fault}: " + ", ".join(f"{o} x{n}" for o, n in sorted(oracles.items()))
                           for fault, oracles in sorted(s.caught.items()))
        if not s.is_caught:
            caught = f"NOT CAUGHT in {s.variant_cases} cases"
            if s.variant_unresolved:
                caught += f" ({s.variant_unresolved} not set up)"
        twin = ", ".join(f"{v} {n}" for v, n in sorted(s.twin.items())) or "not run"
        if s.twin_flagged:
            twin = f"FLAGGED ({twin}): {s.twin_flags[0]}"
        lines.append(f"{s.name:<{width}}  {caught:<64}  {twin}")
    caught = sum(s.is_caught for s in shapes)
    flagged = sum(s.twin_flagged or not s.twin for s in shapes)
    pct = 100 * caught // len(shapes) if shapes else 0
    lines += ["", f"{caught}/{len(shapes)} variants caught ({pct}%), {flagged} twins flagged or not run"]
    return "\n".join(lines) + "\n"


def detection(db_path: Path, run_id: str | None) -> tuple[ExitCode, str]:
    """(OK when every variant was caught and every twin passed, the text)."""
    with History(db_path) as stored:
        run = run_id or newest_variants_run(stored)
        rows = stored.rows(run)
        pairs = stored.pairs(run)
    shapes = shapes_of(rows, pairs)
    if not shapes:
        globs = ", ".join(f"{c}/{b}" for c, b in pairs)
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"run {run} has no verdicts of the targets its pairs name ({globs})")
    ok = all(s.is_caught and s.twin and not s.twin_flagged for s in shapes)
    return (ExitCode.OK if ok else ExitCode.TEST_FAILED), render(shapes, run, pairs)
