"""`minimize RUN CASE`: a failing campaign case turned into the smallest
repro config that still fails the same way, and a standalone C
reproducer of it.

Each step tries a simpler plan (no fault at all, fewer race rounds, a
smaller range, a start at the page boundary) and keeps it only if the case
still reproduces: the same verdict, and for a FAIL the same oracle.  The C
reproducer is the agent's own case runner joined into one file with the
case baked in, so it plants the fault and checks the outcome exactly as
the campaign did; minimize compiles it with `cc -static` and runs it in a
guest with only the modules loaded, and it must give the same verdict."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..campaign.plan import agent_facts
from ..campaign.spec import Campaign, Case, load_campaign
from ..campaign.store import DB_NAME, CaseVerdict, Store
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout, with_source
from ..core.verdicts import Verdict
from ..guest.accel import DEFAULT_ACCEL
from ..guest.kernels import boot_kernel
from ..guest.modules import Modules
from ..guest.protocol import DEFAULT_MEMORY, oracle_tag
from ..guest.runner import GuestRequest, PreparedGuest, prepare_guest
from .repro import REPRO_DIR, Repro, replay
from .reproducer import build_command, c_reproducer, compile_c, kernel_cflags

# Smaller plans to try, smallest first; a step stops at the first that reproduces.
SIZES = (1, 8, 64, 512, 4096)
# Rounds to try, all under the agent's default (DEFAULT_ROUNDS, protocol.h).
ROUNDS = (1, 10, 50, 100)


def signature(verdict: CaseVerdict) -> tuple[str, str]:
    """What reproducing a stored failure means: (verdict, title text).  An
    XFAIL is a failure a known issue expected; its title says which kind."""
    oracle = oracle_tag(verdict.title)
    if verdict.verdict in (Verdict.FAIL, Verdict.XFAIL) and oracle:
        return Verdict.FAIL, f"[{oracle}]"
    if verdict.verdict == Verdict.TIMEOUT:
        return Verdict.TIMEOUT, ""
    if verdict.verdict in (Verdict.CRASH, Verdict.XFAIL) and verdict.title:
        return Verdict.CRASH, verdict.title
    raise HarnessError(ExitCode.USAGE, f"case {verdict.case_id} ended {verdict.verdict} "
                       f"{verdict.title!r}: no failure to minimise")


def stored_case(layout: Layout, run_id: str, case_id: str) -> tuple[Case, CaseVerdict, Campaign]:
    """The case, its verdict and its campaign (the modules it loaded, its
    kernel parameters, its known issues)."""
    db = layout.results_root / DB_NAME
    if not db.is_file():
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"{db}: no campaign database yet")
    store = Store(db)
    try:
        info = store.run_info(run_id)
        case = next((c for c in store.planned(run_id) if c.case_id == case_id), None)
        verdict = store.verdicts(run_id).get(case_id)
    finally:
        store.close()
    if case is None:
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"run {run_id} planned no case {case_id}")
    if verdict is None:
        raise HarnessError(ExitCode.NO_SUCH_RUN, f"case {case_id} of run {run_id} has no verdict yet")
    spec = Path(info.spec_path)
    if not spec.is_absolute():
        spec = layout.project / spec
    return case, verdict, load_campaign(spec, None)


@dataclass(frozen=True)
class Minimized:
    repro: Repro
    config: Path
    source: Path
    binary: Path
    c_verdict: CaseVerdict
    steps: tuple[str, ...]

    @property
    def c_reproduced(self) -> bool:
        return self.repro.reproduced(self.c_verdict)


def shrink(start: Repro, reproduces: Callable[[Repro], bool], log: Callable[[str], None],
           raced: frozenset[str] = frozenset()) -> tuple[Repro, list[str]]:
    """Apply each simplification that still reproduces, in order; raced
    are the fault kinds whose race runs --rounds times."""
    steps: list[str] = []
    current = start

    def attempt(what: str, candidates: list[Repro]) -> None:
        nonlocal current
        for candidate in candidates:
            if reproduces(candidate):
                steps.append(f"{what}: kept {describe_plan(candidate)}")
                log(steps[-1])
                current = candidate
                return
        steps.append(f"{what}: nothing smaller reproduces")
        log(steps[-1])

    if current.fault != "none":
        attempt("drop the fault", [dataclasses.replace(current, fault="none")])
    if current.fault in raced:
        attempt("fewer race rounds", [dataclasses.replace(current, rounds=r) for r in ROUNDS
                                      if not current.rounds or r < current.rounds])
    size = current.size or max(SIZES) + 1
    attempt("smaller range", [dataclasses.replace(current, size=s) for s in SIZES if s < size])
    if current.offset != 0:
        attempt("start at the page boundary", [dataclasses.replace(current, offset=0)])
    return current, steps


def describe_range(r: Repro) -> str:
    """The case's range and race rounds: "size S, offset O[, rounds R]"."""
    return (f"size {r.size or 'the kind default'}, offset {r.offset if r.offset >= 0 else 'the kind default'}"
            + (f", rounds {r.rounds}" if r.rounds else ""))


def describe_plan(r: Repro) -> str:
    return f"fault {r.fault}, {describe_range(r)}" + (f", {r.memory} memory" if r.memory != DEFAULT_MEMORY else "")


