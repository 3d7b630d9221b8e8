"""`export [RUN] --format ktap|kunit-json|kcidb`: a campaign run in the
formats other tools read: KTAP (one suite per target), kunit.py's --json
shape, and KCIDB v4 (checkouts / builds / tests) for KernelCI."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from ..campaign.store import History, Row
from ..core.errors import ExitCode, HarnessError
from ..core.paths import GUEST_ARCH
from ..core.verdicts import BAD, VERDICTS, Verdict, ktap_directive
from ..guest.protocol import SETUP_TAG, oracle_tag
from .html import newest_run

FORMATS: tuple[str, ...] = ("ktap", "kunit-json", "kcidb")
ORIGIN = "uafault"


def _by_target(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[r.case.target].append(r)
    return groups


def to_ktap(rows: list[Row]) -> str:
    groups = _by_target(rows)
    out = ["KTAP version 1", f"1..{len(groups)}"]
    for n, (target, cases) in enumerate(groups.items(), 1):
        out += ["    KTAP version 1", f"    # Subtest: {target}", f"    1..{len(cases)}"]
        for i, r in enumerate(cases, 1):
            if r.title:
                out.append(f"    # {r.case.case_id}: {r.verdict}: {r.title}")
            if r.verdict == Verdict.UNRESOLVED:
                # The agent's own form, so a reader tells it from a skip.
                out.append(f"    # {r.title if oracle_tag(r.title) == SETUP_TAG else f'[{SETUP_TAG}] {r.title}'}")
            meaning = VERDICTS[r.verdict]
            out.append(f"    {'ok' if meaning.ktap_ok else 'not ok'} {i} {r.case.case_id}{ktap_directive(r.verdict)}")
        bad = any(r.verdict in BAD for r in cases)
        out.append(f"{'not ok' if bad else 'ok'} {n} {target}")
    return "\n".join(out) + "\n"


def to_kunit_json(rows: list[Row], run_id: str) -> dict[str, object]:
    return {
        "name": "uafault campaign", "arch": GUEST_ARCH, "defconfig": "configs/guest.config",
        "build_environment": run_id, "lab_name": None, "kernel": None, "job": None, "git_branch": None,
        "test_cases": [],
        "sub_groups": [{"name": target, "sub_groups": [],
                        "test_cases": [{"name": r.case.case_id, "status": VERDICTS[r.verdict].kunit} for r in cases]}
                       for target, cases in _by_target(rows).items()],
    }


def to_kcidb(rows: list[Row], run_id: str, source_version: str, config_digest: str) -> dict[str, object]:
    checkout = f"{ORIGIN}:{run_id}"
    kernels = list(dict.fromkeys(r.case.kernel for r in rows))
    builds = [{"id": f"{checkout}:{v}", "checkout_id": checkout, "origin": ORIGIN, "architecture": GUEST_ARCH,
               "config_name": v, "valid": True, "misc": {"config_digest": config_digest}} for v in kernels]
    tests = []
    for r in rows:
        test: dict[str, object] = {
            "id": f"{checkout}:{r.case.case_id}", "build_id": f"{checkout}:{r.case.kernel}", "origin": ORIGIN,
            "path": f"uafault.{r.case.target}.{r.case.fault}", "status": VERDICTS[r.verdict].kcidb,
            "waived": r.verdict == Verdict.XFAIL, "duration": round(r.seconds, 3),
            "misc": {"verdict": r.verdict, "size": r.case.size, "offset": r.case.offset, "seed": r.case.seed,
                     "rep": r.case.rep, "memory": r.case.memory},
        }
        if r.title:
            test["misc"]["title"] = r.title  # type: ignore[index]
        tests.append(test)
    return {"version": {"major": 4, "minor": 3},
            "checkouts": [{"id": checkout, "origin": ORIGIN, "valid": True,
                           "misc": {"source_version": source_version}}],
            "builds": builds, "tests": tests}


def export(db_path: Path, run_id: str | None, fmt: str) -> tuple[str, str]:
    """(run_id, text) of a stored campaign run in format fmt."""
    if fmt not in FORMATS:
        raise HarnessError(ExitCode.USAGE, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    with History(db_path) as stored:
        run_id = run_id or newest_run(stored)
        head = stored.header(run_id)
        rows = stored.rows(run_id)
    if fmt == "ktap":
        return run_id, to_ktap(rows)
    data = (to_kunit_json(rows, run_id) if fmt == "kunit-json" else
            to_kcidb(rows, run_id, head.source_version, head.config_digest))
    return run_id, json.dumps(data, indent=1) + "\n"
