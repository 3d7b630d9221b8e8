"""The known-deviation records (module/uafault_known.h): one table the C
sides compile and the host reads, cases that show a record count as known
deviations, and a record no case shows is reported fixed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from uafault_harness.campaign.known_issues import expected_verdict, record_issues
from uafault_harness.campaign.spec import Case
from uafault_harness.core import known
from uafault_harness.core.paths import PROJECT_ROOT
from uafault_harness.core.results import Counts, LayerResult
from uafault_harness.core.errors import ExitCode
from uafault_harness.kunit.ktap import fail_reported_cases, parse_console, reports_in_cases
from uafault_harness.testsuite.summary import known_lines, run_report

HEADER = known.KNOWN_HEADER.read_text()

# A KUnit run as 6.12.117 prints it on x86_64: a 0-page GUP-fast request
# shows the record, a negative one the other, a case that could have shown
# a third logs that it did not.
CONSOLE = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: uafault_limits
    # module: uafault_kunit
    1..2
        KTAP version 1
        # Subtest: limits_test
    # limits_test: known deviation gup-fast-zero-pages: GUP-fast takes the first page
        ok 1 pin_user_pages_fast len=0 # SKIP XFAIL gup-fast-zero-pages: fix unconfirmed (x)
        ok 2 pin_user_pages_fast len=1
    # limits_test: uafault-known-absent: um-strnlen-user-count
        ok 3 strnlen_user len=0
        ok 4 pin_user_pages_fast len=SIZE_MAX # SKIP XFAIL gup-fast-negative-pages: fix unfixed (y)
        ok 5 copy_from_user len=INT_MAX # SKIP the caller's contract
    # limits_test: pass:2 fail:0 skip:3 total:5
    ok 1 limits_test
    ok 2 limits_reinit_test # SKIP XFAIL: a known issue
# uafault_limits: pass:1 fail:0 skip:1 total:2
ok 1 uafault_limits
"""


def test_the_header_holds_valid_records() -> None:
    records = known.records()
    assert len(records) >= 9
    ids = {r.id for r in records}
    assert {"gup-fast-zero-pages", "gup-fast-negative-pages", "iommufd-ioas-map-respond"} <= ids
    for r in records:
        assert r.contract and r.deviation and r.probe
        assert r.fix in (known.UNFIXED, known.UNCONFIRMED) or re.fullmatch(r"[0-9a-f]{12}", r.fix)
        assert any(r.case_globs(kind) for kind in known.CASE_KINDS)


def test_every_record_is_checked_by_a_case() -> None:
    """A KUnit record is named by uafault_known() in kunit/; an agent
    record's glob names an agent case a campaign can run."""
    sources = "".join(p.read_text() for p in (PROJECT_ROOT / "kunit").glob("*.c"))
    for r in known.records():
        if r.case_globs("kunit"):
            assert re.search(rf"uafault_known\([^;]*{r.enum}\b", sources, re.S), r.enum
            for glob in r.case_globs("kunit"):
                suite = glob.split(".")[0]
                assert f'.name = "{suite}"' in sources, glob


@pytest.mark.parametrize("change, message", [
    (('.fix = "unfixed",', '.fix = "v6.13",'), "fix must be"),
    (('.probe = "behaviour: nr_pages == -1 returns an error",', ''), "missing probe"),
    (('.cases = "kunit:uafault_iter.*",', '.cases = "uafault_iter.*",'), "kunit:GLOB"),
    (('"behaviour: nr_pages == -1 returns an error"', '"nr_pages == -1 returns an error"'), "probe starts"),
    (('\tUAFAULT_KNOWN_UM_STRNLEN_EFAULT,\n', ''), "disagree"),
    (('#define UAFAULT_KNOWN_ABSENT', '#define UAFAULT_KNOWN_GONE'), "string defines"),
])
def test_a_bad_record_is_refused(change: tuple[str, str], message: str) -> None:
    assert change[0] in HEADER
    with pytest.raises(ValueError, match=message):
        known.parse_header(HEADER.replace(*change, 1))


