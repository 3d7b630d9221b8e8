"""`lava submit` and `lava collect`: a campaign's run on a LAVA lab.

submit plans the campaign once (as `campaign` does, into the same
store), cuts the cases left into the file's batches, deals the batches
to N shards and submits per shard one job per kernel (LAVA's QEMU options
are the job's, and the KASAN kernel's memory differs), each boot the cold
boot a local run would make (lava/jobs.py).  The jobs are rows of the
run (store.lava_jobs).

collect reads each finished job's log through the API and replays its
console, boot by boot, through the reader a local batch uses
(campaign/batch.py CaseReader), so a LAVA run's verdicts are the rows a
local run stores and `report`, `export`, `minimize`, `repro` read them
alike.  A case already judged is not judged again (collect is
idempotent).  How LAVA ended a job is the guest's end for the case in
flight (LAVA_ENDS, then the verdict model's CRASH or TIMEOUT); a job LAVA
canceled, or that never reached a boot, leaves those cases planned and
unjudged, and `submit --resume RUN` sends only those."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..campaign.batch import BootEnv, CaseReader, Progress, batch_request, batches, boot_env
from ..campaign.plan import Plan, PlanRequest, make_plan
from ..campaign.runner import CAMPAIGN_DIR, summarize
from ..campaign.spec import Case, load_campaign
from ..campaign.store import DB_NAME, LavaJob, Store
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from ..guest.console import ConsoleTracker
from ..guest.kernels import boot_kernel
from ..guest.qemu import QemuEnd, RunOutcome
from ..guest.runner import CONSOLE_NAME, PreparedGuest, cold_boot, prepare_guest
from .api import JobState, LogLine, Server
from .jobs import LavaBoot, job_definition, lava_boot
from .server import Lab

LAVA_DIR = "lava"
JOB_FILE = "job.yaml"
# One boot's cases may take this long (a local boot's watchdog).
BATCH_SECONDS = 1800
# The dispatcher's line as it starts QEMU: a boot of the job begins.
BOOT_LINE = re.compile(r"^Boot command: ")
# How LAVA ended a job that did not complete, as the guest's end for the
# case in flight (first match of the failure comment wins); None: LAVA
# canceled it or lost it, and the case stays planned for --resume.
LAVA_ENDS: tuple[tuple[str, re.Pattern[str], QemuEnd | None], ...] = (
    ("Canceled", re.compile(""), None),
    ("Incomplete", re.compile(r"timed out|[Tt]imeout"), QemuEnd.TIMEOUT),
    ("Incomplete", re.compile(r"[Cc]onnection closed|end of file|EOF"), QemuEnd.EXITED),
    ("Incomplete", re.compile(""), None),
)


@dataclass(frozen=True)
class SubmitRequest:
    spec: Path
    shards: int
    server: str = ""
    token: str = ""
    # Where a remote dispatcher fetches results/ from (else file:// URLs).
    artefacts_url: str = ""
    resume: str | None = None
    run_id: str | None = None
    jobs: int = 2


def server_of(layout: Layout, url: str = "", token: str = "") -> Server:
    """--server/--token, else the lab `lava up` made here."""
    lab = Lab.load(layout)
    if not url:
        if lab is None:
            raise HarnessError(ExitCode.USAGE, "no --server given and no lab here: run `harness/uafault lava up` "
                                               "or point --server at your LAVA and --token at its API token")
        url = lab.url
    if not token and lab is not None and lab.url.rstrip("/") == url.rstrip("/"):
        token = lab.token
    return Server(url, token)


def _deal(cases: list[Case], crashing: frozenset[str], size: int, shards: int) -> list[list[tuple[bool, list[Case]]]]:
    """The batches of cases dealt to shards in turn.  A case that oopses
    on purpose ends its boot (the kernel is tainted), so each is a boot of
    its own: locally the rest of its batch would go to the next boot."""
    boots: list[tuple[bool, list[Case]]] = []
    for allow_crash, batch in batches(cases, set(crashing), size):
        boots += [(True, [c]) for c in batch] if allow_crash else [(False, batch)]
    dealt: list[list[tuple[bool, list[Case]]]] = [[] for _ in range(shards)]
    for n, batch in enumerate(boots):
        dealt[n % shards].append(batch)
    return dealt


def _in_flight(store: Store, server: Server, run_id: str) -> set[str]:
    """Cases of the run's jobs that LAVA has not finished: not to send again."""
    out: set[str] = set()
    for job in store.lava_jobs(run_id):
        if not job.collected and not Server(job.server, server.token).job(job.job_id).finished:
            out.update(c for boot in job.boots for c in boot)
    return out