def minimize(layout: Layout, run_id: str, case_id: str, jobs: int, out_dir: Path | None,
             runs: int = 1, accel: str = DEFAULT_ACCEL) -> Minimized:
    case, verdict, campaign = stored_case(layout, run_id, case_id)
    expect, title = signature(verdict)
    out = out_dir or layout.results_root / REPRO_DIR / "minimized" / run_id
    out.mkdir(parents=True, exist_ok=True)
    config = out / f"{case.target}.{case.fault}.toml"
    start = Repro(path=config, kernel=case.kernel, modules=campaign.modules, target=case.target, fault=case.fault,
                  size=case.size, offset=case.offset, seed=case.seed, rounds=0, runs=runs, threshold=runs,
                  expect=expect, title=title, digest="", known_issues=campaign.known_issues,
                  append=campaign.append, paths=tuple(p.resolve() for p in campaign.paths), memory=case.memory, caller=case.caller,
                  kernel_source=campaign.kernel_source)
    if campaign.kernel_source is not None:
        layout = with_source(layout, campaign.kernel_source)
    guest = prepare_guest(layout, boot_kernel(case.kernel).kasan, jobs, campaign.modules.dirs, accel)
    kinds = agent_facts(guest.artefacts.agent)
    attempts = [0]

    def reproduces(candidate: Repro) -> bool:
        attempts[0] += 1
        work = out / "work" / f"{case_id}-{attempts[0]:02d}"
        return replay(guest, kinds.crash, candidate, candidate.runs, work, candidate.env(layout)).ok

    def log(line: str) -> None:
        print(f"minimize: {line}", flush=True)

    log(f"{case_id} of run {run_id}: {verdict.verdict} {verdict.title!r}; wanted: {expect} {title!r}")
    if not reproduces(start):
        raise NotReproduced(f"{case_id} does not reproduce as stored ({describe_plan(start)})")
    smallest, steps = shrink(start, reproduces, log, kinds.raced)
    smallest.path.write_text(smallest.to_toml(f"Minimised from case {case_id} of run {run_id}.\n"
                                              + "\n".join(steps)))
    source, binary, c_verdict, _ = c_reproduce(layout, guest, kinds.crash, smallest,
                                            f"case {case_id} of run {run_id}, minimised", out / "work" / f"{case_id}-c")
    log(f"{source} compiled and run in a guest: {c_verdict.verdict} {c_verdict.title}".rstrip())
    return Minimized(smallest, config, source, binary, c_verdict, tuple(steps))


def c_reproduce(layout: Layout, guest: PreparedGuest, crash_kinds: frozenset[str], repro: Repro, origin: str,
                work: Path, runs: int = 1) -> tuple[Path, Path, CaseVerdict, int]:
    """repro's C reproducer beside its config (same name, .c), built
    static and run runs times in guests (work: their files): its source,
    its binary, the verdict of a run that reproduced (else of the first)
    and how many runs reproduced."""
    cflags = kernel_cflags(layout.project, guest.kernel.build_dir)
    header = (f"uafault reproducer: {origin}.\n"
              f"{repro.target} on the {repro.kernel} guest kernel"
              + (f" (booted with {repro.append})" if repro.append else "")
              + f", {describe_plan(repro)}, seed {repro.seed}.\n"
              f"Expected: {repro.expect} {repro.title}\n\n"
              f"Build: {shlex.join(build_command(Path('repro.c'), Path('repro'), cflags))}\n"
              f"Run as root in the guest with {loaded_modules(guest, repro.modules)} loaded: ./repro\n"
              + (f"It runs the case up to {repro.tries} times, until a try fails (its config: {repro.threshold} "
                 f"of {repro.runs} runs reproduce).\n" if repro.tries > 1 else "")
              + "Generated by harness/uafault from the agent's sources.")
    source = repro.path.with_suffix(".c")
    source.write_text(c_reproducer(layout, repro, header))
    binary = repro.path.with_suffix("")
    compile_c(source, binary, cflags)
    # The program runs the one case baked into it: a boot, a replay each.
    verdicts = [v for n in range(runs) for v in replay(
        guest, crash_kinds, dataclasses.replace(repro, runs=1, threshold=1), 1, work / f"run-{n + 1}",
        repro.env(layout), program=binary).verdicts.values()]
    shown = next((v for v in verdicts if repro.reproduced(v)), verdicts[0] if verdicts else None)
    return source, binary, shown or CaseVerdict("", "none", "no verdict"), sum(map(repro.reproduced, verdicts))


def loaded_modules(guest: PreparedGuest, modules: Modules) -> str:
    """The modules a boot with modules loads, in order, as a reader of the
    C reproducer loads them by hand."""
    artefacts = guest.artefacts
    names = []
    for module in artefacts.loaded(GuestRequest(modules=modules)):
        user = artefacts.built_from(module)
        names.append(module.name + (f" ({artefacts.params(module)})" if artefacts.params(module) else "")
                     + (f" (built from {user.source})" if user else ""))
    return ", ".join(names)


class NotReproduced(HarnessError):
    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.TEST_FAILED, message)

