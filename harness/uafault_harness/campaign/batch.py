"""Batches: a list of cases handed to the agent (--cases) in one guest
boot, for a campaign run and for triage (repro, minimize) alike.

The console says which case is in flight, so when the guest dies or hangs
that case is recorded as CRASH or TIMEOUT (with the kernel's report
title) and the next boot goes on with the case after it.  Each verdict is
in the store as soon as it is known; what a result line means is the
verdict model's (core/verdicts.py)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..core import known
from ..core.coverage import Sources, sources_for
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from ..core.verdicts import BAD, VERDICTS, Verdict
from ..guest.console import ConsoleTracker
from ..guest.coverage import case_coverage, read_records
from ..guest.disks import COVERAGE_NAME
from ..guest.initramfs import INITRAMFS_NAME, JOB_NAME
from ..guest.kernels import boot_kernel
from ..guest.modules import Modules
from ..guest.protocol import (
    CAMPAIGN_CASE_PREFIX, ORACLE_NOTE, agent_error, agent_args as protocol_args, case_started, is_unresolved, parse_result,
)
from ..guest.qemu import QemuEnd, RunOutcome
from ..guest.runner import CONSOLE_NAME, BootObserver, GuestRequest, PreparedGuest, boot_guest
from .known_issues import KnownIssue, expected_verdict, load_known_issues, record_reason, shipped_known_issues
from .paths import agent_lines
from .spec import Campaign, Case
from .store import CaseVerdict, Store

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


@dataclass(frozen=True)
class BootEnv:
    """What a campaign or repro file sets for every boot: the modules, more
    kernel parameters, and the known issues its verdicts are read with."""
    modules: Modules = Modules()
    append: str = ""
    known: tuple[KnownIssue, ...] = ()
    # Described paths, one agent line each.
    path_lines: tuple[str, ...] = ()


def known_issues_for(layout: Layout, own: Path | None) -> tuple[KnownIssue, ...]:
    """uafault's known issues, and those of the file a campaign or repro
    config names (`known_issues`)."""
    return shipped_known_issues(layout.project) + (load_known_issues(own) if own is not None else ())


def described_lines(layout: Layout, own: tuple[Path, ...]) -> tuple[str, ...]:
    """The agent lines of configs/paths/ and of the paths a file names."""
    return agent_lines(layout.project, own)


def boot_env(layout: Layout, campaign: Campaign) -> BootEnv:
    """What every boot of a campaign's run is booted and read with."""
    return BootEnv(campaign.modules, campaign.append, known_issues_for(layout, campaign.known_issues),
                   described_lines(layout, campaign.paths))


def coverage_sources(layout: Layout, guests: list[PreparedGuest]) -> Sources:
    """How gcov's source paths become report names: the tree's code under
    test (configs/coverage.paths) and the modules built for each guest."""
    return sources_for(layout.tree, layout.project, tuple(g.artefacts.home for g in guests if g.artefacts.home))


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


def open_coverage(layout: Layout, guests: list[PreparedGuest], store: Store, run_id: str,
                  out_root: Path) -> CoverageSink:
    """A run's coverage sink (in the background), after the disks a killed
    run left in out_root's boots."""
    sources = coverage_sources(layout, guests)
    for image in sorted(out_root.glob(f"boot-*/{COVERAGE_NAME}")):
        print(f"[campaign] coverage of {store_coverage(store, run_id, image, sources)} cases from "
              f"{image.parent.name}, which a killed run left", flush=True)
    return CoverageSink(store, run_id, sources, background=True)


def _excerpt(tracker: ConsoleTracker, case_id: str) -> tuple[str, str, str]:
    """The title and excerpt of the case's first kernel report that is
    charged to it, and the known deviation a report it is not charged
    (core/known.py report_record) showed, if any."""
    reports = [r for r in tracker.reports if r.case == CAMPAIGN_CASE_PREFIX + case_id and not r.expected]
    charged = [r for r in reports if not r.known]
    shown = next((r.known for r in reports if r.known), "")
    if not charged:
        return "", "", shown
    return charged[0].title, "\n".join(charged[0].excerpt[:EXCERPT_LINES]), shown


