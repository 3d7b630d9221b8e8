"""The `user module` layer of `test`: a user's own driver code, from
directories outside the checkout, through the real CLI as a user runs it.

Two copies of module/example/ are made in a temporary directory: `mine`,
as it is, and `buggy`, with two mutations (a length that counts the
header twice, a pin never released).  A campaign file next to them loads
both on the plain and the KASAN guest, with a known-issues file and a
kernel parameter of its own and `pairs` that pair mine_* with buggy_*;
`report --variants` must then find each buggy target caught and each
correct one clean; the campaign also runs a device described in TOML
(/dev/zero read, described with a contract it does not keep).  Repro
configs replay a buggy case and the described device's broken contract.  Three more
modules must each end in one clear line naming the module: one that does
not build, one that does not load, one that registers no target."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..campaign.runner import CAMPAIGN_DIR
from ..campaign.store import DB_NAME, History
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.results import Counts, LayerResult, SUMMARY_NAME, write_layer
from ..core.verdicts import Verdict
from .campaign_layers import REPRODUCED, cli_command, newest_run, run_logged, since_now

LAYER_DIR = "user-module"
EXAMPLE = Path("module/example")
EXAMPLE_SOURCE = "uafault_example.c"
CAMPAIGN_NAME = "user-module"
# Harmless, and visible on the guest's "Command line:" boot line.
APPEND = "nokaslr"
# mine_<x> is correct, buggy_<x> its mutant.
MUTATIONS = (
    # The payload's length counts the header too: 8 bytes read past the range.
    ("len = argsz - sizeof(hdr);", "len = argsz;"),
    # The pinned pages are never unpinned.
    ("unpin_user_pages_dirty_lock(pages, rc, true);", "/* never unpinned */"),
)

CAMPAIGN = f"""\
[campaign]
name = "{CAMPAIGN_NAME}"
kernels = ["plain", "kasan"]
targets = ["mine_*", "buggy_*", "path_zero_wrong", "path_zero_read"]
faults = ["none", "unmapped"]
modules = ["mine", "buggy"]
paths = ["zero_wrong.toml"]
known_issues = "known.toml"
append = "{APPEND}"
pairs = [["mine_*", "buggy_*"]]
budget = "20m"
"""

KNOWN = """\
[[issue]]
target = "buggy_*"
strict = false
reason = "mutants of module/example, made by the user-module layer"

[[issue]]
target = "path_zero_wrong"
strict = false
reason = "/dev/zero described with a contract it does not keep, on purpose"
"""

# /dev/zero read, described with the wrong contract: a read that stops at
# a hole returns what it cleared, not nothing, so the result oracle fails it.
ZERO_WRONG = """\
[path]
name = "zero_wrong"
device = "/dev/zero"
open = "rdonly"
call = "read"
writes = "zeros"
contract = "all"
"""

REPRO_DESCRIBED = """\
[repro]
kernel = "plain"
paths = ["zero_wrong.toml"]
target = "path_zero_wrong"
fault = "unmapped"
runs = 1
expect = "FAIL"
title = "[result]"
"""

REPRO = """\
[repro]
kernel = "plain"
modules = ["buggy"]
known_issues = "known.toml"
target = "buggy_pin_buffer"
fault = "none"
runs = 1
expect = "FAIL"
title = "[pins]"
"""

# A module that is not a uafault user at all; {init} is its init's body.
PLAIN_MODULE = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int __init {name}_init(void)
{{
	{init}
}}

static void __exit {name}_exit(void)
{{
}}

module_init({name}_init);
module_exit({name}_exit);
MODULE_LICENSE("GPL");
"""


@dataclass(frozen=True)
class BadModule:
    """A module that must fail, and the words its one line must hold."""
    name: str
    source: str
    words: tuple[str, ...]