def test_xfail_reason_names_the_record() -> None:
    assert known.xfail_reason(" # SKIP XFAIL gup-fast-zero-pages: fix unconfirmed") == "gup-fast-zero-pages"
    assert known.xfail_reason("# SKIP XFAIL: a known issue") == ""
    assert known.xfail_reason("# SKIP XFAIL no-such-record: x") == ""
    assert known.xfail_reason("# SKIP the caller's contract") is None


def test_known_deviations_count_apart(kunit_tool_dir: Path) -> None:
    parsed = parse_console(CONSOLE.splitlines(), kunit_tool_dir)
    assert parsed.counts == Counts(passed=2, skipped=1, xfail=3)
    assert parsed.suites["uafault_limits"].xfail == 3
    assert parsed.deviations.shown == {"gup-fast-zero-pages": 1, "gup-fast-negative-pages": 1}
    assert parsed.deviations.absent == {"um-strnlen-user-count": 1}


def test_a_kernel_report_in_a_known_deviation_fails_it(kunit_tool_dir: Path) -> None:
    lines = CONSOLE.replace("    # limits_test: known deviation",
                            "WARNING: CPU: 0 PID: 1 at mm/gup.c:1 x\n    # limits_test: known deviation").splitlines()
    parsed = parse_console(lines, kunit_tool_dir)
    fail_reported_cases(parsed, reports_in_cases(lines))
    assert (parsed.counts.failed, parsed.counts.xfail) == (1, 2)


def test_present_and_fixed_records_are_reported(tmp_path: Path) -> None:
    seen = known.Seen({"gup-fast-negative-pages": 2}, {"gup-fast-zero-pages": 2, "gup-fast-negative-pages": 1})
    layers = [LayerResult("kunit um", ExitCode.OK, "", Counts(passed=1), details={"known": seen.to_json()})]
    lines = known_lines(layers)
    assert len(lines) == 2
    fixed, present = lines  # in the header's order
    assert present.startswith("known deviation gup-fast-negative-pages present (2 case(s))")
    assert fixed.startswith("fixed in this kernel: gup-fast-zero-pages")
    assert "nr_pages == 0 in GUP-fast" in fixed


def test_run_report_lists_records_before_the_totals(tmp_path: Path) -> None:
    from uafault_harness.core.results import write_layer

    seen = known.Seen({}, {"gup-fast-zero-pages": 2})
    write_layer(tmp_path / "um" / "summary.json",
                LayerResult("kunit um", ExitCode.OK, "", Counts(passed=5, xfail=1), details={"known": seen.to_json()}))
    text = run_report(tmp_path).splitlines()
    assert text[-1] == "5 passed, 0 failed, 0 skipped, 0 unresolved, 1 known deviations"
    assert text[-3].startswith("fixed in this kernel: gup-fast-zero-pages")


def test_agent_records_are_campaign_known_issues() -> None:
    issues = record_issues()

    def case(target: str, kernel: str) -> Case:
        return Case(index=0, kernel=kernel, target=target, fault="fail_nth", size=4096, offset=0, seed=1, rep=0)

    verdict, reason = expected_verdict("FAIL", case("path_iommufd_ioas_map", "plain"), issues)
    assert verdict == "XFAIL" and "iommufd-ioas-map-respond" in reason
    # virtio-iommu's record covers the iommu kernel only.
    assert expected_verdict("FAIL", case("dma_map_sg", "plain"), issues)[0] == "FAIL"
    assert expected_verdict("FAIL", case("dma_map_sg", "iommu"), issues)[0] == "XFAIL"
    # No KUnit record becomes an agent glob.
    assert all(not i.target.startswith("uafault_") for i in issues)


