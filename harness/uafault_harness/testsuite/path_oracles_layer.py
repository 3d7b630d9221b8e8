"""The `path oracles` layer of `test`: the oracles can fire on every real
kernel path.  One guest boot runs the paths with the agent's test-only
--misuse-paths: each path then reports one byte more than the kernel
moved, which the result oracle must catch, and the paths that hold pins
past their call keep them (io_uring's registered buffers, iommufd's
mapping, AF_XDP's umem, v4l2's queued USERPTR buffer, gup_test's
long-term pin), which the pin
oracle must catch: the FOLL_PIN balance, and VmPin where the kernel
charges it (AF_XDP charges no root, videobuf2 nobody); vmsplice's pipe
keeps its page references, which only the page-reference oracle sees.
The same boot runs the `movable` kind on those long-term pinners, whose
held phase --misuse-paths moves to before the call pins anything (what a
pinner that migrated nothing would leave): `[movable]` must say pages
stayed in ZONE_MOVABLE, on every one of them.  The longterm campaign
(configs/campaigns/longterm.toml) runs them correct under `movable`:
every one must run and pass, its pages migrated out while held.
The same two runs hold the paths that allow changes while held
(kpath.changes: iommufd's access under IOMMU_IOAS_UNMAP and under its
domain detached and another attached, io_uring's
in-flight fixed read under a buffer update and an unregister, v4l2's
USERPTR buffer queued again at another range) to the held_* kinds: in
the longterm campaign every change must run and pass (the unmap gives
the pins back at once, through the access's unmap callback; the detach
leaves them with the access, which still reaches the bytes, and the new
domain maps the IOVA to the same pages; the update
and the unregister keep them for the request until it completes; the
re-queue pins the new range and releases the old; the bytes land in the
pinned pages; nothing leaks), and on
the misuse boot, whose held phase comes before the call pins anything,
`[held-change]` must say the change found nothing held.
fuse's splice servers keep each request in their pipe past the call,
which on a fixed kernel holds copies of the caller's pages, never the
pages (0c4bcfdecb1a, CVE-2022-1011): there the page-reference oracle
must stay silent.
A second boot runs correct paths with --refs-passer-by: the agent itself
holds a reference on each page of a range through the looks before the
call (vmsplice()'s pipe, as compaction or the LRU would hold one) and
lets go before the call, so the page holds one fewer after it than the
looks saw; the page-reference oracle must not charge that to the call
(issue 30: process_vm_readv on tmpfs_private, under compaction).
Two boots run paths as the user caller (--caller user: a child without
CAP_IPC_LOCK under a small RLIMIT_MEMLOCK, whose pin accounting the
[accounting] oracle checks): misused, io_uring's fixed-buffer paths keep
their registration, which [accounting] must catch twice, as VmPin still
charged after the calls and as a registration of the limit that no
longer fits; correct, the long-term pinners that charge RLIMIT_MEMLOCK
(io_uring, iommufd, AF_XDP) must pass with [accounting] silent.
A further boot makes the fuse read's server never answer (--hang-paths):
the agent's watchdog must name the case and end the agent.  A fourth boots
a kernel tainted before its first case (sysctl.kernel.tainted on the
command line, as a report during boot would leave it): the agent must
refuse to run a case on it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..campaign.store import DB_NAME, History, Row
from ..core.paths import Layout
from ..core.results import LayerResult
from ..core.verdicts import KtapResult, Verdict, ktap_result
from ..guest.protocol import (ACCOUNTING_TAG, BOOT_TAINTED_RE, CASE_MARKER, HELD_CHANGE_ORACLE, MISUSE_NOT_KEPT_RE,
                              ORACLE_NOTE, PASSER_BY_RE, REFS_KEPT, WATCHDOG_RE, agent_args)
from ..guest.runner import KTAP_NAME
from .campaign_layers import checks_layer, cli_command, run_campaign_file, run_logged

LAYER_DIR = "path-oracles"
PATH_PREFIX = "path_"
# What a path's misuse keeps past its call, by the oracles that must see
# it (the other paths' calls keep nothing past the kernel's own release).
_BOTH = ("[pins] pin balance", "[pins] VmPin")
KEEPS = {"path_io_uring_read_fixed": _BOTH, "path_io_uring_write_fixed": _BOTH,
         "path_io_uring_read_fixed_held": _BOTH, "path_iommufd_ioas_map": _BOTH,
         "path_iommufd_access_pages": _BOTH, "path_xdp_umem_reg": ("[pins] pin balance",),
         "path_v4l2_userptr_vivid": ("[pins] pin balance",),
         # gup_test charges no VmPin.
         **{f"path_gup_test_longterm_{how}": ("[pins] pin balance",)
            for how in ("fast", "write", "locked")},
         # vmsplice's pipe holds FOLL_GET references: only [refs] sees them.
         "path_vmsplice": ("[refs]",)}
# The long-term pinners with a held phase (kpath.held): the movable kind
# runs there, and on their misuse (the phase before the pins) must say
# the pages stayed in ZONE_MOVABLE.
HELD_PATHS = ("path_io_uring_read_fixed", "path_io_uring_write_fixed", "path_io_uring_read_fixed_held",
              "path_iommufd_ioas_map", "path_iommufd_access_pages", "path_xdp_umem_reg", "path_v4l2_userptr_vivid",
              *(f"path_gup_test_longterm_{how}" for how in ("fast", "write", "locked")))
# The held paths that allow changes while held (kpath.changes), by the
# kinds that make them (kinds_held.c's held_*): each must run and pass
# in the longterm campaign, and draw HELD_CHANGE_ORACLE on the misuse boot.
HELD_CHANGES = {"path_iommufd_access_pages": ("held_unmap", "held_detach"),
                "path_io_uring_read_fixed_held": ("held_update", "held_unregister"),
                "path_v4l2_userptr_vivid": ("held_requeue",)}
MISUSE_FAULTS = ",".join(("none", "movable", *sorted({k for kinds in HELD_CHANGES.values() for k in kinds})))
MOVABLE = "[movable]"
LONGTERM = Path("configs/campaigns/longterm.toml")
# How [refs] says a call kept a reference (oracle.c's check_refs()).
KEPT_REF = REFS_KEPT
# What a path's misuse keeps that holds none of the caller's pages on a
# fixed kernel, by the fix that made it so: no oracle can catch the
# keeping, and [refs] must say nothing.  fuse's splice server keeps each
# request in its pipe until the next one; since 0c4bcfdecb1a
# fuse_dev_splice_read() copies a direct write's pages into the pipe
# instead of handing it the pages, so before it [refs] would have said
# KEPT_REF.  A read's request carries no page of the caller's on any
# kernel: its splice path proves nothing here.  The silence means
# something only if the pipe was kept: the agent says when it was not
# (MISUSE_NOT_KEPT_RE).
KEEPS_COPIES = {"path_fuse_direct_write_splice": "0c4bcfdecb1a"}
# --refs-passer-by runs every path_p* path: path_pipe_{read,write,readv,
# writev} and path_process_vm_{readv,writev}, all correct, with no fault,
# on the memory of issue 30's case.  These must be among them.
PASSER_BY_TARGETS = "path_p*"
PASSER_BY_PATHS = ("path_pipe_read", "path_pipe_write", "path_process_vm_readv", "path_process_vm_writev")
PASSER_BY_MEMORY = "tmpfs_private"
_ARTEFACTS = re.compile(r"^artefacts: (\S+)$", re.M)
# The user caller's boots (--caller user, faults none): misused, the
# io_uring paths' kept registration must draw both of [accounting]'s
# complaints (caller.c); correct, the paths that charge RLIMIT_MEMLOCK
# (path_[ix]*: io_uring's, iommufd's, AF_XDP's) must pass with it silent.
USER_CALLER = "user"
ACCOUNTING = f"[{ACCOUNTING_TAG}]"
ACCOUNTING_MISUSE_TARGETS = "path_io_uring_*"
ACCOUNTING_MISUSE_PATHS = ("path_io_uring_read_fixed", "path_io_uring_write_fixed")
# What each complaint starts with: the counter left charged, the limit.
ACCOUNTING_SAYS = {"VmPin still charged after the calls": f"{ACCOUNTING} VmPin ",
                   "the limit's registration refused after the case": f"{ACCOUNTING} uid "}
ACCOUNTING_CORRECT_TARGETS = "path_[ix]*"
ACCOUNTING_CORRECT_PATHS = ("path_io_uring_read_fixed", "path_io_uring_write_fixed", "path_iommufd_ioas_map",
                            "path_xdp_umem_reg")
HANG_PATH = "path_fuse_direct_read"
# TAINT_CRAP (C), an arbitrary taint no boot of ours has.
BOOT_TAINT = 1024
HANG_WATCHDOG_SECONDS = 5
_SUBTEST = re.compile(r"^\s*# Subtest: (\S+)")


def artefacts_of(log: str) -> Path | None:
    """Where a `guest` command's log says it stored the run."""
    where = _ARTEFACTS.search(log)
    return Path(where.group(1)) if where else None


