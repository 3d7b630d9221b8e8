"""The `bug` layer of `test`: `harness/uafault bug` on the variants
campaign's first oracle failure and its first CRASH (the variant that
oopses under SMAP), and `bug --repro` on a KASAN report (the variant
whose string copy overruns its buffer, on the KASAN guest), through the
CLI.  Each report must hold every section, its C reproducer must build
and reproduce, and a kernel report's trace must be decoded to file:line
with the tree's MAINTAINERS entries for its files, not KASAN's own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..campaign.store import DB_NAME, History
from ..core.paths import Layout
from ..core.results import BUG_REPORT_NAME, LayerResult
from ..core.verdicts import Verdict
from ..guest.protocol import oracle_tag
from ..triage.bug import DECODED_NAME, FRAME_FILE, SECTIONS, section, section_names
from ..triage.repro import load_repro
from .campaign_layers import OOPSING_VARIANT, REPRO_CONFIGS, checks_layer, cli_command, run_logged

LAYER_DIR = "bug"
WAIT_LIMIT = 1800


# Kinds that plant the same fault on every run (no race to win), so the
# finding reproduces each time the layer asks.
STEADY_KINDS = ("unmapped", "kernel_alias", "prot_none", "read_only", "none")
# The shipped repro config run again on the KASAN guest, and what KASAN
# calls its overrun there.
KASAN_REPRO = REPRO_CONFIGS / "string_regrow.toml"
KASAN_TITLE = "BUG: KASAN: slab-out-of-bounds"


def findings(layout: Layout, run_id: str) -> dict[str, str]:
    """An oracle failure and a CRASH of the run, each of a steady kind:
    kind -> case id.  The CRASH is the variant that oopses on purpose (a
    known issue's XFAIL with its kernel report's title)."""
    with History(layout.results_root / DB_NAME) as stored:
        rows = [r for r in stored.rows(run_id) if r.case.fault in STEADY_KINDS]
    out: dict[str, str] = {}
    for r in rows:
        if "oracle" not in out and r.verdict in (Verdict.FAIL, Verdict.XFAIL) and oracle_tag(r.title):
            out["oracle"] = r.case.case_id
        report = r.title and not oracle_tag(r.title) and not r.title.startswith("known ")
        if "crash" not in out and r.case.target == OOPSING_VARIANT and report:
            out["crash"] = r.case.case_id
    return out


def run_bug_layer(layout: Layout, run_dir: Path, jobs: int, run_id: str | None) -> LayerResult:
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    chosen = findings(layout, run_id) if run_id else {}
    checks: dict[str, bool] = {f"the variants run has a {kind} to report": kind in chosen for kind in ("oracle", "crash")}
    asked = {kind: (run_id or "", case) for kind, case in chosen.items()}
    asked["kasan"] = ("--repro", str(_kasan_repro(layout, out)))
    for kind, what in asked.items():
        where = out / kind
        rc = run_logged(layout, cli_command(layout, jobs, "bug", *what, "--runs", "2", "--out", str(where)),
                        out / f"{kind}.log", WAIT_LIMIT)
        report = where / BUG_REPORT_NAME
        text = report.read_text() if report.is_file() else ""
        checks[f"{kind}: bug exit 0"] = rc == 0
        checks[f"{kind}: every section ({', '.join(SECTIONS)})"] = report.is_file() and section_names(report) == list(SECTIONS)
        sources = sorted(where.glob("*.c"))
        checks[f"{kind}: the C reproducer built and reproduced"] = (
            len(sources) == 1 and sources[0].with_suffix("").is_file() and ", it reproduces" in text)
        maintainers = section(text, "Maintainers")
        if kind != "oracle":
            decoded = where / DECODED_NAME
            checks[f"{kind}: the trace decoded to file:line"] = decoded.is_file() and bool(
                FRAME_FILE.search(decoded.read_text()))
        if kind == "crash":
            # Its frames are the variant module's and the syscall's dispatch: no maintainer to ask.
            checks["crash: no maintainer asked about uafault's own modules"] = (
                "outside the tree" in maintainers and "module/variants/" in maintainers)
        if kind == "kasan":
            checks["kasan: maintainers from the tree's MAINTAINERS"] = "@" in maintainers and "get_maintainer" in maintainers
            checks[f"kasan: titled {KASAN_TITLE} in the function, KASAN's own code not asked"] = (
                section(text, "Title").startswith(f"{KASAN_TITLE} in ") and "mm/kasan/" not in maintainers)
    return checks_layer(LAYER_DIR, checks, out, out,
                        f"bug reports of run {run_id}: {', '.join(chosen.values())}, and of {KASAN_REPRO} on KASAN",
                        {"run_id": run_id or "", "cases": chosen})


def _kasan_repro(layout: Layout, out: Path) -> Path:
    """The shipped string_regrow repro config, on the KASAN guest."""
    shipped = load_repro(layout.project / KASAN_REPRO)
    path = out / "kasan.toml"
    repro = dataclasses.replace(shipped, path=path, kernel="kasan", title=KASAN_TITLE)
    path.write_text(repro.to_toml(f"{KASAN_REPRO} on the KASAN guest: written by the bug layer."))
    return path