def _died_in_flight(tracker: ConsoleTracker, outcome: RunOutcome, seconds: float) -> CaseVerdict | None:
    """The case the guest was running when it died or hung, if any."""
    if tracker.case is None or tracker.case_done or not tracker.case.startswith(CAMPAIGN_CASE_PREFIX):
        return None
    case_id = tracker.case[len(CAMPAIGN_CASE_PREFIX):]
    title, excerpt, _ = _excerpt(tracker, case_id)
    timed_out = outcome.end is QemuEnd.TIMEOUT
    return CaseVerdict(case_id, Verdict.of_death(timed_out),
                       title or (outcome.reason if timed_out else f"guest died: {outcome.reason}"), seconds, excerpt)


class CaseReader(BootObserver):
    """A batch's console read case by case: each result line becomes the
    case's verdict, stored at once."""

    def __init__(self, store: Store, run_id: str, cases: list[Case], progress: Progress, env: BootEnv) -> None:
        self.store, self.run_id, self.progress, self.env = store, run_id, progress, env
        self.by_id = {c.case_id: c for c in cases}
        self.recorded: set[str] = set()
        # What case times are read with (a replayed log's own times).
        self.clock: Callable[[], float] = time.monotonic
        self.started_at = self.clock()
        # The first oracle complaint of the case running now, and its
        # tagged notes (to tell a set-up failure from a skip).
        self.complaint = ""
        self.notes: list[str] = []

    def line(self, tracker: ConsoleTracker, line: str) -> None:
        if case_started(line):
            self.started_at, self.complaint = self.clock(), ""
            self.notes.clear()
            return
        note = ORACLE_NOTE.match(line)
        if note is not None:
            self.complaint = self.complaint or note.group(1)[:300]
            self.notes.append(line)
            return
        result = parse_result(line)
        if result is None or result.name not in self.by_id or result.name in self.recorded:
            return
        title, excerpt, shown = _excerpt(tracker, result.name)
        record = known.xfail_reason(result.reason) if result.skipped else None
        # A known deviation of the kernel's own debugging in a case that
        # otherwise passed: counted as such, not as the case's failure.
        if record is None and shown and not result.failed:
            record = shown
        raw = Verdict.of_result(crashed=bool(title), unresolved=is_unresolved(result.skipped, self.notes),
                                xfail=record is not None, skipped=result.skipped, failed=result.failed)
        verdict, reason = expected_verdict(raw, self.by_id[result.name], self.env.known)
        if record:
            reason = record_reason(record)
        self.keep(CaseVerdict(result.name, verdict, title or self.complaint or reason,
                              self.clock() - self.started_at, excerpt))

    def keep(self, verdict: CaseVerdict, suffix: str = "") -> None:
        self.store.record(self.run_id, verdict)
        self.recorded.add(verdict.case_id)
        self.progress.show(verdict, suffix)

    def died(self, tracker: ConsoleTracker, outcome: RunOutcome, console: Path) -> CaseVerdict | None:
        """The case in flight when the guest died or hung, recorded."""
        dead = _died_in_flight(tracker, outcome, self.clock() - self.started_at)
        if dead is not None and dead.case_id in self.by_id and dead.case_id not in self.recorded:
            verdict = expected_verdict(dead.verdict, self.by_id[dead.case_id], self.env.known)[0]
            self.keep(replace(dead, verdict=verdict), f" (console: {console})")
        return dead


def batch_request(cases: list[Case], allow_crash: bool, timeout: int, env: BootEnv, agent_args: str = "",
                  coverage: bool = False) -> tuple[GuestRequest, tuple[tuple[str, str], ...]]:
    """The boot of a batch (its first case's kernel) and the files on its
    job disk: the cases, one agent line each."""
    request = GuestRequest(allow_crash=allow_crash, kernel=cases[0].kernel, timeout=timeout,
                           silence_timeout=min(timeout, 300),
                           agent_args=f"{protocol_args(cases=GUEST_CASES)} {agent_args}".strip(),
                           modules=env.modules, append=env.append, path_lines=env.path_lines, coverage=coverage)
    return request, ((GUEST_CASES, "".join(c.agent_line() + "\n" for c in cases)),)