def submit(layout: Layout, request: SubmitRequest) -> tuple[ExitCode, str]:
    if request.shards < 1:
        raise HarnessError(ExitCode.USAGE, f"--shards {request.shards}: want at least 1")
    server = server_of(layout, request.server, request.token)
    server.version()  # fails now, before any build, if it is not there
    campaign = load_campaign(request.spec, None)
    store = Store(layout.results_root / DB_NAME)
    try:
        plan = make_plan(layout, campaign, PlanRequest(request.jobs, "tcg", None, request.resume, request.run_id),
                         store, layout.results_root / CAMPAIGN_DIR)
        plan.store_in(store, request.spec)
        if request.resume:
            collect(layout, plan.run_id, server, wait_seconds=0, quiet=True)
        done = set(store.verdicts(plan.run_id)) | _in_flight(store, server, plan.run_id)
        left = [c for c in plan.cases if c.case_id not in done]
        guests: dict[bool, PreparedGuest] = {False: plan.plain}
        root = layout.results_root / LAVA_DIR / plan.run_id
        submitted = 0
        for shard, dealt in enumerate(_deal(left, plan.crashing, campaign.batch, request.shards), 1):
            for kernel in dict.fromkeys(c[0].kernel for _, c in dealt):
                mine = [b for b in dealt if b[1][0].kernel == kernel]
                submitted += _submit_job(server, store, plan, guests, request, root, shard, kernel, mine)
    finally:
        store.close()
    return ExitCode.OK, (f"run {plan.run_id}: {len(left)} cases in {submitted} LAVA jobs on {server.url}; "
                         f"read them back with: harness/uafault lava collect {plan.run_id} --wait")


def _submit_job(server: Server, store: Store, plan: Plan, guests: dict[bool, PreparedGuest],
                request: SubmitRequest, root: Path, shard: int, kernel: str,
                mine: list[tuple[bool, list[Case]]]) -> int:
    """One job: the shard's boots of one kernel.  Returns 1."""
    kasan = boot_kernel(kernel).kasan
    if kasan not in guests:
        guests[kasan] = prepare_guest(plan.layout, kasan, request.jobs, plan.campaign.modules.dirs, "tcg")
    job_dir = root / f"shard-{shard:03d}-{kernel}-{int(time.time() * 1000) % 10**9}"
    boots: list[LavaBoot] = []
    for n, (allow_crash, cases) in enumerate(mine, 1):
        boot_request, files = batch_request(cases, allow_crash, BATCH_SECONDS, plan.env)
        out_dir = job_dir / f"boot-{n:04d}"
        boots.append(lava_boot(cold_boot(guests[kasan], boot_request, out_dir, files), out_dir, BATCH_SECONDS))
    name = f"uafault {plan.campaign.name} {plan.run_id} shard {shard}/{request.shards} {kernel}"
    definition = job_definition(name, boots, root.parent.parent, request.artefacts_url)
    (job_dir / JOB_FILE).write_text(definition)
    job_id = server.submit(definition)
    store.record_lava_job(LavaJob(plan.run_id, server.url, job_id, shard,
                                  tuple(tuple(c.case_id for c in cases) for _, cases in mine)))
    cases_n = sum(len(c) for _, c in mine)
    print(f"[lava] job {job_id}: shard {shard}/{request.shards}, {kernel}, {len(mine)} boots, {cases_n} cases "
          f"({server.url}scheduler/job/{job_id})", flush=True)
    return 1


def lava_end(state: JobState) -> QemuEnd | None:
    """How the guest ended for the case a job left in flight (LAVA_ENDS)."""
    for health, comment, end in LAVA_ENDS:
        if state.health == health and comment.search(state.failure_comment):
            return end
    return None


