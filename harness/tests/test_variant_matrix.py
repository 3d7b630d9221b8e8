"""The detection matrix: a variant counts as caught by the fault kind and
oracle of its failing cases; a twin that fails anywhere is flagged."""

from __future__ import annotations

from pathlib import Path

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import CaseVerdict, RunInfo, Store
from uafault_harness.core.errors import ExitCode
from uafault_harness.reports.matrix import detection, stem


def make_db(tmp_path: Path, results: dict[tuple[str, str], tuple[str, str]],
            pairs: tuple[tuple[str, str], ...] = ()) -> Path:
    db = tmp_path / "u.db"
    cases = [Case(i, "plain", target, fault, 0, -1, 1, 0) for i, (target, fault) in enumerate(results)]
    store = Store(db)
    store.create_run(RunInfo("R", "variants", "v.toml", "d"), "6.12", "cfg", cases, pairs)
    for case in cases:
        verdict, title = results[(case.target, case.fault)]
        store.record("R", CaseVerdict(case.case_id, verdict, title))
    store.close()
    return db


def test_every_variant_caught_and_no_twin_flagged_is_ok(tmp_path: Path) -> None:
    db = make_db(tmp_path, {
        ("twin_pin_leak", "unmapped"): ("PASS", ""),
        ("variant_pin_leak", "unmapped"): ("XFAIL", "[pins] pin balance 3 -> 4: pins leaked"),
        ("variant_pin_leak", "none"): ("PASS", ""),
        ("twin_raw", "none"): ("PASS", ""),
        ("variant_raw", "none"): ("XFAIL", "BUG: unable to handle page fault for address"),
        ("copy_from_user", "none"): ("FAIL", "[result] not a variant: ignored"),
    })
    code, text = detection(db, None)
    assert code is ExitCode.OK, text
    assert "unmapped: pins x1" in text and "none: kernel: BUG: unable to handle page fault" in text
    assert "2/2 variants caught (100%), 0 twins flagged" in text


def test_a_missed_variant_or_a_flagged_twin_fails(tmp_path: Path) -> None:
    db = make_db(tmp_path, {
        ("twin_a", "none"): ("PASS", ""),
        ("variant_a", "none"): ("PASS", ""),
        ("twin_b", "fork_cow"): ("FAIL", "[pinned-contents] the pinned pages do not hold x"),
        ("variant_b", "fork_cow"): ("FAIL", "[pinned-contents] the pinned pages do not hold x"),
    })
    code, text = detection(db, "R")
    assert code is ExitCode.TEST_FAILED
    assert "NOT CAUGHT in 1 cases" in text and "FLAGGED" in text
    assert "1/2 variants caught (50%), 1 twins flagged" in text


def test_a_case_not_set_up_neither_catches_nor_flags(tmp_path: Path) -> None:
    setup = ("UNRESOLVED", "[setup] MADV_PAGEOUT left 8 of 8 pages resident")
    db = make_db(tmp_path, {
        ("twin_a", "swapped"): setup,
        ("twin_a", "none"): ("PASS", ""),
        ("variant_a", "swapped"): setup,
    })
    code, text = detection(db, "R")
    assert code is ExitCode.TEST_FAILED
    assert "NOT CAUGHT in 1 cases (1 not set up)" in text
    assert "0/1 variants caught (0%), 0 twins flagged" in text


def test_pairs_come_from_the_campaign_not_from_fixed_prefixes(tmp_path: Path) -> None:
    """A user's module names its pairs its own way; twin_/variant_ then
    mean nothing, and a target of neither glob is left out."""
    db = make_db(tmp_path, {
        ("mine_copy_in", "none"): ("PASS", ""),
        ("buggy_copy_in", "unmapped"): ("XFAIL", "[pins] pin balance 3 -> 4: pins leaked"),
        ("mine_pin", "none"): ("PASS", ""),
        ("buggy_pin", "none"): ("PASS", ""),
        ("twin_x", "none"): ("FAIL", "[result] not paired in this run"),
        ("variant_x", "none"): ("PASS", ""),
    }, (("mine_*", "buggy_*"),))
    code, text = detection(db, None)
    assert code is ExitCode.TEST_FAILED, text
    assert "buggy_* must be caught, mine_* must pass" in text
    assert "copy_in" in text and "unmapped: pins x1" in text
    assert "pin " in text and "NOT CAUGHT in 1 cases" in text
    assert "1/2 variants caught (50%), 0 twins flagged" in text and "twin_x" not in text


def test_a_glob_with_a_suffix_pairs_by_the_middle() -> None:
    assert stem("*_ok", "copy_ok") == "copy" and stem("*_ok", "copy_bad") is None
    assert stem("drv_*_v2", "drv_pin_v2") == "pin" and stem("a*a", "a") is None