BAD_MODULES = (
    BadModule("uafault_user_nobuild", PLAIN_MODULE.format(name="nobuild", init="return 0 /* no ; */"),
              ("module", "uafault_user_nobuild", "build", "failed")),
    BadModule("uafault_user_noload", PLAIN_MODULE.format(name="noload", init="return -ENODEV;"),
              ("agent exit 3", "uafault_user_noload.ko", "No such device")),
    BadModule("uafault_user_noreg", PLAIN_MODULE.format(name="noreg", init="return 0;"),
              ("agent exit 3", "module uafault_user_noreg registered no target")),
)


def copy_example(project: Path, dst: Path, prefix: str, mutations: tuple[tuple[str, str], ...] = ()) -> Path:
    """module/example/ as a user copies it, renamed to prefix (its module
    and its targets), with mutations applied (each must apply)."""
    dst.mkdir(parents=True)
    source = (project / EXAMPLE / EXAMPLE_SOURCE).read_text()
    for old, new in mutations:
        if old not in source:
            raise ValueError(f"{EXAMPLE / EXAMPLE_SOURCE} no longer has {old!r}")
        source = source.replace(old, new)
    (dst / f"{prefix}.c").write_text(source.replace('"example_', f'"{prefix}_'))
    makefile = (project / EXAMPLE / "Makefile").read_text()
    (dst / "Makefile").write_text(makefile.replace("uafault_example", prefix))
    return dst


def _plain_module(dst: Path, bad: BadModule) -> Path:
    dst.mkdir(parents=True)
    (dst / f"{bad.name}.c").write_text(bad.source)
    (dst / "Makefile").write_text(f"obj-m += {bad.name}.o\n")
    return dst


def _one_line(text: str, words: tuple[str, ...]) -> bool:
    """Exactly the clear line asked for: one line holds every word, and no
    traceback."""
    return "Traceback" not in text and any(all(w in line for w in words) for line in text.splitlines())


class _Checks:
    def __init__(self) -> None:
        self.results: dict[str, bool] = {}

    def add(self, name: str, ok: bool) -> bool:
        self.results[name] = ok
        return ok


def _campaign_checks(layout: Layout, work: Path, out: Path, jobs: int, checks: _Checks) -> None:
    db = layout.results_root / DB_NAME
    since = since_now()
    spec = work / "user.toml"
    spec.write_text(CAMPAIGN)
    log = out / "campaign.log"
    rc = run_logged(layout, cli_command(layout, jobs, "campaign", str(spec)), log, timeout=1800)
    run = newest_run(db, since, CAMPAIGN_NAME)
    checks.add(f"campaign of two modules outside the checkout, plain and KASAN: exit 0 (see {log})",
               rc == 0 and run is not None)
    if run is None:
        return
    with History(db) as stored:
        rows = stored.rows(run[0])
    kernels = {r.case.kernel for r in rows}
    checks.add("the campaign ran the modules on both kernels", kernels == {"plain", "kasan"})
    described = {(r.case.target, r.verdict) for r in rows if r.case.target.startswith("path_zero")}
    checks.add("the described paths ran: zero_read passes, zero_wrong's broken contract is caught (XFAIL)",
               ("path_zero_read", Verdict.PASS) in described and ("path_zero_wrong", Verdict.XFAIL) in described
               and not any(v not in (Verdict.PASS, Verdict.XFAIL) for _, v in described))
    consoles = "".join(p.read_text(errors="replace") for p in
                       (layout.results_root / CAMPAIGN_DIR / run[0]).glob("boot-*/console.log"))
    checks.add(f"the guests booted with the campaign's append ({APPEND})",
               re.search(rf"Command line:.*\b{APPEND}\b", consoles) is not None)
    report = out / "report-variants.log"
    rrc = run_logged(layout, cli_command(layout, None, "report", "--variants", run[0]), report)
    checks.add(f"report --variants pairs mine_* with buggy_*: 2/2 caught, no twin flagged (see {report})",
               rrc == 0 and "2/2 variants caught (100%), 0 twins flagged" in report.read_text())
    _minimize_checks(layout, run[0], out, jobs, checks)


