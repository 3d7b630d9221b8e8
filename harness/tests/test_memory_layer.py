"""The memory layer judges each memory kind from the campaign's verdicts."""

from __future__ import annotations

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import Row
from uafault_harness.testsuite.memory_layer import (LEAK_VARIANT, WINDOW, WINDOW_TWIN, WINDOW_VARIANT,
                                                    campaign_checks)


def row(target: str, memory: str, verdict: str, title: str = "", fault: str = "unmapped") -> Row:
    return Row(Case(0, "plain", target, fault, 0, -1, 1, 0, memory), verdict, title, 0.1)


def test_a_kind_passes_when_correct_targets_pass_and_the_leak_is_caught() -> None:
    rows = [row("copy_from_user", m, "PASS") for m in ("anon", "zero")]
    rows += [row(LEAK_VARIANT, "anon", "XFAIL", "[refs] page 0 of the mapping: a reference kept")]
    checks = campaign_checks(rows)
    assert all(checks.values()), checks
    # The zero page takes no reference GUP-fast can see: no leak check there.
    assert not any(name.startswith("zero: [refs]") for name in checks)


def test_a_correct_targets_failure_or_a_missed_leak_fails_its_kind() -> None:
    rows = [row("copy_from_user", "anon", "PASS"), row("copy_to_user", "shared", "FAIL", "[result] ret -14"),
            row("copy_from_user", "shared", "PASS"), row(LEAK_VARIANT, "shared", "PASS")]
    bad = [name for name, ok in campaign_checks(rows).items() if not ok]
    assert any(name.startswith("shared: no correct target failed") and "[result] ret -14" in name for name in bad)
    assert "shared: [refs] caught variant_get_leak_on_error" in bad
    assert "anon: [refs] caught variant_get_leak_on_error" in bad


def test_ext4_shared_needs_every_long_term_write_pin_refused() -> None:
    rows = [Row(Case(0, "plain", t, "none", 0, -1, 1, 0, "ext4_shared"), "PASS", "", 0.1)
            for t in ("pin_dma_write", "path_io_uring_read_fixed", "path_gup_test_longterm_write")]
    rows += [row(LEAK_VARIANT, "ext4_shared", "XFAIL", "[refs] kept")]
    assert campaign_checks(rows)["ext4_shared: every long-term write pin refused whole"]
    rows[0] = Row(rows[0].case, "FAIL", "[result] ret 0 done 100, expected ret -14 done 0", 0.1)
    assert not campaign_checks(rows)["ext4_shared: every long-term write pin refused whole"]
    assert not campaign_checks(rows[1:])["ext4_shared: every long-term write pin refused whole"]


def test_ext4_shared_needs_the_writeback_window_to_catch_every_case_and_pass_the_twin() -> None:
    caught = "[writeback] page 0: the disk holds other bytes than the mapping after fsync()"
    rows = [row(WINDOW_VARIANT, "ext4_shared", "XFAIL", caught, WINDOW) for _ in range(2)]
    rows += [row(WINDOW_TWIN, "ext4_shared", "PASS", fault=WINDOW) for _ in range(2)]
    caught_name = f"ext4_shared: {WINDOW} caught {WINDOW_VARIANT} on every case ([writeback])"
    twin_name = f"ext4_shared: {WINDOW_TWIN} passed {WINDOW} on every case"
    checks = campaign_checks(rows)
    assert checks[caught_name] and checks[twin_name]
    # One case the window missed, or a twin it opened no window for, fails it.
    missed = rows[:1] + [row(WINDOW_VARIANT, "ext4_shared", "PASS", fault=WINDOW)] + rows[2:]
    assert not campaign_checks(missed)[caught_name]
    unopened = rows[:3] + [row(WINDOW_TWIN, "ext4_shared", "SKIP", fault=WINDOW)]
    assert not campaign_checks(unopened)[twin_name]
    assert not campaign_checks(rows[2:])[caught_name]
