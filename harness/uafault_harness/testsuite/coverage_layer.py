"""The `coverage` layer of `test`: the smoke campaign runs with --coverage
(and is killed and resumed, so the killed boot's coverage disk is read on
--resume).  Every case that ran to a verdict must have its lines; the
report must show mm/gup.c and lib/iov_iter.c with the lines reached with
no fault and only under a fault, the faults must have opened error paths
in mm/gup.c, and the report and its lcov tree must render in headless
chromium."""

from __future__ import annotations

import re
from pathlib import Path

from ..campaign.store import DB_NAME, History
from ..core.paths import Layout
from ..core.results import LayerResult
from ..core.verdicts import Verdict
from ..reports.coverage import LCOV_DIR, Ran, file_rows, summary
from .browser import dump_dom
from .campaign_layers import checks_layer, cli_command, run_logged

LAYER_DIR = "coverage"
# The files the figures are about: each must be reached.
FILES = ("mm/gup.c", "lib/iov_iter.c")
# Verdicts of a case that ran to its end in the guest (the agent wrote its
# counters): a crash or a hang never gets that far, a skip runs nothing.
RAN = (Verdict.PASS, Verdict.FAIL, Verdict.XFAIL)


def run_coverage_layer(layout: Layout, run_dir: Path, jobs: int, run_id: str | None) -> LayerResult:
    layer = "coverage"
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    checks: dict[str, bool] = {"the smoke campaign made a run": run_id is not None}
    details: dict[str, object] = {}
    if run_id is not None:
        with History(layout.results_root / DB_NAME) as stored:
            cov, rows = stored.coverage(run_id), stored.rows(run_id)
        cases = [Ran(r.case.case_id, r.case.target, r.case.fault) for r in rows]
        ran = [r.case.case_id for r in rows if r.verdict in RAN]
        missing = [c for c in ran if c not in cov.hits]
        checks[f"every case that ran has its lines ({len(ran) - len(missing)} of {len(ran)}"
               + (f"; not {', '.join(missing[:2])}" if missing else "") + ")"] = bool(ran) and not missing
        table = summary(cov, cases)
        (out / "coverage.txt").write_text(table + "\n")
        by_name = {r.name: r for r in file_rows(cov, cases)}
        details["files"] = {n: vars(r) for n, r in by_name.items() if n in FILES}
        for name in FILES:
            row = by_name.get(name)
            checks[f"{name} reached" + (f" ({row.reached} of {row.lines} lines, {row.no_fault} with no fault, "
                                        f"{row.only_fault} only under a fault)" if row else "")] = (
                row is not None and row.reached > 0 and row.no_fault > 0)
        gup = by_name.get("mm/gup.c")
        checks["the faults opened error paths in mm/gup.c"] = gup is not None and gup.only_fault > 0
        checks.update(_rendered(layout, out, jobs, run_id))
    return checks_layer(layer, checks, out, out, "the smoke run's error-path coverage, rendered", details)


def _rendered(layout: Layout, out: Path, jobs: int, run_id: str) -> dict[str, bool]:
    """`report` as a user runs it, then both pages in chromium."""
    page = out / "report.html"
    rc = run_logged(layout, cli_command(layout, None, "report", run_id, "--out", str(page)), out / "report.log")
    checks = {f"report wrote the page and its lcov tree (exit {rc})":
              rc == 0 and (out / LCOV_DIR / "index.html").is_file()}
    if not checks[next(iter(checks))]:
        return checks
    dom = dump_dom(page, out / "profile")
    shown = re.findall(r'<tr class="cov-file"><td>([^<]+)</td>', dom)
    checks[f"the report's coverage table shows {', '.join(FILES)} ({len(shown)} files)"] = set(FILES) <= set(shown)
    checks["the report links its lcov tree"] = f'href="{LCOV_DIR}/index.html"' in dom
    index = dump_dom(out / LCOV_DIR / "index.html", out / "profile")
    checks["the lcov tree's index renders"] = "LCOV - code coverage report" in index and "index.html" in index
    gup = next((out / LCOV_DIR).rglob("gup.c.gcov.html"), None)
    lines = dump_dom(gup, out / "profile") if gup else ""
    checks["mm/gup.c's lcov page marks lines run and not run"] = 'class="lineCov"' in lines and \
        'class="lineNoCov"' in lines
    return checks