def _minimize_checks(layout: Layout, run_id: str, out: Path, jobs: int, checks: _Checks) -> None:
    """minimize of a buggy case: its config and C reproducer carry the
    user's module, and the reproducer gives the same verdict with it loaded."""
    with History(layout.results_root / DB_NAME) as stored:
        case = stored.first_failure(run_id, (Verdict.FAIL, Verdict.XFAIL))
    if not checks.add("the campaign has a failing buggy case to minimise", case is not None):
        return
    where = out / "minimize"
    log = out / "minimize.log"
    rc = run_logged(layout, cli_command(layout, jobs, "minimize", run_id, str(case), "--out", str(where)), log)
    configs = sorted(where.glob("*.toml"))
    text = configs[0].read_text() if len(configs) == 1 else ""
    source = configs[0].with_suffix(".c").read_text() if configs else ""
    checks.add(f"minimize of {case}: exit 0, the C reproducer gives the same verdict (see {log})", rc == 0)
    checks.add("the minimised config names the buggy module's directory and the known issues",
               re.search(r'modules = \[".*/buggy"\]', text) is not None and "known_issues = " in text
               and f'append = "{APPEND}"' in text)
    checks.add("the C reproducer says to load buggy.ko and where it was built from",
               re.search(r"buggy\.ko \(built from .*/buggy\)", source) is not None)


def _described_checks(layout: Layout, work: Path, out: Path, jobs: int, checks: _Checks) -> None:
    config = work / "zero_wrong_repro.toml"
    config.write_text(REPRO_DESCRIBED)
    log = out / "repro-described.log"
    rc = run_logged(layout, cli_command(layout, jobs, "repro", str(config)), log)
    checks.add(f"repro config of a device described in TOML: its broken contract REPRODUCED (see {log})",
               rc == 0 and REPRODUCED.search(log.read_text(errors="replace")) is not None)


def _repro_checks(layout: Layout, work: Path, out: Path, jobs: int, checks: _Checks) -> None:
    config = work / "buggy_pin_buffer.toml"
    config.write_text(REPRO)
    log = out / "repro.log"
    rc = run_logged(layout, cli_command(layout, jobs, "repro", str(config)), log)
    text = log.read_text(errors="replace")
    checks.add(f"repro config naming the buggy module: REPRODUCED (see {log})",
               rc == 0 and REPRODUCED.search(text) is not None)
    checks.add("repro names the known issue of its own known_issues file",
               "the case is a known issue: mutants of module/example" in text)


def _bad_module_checks(layout: Layout, work: Path, out: Path, jobs: int, checks: _Checks) -> None:
    for bad in BAD_MODULES:
        src = _plain_module(work / bad.name, bad)
        log = out / f"{bad.name}.log"
        rc = run_logged(layout, cli_command(layout, jobs, "guest", "--module", str(src), "--timeout", "300"), log)
        checks.add(f"{bad.name}: exit {rc} != 0, one line: {' ... '.join(bad.words)} (see {log})",
                   rc != 0 and _one_line(log.read_text(errors="replace"), bad.words))


def run_user_module_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "user module"
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="uafault-user-"))
    checks = _Checks()
    try:
        copy_example(layout.project, work / "mine", "mine")
        copy_example(layout.project, work / "buggy", "buggy", MUTATIONS)
        (work / "known.toml").write_text(KNOWN)
        (work / "zero_wrong.toml").write_text(ZERO_WRONG)
        _campaign_checks(layout, work, out, jobs, checks)
        _repro_checks(layout, work, out, jobs, checks)
        _described_checks(layout, work, out, jobs, checks)
        _bad_module_checks(layout, work, out, jobs, checks)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    passed = sum(checks.results.values())
    counts = Counts(passed=passed, failed=len(checks.results) - passed)
    bad = [name for name, ok in checks.results.items() if not ok]
    result = LayerResult(layer, ExitCode.TEST_FAILED if bad else ExitCode.OK,
                         ("failed: " + "; ".join(bad)) if bad else
                         f"{passed} checks: campaign, report --variants, repro and three broken modules",
                         counts, details={"checks": checks.results})
    write_layer(out / SUMMARY_NAME, result)
    return result
