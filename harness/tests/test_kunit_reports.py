"""Kernel reports during a KUnit case fail it: kunit.py passes a case
whatever the kernel logged while it ran; the harness charges each report
to the case then running (kunit/ktap.py)."""

from __future__ import annotations

from uafault_harness.core.paths import PROJECT_ROOT
from uafault_harness.core.results import Counts
from uafault_harness.kunit.ktap import EXPECT_REPORT, ParsedRun, fail_reported_cases, reports_in_cases

CONSOLE = """\
WARNING: CPU: 0 PID: 1 at arch/um/drivers/virt-pci.c:1005 0x60004973
KTAP version 1
1..2
    KTAP version 1
    # Subtest: uafault_copy
    1..2
[    1.000000] BUG: KASAN: slab-out-of-bounds in copy_test+0x10/0x20
    ok 1 copy_test
        KTAP version 1
        # Subtest: param_test
        ok 1 first
WARNING: CPU: 1 PID: 7 at mm/gup.c:100 foo+0x1/0x2
        ok 2 second # SKIP not here
    ok 2 param_test
ok 1 uafault_copy
    KTAP version 1
    # Subtest: uafault_smap
    1..1
        # smap_access_test: uafault-expect-report: the raw access oopses under SMAP
BUG: unable to handle page fault for address: 00007ffff7ffe000
    ok 1 smap_access_test
ok 2 uafault_smap
"""


def test_a_report_fails_the_case_it_was_made_in_and_no_other() -> None:
    reports = reports_in_cases(CONSOLE.splitlines())
    assert [(r.suite, r.case, r.outcome) for r in reports] == [
        ("uafault_copy", "copy_test", "passed"), ("uafault_copy", "second", "skipped")]
    assert reports[0].title.startswith("BUG: KASAN: slab-out-of-bounds")
    parsed = ParsedRun(ktap_lines=[], counts=Counts(passed=3, skipped=1),
                       suites={"uafault_copy": Counts(passed=1, skipped=1), "uafault_smap": Counts(passed=1)})
    fail_reported_cases(parsed, reports)
    assert parsed.counts == Counts(passed=2, failed=2)
    assert parsed.suites["uafault_copy"] == Counts(failed=2) and parsed.suites["uafault_smap"] == Counts(passed=1)


def test_the_smap_suite_announces_its_oopses_in_the_harness_word() -> None:
    assert f'"{EXPECT_REPORT}: ' in (PROJECT_ROOT / "kunit" / "smap.c").read_text()
