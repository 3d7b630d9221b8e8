"""A campaign's plan: the file (read once), the agent's facts (asked in one
call), the targets the guest lists (guest/targets.py), the selection, the expansion into
cases and its shard or tonight's share of a matrix covered over nights
(campaign/nights.py); or, for --resume, the plan the store kept."""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout, with_source
from ..core.results import new_run_id
from ..guest.build import GuestKernel, config_text, guest_kernel
from ..guest.kernels import boot_kernel
from ..guest.protocol import (AGENT_LIST_FAULTS, AGENT_LIST_MEMORY, DEFAULT_CALLER, FaultKinds, parse_fault_kinds,
                              parse_memory_folios, parse_memory_kinds)
from ..guest.runner import BootObserver, PreparedGuest, prepare_guest
from ..guest.targets import list_targets
from .batch import BootEnv, boot_env
from .nights import Night, by_triple, night_cases, night_note, tonight
from .spec import ALIGNED_LARGE_FOLIO, Campaign, Case, check_kinds, plan_cases
from .store import History, RunInfo, Store


def _ask_agent(agent: Path, option: str) -> str:
    proc = subprocess.run([str(agent), option], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.RUN_FAILED, f"{agent} {option} failed: {proc.stderr.strip()}")
    return proc.stdout


def agent_facts(agent: Path) -> FaultKinds:
    """The agent's fault kinds and what they are, and its memory kinds
    (and which have large folios), asked of the agent binary itself (it
    runs on the host for this)."""
    kinds = parse_fault_kinds(_ask_agent(agent, AGENT_LIST_FAULTS))
    memory = _ask_agent(agent, AGENT_LIST_MEMORY)
    return replace(kinds, memory=parse_memory_kinds(memory), folios=parse_memory_folios(memory))


def _offset_text(offset: int) -> str:
    """An offset, and past 1 MiB how far it is from a whole MiB (inside a
    huge page: 2096640 (2 MiB - 512))."""
    mib = round(offset / 2**20)
    if not mib:
        return str(offset)
    rest = offset - mib * 2**20
    return f"{offset} ({mib} MiB" + (f" {'+' if rest > 0 else '-'} {abs(rest)})" if rest else ")")


def contract_lines(cases: list[Case], numbers: tuple[int, ...], offset_set: str) -> list[str]:
    """What the offset set added to the file's offsets (numbers): the
    contract offsets each target got on each memory kind, targets and
    memory kinds that got the same ones on one line."""
    title = f"  contract offsets ({offset_set!r})"
    added: dict[str, dict[str, list[int]]] = {}
    for c in cases:
        if c.offset not in numbers:
            mine = added.setdefault(c.target, {}).setdefault(c.memory, [])
            if c.offset not in mine:
                mine.append(c.offset)
    if not added:
        return [f"{title}: none (no target of the plan has a contract alignment"
                + (", or no memory kind of it has large folios)" if offset_set == ALIGNED_LARGE_FOLIO else ")")]
    targets: dict[str, list[str]] = {}
    for target, per_memory in added.items():
        memories: dict[tuple[int, ...], list[str]] = {}
        for memory, offsets in per_memory.items():
            memories.setdefault(tuple(offsets), []).append(memory)
        text = "; ".join(f"{', '.join(map(_offset_text, offsets))} on {', '.join(names)}"
                         for offsets, names in memories.items())
        targets.setdefault(text, []).append(target)
    return [f"{title} of {', '.join(names)}: {text}" for text, names in targets.items()]


def describe_plan(cases: list[Case], campaign: str, db: Path, contract: tuple[str, ...] = ()) -> str:
    """The plan's size: cases per kernel, per memory kind, per fault kind,
    per target, per offset and (when not all root) per caller, the contract offsets the matrix adds
    (contract, Plan.contract), the (target, fault, memory) triples it
    reaches, and the guest time the campaign's earlier runs took per case."""
    def tally(key: str) -> str:
        counts: dict[str, int] = {}
        for c in cases:
            counts[getattr(c, key)] = counts.get(getattr(c, key), 0) + 1
        return ", ".join(f"{k} {n}" for k, n in counts.items())

    lines = [f"[campaign] plan of {campaign}: {len(cases)} cases",
             f"  per kernel: {tally('kernel')}", f"  per memory kind: {tally('memory')}",
             f"  per fault kind: {tally('fault')}",
             f"  per target: {tally('target')}",
             f"  per offset: {tally('offset')}"]
    if any(c.caller != DEFAULT_CALLER for c in cases):
        lines.append(f"  per caller: {tally('caller')}")
    lines += contract
    lines.append(f"  (target, fault, memory) triples: {len(by_triple(cases))}")
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


