"""The `lava` layer of `test`: the smoke campaign on a real LAVA lab on
this machine (lava/), through the CLI as a user runs it: `lava up`, `lava
submit` as 2 shards, `lava collect --wait`, then `collect` again.  Every
planned case must have exactly one verdict, equal to the local run's of the
same plan (the smoke layer's, else one run here); every job must be
Complete in LAVA's API with one LAVA test case per uafault case; the web UI
must list the jobs (headless Chromium: its DOM, and a screenshot kept); a
second collect must add nothing.  A lab the layer started, it stops.  A lab needs root (it installs and starts
system services): elsewhere the layer is a skip that says so."""

from __future__ import annotations

import os
from pathlib import Path

from ..campaign.store import DB_NAME, History, Store
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.results import Counts, LayerResult, SUMMARY_NAME, write_layer
from ..lava.jobs import MONITOR_PREFIX
from ..lava.run import server_of
from ..lava.server import worker_pid
from .browser import browse, dump_dom
from .campaign_layers import SMOKE, checks_layer, cli_command, run_logged, since_now

LAYER_DIR = "lava"
SHARDS = 2
# The jobs of a smoke run take about a minute each on this machine; a busy
# one may queue them behind each other.
COLLECT_WAIT = "40m"
WAIT_LIMIT = 3600
SCREENSHOT = "lava-jobs.png"


def run_lava_layer(layout: Layout, run_dir: Path, jobs: int, local_run: str | None) -> LayerResult:
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        result = LayerResult(LAYER_DIR, ExitCode.OK, "skipped: a LAVA lab installs and starts system services "
                             "(PostgreSQL, lava-server, lava-dispatcher): run as root", Counts(skipped=1))
        write_layer(out / SUMMARY_NAME, result)
        return result
    checks: dict[str, bool] = {}
    # A lab the user keeps up stays up; one the layer started goes down.
    was_up = worker_pid(layout) is not None
    try:
        return _run(layout, out, jobs, local_run, checks)
    finally:
        if not was_up:
            run_logged(layout, cli_command(layout, None, "lava", "down"), out / "down.log")


def _run(layout: Layout, out: Path, jobs: int, local_run: str | None, checks: dict[str, bool]) -> LayerResult:
    up = run_logged(layout, cli_command(layout, None, "lava", "up", "--devices", str(SHARDS)), out / "up.log")
    checks["lava up started the lab"] = up == 0
    if up != 0:
        return checks_layer(LAYER_DIR, checks, out, out / "up.log", "")
    run_id = f"lava-{since_now()}"
    submit = run_logged(layout, cli_command(layout, jobs, "lava", "submit", str(layout.project / SMOKE),
                                            "--shards", str(SHARDS), "--run-id", run_id), out / "submit.log",
                        WAIT_LIMIT)
    collect = run_logged(layout, cli_command(layout, None, "lava", "collect", run_id, "--wait", COLLECT_WAIT),
                         out / "collect.log", WAIT_LIMIT)
    again = run_logged(layout, cli_command(layout, None, "lava", "collect", run_id), out / "collect-again.log")
    checks[f"lava submit sent the smoke campaign as {SHARDS} shards"] = submit == 0
    checks["lava collect judged the run (exit 0: nothing left, nothing failed)"] = collect == 0
    checks["a second collect added nothing"] = again == 0 and "[lava] 0 verdicts" in (out / "collect-again.log").read_text()
    if local_run is None:
        local_run = f"local-{run_id}"
        ran = run_logged(layout, cli_command(layout, jobs, "campaign", str(layout.project / SMOKE), "--run-id",
                                             local_run), out / "local.log", WAIT_LIMIT)
        checks["the local run of the same plan ran"] = ran == 0
    checks.update(_run_checks(layout, run_id, local_run))
    checks.update(_lab_checks(layout, run_id, out))
    return checks_layer(LAYER_DIR, checks, out, out, f"smoke on LAVA, {SHARDS} shards, run {run_id}",
                        {"run_id": run_id, "local_run": local_run or ""})


def _run_checks(layout: Layout, run_id: str, local_run: str | None) -> dict[str, bool]:
    db = layout.results_root / DB_NAME
    with History(db) as stored:
        planned = stored.planned_count(run_id)
        mine = {r.case.case_id: r.verdict for r in stored.rows(run_id)}
        local = {r.case.case_id: r.verdict for r in stored.rows(local_run)} if local_run else {}
    differ = sorted(c for c in set(mine) | set(local) if mine.get(c) != local.get(c))
    return {
        f"every planned case has exactly one verdict ({len(mine)} of {planned})": planned > 0 and len(mine) == planned,
        f"the verdicts equal the local run {local_run}'s" + (f" (differ: {', '.join(differ[:3])})" if differ else ""):
            bool(local) and not differ,
    }


def _lab_checks(layout: Layout, run_id: str, out: Path) -> dict[str, bool]:
    """What LAVA itself shows of the run: the API's jobs and test cases,
    the web UI's job list."""
    server = server_of(layout)
    store = Store(layout.results_root / DB_NAME)
    try:
        jobs = store.lava_jobs(run_id)
    finally:
        store.close()
    states = {j.job_id: server.job(j.job_id) for j in jobs}
    incomplete = [f"{i} {s.health}" for i, s in states.items() if s.health != "Complete"]
    counted = []
    for job in jobs:
        cases = sum(len(boot) for boot in job.boots)
        tests = [t for t in server.results(job.job_id) if f"definition: {MONITOR_PREFIX}" in str(t.get("metadata"))]
        counted.append(len(tests) == cases)
    page = f"{server.url}scheduler/alljobs"
    dom = dump_dom(page, out / "chromium")
    browse(page, out / "chromium", f"--screenshot={out / SCREENSHOT}")
    shown = [i for i in states if f"/scheduler/job/{i}" in dom]
    return {
        f"LAVA's API has the run's {len(jobs)} jobs, all Complete" + (f" (not: {incomplete})" if incomplete else ""):
            len(jobs) >= SHARDS and not incomplete,
        "each job has one LAVA test case per uafault case (the monitors)": bool(counted) and all(counted),
        f"the web UI's job list shows them ({len(shown)} of {len(states)}; {out / SCREENSHOT})":
            bool(states) and len(shown) == len(states) and (out / SCREENSHOT).is_file(),
    }