@dataclass
class SuiteRun:
    """What one top-level suite of the agent's KTAP said: its oracles'
    complaints and its cases' result lines, in order, and each case's
    --refs-passer-by note (pages held, pages the looks saw held)."""
    complaints: list[str] = field(default_factory=list)
    cases: list[KtapResult] = field(default_factory=list)
    passers: list[tuple[int, int]] = field(default_factory=list)


def runs_by_suite(ktap: str) -> dict[str, SuiteRun]:
    """Each top-level suite's run, in order."""
    out: dict[str, SuiteRun] = {}
    suite = ""
    for line in ktap.splitlines():
        m = _SUBTEST.match(line)
        if m and line.startswith("    #"):
            suite = m.group(1)
            out.setdefault(suite, SuiteRun())
            continue
        if not suite:
            continue
        note = ORACLE_NOTE.match(line)
        passer = PASSER_BY_RE.search(line)
        result = ktap_result(line)
        if note:
            out[suite].complaints.append(note.group(1))
        elif passer:
            out[suite].passers.append((int(passer.group(1)), int(passer.group(2))))
        elif result and result.indent:
            out[suite].cases.append(result)
    return out


def complaints_by_suite(ktap: str) -> dict[str, list[str]]:
    """Each top-level suite's oracle complaints, in order."""
    return {suite: run.complaints for suite, run in runs_by_suite(ktap).items()}


