"""Run directories and the per-layer summaries stored in them."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import fsutil
from .errors import ExitCode, HarnessError

LATEST = "latest"
SUMMARY_NAME = "summary.json"
# `bug`'s reports: results/bugs/<bug_slug(...)>/report.txt.
BUGS_DIR = "bugs"
BUG_REPORT_NAME = "report.txt"
RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    crashed: int = 0
    # Cases whose precondition could not be set up (a swap-out, a
    # userfaultfd, a fork): no verdict on the target, and not a pass.
    unresolved: int = 0
    # Known deviations (module/uafault_known.h) and known issues: the
    # kernel did what a record says instead of the contract.  Neither a
    # pass nor a failure; each names its fix.
    xfail: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.crashed + self.unresolved + self.xfail

    def add(self, other: Counts) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.crashed += other.crashed
        self.unresolved += other.unresolved
        self.xfail += other.xfail


@dataclass
class LayerResult:
    """One layer (pytest, kunit-um, kunit-x86_64) of a run."""

    layer: str
    exit_code: ExitCode
    message: str
    counts: Counts = field(default_factory=Counts)
    suites: dict[str, Counts] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return self.exit_code.name.lower()

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["exit_code"] = int(self.exit_code)
        data["outcome"] = self.outcome
        data["counts"]["total"] = self.counts.total
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LayerResult:
        def counts(raw: object) -> Counts:
            assert isinstance(raw, dict)
            return Counts(**{k: int(raw.get(k, 0))
                             for k in ("passed", "failed", "skipped", "crashed", "unresolved", "xfail")})

        suites = data.get("suites") or {}
        assert isinstance(suites, dict)
        details = data.get("details") or {}
        assert isinstance(details, dict)
        return cls(
            layer=str(data["layer"]),
            exit_code=ExitCode(int(data["exit_code"])),  # type: ignore[call-overload]
            message=str(data.get("message", "")),
            counts=counts(data.get("counts", {})),
            suites={str(k): counts(v) for k, v in suites.items()},
            details=details,
        )


def write_layer(path: Path, result: LayerResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_write_text(path, json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")


def read_layer(path: Path) -> LayerResult:
    return LayerResult.from_json(json.loads(path.read_text()))


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def create_run_dir(results_root: Path, now: dt.datetime | None = None) -> Path:
    """mkdir is the claim: two runs in the same second get -1, -2, ..."""
    run_dir = fsutil.fresh_dir(results_root, new_run_id(now))
    mark_latest(run_dir)
    return run_dir


def mark_latest(run_dir: Path) -> None:
    """results/latest -> run_dir (a run that started others, as `test`
    does, takes it back when it ends)."""
    fsutil.atomic_symlink(run_dir.name, run_dir.parent / LATEST)


def list_runs(results_root: Path) -> list[str]:
    if not results_root.is_dir():
        return []
    return sorted(p.name for p in results_root.iterdir() if p.is_dir() and RUN_ID_RE.match(p.name))


def find_run(results_root: Path, run: str | None) -> Path:
    name = run or LATEST
    if "/" in name or name in ("", ".", ".."):
        raise HarnessError(ExitCode.USAGE, f"bad run id {name!r}: expected e.g. 20250101T120000Z or 'latest'")
    path = results_root / name
    if not path.is_dir():
        known = list_runs(results_root)
        hint = f" Known runs: {', '.join(known[-5:])}" if known else " No runs stored yet."
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"no run {name!r} in {results_root}.{hint}")
    return path.resolve()


def bug_slug(text: str) -> str:
    """A finding's directory name under BUGS_DIR (`bug RUN CASE`: of
    "RUN-CASE"; `bug --repro FILE`: of the file's name)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80] or "finding"