@dataclass(frozen=True)
class Plan:
    """What a run boots: its cases and everything they are read with."""
    layout: Layout
    campaign: Campaign
    kinds: FaultKinds
    env: BootEnv
    # The plain kernel's guest: it lists the targets and runs the cases of
    # every kernel that is not KASAN.
    plain: PreparedGuest
    run_id: str
    cases: list[Case]
    # False: the plan is the store's already (--resume).
    new: bool = True
    # Tonight's share of a matrix covered over nights, told (what it covers).
    note: str = ""
    # Targets the plan runs a kind that oopses on purpose on.
    crashing: frozenset[str] = frozenset()
    # What the file's offset set adds, over the whole matrix (tonight's
    # share may not reach every one): contract_lines().
    contract: tuple[str, ...] = ()

    def store_in(self, store: Store, spec: Path) -> None:
        """A new plan into the store, in one transaction, before any case
        runs (a resumed one is there already)."""
        if self.new:
            store.create_run(RunInfo(self.run_id, self.campaign.name, str(spec), self.campaign.digest),
                             self.plain.kernel_text, config_digest(self.layout, self.campaign, self.plain.kernel),
                             self.cases, self.campaign.pairs)


@dataclass(frozen=True)
class PlanRequest:
    """What the command asks of the plan (campaign/runner.py's request)."""
    jobs: int
    accel: str
    shard: tuple[int, int] | None = None
    resume: str | None = None
    run_id: str | None = None


def _tonight(campaign: Campaign, request: PlanRequest) -> Night | None:
    """Tonight, for a matrix covered over nights; None with --shard, whose
    slices stay a partition of the whole plan (campaign/nights.py)."""
    return None if request.shard else tonight(campaign.nights, int(time.time() // 86400))


def _new_run_id(store: Store, request: PlanRequest, night: Night | None) -> str:
    """The run's id: --run-id, else the UTC time and its shard or night."""
    part = request.shard
    if request.run_id is None:
        return new_run_id() + (f"-s{part[0]}of{part[1]}" if part else night.suffix if night else "")
    if store.has_run(request.run_id):
        raise HarnessError(ExitCode.USAGE, f"run {request.run_id} exists; finish it with --resume {request.run_id}")
    return request.run_id


def _cases(plan: Plan, request: PlanRequest, night: Night | None, out_root: Path,
           observers: tuple[BootObserver, ...]) -> Plan:
    """The targets listed, selected and expanded, then sharded or cut to
    the night's cases; the contract offsets the whole matrix holds."""
    campaign = plan.campaign
    listed = list_targets(plan.plain, out_root / plan.run_id / "list-targets", campaign.modules,
                          plan.env.path_lines, observers)
    cases = plan_cases(campaign, listed, plan.kinds, request.shard)
    contract = tuple(contract_lines(cases, campaign.offsets, campaign.offset_set)) if campaign.offset_set else ()
    if night is None:
        return replace(plan, cases=cases, contract=contract)
    cases = night_cases(cases, night)
    return replace(plan, cases=cases, note=night_note(campaign.name, night, cases), contract=contract)


def make_plan(layout: Layout, campaign: Campaign, request: PlanRequest, store: Store, out_root: Path,
              observers: tuple[BootObserver, ...] = ()) -> Plan:
    """The run's plan: the plain guest built, the agent's facts checked
    against the file, then the store's plan (--resume) or a new one."""
    if campaign.kernel_source is not None:
        layout = with_source(layout, campaign.kernel_source)
    plain = prepare_guest(layout, False, request.jobs, campaign.modules.dirs, request.accel)
    kinds = agent_facts(plain.artefacts.agent)
    check_kinds(campaign, kinds.names, tuple(kinds.memory))
    env = boot_env(layout, campaign)
    if request.resume:
        info = store.run_info(request.resume)
        if info.spec_digest != campaign.digest:
            raise HarnessError(ExitCode.USAGE, f"{campaign.path} changed since run {info.run_id} was planned; "
                               "resume it with the file it was planned from")
        plan = Plan(layout, campaign, kinds, env, plain, info.run_id, store.planned(info.run_id), new=False)
    else:
        night = _tonight(campaign, request)
        plan = _cases(Plan(layout, campaign, kinds, env, plain, _new_run_id(store, request, night), []),
                      request, night, out_root, observers)
    return replace(plan, crashing=frozenset(c.target for c in plan.cases if c.fault in kinds.crash))