def ktap_of(log: str) -> str:
    """The agent's KTAP of the run a `guest` command's log names, or ""."""
    where = artefacts_of(log)
    ktap = where / KTAP_NAME if where else None
    return ktap.read_text() if ktap and ktap.is_file() else ""


def passer_by_verdicts(rc: int, runs: dict[str, SuiteRun]) -> dict[str, bool]:
    """The checks of the --refs-passer-by boot: it passes, runs the paths,
    and on each the looks before every call saw the passer-by's reference
    on every page it held (else the check proved nothing), while no case
    failed and [refs] said nothing."""
    checks = {f"correct paths pass with a passer-by's reference let go before each call (exit {rc} == 0)": rc == 0}
    for path in PASSER_BY_PATHS:
        checks[f"{path} ran under --refs-passer-by"] = bool(runs.get(path, SuiteRun()).cases)
    for suite, run in sorted(runs.items()):
        if not suite.startswith(PATH_PREFIX):
            continue
        checks[f"{suite}: every case passed with a passer-by"] = bool(run.cases) and all(
            r.ok and not r.skipped for r in run.cases)
        checks[f"{suite}: [refs] charged no passer-by's reference to the call"] = not any(
            c.startswith("[refs]") for c in run.complaints)
        checks[f"{suite}: the looks before each call saw the passer-by on every page it held"] = (
            len(run.passers) == len(run.cases) and all(held > 0 and seen == held for held, seen in run.passers))
    return checks


def passer_by_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """One boot of correct paths whose pages a passer-by held through the
    looks before each call: the page-reference oracle charges nothing."""
    log = out / "passer-by.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                        agent_args(targets=PASSER_BY_TARGETS, faults="none",
                                                   memory=PASSER_BY_MEMORY, refs_passer_by=True)), log)
    return passer_by_verdicts(rc, runs_by_suite(ktap_of(log.read_text(errors="replace"))))


