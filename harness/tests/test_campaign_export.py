"""Campaign exports: KTAP that the tree's own kunit_parser reads back with
the same counts, kunit.py-style JSON, and KCIDB v4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import CaseVerdict, RunInfo, Store
from uafault_harness.core.verdicts import VERDICTS as VERDICTS_TABLE
from uafault_harness.core.verdicts import counts_of
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.results import Counts
from uafault_harness.guest.protocol import is_unresolved
from uafault_harness.kunit.ktap import parse_console
from uafault_harness.reports.export import export

CASES = [Case(i, v, t, f, 0, -1, 1, 0) for i, (v, t, f) in enumerate(
    [("plain", "copy_from_user", "none"), ("plain", "copy_from_user", "unmapped"),
     ("plain", "pin_dma_write", "none"), ("kasan", "pin_dma_write", "fork_cow"),
     ("kasan", "raw_deref", "smap"), ("plain", "copy_to_user", "swapped")])]
VERDICTS = [("PASS", ""), ("CRASH", "BUG: KASAN: use-after-free in x"), ("SKIP", ""), ("XFAIL", "CVE-1"),
            ("TIMEOUT", "silence timeout"), ("UNRESOLVED", "[setup] MADV_PAGEOUT left 8 of 8 pages resident")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "u.db"
    store = Store(path)
    store.create_run(RunInfo("R1", "smoke", "smoke.toml", "d"), "6.12.117", "cfg", CASES)
    for case, (verdict, title) in zip(CASES, VERDICTS):
        store.record("R1", CaseVerdict(case.case_id, verdict, title, 1.25))
    store.close()
    return path


def test_ktap_reads_back_through_kunit_parser(db: Path, kunit_tool_dir: Path) -> None:
    run_id, text = export(db, None, "ktap")
    assert run_id == "R1"
    parsed = parse_console(text.splitlines(), kunit_tool_dir, is_unresolved)
    assert parsed.suites["copy_from_user"] == Counts(passed=1, failed=1)
    assert parsed.suites["pin_dma_write"] == Counts(skipped=1, xfail=1)
    assert parsed.suites["raw_deref"] == Counts(failed=1)
    # A case that could not be set up reads back as one, not as a skip.
    assert parsed.suites["copy_to_user"] == Counts(unresolved=1)
    assert f"# {CASES[1].case_id}: CRASH: BUG: KASAN: use-after-free in x" in text


def test_kunit_json_groups_by_target(db: Path) -> None:
    data = json.loads(export(db, "R1", "kunit-json")[1])
    groups = {g["name"]: [c["status"] for c in g["test_cases"]] for g in data["sub_groups"]}
    assert groups == {"copy_from_user": ["PASS", "ERROR"], "pin_dma_write": ["SKIP", "PASS"],
                      "raw_deref": ["ERROR"], "copy_to_user": ["SKIP"]}


def test_kcidb_has_one_checkout_a_build_per_variant_and_a_test_per_case(db: Path) -> None:
    data = json.loads(export(db, "R1", "kcidb")[1])
    assert data["version"] == {"major": 4, "minor": 3}
    assert [c["id"] for c in data["checkouts"]] == ["uafault:R1"]
    assert [b["id"] for b in data["builds"]] == ["uafault:R1:plain", "uafault:R1:kasan"]
    tests = {t["id"].rsplit(":", 1)[1]: t for t in data["tests"]}
    assert [tests[c.case_id]["status"] for c in CASES] == ["PASS", "FAIL", "SKIP", "FAIL", "ERROR", "ERROR"]
    assert tests[CASES[3].case_id]["waived"] is True and tests[CASES[1].case_id]["waived"] is False
    assert tests[CASES[1].case_id]["misc"]["title"] == "BUG: KASAN: use-after-free in x"
    assert tests[CASES[3].case_id]["build_id"] == "uafault:R1:kasan"
    assert tests[CASES[0].case_id]["path"] == "uafault.copy_from_user.none"


def test_unknown_format_or_run(db: Path) -> None:
    with pytest.raises(HarnessError) as err:
        export(db, None, "xml")
    assert err.value.code is ExitCode.USAGE
    with pytest.raises(HarnessError) as err:
        export(db, "R9", "ktap")
    assert err.value.code is ExitCode.NO_SUCH_RUN


def test_every_verdict_counts_once_and_reads_back_as_it_counts(tmp_path: Path, kunit_tool_dir: Path) -> None:
    """The verdict table is the one place a verdict's meaning lives: each
    one adds to exactly one of make test's counts, and its KTAP export is
    read back by kunit_parser into that same count."""
    cases = [Case(i, "plain", f"t{i}", "none", 0, -1, 1, 0) for i in range(len(VERDICTS_TABLE))]
    store = Store(tmp_path / "all.db")
    store.create_run(RunInfo("R", "all", "a.toml", "d"), "6.12", "cfg", cases)
    for case, verdict in zip(cases, VERDICTS_TABLE):
        store.record("R", CaseVerdict(case.case_id, verdict, "[setup] x" if verdict == "UNRESOLVED" else ""))
    store.close()
    parsed = parse_console(export(tmp_path / "all.db", "R", "ktap")[1].splitlines(), kunit_tool_dir,
                           is_unresolved)
    for case, verdict in zip(cases, VERDICTS_TABLE):
        counted = counts_of({verdict: 1})
        assert counted.total == 1
        # KTAP has no crash of a single case: a CRASH or TIMEOUT reads back as a failure.
        expect = Counts(**{"failed" if VERDICTS_TABLE[verdict].counts_as == "crashed" else
                           VERDICTS_TABLE[verdict].counts_as: 1})
        assert parsed.suites[case.target] == expect, verdict
