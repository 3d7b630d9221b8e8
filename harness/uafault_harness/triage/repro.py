"""`repro FILE [--runs N]`: replay one failing case, N times, from a repro
config (configs/repro/*.toml), and say whether it reproduced.

A repro config names the guest kernel, the modules, the target, the fault
plan (kind, size, offset, seed, rounds of a stochastic race), the number
of runs, how many must reproduce, and what reproducing means: a verdict
(FAIL, CRASH, TIMEOUT) and a text its title must contain (an oracle tag
such as "[pins]", or a kernel report title).  The runs go through the
campaign machinery: one case per run, batches in guest boots, a crash
recorded and the next boot going on."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..campaign.batch import (
    BootEnv, CoverageSink, Progress, coverage_sources, described_lines, known_issues_for, run_batch,
)
from ..campaign.plan import agent_facts
from ..campaign.spec import Case, KERNELS, SpecError, key_line, read_table
from ..campaign.store import CaseVerdict, RunInfo, Store
from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import KernelSource, Layout, with_source
from ..core.results import new_run_id
from ..core.verdicts import Verdict
from ..guest.accel import DEFAULT_ACCEL
from ..core.coverage import Coverage, Sources
from ..guest.kernels import boot_kernel
from ..guest.modules import Modules
from ..guest.protocol import (AGENT_LIST_MEMORY, CALLERS, DEFAULT_CALLER, DEFAULT_MEMORY, HPAGE, MAX_RANGE, MEMORY_FOLIO, PAGE, agent_args,
                              oracle_tag)
from ..guest.runner import PreparedGuest, prepare_guest

REPRO_DIR = "repro"
KEYS = ("kernel", "modules", "known_issues", "append", "paths", "target", "fault", "size", "offset", "seed",
        "memory", "caller", "rounds", "runs", "threshold", "expect", "title", "kernel_source")
EXPECTABLE = (Verdict.FAIL, Verdict.CRASH, Verdict.TIMEOUT)
_TARGET = re.compile(r"[\w.-]{1,47}")
BOOT_TIMEOUT = 600
# Where a C reproducer sits in the guest.
GUEST_REPRO = "/bin/uafault-repro"


@dataclass(frozen=True)
class Repro:
    path: Path
    kernel: str
    modules: Modules
    target: str
    fault: str
    size: int
    offset: int
    seed: int
    # Iterations of a stochastic race (agent --rounds); 0: the agent's default.
    rounds: int
    runs: int
    threshold: int
    expect: str
    title: str
    digest: str
    # A file of more known issues, or None; more kernel parameters.
    known_issues: Path | None = None
    append: str = ""
    # Described paths besides configs/paths/ (files).
    paths: tuple[Path, ...] = ()
    # What backs the range (the agent's --list-memory).
    memory: str = DEFAULT_MEMORY
    # Who makes the calls (protocol.h's CALLERS).
    caller: str = DEFAULT_CALLER
    # Where its guest kernel comes from (core/paths.py), or None: the
    # command's.
    kernel_source: KernelSource | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    def env(self, layout: Layout) -> BootEnv:
        """A repro judges the raw verdict (CRASH, not XFAIL): the known
        issues only name the bug it reproduced (known_reason)."""
        return BootEnv(self.modules, self.append, path_lines=described_lines(layout, self.paths))

    def cases(self, runs: int) -> list[Case]:
        """One case per run: the same plan, told apart by rep."""
        return [Case(i, self.kernel, self.target, self.fault, self.size, self.offset, self.seed, i + 1,
                     self.memory, self.caller) for i in range(runs)]

    def reproduced(self, v: CaseVerdict) -> bool:
        if v.verdict != self.expect or self.title not in v.title:
            return False
        # A FAIL counts only with an oracle's complaint: a case the agent
        # could not even set up (no such target) is not the bug.
        return v.verdict != Verdict.FAIL or oracle_tag(v.title) is not None

    @property
    def tries(self) -> int:
        """How many times a C reproducer runs the case before it gives up:
        the runs the file lets pass, plus one (1 for a steady case)."""
        return self.runs - self.threshold + 1

    def needed(self, runs: int) -> int:
        """The threshold for runs runs: the file's, scaled when --runs differs."""
        return max(1, math.ceil(self.threshold * runs / self.runs))

    def to_toml(self, comment: str = "") -> str:
        lines = [f"# {line}".rstrip() for line in comment.splitlines()]
        lines += ["[repro]", f'kernel = "{self.kernel}"',
                  "modules = [" + ", ".join(toml_string(m) for m in self.modules.entries) + "]",
                  f'target = "{self.target}"', f'fault = "{self.fault}"',
                  f"size = {self.size}", f"offset = {self.offset}", f"seed = {self.seed}"]
        if self.memory != DEFAULT_MEMORY:
            lines.append(f'memory = "{self.memory}"')
        if self.caller != DEFAULT_CALLER:
            lines.append(f'caller = "{self.caller}"')
        if self.known_issues is not None:
            lines.append(f"known_issues = {toml_string(str(self.known_issues))}")
        if self.append:
            lines.append(f"append = {toml_string(self.append)}")
        if self.paths:
            lines.append("paths = [" + ", ".join(toml_string(str(p)) for p in self.paths) + "]")
        if self.rounds:
            lines.append(f"rounds = {self.rounds}")
        if self.kernel_source is not None:
            lines.append(f'kernel_source = "{self.kernel_source}"')
        lines += [f"runs = {self.runs}", f"threshold = {self.threshold}", f'expect = "{self.expect}"',
                  f"title = {toml_string(self.title)}"]
        return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_repro(path: Path, fault_kinds: tuple[str, ...] | None = None) -> Repro:
    """Read and check a repro config; errors name file:line: key."""
    raw, check = read_table(path, "repro", KEYS)
    target = check.string("target")
    if not _TARGET.fullmatch(target):
        raise check.error("target", "must be a target name (letters, digits, '_', '.', '-')")
    runs = check.int("runs", 1, 1000, 1)
    memory = check.string("memory", None, DEFAULT_MEMORY)
    # Past the first page: a start in a large folio (run_repro() checks
    # the memory kind has them).
    offset = check.int("offset", -1, HPAGE - 1, -1)
    if offset >= PAGE and memory == DEFAULT_MEMORY:
        raise check.error("offset", f"{offset} is past the first page, which only memory of large folios allows "
                          f"(the agent's {AGENT_LIST_MEMORY} {MEMORY_FOLIO})")
    repro = Repro(
        path=path, kernel=check.string("kernel", KERNELS, "plain"),
        modules=check.modules(), known_issues=check.file("known_issues"), append=check.append(),
        paths=tuple(p.resolve() for p in check.files("paths")),
        target=target, fault=check.string("fault", fault_kinds),
        size=check.int("size", 0, MAX_RANGE, 0), offset=offset,
        seed=check.int("seed", 0, 2**31 - 1, 1), memory=memory,
        caller=check.string("caller", CALLERS, DEFAULT_CALLER),
        rounds=check.int("rounds", 0, 1_000_000, 0),
        runs=runs, threshold=check.int("threshold", 1, runs, runs),
        expect=check.string("expect", EXPECTABLE), title=check.string("title", None, ""),
        digest=hashlib.sha256(raw).hexdigest(), kernel_source=check.kernel_source())
    return repro


