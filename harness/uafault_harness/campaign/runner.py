"""`campaign FILE`, a pipeline in the way of kunit.py's: plan (the file
read once, the agent's facts, the targets selected, expanded and sharded;
campaign/plan.py) -> store the plan -> run its batches, one guest boot
each (campaign/batch.py) -> summarize.  Every verdict is in the SQLite
history as soon as it is known, so a killed run resumes where it was."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.verdicts import BAD, counts_of
from ..guest.accel import DEFAULT_ACCEL
from ..guest.kernels import boot_kernel
from ..guest.runner import BootObserver, PreparedGuest, prepare_guest
from .batch import Boots, Progress, open_coverage, run_cases
from .plan import Plan, PlanRequest, describe_plan, make_plan
from .spec import Campaign, Case, load_campaign
from .store import DB_NAME, Store

CAMPAIGN_DIR = "campaigns"


@dataclass(frozen=True)
class CampaignRequest:
    spec: Path
    jobs: int
    budget_seconds: int | None = None
    # Guests booted at once, each taking the next batch.
    guests: int = 1
    # (i, N): plan only the i-th of N deterministic slices (1-based).
    shard: tuple[int, int] | None = None
    resume: str | None = None
    # The new run's id; shards planned under one id merge into one run.
    run_id: str | None = None
    # Seconds one boot (one batch) may take.
    batch_timeout: int = 1800
    # Plan, print the plan's size and an estimate, run nothing.
    dry_run: bool = False
    # auto, kvm or tcg (guest/accel.py).
    accel: str = DEFAULT_ACCEL
    # Each case's lines of the code under test (guest/coverage.py).
    coverage: bool = False
    # The file as the command loaded it (None: loaded here), once.
    campaign: Campaign | None = None
    # Told of every boot (bench/ times them).
    observers: tuple[BootObserver, ...] = ()


def run_campaign(layout: Layout, request: CampaignRequest) -> tuple[ExitCode, str]:
    store = Store(layout.results_root / DB_NAME)
    run: list[str] = []
    try:
        return _pipeline(layout, request, store, run)
    except KeyboardInterrupt:
        # Every finished case is already committed; say how to go on.
        if run:
            print(f"\n[campaign] interrupted; finished cases are kept. Resume with:\n"
                  f"  harness/uafault campaign {request.spec} --resume {run[0]}", flush=True)
        raise
    finally:
        store.close()


def _pipeline(layout: Layout, request: CampaignRequest, store: Store, run: list[str]) -> tuple[ExitCode, str]:
    """run receives the run id as soon as there is one (for Ctrl-C)."""
    # A bad file fails now, before the kernels are built (names of fault
    # kinds are checked once the agent is).
    campaign = request.campaign or load_campaign(request.spec, None)
    out_root = layout.results_root / CAMPAIGN_DIR
    plan = make_plan(layout, campaign, PlanRequest(request.jobs, request.accel, request.shard, request.resume,
                                                    request.run_id), store, out_root, request.observers)
    if plan.note:
        print(plan.note, flush=True)
    if request.dry_run:
        print(describe_plan(plan.cases, campaign.name, layout.results_root / DB_NAME, plan.contract), flush=True)
        return ExitCode.OK, f"{len(plan.cases)} cases planned, none run (--dry-run)"
    plan.store_in(store, request.spec)
    run.append(plan.run_id)
    spent = _run(plan, request, store, out_root / plan.run_id)
    if spent is not None:
        return ExitCode.RUN_FAILED, (f"budget of {spent}s spent with cases left; "
                                     f"continue with: harness/uafault campaign {request.spec} --resume {plan.run_id}")
    return summarize(store, plan.run_id)


def _guests(plan: Plan, request: CampaignRequest, left: list[Case]) -> dict[bool, PreparedGuest]:
    """One build serves every kernel that boots it (plain, swiotlb, iommu)."""
    guests = {False: plan.plain}
    for kasan in sorted({boot_kernel(c.kernel).kasan for c in left} - {False}):
        guests[kasan] = prepare_guest(plan.layout, kasan, request.jobs, plan.campaign.modules.dirs, request.accel)
    return guests


def _run(plan: Plan, request: CampaignRequest, store: Store, out_root: Path) -> int | None:
    """The plan's cases not yet done, in batches.  Returns the budget when
    it was spent with cases left, else None."""
    done = store.verdicts(plan.run_id)
    left = [c for c in plan.cases if c.case_id not in done]
    print(f"[campaign] run {plan.run_id}: {len(plan.cases)} cases planned, {len(done)} done, {len(left)} to run",
          flush=True)
    progress = Progress(len(left))
    budget = request.budget_seconds or plan.campaign.budget_seconds
    guests = _guests(plan, request, left)
    sink = None
    if request.coverage:
        sink = open_coverage(plan.layout, list(guests.values()), store, plan.run_id, out_root)
    boots = Boots(guests, store, plan.run_id, out_root, progress, request.batch_timeout, plan.env, sink,
                  request.observers)
    # The budget is for running cases: it starts once the kernels are built.
    queue = run_cases(boots, left, plan.crashing, plan.campaign.batch, time.monotonic() + budget, request.guests)
    if queue.error is not None:
        raise queue.error
    if queue.out_of_budget:
        return budget
    if progress.tty:
        print(flush=True)
    return None


def summarize(store: Store, run_id: str) -> tuple[ExitCode, str]:
    """The run's verdicts by kind and `make test`'s counts of them."""
    counts: dict[str, int] = {}
    for v in store.verdicts(run_id).values():
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"[campaign] run {run_id}: {summary}", flush=True)
    total = counts_of(counts)
    print(f"{total.passed} passed, {total.failed + total.crashed} failed, {total.skipped} skipped, "
          f"{total.unresolved} unresolved, {total.xfail} known deviations", flush=True)
    bad = any(k in BAD for k in counts)
    return (ExitCode.TEST_FAILED if bad else ExitCode.OK), f"run {run_id}: {summary}"