def _boots_of(log: list[LogLine]) -> list[list[LogLine]]:
    """The target lines of each boot, in order."""
    boots: list[list[LogLine]] = []
    for entry in log:
        if entry.level == "info" and isinstance(entry.message, str) and BOOT_LINE.match(entry.message):
            boots.append([])
        elif entry.level == "target" and boots:
            boots[-1].append(entry)
    return boots


def _replay(store: Store, run_id: str, cases: list[Case], lines: list[LogLine], progress: Progress,
            env: BootEnv, end: QemuEnd | None, reason: str, console: Path) -> int:
    """A boot's console through a local batch's reader; the case it left
    in flight judged by end (None: left planned).  Returns the verdicts
    it stored."""
    reader = CaseReader(store, run_id, cases, progress, env)
    reader.recorded |= set(store.verdicts(run_id)) & set(reader.by_id)
    before = len(reader.recorded)
    now = [lines[0].seconds if lines else 0.0]
    reader.clock = lambda: now[0]
    reader.started_at = now[0]
    tracker = ConsoleTracker()
    console.parent.mkdir(parents=True, exist_ok=True)
    with open(console, "w", encoding="utf-8") as log:
        for entry in lines:
            text = str(entry.message)
            now[0] = entry.seconds
            log.write(text + "\n")
            tracker.feed(text, entry.seconds - lines[0].seconds)
            reader.line(tracker, text)
    if end is not None and tracker.agent_exit is None:
        reader.died(tracker, RunOutcome(end, reason, None, 0.0), console)
    return len(reader.recorded) - before


def collect(layout: Layout, run_id: str, server: Server | None = None, wait_seconds: int = 0,
            quiet: bool = False) -> tuple[ExitCode, str]:
    """Every finished, uncollected job of run_id into the store (waiting
    up to wait_seconds for the others)."""
    store = Store(layout.results_root / DB_NAME)
    try:
        return _collect(layout, store, run_id, server or server_of(layout), wait_seconds, quiet)
    finally:
        store.close()


def _collect(layout: Layout, store: Store, run_id: str, server: Server, wait_seconds: int,
             quiet: bool) -> tuple[ExitCode, str]:
    info = store.run_info(run_id)
    jobs = [j for j in store.lava_jobs(run_id) if not j.collected]
    if not store.lava_jobs(run_id):
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"run {run_id} has no LAVA jobs (lava submit makes them)")
    campaign = load_campaign(Path(info.spec_path), None)
    env = boot_env(layout, campaign)
    by_id = {c.case_id: c for c in store.planned(run_id)}
    states = server.wait([j.job_id for j in jobs], time.monotonic() + wait_seconds) if jobs else {}
    progress = Progress(sum(len(b) for j in jobs for b in j.boots), tty=False)
    stored = running = 0
    for job in jobs:
        state = states[job.job_id]
        if not state.finished:
            running += 1
            continue
        end = lava_end(state) if state.health != "Complete" else QemuEnd.EXITED
        reason = f"LAVA job {job.job_id} {state.health}: {state.failure_comment}".strip(": ")
        for n, (cases, lines) in enumerate(zip(job.boots, _boots_of(Server(job.server, server.token).log(job.job_id))), 1):
            console = layout.results_root / LAVA_DIR / run_id / f"job-{job.job_id}" / f"boot-{n:04d}" / CONSOLE_NAME
            stored += _replay(store, run_id, [by_id[c] for c in cases], lines, progress, env, end, reason, console)
        store.lava_collected(job, state.health)
        if not quiet:
            print(f"[lava] job {job.job_id}: {state.health}" + (f" ({state.failure_comment})"
                                                                 if state.failure_comment else ""), flush=True)
    left = len(by_id) - len(store.verdicts(run_id))
    message = f"{stored} verdicts from {len(jobs) - running} jobs; {running} still running; {left} cases unjudged"
    if quiet:
        return ExitCode.OK, message
    print(f"[lava] {message}", flush=True)
    if running or left:
        hint = f"harness/uafault lava collect {run_id} --wait" if running else \
            f"harness/uafault lava submit {info.spec_path} --resume {run_id}"
        return ExitCode.RUN_FAILED, f"{message}; go on with: {hint}"
    return summarize(store, run_id)