def test_what_a_kernel_lacks_is_read_with_its_option() -> None:
    from uafault_harness.guest.protocol import UNAVAILABLE_MARKER, unavailable

    lines = [f"{UNAVAILABLE_MARKER} kind fail_nth CONFIG_FAULT_INJECTION",
             f"{UNAVAILABLE_MARKER} path dio_read_brd CONFIG_BLK_DEV_RAM: No such file or directory",
             f"{UNAVAILABLE_MARKER} paths iommufd CONFIG_IOMMUFD_TEST: the agent was built without it",
             f"{UNAVAILABLE_MARKER} kind fail_nth CONFIG_FAULT_INJECTION", "uafault-target: x y fixed_len=0 align=0 kinds="]
    found = unavailable(lines)
    assert [str(u) for u in found] == [
        "kind fail_nth: needs CONFIG_FAULT_INJECTION",
        "path dio_read_brd: needs CONFIG_BLK_DEV_RAM (No such file or directory)",
        "paths iommufd: needs CONFIG_IOMMUFD_TEST (the agent was built without it)"]


def test_the_fault_kinds_a_kernel_may_lack_name_their_option() -> None:
    """The agent's kind table says what fail_nth and the userfaultfd kinds
    need, and a file that proves it."""
    agent = PROJECT_ROOT / "harness" / "agent"
    inject = (agent / "kinds_inject.c").read_text()
    assert re.search(r'"fail_nth".*?\.config = "CONFIG_FAULT_INJECTION", \.probe = "/proc/self/fail-nth"', inject, re.S)
    race = (agent / "kinds_race.c").read_text()
    assert race.count('.config = "CONFIG_USERFAULTFD", .probe = UFFD_PROBE') == 2


def test_kunit_json_marks_each_known_deviation(kunit_tool_dir: Path) -> None:
    """kunit.py's JSON keeps KernelCI's statuses (a known deviation is a
    SKIP there) and names each known deviation's record."""
    import json

    from uafault_harness.kunit.ktap import annotate_json, load_kunit_json

    parsed = parse_console(CONSOLE.splitlines(), kunit_tool_dir)
    module = load_kunit_json(kunit_tool_dir)
    root = json.loads(annotate_json(module.get_json_result(parsed.root, module.Metadata()), parsed.xfails))
    suite = root["sub_groups"][0]
    params = {c["name"]: c for c in suite["sub_groups"][0]["test_cases"]}
    assert params["pin_user_pages_fast len=0"] == {"name": "pin_user_pages_fast len=0", "status": "SKIP",
                                                   "xfail": "gup-fast-zero-pages"}
    assert params["pin_user_pages_fast len=1"]["status"] == "PASS"
    assert "xfail" not in params["copy_from_user len=INT_MAX"] and "xfail" not in params["strnlen_user len=0"]
    assert {c["name"]: c.get("xfail") for c in suite["test_cases"]} == {"limits_reinit_test": True}


DMA_OVERLAP_CONSOLE = """\
# uafault-case: campaign.path_dio_read_virtio_blk.none.9f497a1fe5
[    4.597323] ------------[ cut here ]------------
[    4.598516] DMA-API: virtio-pci 0000:00:04.0: cacheline tracking EEXIST, overlapping mappings aren't supported
[    4.599847] WARNING: CPU: 0 PID: 62 at kernel/dma/debug.c:601 add_dma_entry+0x2aa/0x400
[    4.600000] Call Trace:
[    4.600100]  debug_dma_map_page+0x109/0x170
[    4.600200] ---[ end trace 0000000000000000 ]---
ok 7 path_dio_read_virtio_blk.none.9f497a1fe5
"""


def test_a_report_record_is_read_from_the_warn_message_before_the_report() -> None:
    """dma-debug's overlap WARN on x86_64 is the kernel's known deviation:
    the report is not charged to the case (its message is the line before
    "WARNING:"), and another WARN in add_dma_entry still is."""
    from uafault_harness.guest.console import ConsoleTracker
    tracker = ConsoleTracker().feed_all(DMA_OVERLAP_CONSOLE.splitlines())
    assert [(r.title, r.known) for r in tracker.reports] == [("WARNING in add_dma_entry",
                                                              "dma-debug-cacheline-overlap")]
    assert tracker.unexpected_reports == []
    other = DMA_OVERLAP_CONSOLE.replace("cacheline tracking EEXIST, overlapping mappings aren't supported",
                                        "device driver frees DMA memory with wrong function")
    tracker = ConsoleTracker().feed_all(other.splitlines())
    assert [r.known for r in tracker.unexpected_reports] == [""]