@dataclass(frozen=True)
class ReproResult:
    reproduced: int
    runs: int
    needed: int
    verdicts: dict[str, CaseVerdict]
    out_dir: Path
    # With --coverage: the lines each run ran (case ids as the store's).
    coverage: Coverage | None = None

    @property
    def ok(self) -> bool:
        return self.reproduced >= self.needed


def run_repro(layout: Layout, repro: Repro, runs: int | None, jobs: int,
              accel: str = DEFAULT_ACCEL, coverage: bool = False) -> ReproResult:
    if repro.kernel_source is not None:
        layout = with_source(layout, repro.kernel_source)
    guest = prepare_guest(layout, boot_kernel(repro.kernel).kasan, jobs, repro.modules.dirs, accel)
    kinds = agent_facts(guest.artefacts.agent)
    if repro.fault not in kinds.names:
        text = repro.path.read_text(errors="replace")
        line = next((n for n, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("fault")), None)
        raise SpecError(repro.path, line, "fault", f"unknown fault kind {repro.fault!r}; known: {', '.join(kinds.names)}")
    if repro.memory not in kinds.memory:
        raise SpecError(repro.path, key_line(repro.path.read_text(errors="replace"), "memory"), "memory",
                        f"unknown memory kind {repro.memory!r}; known: {', '.join(kinds.memory)}")
    folio = kinds.folios.get(repro.memory, PAGE)
    if repro.offset >= folio:
        raise SpecError(repro.path, key_line(repro.path.read_text(errors="replace"), "offset"), "offset",
                        f"{repro.offset} is past the first folio of {repro.memory} memory ({folio} bytes)")
    out = fsutil.fresh_dir(layout.results_root / REPRO_DIR, f"{repro.name}-{new_run_id()}")
    sources = coverage_sources(layout, [guest]) if coverage else None
    return replay(guest, kinds.crash, repro, runs or repro.runs, out, repro.env(layout), coverage=sources)


