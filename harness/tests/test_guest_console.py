"""Console attribution, crash titles and the guest layer's verdict, on
synthetic consoles (no QEMU)."""

from __future__ import annotations

import json
from pathlib import Path

import guest_samples as samples
import pytest

from uafault_harness.core.errors import ExitCode
from uafault_harness.core.results import Counts
from uafault_harness.guest.console import ConsoleTracker, normalise_title, split_interleaved
from uafault_harness.guest.qemu import RunOutcome, QemuEnd
from uafault_harness.guest.runner import analyse

EXITED = RunOutcome(QemuEnd.EXITED, "QEMU exited 0", 0, 12.5)


@pytest.mark.parametrize("line, title", [
    ("BUG: unable to handle page fault for address: 00007ffd12345000",
     "BUG: unable to handle page fault for address"),
    ("BUG: kernel NULL pointer dereference, address: 0000000000000000", "BUG: kernel NULL pointer dereference"),
    ("BUG: KASAN: slab-out-of-bounds in uafault_copy_run+0x12/0x40 [uafault]",
     "BUG: KASAN: slab-out-of-bounds in uafault_copy_run"),
    ("BUG: KASAN: use-after-free in copy_page_from_iter+0x2a/0x90", "BUG: KASAN: use-after-free in copy_page_from_iter"),
    ("WARNING: CPU: 1 PID: 77 at mm/gup.c:2211 pin_user_pages+0x5a/0x80", "WARNING in pin_user_pages"),
    ("WARNING: CPU: 0 PID: 1 at lib/iov_iter.c:99 iov_iter_extract_pages+0x1/0x2 [uafault]",
     "WARNING in iov_iter_extract_pages"),
    ("WARNING: possible circular locking dependency detected", "WARNING: possible circular locking dependency detected"),
    ("Oops: 0000 [#1] PREEMPT SMP NOPTI", "Oops"),
    ("Oops: Oops: 0002 [#1] PREEMPT SMP KASAN NOPTI", "Oops"),
    ("general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN",
     "general protection fault, probably for non-canonical address"),
    ("general protection fault: 0000 [#1] SMP", "general protection fault"),
    ("INFO: task uafault-agent:123 blocked for more than 122 seconds.", "INFO: task uafault-agent blocked"),
    ("UBSAN: array-index-out-of-bounds in lib/foo.c:12:3", "UBSAN: array-index-out-of-bounds in lib/foo.c"),
    ("Kernel panic - not syncing: Fatal exception", "Kernel panic - not syncing: Fatal exception"),
    ("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009",
     "Kernel panic - not syncing: Attempted to kill init!"),
    ("BUG: sleeping function called from invalid context at mm/gup.c:123",
     "BUG: sleeping function called from invalid context at mm/gup.c"),
    ("BUG: scheduling while atomic: uafault-agent/123/0x00000002", "BUG: scheduling while atomic"),
    ("BUG: Bad page state in process uafault-agent  pfn:1234a", "BUG: Bad page state in process uafault-agent"),
    ("BUG kmalloc-32 (Tainted: G    B   O     ): kmalloc Redzone overwritten", "BUG kmalloc-32: kmalloc Redzone overwritten"),
    ("BUG kmalloc-64 (Not tainted): Right Redzone overwritten", "BUG kmalloc-64: Right Redzone overwritten"),
])
def test_crash_titles_are_normalised(line: str, title: str) -> None:
    assert normalise_title(line) == title
    # Two occurrences of one bug get one title whatever the addresses.
    assert normalise_title(line.replace("1", "7").replace("12", "34")) == title


def test_printk_in_the_middle_of_a_user_line_is_split() -> None:
    assert split_interleaved("    ok 1 sm[    4.200000] uafault: done") == ["    ok 1 sm", "[    4.200000] uafault: done"]
    assert split_interleaved("[    1.000000] a [    2.000000] b") == ["[    1.000000] a [    2.000000] b"]
    assert split_interleaved("    ok 2 x") == ["    ok 2 x"]


