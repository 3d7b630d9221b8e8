"""The read side of the campaign database: every query the reports, the
exports, the detection matrix and the test layers make, in one place."""

from __future__ import annotations

import datetime as dt

from pathlib import Path

import pytest

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import CaseVerdict, History, RunInfo, Store
from uafault_harness.core.errors import HarnessError


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "u.db"
    store = Store(db)
    smoke = [Case(i, "plain", t, f, 0, -1, 1, 0) for i, (t, f) in
             enumerate([("copy_from_user", "none"), ("copy_from_user", "unmapped"), ("gup", "swapped")])]
    store.create_run(RunInfo("20261201T000000Z", "smoke", "s.toml", "d"), "6.12", "cfg", smoke)
    for case, (verdict, title) in zip(smoke, [("PASS", ""), ("FAIL", "[result] ret 0"),
                                              ("CRASH", "BUG: KASAN: x")]):
        store.record("20261201T000000Z", CaseVerdict(case.case_id, verdict, title, 2.0))
    variants = [Case(0, "plain", "variant_a", "none", 0, -1, 1, 0), Case(1, "plain", "twin_a", "none", 0, -1, 1, 0)]
    store.create_run(RunInfo("20261201T000100Z", "variants", "v.toml", "d"), "6.12", "cfg", variants)
    store.record("20261201T000100Z", CaseVerdict(variants[0].case_id, "XFAIL", "BUG: KASAN: x"))
    store.create_run(RunInfo("20261201T000200Z", "smoke", "s.toml", "d"), "6.12", "cfg", smoke)
    store.close()
    return db


def test_newest_run_by_campaign_age_and_pairs(tmp_path: Path) -> None:
    with History(_db(tmp_path)) as h:
        assert h.newest_run() == "20261201T000200Z"
        assert h.newest_run("variants") == "20261201T000100Z"
        # By when a run was planned, not by its id: none was planned after tomorrow.
        tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
        assert h.newest_run("smoke", since=tomorrow) is None
        assert h.newest_run("smoke", since="20261201T000300Z") == "20261201T000200Z"
        # Stored before pairs were: the default pair, variant_* is buggy.
        assert h.newest_paired_run() == "20261201T000100Z"
        assert h.pairs("20261201T000200Z") == (("twin_*", "variant_*"),)
        assert h.runs_of("smoke", "20261201T000200Z") == ["20261201T000000Z", "20261201T000200Z"]


def test_rows_tallies_and_first_failure(tmp_path: Path) -> None:
    with History(_db(tmp_path)) as h:
        rows = h.rows("20261201T000000Z")
        assert [r.verdict for r in rows] == ["PASS", "FAIL", "CRASH"] and rows[1].case.fault == "unmapped"
        assert h.planned_count("20261201T000200Z") == 3 and h.verdict_count("20261201T000200Z") == 0
        assert h.verdict_tally("20261201T000000Z") == (3, 3, {"PASS": 1, "FAIL": 1, "CRASH": 1, "doubled": 0})
        assert h.first_failure("20261201T000000Z", ("FAIL", "XFAIL")) == rows[1].case.case_id
        assert h.first_failure("20261201T000100Z", ("FAIL", "XFAIL")) is None  # a crash title, no oracle
        assert h.crash_titles("smoke", ("CRASH",)) == [("BUG: KASAN: x", 1, "20261201T000000Z",
                                                        "20261201T000000Z")]
        assert h.header("20261201T000100Z").campaign == "variants"
        with pytest.raises(HarnessError):
            h.header("nope")


def test_no_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no campaign database"):
        History(tmp_path / "missing.db")


def test_a_dry_run_says_the_size_and_what_it_may_take(tmp_path: Path) -> None:
    from uafault_harness.campaign.plan import describe_plan

    db = _db(tmp_path)
    cases = [Case(i, v, t, "none", 0, -1, 1, 0, m) for i, (v, t, m) in
             enumerate([("plain", "a", "anon"), ("plain", "b", "ksm"), ("kasan", "a", "anon")])]
    text = describe_plan(cases, "smoke", db)
    assert "3 cases" in text and "per kernel: plain 2, kasan 1" in text and "per target: a 2, b 1" in text
    assert "per memory kind: anon 2, ksm 1" in text
    assert "at 2.00 s a case" in text
    assert "no earlier run" in describe_plan(cases, "nightly", db)