def known_reason(layout: Layout, repro: Repro) -> str:
    """The known issue (uafault's, or the file's own known_issues) the
    repro's case matches, or ""."""
    case = repro.cases(1)[0]
    return next((i.reason for i in known_issues_for(layout, repro.known_issues) if i.matches(case)), "")


def replay(guest: PreparedGuest, crash_kinds: frozenset[str], repro: Repro, runs: int, out: Path,
           env: BootEnv, program: Path | None = None, coverage: Sources | None = None) -> ReproResult:
    """Run repro's case runs times in as many boots as it takes (a crash
    ends a boot).  With program, a C reproducer of the case, each boot
    runs that instead of the agent's own cases."""
    out.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    cases = repro.cases(runs)
    store = Store(out / "repro.db")
    try:
        store.create_run(RunInfo(run_id, f"repro-{repro.name}", str(repro.path), repro.digest), guest.kernel_text,
                         guest.kernel.config_digest(), cases)
        progress = Progress(len(cases))
        left, boot = cases, 0
        args = agent_args(rounds=repro.rounds or None)
        programs: tuple[tuple[str, Path], ...] = ()
        if program is not None:
            programs, args = ((GUEST_REPRO, program),), agent_args(exec=GUEST_REPRO)
        sink = CoverageSink(store, run_id, coverage) if coverage is not None else None
        # Each boot runs at least one case, so runs boots always suffice.
        while left and boot < runs:
            got = run_batch(guest, store, run_id, repro.fault in crash_kinds, left, out / f"boot-{boot:04d}",
                            progress, BOOT_TIMEOUT, env, args, programs, sink)
            boot += 1
            if not got:
                raise HarnessError(ExitCode.RUN_FAILED, f"a boot ran none of the runs; see {out}/boot-{boot - 1:04d}")
            left = [c for c in left if c.case_id not in got]
        verdicts = store.verdicts(run_id)
        cov = store.coverage(run_id) if coverage is not None else None
    finally:
        store.close()
    hits = sum(repro.reproduced(v) for v in verdicts.values())
    return ReproResult(hits, runs, repro.needed(runs), verdicts, out, cov)


def describe(repro: Repro, result: ReproResult) -> str:
    if result.ok:
        return f"REPRODUCED {result.reproduced}/{result.runs}"
    seen = sorted({f"{v.verdict} {v.title}".strip() for v in result.verdicts.values()})
    return (f"NOT REPRODUCED ({result.reproduced}/{result.runs}, {result.needed} needed; wanted {repro.expect}"
            + (f" with {repro.title!r}" if repro.title else "") + "; got " + "; ".join(seen[:3]) + ")")
