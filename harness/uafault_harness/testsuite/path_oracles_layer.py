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
A second boot makes the fuse read's server never answer (--hang-paths):
the agent's watchdog must name the case and end the agent.  A third boots
a kernel tainted before its first case (sysctl.kernel.tainted on the
command line, as a report during boot would leave it): the agent must
refuse to run a case on it."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.paths import Layout
from ..core.results import LayerResult
from ..guest.protocol import BOOT_TAINTED_RE, CASE_MARKER, ORACLE_NOTE, WATCHDOG_RE, agent_args
from ..guest.runner import KTAP_NAME
from .campaign_layers import checks_layer, cli_command, run_logged

LAYER_DIR = "path-oracles"
PATH_PREFIX = "path_"
# What a path's misuse keeps past its call, by the oracles that must see
# it (the other paths' calls keep nothing past the kernel's own release).
_BOTH = ("[pins] pin balance", "[pins] VmPin")
KEEPS = {"path_io_uring_read_fixed": _BOTH, "path_io_uring_write_fixed": _BOTH,
         "path_iommufd_ioas_map": _BOTH, "path_xdp_umem_reg": ("[pins] pin balance",),
         "path_v4l2_userptr_vivid": ("[pins] pin balance",),
         # gup_test charges no VmPin.
         **{f"path_gup_test_longterm_{how}": ("[pins] pin balance",)
            for how in ("fast", "write", "locked")},
         # vmsplice's pipe holds FOLL_GET references: only [refs] sees them.
         "path_vmsplice": ("[refs]",)}
_ARTEFACTS = re.compile(r"^artefacts: (\S+)$", re.M)
HANG_PATH = "path_fuse_direct_read"
# TAINT_CRAP (C), an arbitrary taint no boot of ours has.
BOOT_TAINT = 1024
HANG_WATCHDOG_SECONDS = 5
_SUBTEST = re.compile(r"^\s*# Subtest: (\S+)")


def artefacts_of(log: str) -> Path | None:
    """Where a `guest` command's log says it stored the run."""
    where = _ARTEFACTS.search(log)
    return Path(where.group(1)) if where else None


def complaints_by_suite(ktap: str) -> dict[str, list[str]]:
    """Each top-level suite's oracle complaints, in order."""
    out: dict[str, list[str]] = {}
    suite = ""
    for line in ktap.splitlines():
        m = _SUBTEST.match(line)
        if m and line.startswith("    #"):
            suite = m.group(1)
            out.setdefault(suite, [])
            continue
        note = ORACLE_NOTE.match(line)
        if note and suite:
            out[suite].append(note.group(1))
    return out


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


def run_path_oracles_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "path oracles"
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    log = out / "guest.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                        agent_args(targets=f"{PATH_PREFIX}*", faults="none", misuse_paths=True)), log)
    text = log.read_text(errors="replace")
    where = artefacts_of(text)
    ktap = where / KTAP_NAME if where else None
    suites = complaints_by_suite(ktap.read_text()) if ktap and ktap.is_file() else {}
    checks: dict[str, bool] = {f"the misused paths fail the run (exit {rc} != 0)": rc != 0,
                               "the run lists paths": any(s.startswith(PATH_PREFIX) for s in suites)}
    for suite, said in sorted(suites.items()):
        if not suite.startswith(PATH_PREFIX):
            continue
        checks[f"{suite}: [result] caught the extra byte"] = any(c.startswith("[result]") for c in said)
        for want in KEEPS.get(suite, ()):
            checks[f"{suite}: {want} caught what it kept"] = any(c.startswith(want) for c in said)
    checks.update(hang_checks(layout, out, jobs))
    checks.update(taint_checks(layout, out, jobs))
    return checks_layer(layer, checks, out, log, "every path's oracles fire on its misuse")
