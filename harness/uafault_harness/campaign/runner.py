"""`campaign FILE`: plan a campaign's cases, run them in batches (one guest
boot each), survive guest crashes and hangs, and keep every verdict in
the SQLite history as soon as it is known.

A batch is a list of cases handed to the agent (--cases); the console
says which case is in flight, so when the guest dies or hangs that case is
recorded as CRASH or TIMEOUT (with the kernel's report title) and the next
boot goes on with the case after it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core import known
from ..core.paths import Layout, with_source
from ..core.results import Counts, new_run_id
from ..core.verdicts import BAD, VERDICTS, Verdict
from ..guest.accel import DEFAULT_ACCEL
from ..guest.build import GuestKernel, config_text, guest_kernel
from ..guest.kernels import boot_kernel
from ..guest.console import ConsoleTracker
from ..guest.protocol import (
    CAMPAIGN_CASE_PREFIX, ORACLE_NOTE, FaultKinds, ListedTarget, agent_error, case_started, is_unresolved,
    parse_fault_kinds, parse_memory_kinds, parse_result, parse_target,
)
from ..core.coverage import Sources, sources_for
from ..guest.coverage import COVERAGE_NAME, case_coverage, read_records
from ..guest.initramfs import INITRAMFS_NAME, JOB_NAME
from ..guest.modules import Modules
from ..guest.qemu import RunOutcome
from ..guest.qemu import QemuEnd
from ..guest.runner import CONSOLE_NAME, GuestRequest, PreparedGuest, boot_guest, prepare_guest
from .known_issues import KnownIssue, expected_verdict, load_known_issues, record_reason, shipped_known_issues
from .paths import load_paths, shipped_paths
from .spec import Campaign, Case, expand, load_campaign, select_targets, shard, tonight
from .store import DB_NAME, CaseVerdict, History, RunInfo, Store

CAMPAIGN_DIR = "campaigns"
GUEST_CASES = "/cases.txt"
EXCERPT_LINES = 40


@dataclass
class Progress:
    """On a terminal one status line, rewritten in place, with a line of its
    own for every verdict that is not a pass or a skip; elsewhere a log line
    each."""
    total: int
    tty: bool = field(default_factory=sys.stdout.isatty)
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    titles: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def show(self, verdict: CaseVerdict, suffix: str = "") -> None:
        with self._lock:
            self._show(verdict, suffix)

    def _show(self, verdict: CaseVerdict, suffix: str) -> None:
        self.done += 1
        self.counts[verdict.verdict] = self.counts.get(verdict.verdict, 0) + 1
        if verdict.title:
            self.titles[verdict.title] = self.titles.get(verdict.title, 0) + 1
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        eta = f"ETA {(self.total - self.done) / rate:.0f}s"
        title = f" [{verdict.title}]" if verdict.title else ""
        line = f"[campaign] {verdict.verdict} {verdict.case_id}{title}{suffix}"
        if not self.tty:
            print(f"{line} ({self.done}/{self.total}, {rate:.1f}/s, {eta})", flush=True)
            return
        bad = sum(n for k, n in self.counts.items() if k in BAD)
        if VERDICTS[verdict.verdict].counts_as not in ("passed", "skipped"):
            print(f"\r\033[K{line}", flush=True)
        crashes = "; ".join(f"{t} x{n}" for t, n in list(self.titles.items())[-2:])
        status = f"{self.done}/{self.total}  {rate:.1f}/s  {eta}  failures {bad}" + (f"  {crashes}" if crashes else "")
        print(f"\r\033[K{status[:shutil.get_terminal_size().columns - 1]}", end="", flush=True)


def _ask_agent(agent: Path, option: str) -> str:
    proc = subprocess.run([str(agent), option], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.RUN_FAILED, f"{agent} {option} failed: {proc.stderr.strip()}")
    return proc.stdout


def fault_kinds(agent: Path) -> FaultKinds:
    """The agent's fault kinds and what they are, and its memory kinds,
    asked of the agent binary itself (it runs on the host for this)."""
    kinds = parse_fault_kinds(_ask_agent(agent, "--list-faults"))
    return replace(kinds, memory=parse_memory_kinds(_ask_agent(agent, "--list-memory")))


def targets_cache(guest: PreparedGuest, modules: Modules, path_lines: tuple[str, ...] = ()) -> Path:
    """Where the target list of these very modules, described paths and
    agent is kept: the list is a function of them (kernel parameters do
    not register targets), so one boot per build lists it."""
    request = GuestRequest(allow_crash=True, modules=modules)
    digest = hashlib.sha256()
    for path in (*guest.artefacts.loaded(request), guest.artefacts.agent):
        digest.update(path.read_bytes())
    digest.update("\n".join(path_lines).encode())
    return (guest.artefacts.home or guest.artefacts.agent.parent) / f"targets-{digest.hexdigest()[:16]}.txt"


def list_targets(guest: PreparedGuest, out_dir: Path, modules: Modules = Modules(),
                 path_lines: tuple[str, ...] = ()) -> list[ListedTarget]:
    """Every target (and which ones crash, the kinds each takes), with the
    modules and described paths the campaign asks for: from the cache of
    this build, else one boot with allow_crash."""
    cache = targets_cache(guest, modules, path_lines)
    if cache.is_file():
        listed = [t for t in map(parse_target, cache.read_text().splitlines()) if t is not None]
        if listed:
            return listed
    out_dir.mkdir(parents=True, exist_ok=True)
    request = GuestRequest(allow_crash=True, agent_args="--list-targets", modules=modules, path_lines=path_lines)
    tracker, outcome, _ = boot_guest(guest, request, out_dir, echo=False)
    lines = [line for line in tracker.user_lines if parse_target(line) is not None]
    said = agent_error(tracker.agent_lines)
    if said is not None and tracker.agent_exit:
        raise HarnessError(ExitCode.RUN_FAILED, f"the agent could not set up: {said} (see {out_dir / CONSOLE_NAME})")
    if tracker.agent_exit != 0 or not lines:
        raise HarnessError(ExitCode.RUN_FAILED, f"listing the targets failed ({outcome.reason}, agent exit "
                           f"{tracker.agent_exit}); see {out_dir / CONSOLE_NAME}")
    fsutil.atomic_write_text(cache, "".join(line + "\n" for line in lines))
    return [t for t in map(parse_target, lines) if t is not None]


def known_issues_for(layout: Layout, own: Path | None) -> tuple[KnownIssue, ...]:
    """uafault's known issues, and those of the file a campaign or repro
    config names (`known_issues`)."""
    return shipped_known_issues(layout.project) + (load_known_issues(own) if own is not None else ())


def described_lines(layout: Layout, own: tuple[Path, ...]) -> tuple[str, ...]:
    """The agent lines of configs/paths/ and of the paths a file names."""
    return tuple(p.agent_line() for p in load_paths(shipped_paths(layout.project) + own))


def counts_of(by_verdict: dict[str, int]) -> Counts:
    """`make test`'s counts of a campaign's verdicts."""
    counts = Counts()
    for verdict, n in by_verdict.items():
        if verdict in VERDICTS:
            field = VERDICTS[verdict].counts_as
            setattr(counts, field, getattr(counts, field) + n)
    return counts


def describe_plan(cases: list[Case], campaign: str, db: Path) -> str:
    """The plan's size: cases per kernel, per memory kind, per fault kind
    and per target, and the guest time the campaign's earlier runs took
    per case."""
    def tally(key: str) -> str:
        counts: dict[str, int] = {}
        for c in cases:
            counts[getattr(c, key)] = counts.get(getattr(c, key), 0) + 1
        return ", ".join(f"{k} {n}" for k, n in counts.items())

    lines = [f"[campaign] plan of {campaign}: {len(cases)} cases",
             f"  per kernel: {tally('kernel')}", f"  per memory kind: {tally('memory')}",
             f"  per fault kind: {tally('fault')}",
             f"  per target: {tally('target')}"]
    seconds = None
    if db.is_file():
        with History(db) as stored:
            seconds = stored.mean_case_seconds(campaign)
    if seconds is None:
        lines.append("  estimate: no earlier run of this campaign to go by")
    else:
        total = seconds * len(cases)
        lines.append(f"  estimate: {total / 60:.0f} min of guest time at {seconds:.2f} s a case "
                     f"(earlier runs), divided by -j, plus a few seconds a boot")
    return "\n".join(lines)


def config_digest(layout: Layout, campaign: Campaign, plain: GuestKernel) -> str:
    """The configs the campaign's kernels build from; a prebuilt image's own."""
    if plain.image:
        return plain.config_digest()
    digest = hashlib.sha256()
    for kernel in campaign.kernels:
        digest.update(config_text(layout, guest_kernel(layout, boot_kernel(kernel).kasan)).encode())
    return digest.hexdigest()


def batches(cases: list[Case], crashing: set[str], size: int) -> list[tuple[bool, list[Case]]]:
    """(allow_crash, cases) per boot: per kernel, the ordinary cases first,
    then the ones that oops on purpose, in boots of their own."""
    out: list[tuple[bool, list[Case]]] = []
    for kernel in dict.fromkeys(c.kernel for c in cases):
        for crash in (False, True):
            group = [c for c in cases if c.kernel == kernel and (c.target in crashing) == crash]
            out += [(crash, group[i:i + size]) for i in range(0, len(group), size)]
    return out


def _excerpt(tracker: ConsoleTracker, case_id: str) -> tuple[str, str]:
    reports = [r for r in tracker.reports if r.case == CAMPAIGN_CASE_PREFIX + case_id and not r.expected]
    if not reports:
        return "", ""
    return reports[0].title, "\n".join(reports[0].excerpt[:EXCERPT_LINES])


def _died_in_flight(tracker: ConsoleTracker, outcome: RunOutcome, seconds: float) -> CaseVerdict | None:
    """The case the guest was running when it died or hung, if any."""
    if tracker.case is None or tracker.case_done or not tracker.case.startswith(CAMPAIGN_CASE_PREFIX):
        return None
    case_id = tracker.case[len(CAMPAIGN_CASE_PREFIX):]
    title, excerpt = _excerpt(tracker, case_id)
    timed_out = outcome.end is QemuEnd.TIMEOUT
    return CaseVerdict(case_id, Verdict.of_death(timed_out),
                       title or (outcome.reason if timed_out else f"guest died: {outcome.reason}"), seconds, excerpt)


@dataclass(frozen=True)
class BootEnv:
    """What a campaign or repro file sets for every boot: the modules, more
    kernel parameters, and the known issues its verdicts are read with."""
    modules: Modules = Modules()
    append: str = ""
    known: tuple[KnownIssue, ...] = ()
    # Described paths, one agent line each.
    path_lines: tuple[str, ...] = ()


def store_coverage(store: Store, run_id: str, image: Path, sources: Sources) -> int:
    """A boot's coverage disk into the run's coverage, then the disk is
    removed (one left behind by a killed run is read on --resume).
    Returns how many cases it had."""
    cov = case_coverage(read_records(image), sources)
    planned = {c.case_id for c in store.planned(run_id)}
    cov.hits = {case[len(CAMPAIGN_CASE_PREFIX):]: by_file for case, by_file in cov.hits.items()
                if case[len(CAMPAIGN_CASE_PREFIX):] in planned}
    store.record_coverage(run_id, cov)
    for problem in cov.problems[:3]:
        print(f"[campaign] coverage: {problem.splitlines()[0]}", flush=True)
    image.unlink()
    return len(cov.hits)


class CoverageSink:
    """Where each boot's coverage disk goes: into the run's coverage, by a
    thread of its own when background (gcov on the host then overlaps the
    next boot).  A disk is removed only once stored, so a killed run's is
    read on --resume."""

    def __init__(self, store: Store, run_id: str, sources: Sources, background: bool = False) -> None:
        self.store, self.run_id, self.sources = store, run_id, sources
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="coverage") if background else None
        self._pending: list[Future[int]] = []

    def take(self, image: Path) -> None:
        if self._pool is None:
            store_coverage(self.store, self.run_id, image, self.sources)
        else:
            self._pending.append(self._pool.submit(store_coverage, self.store, self.run_id, image, self.sources))

    def close(self) -> None:
        """Waits for the disks in flight; the first failure is raised."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            for done in self._pending:
                done.result()