def caller_verdicts(misuse_rc: int, misused: dict[str, SuiteRun], correct_rc: int,
                    correct: dict[str, SuiteRun]) -> dict[str, bool]:
    """The checks of the user caller's two boots: misused, each io_uring
    path's kept registration drew each of [accounting]'s complaints;
    correct, each path that charges RLIMIT_MEMLOCK ran, every case
    passed and [accounting] said nothing."""
    checks = {f"paths misused as the user caller fail the run (exit {misuse_rc} != 0)": misuse_rc != 0,
              f"correct paths pass as the user caller (exit {correct_rc} == 0)": correct_rc == 0}
    for path in ACCOUNTING_MISUSE_PATHS:
        said = misused.get(path, SuiteRun()).complaints
        for what, start in ACCOUNTING_SAYS.items():
            checks[f"{path} as the user caller, misused: {ACCOUNTING} caught {what}"] = any(
                c.startswith(start) for c in said)
    for path in ACCOUNTING_CORRECT_PATHS:
        run = correct.get(path, SuiteRun())
        checks[f"{path} as the user caller: every case passed"] = bool(run.cases) and all(
            r.ok and not r.skipped for r in run.cases)
        checks[f"{path} as the user caller: {ACCOUNTING} silent"] = not any(
            c.startswith(ACCOUNTING) for c in run.complaints)
    return checks


def caller_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """Two boots of paths as the user caller: misused, then correct."""
    runs = []
    for name, targets, misuse in (("caller-misuse", ACCOUNTING_MISUSE_TARGETS, True),
                                  ("caller-correct", ACCOUNTING_CORRECT_TARGETS, False)):
        log = out / f"{name}.log"
        rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                            agent_args(targets=targets, faults="none", caller=USER_CALLER,
                                                       misuse_paths=misuse)), log)
        runs.append((rc, runs_by_suite(ktap_of(log.read_text(errors="replace")))))
    (misuse_rc, misused), (correct_rc, correct) = runs
    return caller_verdicts(misuse_rc, misused, correct_rc, correct)


def hang_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """One boot whose only call never returns: the watchdog names it."""
    log = out / "hang.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--silence-timeout", "120", "--agent-args",
                                        agent_args(targets=HANG_PATH, faults="none", hang_paths=True,
                                                   watchdog=HANG_WATCHDOG_SECONDS)), log)
    named = WATCHDOG_RE.search(log.read_text(errors="replace"))
    return {f"a call that never returns fails the run (exit {rc} != 0)": rc != 0,
            f"the watchdog named {HANG_PATH} after {HANG_WATCHDOG_SECONDS} s":
                named is not None and named.group(1) == f"{HANG_PATH}.none"
                and named.group(2) == str(HANG_WATCHDOG_SECONDS)}


def taint_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """One boot tainted before the agent starts: no case runs on it."""
    log = out / "tainted.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--append", f"sysctl.kernel.tainted={BOOT_TAINT}",
                                        "--agent-args", agent_args(targets="path_pipe_read", faults="none")), log)
    text = log.read_text(errors="replace")
    return {f"a boot tainted before its first case fails (exit {rc} != 0)": rc != 0,
            "the agent said the kernel was tainted and ran no case":
                any(m.group(1) == str(BOOT_TAINT) for m in BOOT_TAINTED_RE.finditer(text))
                and CASE_MARKER not in text}


def ran_and_passed(rows: list[Row], path: str, kind: str) -> tuple[str, bool]:
    """The check that path ran under kind and every case of it passed."""
    mine = [r for r in rows if r.case.target == path and r.case.fault == kind]
    wrong = [f"{r.case.case_id} {r.verdict} {r.title}" for r in mine if r.verdict != Verdict.PASS]
    name = f"{path}: {kind} ran and passed while held"
    return (f"{name} ({'; '.join(wrong[:2]) or 'no case'})" if wrong or not mine else name), bool(mine) and not wrong