def test_reports_are_attributed_to_the_case_in_flight() -> None:
    tracker = ConsoleTracker().feed_all(samples.KTAP_WITH_REPORTS.splitlines())
    warning, oops = tracker.reports
    assert (warning.title, warning.case, warning.expected) == (
        "WARNING in pin_user_pages", "copy_from_user.prot_none", False)
    assert warning.excerpt[0].endswith("at mm/gup.c:2211 pin_user_pages+0x5a/0x80")
    assert warning.excerpt[-1].endswith("---[ end trace 0000000000000000 ]---")
    # One oops is one report, though BUG: and Oops: both start one.
    assert (oops.title, oops.case, oops.expected) == (
        "BUG: unable to handle page fault for address", "smap_read.smap", True)
    assert len(oops.excerpt) == 4
    assert tracker.unexpected_reports == [warning]
    assert tracker.agent_started and tracker.agent_exit == 0 and tracker.powered_down
    # The printk cut "ok 1 smap" in two; the agent's line is whole again.
    assert "    ok 1 smap" in tracker.agent_lines
    assert not any(l.startswith("[") for l in tracker.user_lines)
    assert tracker.agent_lines[-1] == "ok 2 smap_read"


def test_report_before_any_case_belongs_to_boot() -> None:
    tracker = ConsoleTracker()
    tracker.feed("[    0.5] BUG: sleeping function called from invalid context at kernel/foo.c:12", 0.5)
    tracker.feed("    # uafault-case: a.b", 7.25)
    assert tracker.reports[0].case is None and not tracker.reports[0].expected
    assert tracker.first_case_seconds == 7.25


def test_slub_damage_named_on_its_own_line_titles_the_report() -> None:
    """6.12 names the damage before its "Object corrupt" report; the title
    is the one older kernels print, so one bug has one title everywhere."""
    lines = ("[    9.1] [kmalloc Redzone overwritten] 0xffff888004e1c431-0xffff888004e1c437 @offset=49. "
             "First byte 0x0 instead of 0xcc",
             "[    9.1] =============================================================================",
             "[    9.1] BUG kmalloc-8 (Tainted: G           O      ): Object corrupt",
             "[    9.2] ---[ end trace ]---",
             "[    9.3] =============================================================================",
             "[    9.3] BUG kmalloc-8 (Tainted: G    B      O      ): Object corrupt")
    tracker = ConsoleTracker().feed_all(lines)
    # The second report had no damage line of its own: its title stays.
    assert [r.title for r in tracker.reports] == ["BUG kmalloc-8: kmalloc Redzone overwritten",
                                                  "BUG kmalloc-8: Object corrupt"]


def test_agent_text_quoting_a_report_word_is_not_a_report() -> None:
    tracker = ConsoleTracker()
    tracker.feed("    # uafault-case: a.b")
    tracker.feed("    # expected no WARNING: in dmesg, got one")
    tracker.feed("BUG: printed by user space, not the kernel")
    assert tracker.reports == []


def test_unexpected_report_fails_the_layer_and_charges_the_case(kunit_tool_dir: Path, tmp_path: Path) -> None:
    tracker = ConsoleTracker().feed_all(samples.KTAP_WITH_REPORTS.splitlines())
    result = analyse("guest x86_64", tracker, EXITED, kunit_tool_dir, tmp_path)
    assert result.exit_code is ExitCode.RUN_FAILED
    assert "'WARNING in pin_user_pages' during copy_from_user.prot_none" in result.message
    # KTAP said ok, the kernel said otherwise: counted as crashed, not passed.
    assert result.suites == {"copy_from_user": Counts(passed=1, crashed=1), "smap_read": Counts(passed=1)}
    assert result.counts == Counts(passed=2, crashed=1)
    assert result.details["cases_charged_with_reports"] == ["copy_from_user.prot_none"]
    reports = result.details["kernel_reports"]
    assert isinstance(reports, list) and [r["expected"] for r in reports] == [False, True]
    ktap_txt = (tmp_path / "ktap.txt").read_text()
    assert ktap_txt.startswith("KTAP version 1\n1..2\n") and "[    3." not in ktap_txt
    assert "uafault-init" not in ktap_txt


def test_expected_oops_only_passes(kunit_tool_dir: Path, tmp_path: Path) -> None:
    tracker = ConsoleTracker()
    for n, line in enumerate(samples.KTAP_EXPECTED_ONLY.splitlines()):
        tracker.feed(line, 1.0 + n)
    result = analyse("guest x86_64", tracker, EXITED, kunit_tool_dir, tmp_path)
    assert result.exit_code is ExitCode.OK, result.message
    assert result.message == "3 passed, 0 skipped, 1 expected oops report(s)"
    assert result.counts == Counts(passed=3)
    assert result.details["boot_to_first_case_seconds"] is not None
    if (kunit_tool_dir / "kunit_json.py").is_file():
        data = json.loads((tmp_path / "kunit.json").read_text())
        assert [g["name"] for g in data["sub_groups"]] == ["copy_from_user", "smap_read"]
        assert data["sub_groups"][0]["test_cases"][1] == {"name": "prot_none", "status": "PASS"}