def run_batch(guest: PreparedGuest, store: Store, run_id: str, allow_crash: bool, cases: list[Case],
              out_dir: Path, progress: Progress, timeout: int, env: BootEnv = BootEnv(), agent_args: str = "",
              programs: tuple[tuple[str, Path], ...] = (), coverage: CoverageSink | None = None,
              observers: tuple[BootObserver, ...] = ()) -> set[str]:
    """One boot; returns the ids of the cases that got a verdict.  agent_args
    go to the agent after the cases (e.g. --rounds for a repro, or --exec
    of one of the programs, a C reproducer that runs the case itself).
    coverage: read each case's gcov counters and hand the disk to it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = CaseReader(store, run_id, cases, progress, env)
    request, files = batch_request(cases, allow_crash, timeout, env, agent_args, coverage is not None)
    tracker, outcome, _ = boot_guest(guest, request, out_dir, files=files, programs=programs,
                                     observers=(reader, *observers), echo=False)
    if coverage is not None and (out_dir / COVERAGE_NAME).is_file():
        coverage.take(out_dir / COVERAGE_NAME)
    dead = reader.died(tracker, outcome, out_dir / CONSOLE_NAME)
    said = agent_error(tracker.agent_lines)
    if not reader.recorded and said is not None and tracker.agent_exit:
        raise HarnessError(ExitCode.RUN_FAILED, f"the agent could not set up: {said} (see {out_dir / CONSOLE_NAME})")
    # A boot that ran its whole batch with no kernel report keeps its
    # console but not its job disk (a nightly boots hundreds of times):
    # the plan and the artefacts make it again.  One that died or reported
    # keeps it, to boot again by hand (the command is in its summary).
    if dead is None and not tracker.reports and reader.recorded == set(reader.by_id):
        for name in (JOB_NAME, INITRAMFS_NAME):
            (out_dir / name).unlink(missing_ok=True)
    return reader.recorded


def batches(cases: list[Case], crashing: set[str], size: int) -> list[tuple[bool, list[Case]]]:
    """(allow_crash, cases) per boot: per kernel, the ordinary cases first,
    then the ones that oops on purpose, in boots of their own."""
    out: list[tuple[bool, list[Case]]] = []
    for kernel in dict.fromkeys(c.kernel for c in cases):
        for crash in (False, True):
            group = [c for c in cases if c.kernel == kernel and (c.target in crashing) == crash]
            out += [(crash, group[i:i + size]) for i in range(0, len(group), size)]
    return out


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
class Boots:
    """What every boot of a run shares: a guest per KASAN-ness (one build
    serves every kernel that boots it), where and how long it boots, what
    it reads its verdicts into."""
    guests: dict[bool, PreparedGuest]
    store: Store
    run_id: str
    out_root: Path
    progress: Progress
    timeout: int
    env: BootEnv
    coverage: CoverageSink | None = None
    observers: tuple[BootObserver, ...] = ()


def _one_boot(boots: Boots, queue: BatchQueue, boot: int, allow_crash: bool, batch: list[Case]) -> bool:
    """Runs a batch; what it left goes back to the queue.  False: the run
    must stop (the queue holds why)."""
    out_dir = boots.out_root / f"boot-{boot:04d}"
    try:
        got = run_batch(boots.guests[boot_kernel(batch[0].kernel).kasan], boots.store, boots.run_id, allow_crash,
                        batch, out_dir, boots.progress, boots.timeout, boots.env, coverage=boots.coverage,
                        observers=boots.observers)
    except HarnessError as exc:
        queue.fail(exc)
        return False
    except Exception as exc:  # a bug of ours: the run must not look finished
        queue.fail(HarnessError(ExitCode.RUN_FAILED, f"boot {boot}: {type(exc).__name__}: {exc}\n"
                                + traceback.format_exc()))
        return False
    if not got:
        queue.fail(HarnessError(ExitCode.RUN_FAILED, f"a boot ran none of its {len(batch)} cases; "
                                f"see {out_dir / CONSOLE_NAME}"))
        return False
    # A guest that died or hung part-way: the rest goes to the next boot.
    queue.put_back(allow_crash, [c for c in batch if c.case_id not in got])
    return True


def run_cases(boots: Boots, cases: list[Case], crashing: frozenset[str], size: int, deadline: float,
              guests: int) -> BatchQueue:
    """cases in batches of size (those of crashing targets in boots of
    their own), by guests booted at once, until none is left, the deadline
    passed (queue.out_of_budget) or a boot failed (queue.error).  Boots are
    numbered after those out_root has already."""
    queue = BatchQueue(batches(cases, set(crashing), size), deadline, len(list(boots.out_root.glob("boot-*"))))
    _run_queue(boots, queue, guests)
    return queue


def _run_queue(boots: Boots, queue: BatchQueue, guests: int) -> None:
    def worker() -> None:
        while (job := queue.take()) is not None and _one_boot(boots, queue, *job):
            pass

    # Daemon threads: on Ctrl-C the process ends, and PR_SET_PDEATHSIG
    # takes each guest's QEMU with it.
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(guests)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    if boots.coverage is not None:
        boots.coverage.close()