def run_batch(guest: PreparedGuest, store: Store, run_id: str, allow_crash: bool, cases: list[Case],
              out_dir: Path, progress: Progress, timeout: int, env: BootEnv = BootEnv(), agent_args: str = "",
              programs: tuple[tuple[str, Path], ...] = (), coverage: CoverageSink | None = None) -> set[str]:
    """One boot; returns the ids of the cases that got a verdict.  agent_args
    go to the agent after the cases (e.g. --rounds for a repro, or --exec
    of one of the programs, a C reproducer that runs the case itself).
    coverage: read each case's gcov counters and hand the disk to it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {c.case_id: c for c in cases}
    recorded: set[str] = set()
    started_at = [time.monotonic()]
    # The first oracle complaint of the case running now.
    complaint = [""]
    # Its tagged notes, to tell a set-up failure from a skip.
    notes: list[str] = []

    def on_line(tracker: ConsoleTracker, line: str) -> None:
        if case_started(line):
            started_at[0] = time.monotonic()
            complaint[0] = ""
            notes.clear()
            return
        note = ORACLE_NOTE.match(line)
        if note is not None:
            complaint[0] = complaint[0] or note.group(1)[:300]
            notes.append(line)
            return
        result = parse_result(line)
        if result is None or result.name not in by_id or result.name in recorded:
            return
        case_id = result.name
        title, excerpt = _excerpt(tracker, case_id)
        record = known.xfail_reason(result.reason) if result.skipped else None
        raw = Verdict.of_result(crashed=bool(title), unresolved=is_unresolved(result.skipped, notes),
                                xfail=record is not None, skipped=result.skipped, failed=result.failed)
        verdict, reason = expected_verdict(raw, by_id[case_id], env.known)
        if record:
            reason = record_reason(record)
        v = CaseVerdict(case_id, verdict, title or complaint[0] or reason, time.monotonic() - started_at[0], excerpt)
        store.record(run_id, v)
        recorded.add(case_id)
        progress.show(v)

    request = GuestRequest(allow_crash=allow_crash, kernel=cases[0].kernel, timeout=timeout,
                           silence_timeout=min(timeout, 300), agent_args=f"--cases {GUEST_CASES} {agent_args}".strip(),
                           modules=env.modules, append=env.append, path_lines=env.path_lines,
                           coverage=coverage is not None)
    text = "".join(c.agent_line() + "\n" for c in cases)
    tracker, outcome, _ = boot_guest(guest, request, out_dir, files=((GUEST_CASES, text),), programs=programs,
                                     on_line=on_line, echo=False)
    if coverage is not None and (out_dir / COVERAGE_NAME).is_file():
        coverage.take(out_dir / COVERAGE_NAME)
    dead = _died_in_flight(tracker, outcome, time.monotonic() - started_at[0])
    if dead is not None and dead.case_id in by_id and dead.case_id not in recorded:
        dead = replace(dead, verdict=expected_verdict(dead.verdict, by_id[dead.case_id], env.known)[0])
        store.record(run_id, dead)
        recorded.add(dead.case_id)
        progress.show(dead, f" (console: {out_dir / CONSOLE_NAME})")
    said = agent_error(tracker.agent_lines)
    if not recorded and said is not None and tracker.agent_exit:
        raise HarnessError(ExitCode.RUN_FAILED, f"the agent could not set up: {said} (see {out_dir / CONSOLE_NAME})")
    # A boot that ran its whole batch with no kernel report keeps its
    # console but not its job disk (a nightly boots hundreds of times):
    # the plan and the artefacts make it again.  One that died or reported
    # keeps it, to boot again by hand (the command is in its summary).
    if dead is None and not tracker.reports and recorded == set(by_id):
        for name in (JOB_NAME, INITRAMFS_NAME):
            (out_dir / name).unlink(missing_ok=True)
    return recorded


class BatchQueue:
    """The batches still to boot, shared by the guests running at once."""

    def __init__(self, pending: list[tuple[bool, list[Case]]], deadline: float, boots: int) -> None:
        self._pending = pending
        self._deadline = deadline
        self._boots = boots
        self._lock = threading.Lock()
        self.error: HarnessError | None = None
        self.out_of_budget = False

    def take(self) -> tuple[int, bool, list[Case]] | None:
        """(boot number, allow_crash, cases), or None: nothing left, the
        budget is spent or another guest failed."""
        with self._lock:
            if self.error is not None or not self._pending:
                return None
            if time.monotonic() > self._deadline:
                self.out_of_budget = True
                return None
            self._boots += 1
            allow_crash, cases = self._pending.pop(0)
            return self._boots, allow_crash, cases

    def put_back(self, allow_crash: bool, cases: list[Case]) -> None:
        if cases:
            with self._lock:
                self._pending.insert(0, (allow_crash, cases))

    def fail(self, error: HarnessError) -> None:
        with self._lock:
            self.error = self.error or error


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


def coverage_sources(layout: Layout, guests: list[PreparedGuest]) -> Sources:
    """How gcov's source paths become report names: the tree's code under
    test (configs/coverage.paths) and the modules built for each guest."""
    return sources_for(layout.tree, layout.project, tuple(g.artefacts.home for g in guests if g.artefacts.home))


def run_campaign(layout: Layout, request: CampaignRequest) -> tuple[ExitCode, str]:
    store = Store(layout.results_root / DB_NAME)
    run: list[str] = []
    try:
        return _run(layout, request, store, run)
    except KeyboardInterrupt:
        # Every finished case is already committed; say how to go on.
        if run:
            print(f"\n[campaign] interrupted; finished cases are kept. Resume with:\n"
                  f"  harness/uafault campaign {request.spec} --resume {run[0]}", flush=True)
        raise
    finally:
        store.close()


def _run(layout: Layout, request: CampaignRequest, store: Store, run: list[str]) -> tuple[ExitCode, str]:
    """run receives the run id as soon as there is one (for Ctrl-C)."""
    # A bad file fails now, before the kernels are built (names of fault
    # kinds are checked once the agent is).
    campaign = load_campaign(request.spec, None)
    if campaign.kernel_source is not None:
        layout = with_source(layout, campaign.kernel_source)
    plain = prepare_guest(layout, False, request.jobs, campaign.modules.dirs, request.accel)
    kinds = fault_kinds(plain.artefacts.agent)
    crash_kinds = kinds.crash
    campaign = load_campaign(request.spec, kinds.names, tuple(kinds.memory))
    env = BootEnv(campaign.modules, campaign.append, known_issues_for(layout, campaign.known_issues),
                  described_lines(layout, campaign.paths))
    if request.resume:
        info = store.run_info(request.resume)
        if info.spec_digest != campaign.digest:
            raise HarnessError(ExitCode.USAGE, f"{request.spec} changed since run {info.run_id} was planned; "
                               "resume it with the file it was planned from")
        run_id, cases = info.run_id, store.planned(info.run_id)
    else:
        # --shard, else tonight's slice of a matrix covered over nights.
        part = request.shard or tonight(campaign.nights, int(time.time() // 86400))
        if request.run_id is not None:
            run_id = request.run_id
            if store.has_run(run_id):
                raise HarnessError(ExitCode.USAGE, f"run {run_id} exists; finish it with --resume {run_id}")
        else:
            run_id = new_run_id() + (f"-s{part[0]}of{part[1]}" if part else "")
        listed = list_targets(plain, layout.results_root / CAMPAIGN_DIR / run_id / "list-targets",
                              campaign.modules, env.path_lines)
        chosen = select_targets(campaign, [t.name for t in listed], {t.name for t in listed if t.crashes})
        cases = expand(campaign, [t for t in listed if t.name in chosen], kinds)
        if part:
            if not request.shard:
                print(f"[campaign] {campaign.name} covers its matrix in {part[1]} nights: tonight is slice "
                      f"{part[0]} (--shard {part[0]}/{part[1]})", flush=True)
            cases = shard(cases, *part)
        if request.dry_run:
            print(describe_plan(cases, campaign.name, layout.results_root / DB_NAME), flush=True)
            return ExitCode.OK, f"{len(cases)} cases planned, none run (--dry-run)"
        store.create_run(RunInfo(run_id, campaign.name, str(request.spec), campaign.digest),
                         plain.kernel_text, config_digest(layout, campaign, plain.kernel), cases,
                         campaign.pairs)
    run.append(run_id)
    crashing_targets = {c.target for c in cases if c.fault in crash_kinds}
    done = store.verdicts(run_id)
    left = [c for c in cases if c.case_id not in done]
    print(f"[campaign] run {run_id}: {len(cases)} cases planned, {len(done)} done, {len(left)} to run", flush=True)
    progress = Progress(len(left))
    budget = request.budget_seconds or campaign.budget_seconds
    # One build serves every kernel that boots it (plain, swiotlb, iommu).
    guests = {False: plain}
    for kasan in sorted({boot_kernel(c.kernel).kasan for c in left} - {False}):
        guests[kasan] = prepare_guest(layout, kasan, request.jobs, campaign.modules.dirs, request.accel)
    out_root = layout.results_root / CAMPAIGN_DIR / run_id
    sink = None
    if request.coverage:
        sources = coverage_sources(layout, list(guests.values()))
        for image in sorted(out_root.glob(f"boot-*/{COVERAGE_NAME}")):
            print(f"[campaign] coverage of {store_coverage(store, run_id, image, sources)} cases from "
                  f"{image.parent.name}, which a killed run left", flush=True)
        sink = CoverageSink(store, run_id, sources, background=True)
    # The budget is for running cases: it starts once the kernels are built.
    queue = BatchQueue(batches(left, crashing_targets, campaign.batch), time.monotonic() + budget,
                       len(list(out_root.glob("boot-*"))))

    def worker() -> None:
        while (job := queue.take()) is not None:
            boot, allow_crash, batch = job
            out_dir = out_root / f"boot-{boot:04d}"
            try:
                got = run_batch(guests[boot_kernel(batch[0].kernel).kasan], store, run_id, allow_crash, batch, out_dir,
                                progress, request.batch_timeout, env, coverage=sink)
            except HarnessError as exc:
                queue.fail(exc)
                return
            except Exception as exc:  # a bug of ours: the run must not look finished
                queue.fail(HarnessError(ExitCode.RUN_FAILED, f"boot {boot}: {type(exc).__name__}: {exc}\n"
                                        + traceback.format_exc()))
                return
            if not got:
                queue.fail(HarnessError(ExitCode.RUN_FAILED, f"a boot ran none of its {len(batch)} cases; "
                                        f"see {out_dir / CONSOLE_NAME}"))
                return
            # A guest that died or hung part-way: the rest goes to the next boot.
            queue.put_back(allow_crash, [c for c in batch if c.case_id not in got])

    # Daemon threads: on Ctrl-C the process ends, and PR_SET_PDEATHSIG
    # takes each guest's QEMU with it.
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(request.guests)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    if sink is not None:
        sink.close()
    if queue.error is not None:
        raise queue.error
    if queue.out_of_budget:
        return ExitCode.RUN_FAILED, (f"budget of {budget}s spent with cases left; "
                                     f"continue with: harness/uafault campaign {request.spec} --resume {run_id}")
    if progress.tty:
        print(flush=True)
    verdicts = store.verdicts(run_id)
    counts: dict[str, int] = {}
    for v in verdicts.values():
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"[campaign] run {run_id}: {summary}", flush=True)
    total = counts_of(counts)
    print(f"{total.passed} passed, {total.failed + total.crashed} failed, {total.skipped} skipped, "
          f"{total.unresolved} unresolved, {total.xfail} known deviations", flush=True)
    bad = any(k in BAD for k in counts)
    return (ExitCode.TEST_FAILED if bad else ExitCode.OK), f"run {run_id}: {summary}"