def test_timeout_and_missing_exit_marker_are_run_failures(kunit_tool_dir: Path, tmp_path: Path) -> None:
    lines = samples.KTAP_EXPECTED_ONLY.splitlines()
    cut = next(i for i, l in enumerate(lines) if "# uafault-case: smap_read.smap" in l)
    tracker = ConsoleTracker().feed_all(lines[:cut + 1])
    timeout = RunOutcome(QemuEnd.TIMEOUT, "silence timeout: no console output for 300 s", None, 400.0)
    result = analyse("guest x86_64", tracker, timeout, kunit_tool_dir, tmp_path)
    assert result.exit_code is ExitCode.RUN_FAILED
    assert result.message.startswith("TIMEOUT: silence timeout") and "smap_read.smap" in result.message
    assert result.details["verdict"] == "timeout"


def test_the_host_and_the_agent_know_the_same_kernel_reports() -> None:
    """REPORT_MARKERS in protocol.h is the one list: the console tracker cuts
    reports at exactly those starts, and nowhere else in a line."""
    from uafault_harness.core.kmsg import REPORT_START, report_markers

    markers = report_markers()
    assert {"BUG:", "WARNING:", "KASAN:", "INFO: task", "Kernel panic"} <= set(markers)
    # Boot lines that look alike are not reports.
    assert not REPORT_START.match("DMA-API: preallocated 65536 debug entries")
    for marker in markers:
        assert REPORT_START.match(marker + " x")
        assert not REPORT_START.match("    # quoting " + marker)


# A KUnit suite run again through debugfs prints its cases to the kernel
# log, where a case that reports on purpose announces it first.
KUNIT_RERUN = """\
    # uafault-case: uafault_smap.debugfs_run
[   40.100000]     # Subtest: uafault_smap
[   40.100100]     # smap_access_test: uafault-expect-report: the raw access oopses under SMAP
[   40.100200] BUG: unable to handle page access at 00007f0000000000
[   40.100300] Oops: Oops: 0000 [#2] PREEMPT SMP NOPTI
[   40.100400] ---[ end trace 0000000000000000 ]---
[   40.100500]         ok 1 raw read
[   40.100600] WARNING: CPU: 0 PID: 9 at mm/gup.c:10 pin_user_pages+0x5a/0x80
[   40.100700] ---[ end trace 0000000000000000 ]---
[   40.100800]         ok 2 get_user
"""


def test_a_kunit_case_that_announces_its_report_is_expected_until_it_ends() -> None:
    tracker = ConsoleTracker().feed_all(KUNIT_RERUN.splitlines())
    oops, warning = tracker.reports
    assert oops.expected and oops.case == "uafault_smap.debugfs_run"
    # The next case announced nothing: its report fails the boot.
    assert not warning.expected and tracker.unexpected_reports == [warning]


def test_the_guest_kunit_run_that_may_oops_must_run_every_smap_case(kunit_tool_dir: Path, tmp_path: Path) -> None:
    from uafault_harness.guest.runner import GuestRequest

    lines = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: uafault_smap", "    1..2",
             "    ok 1 smap_on_test", "    ok 2 smap_access_test # SKIP oopses on purpose", "ok 1 uafault_smap",
             "uafault-init: agent exit 0"]
    may_oops = analyse("guest x86_64", ConsoleTracker().feed_all(lines), EXITED, kunit_tool_dir, tmp_path,
                       request=GuestRequest(kunit=True, allow_crash=True))
    assert may_oops.exit_code is ExitCode.TEST_FAILED
    assert "SMAP cases were skipped (1 of 2 in suite uafault_smap)" in may_oops.message
    # A boot that may not oops skips them by design.
    quiet = analyse("guest x86_64", ConsoleTracker().feed_all(lines), EXITED, kunit_tool_dir, tmp_path,
                    request=GuestRequest(kunit=True))
    assert quiet.exit_code is ExitCode.OK, quiet.message