def longterm_checks(rows: list[Row]) -> dict[str, bool]:
    """The longterm campaign's verdicts: every long-term pinner ran under
    movable, and each of its cases passed (its pages left ZONE_MOVABLE
    while it held them); every change a held path allows ran under its
    kind and passed."""
    pairs = [(path, "movable") for path in HELD_PATHS]
    pairs += [(path, kind) for path, kinds in HELD_CHANGES.items() for kind in kinds]
    return dict(ran_and_passed(rows, path, kind) for path, kind in pairs)


def run_longterm_campaign(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """The longterm campaign: correct long-term pinners under movable."""
    rc, run_id, _ = run_campaign_file(layout, out / "longterm", jobs, LONGTERM, "longterm")
    checks = {f"the longterm campaign ran (exit {rc})": run_id is not None}
    if run_id is not None:
        with History(layout.results_root / DB_NAME) as stored:
            checks.update(longterm_checks(stored.rows(run_id)))
    return checks


def misuse_verdicts(rc: int, suites: dict[str, list[str]], log: str) -> dict[str, bool]:
    """The checks of the --misuse-paths boot (its exit, each suite's
    complaints, its log): it fails, every path's [result] catches its
    extra byte, the oracles KEEPS names catch what each path kept, no
    path kept nothing where it must keep, and each path of KEEPS_COPIES
    (what it keeps, a fixed kernel fills with copies) ran and drew no
    [refs]; on every long-term pinner with a held phase [movable]
    caught pages left in ZONE_MOVABLE, and on every path that allows
    changes while held HELD_CHANGE_ORACLE caught each change finding
    nothing held."""
    checks: dict[str, bool] = {f"the misused paths fail the run (exit {rc} != 0)": rc != 0,
                               "the run lists paths": any(s.startswith(PATH_PREFIX) for s in suites)}
    for suite, said in sorted(suites.items()):
        if not suite.startswith(PATH_PREFIX):
            continue
        checks[f"{suite}: [result] caught the extra byte"] = any(c.startswith("[result]") for c in said)
        for want in KEEPS.get(suite, ()):
            checks[f"{suite}: {want} caught what it kept"] = any(c.startswith(want) for c in said)
        if "[refs]" in KEEPS.get(suite, ()):
            checks[f"{suite}: [refs] said {KEPT_REF!r}"] = any(
                c.startswith("[refs]") and c.endswith(KEPT_REF) for c in said)
        if suite in HELD_PATHS:
            checks[f"{suite}: {MOVABLE} caught pages left in ZONE_MOVABLE while held"] = any(
                c.startswith(MOVABLE) for c in said)
        for kind in HELD_CHANGES.get(suite, ()):
            checks[f"{suite}: {HELD_CHANGE_ORACLE} caught {kind} finding nothing held"] = any(
                c.startswith(f"{HELD_CHANGE_ORACLE} {kind}: ") for c in said)
    not_kept = MISUSE_NOT_KEPT_RE.search(log)
    checks["every misused path kept what it must past its call" + (f" ({not_kept.group(0)})" if not_kept else "")] = (
        not_kept is None)
    for suite, fix in sorted(KEEPS_COPIES.items()):
        checks[f"{suite}: what it kept holds none of the caller's pages ([refs] silent: {fix})"] = (
            suite in suites and not any(c.startswith("[refs]") for c in suites[suite]))
    return checks


def run_path_oracles_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "path oracles"
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    log = out / "guest.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                        agent_args(targets=f"{PATH_PREFIX}*", faults=MISUSE_FAULTS,
                                                   misuse_paths=True)), log)
    text = log.read_text(errors="replace")
    checks = misuse_verdicts(rc, complaints_by_suite(ktap_of(text)), text)
    checks.update(run_longterm_campaign(layout, out, jobs))
    checks.update(passer_by_checks(layout, out, jobs))
    checks.update(caller_checks(layout, out, jobs))
    checks.update(hang_checks(layout, out, jobs))
    checks.update(taint_checks(layout, out, jobs))
    return checks_layer(layer, checks, out, log, "every path's oracles fire on its misuse, "
                        "none on a passer-by's reference, pin accounting balances as a user, "
                        "and long-term pinners migrate out of ZONE_MOVABLE")
