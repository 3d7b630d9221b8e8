"""triage/bug.py's pieces that need no guest: the title, the known record a
finding matches, the case's lines on a console, the sections of a written
report.  The whole command runs in the `bug` layer of `test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from uafault_harness.campaign.store import CaseVerdict
from uafault_harness.core.errors import HarnessError
from uafault_harness.core.paths import resolve_layout
from uafault_harness.guest.modules import Modules
from uafault_harness.triage.bug import (SECTIONS, FRAME_FILE, _case_lines, _known, _maintainers, check_written,
                                        section_names, title_of)
from uafault_harness.triage.repro import Repro


def repro(target: str = "copy_from_user", fault: str = "unmapped", expect: str = "FAIL", title: str = "[result]") -> Repro:
    return Repro(Path("r.toml"), "plain", Modules(), target, fault, 100, -1, 1, 0, 1, 1, expect, title, "")


def test_the_title_is_the_reports_or_the_oracles_complaint_and_target() -> None:
    crash = CaseVerdict("c", "CRASH", "BUG: unable to handle page fault in uafault_raw_deref")
    assert title_of(repro(expect="CRASH"), crash) == "BUG: unable to handle page fault in uafault_raw_deref"
    fail = CaseVerdict("c", "XFAIL", "[result] ret 0 done 100, expected ret -14 done 0 (reach 0 of 100)")
    assert title_of(repro(), fail) == "[result] ret N done N, expected ret N done N in copy_from_user"
    # The numbers of one case are not the finding's: another uid, the same title.
    leak = CaseVerdict("c", "FAIL", "[accounting] uid 64243 registered 4456448 bytes of its RLIMIT_MEMLOCK")
    assert title_of(repro("path_xdp_umem_reg"), leak) == \
        "[accounting] uid N registered N bytes of its RLIMIT_MEMLOCK in path_xdp_umem_reg"
    pins = CaseVerdict("c", "FAIL", "[pins] VmPin 4 kB -> 8 kB: pinned memory still charged; pfn 0x1f2 v6.12")
    assert title_of(repro(), pins) == "[pins] VmPin N kB -> N kB: pinned memory still charged in copy_from_user"
    assert title_of(repro(expect="CRASH", title="WARNING in x"), None) == "WARNING in x"
    # A title that does not say where: the function of the report's RIP.
    oops = CaseVerdict("c", "CRASH", "BUG: unable to handle page fault for address",
                       excerpt="[ 4.2] RIP: 0010:raw_deref+0x2d/0x70 [uafault_variants]\n")
    assert title_of(repro(expect="CRASH"), oops) == "BUG: unable to handle page fault for address in raw_deref"


def test_a_finding_names_the_known_record_it_matches_and_its_fix() -> None:
    said = _known(repro("path_iommufd_ioas_map", "fail_nth"), None)
    assert said.startswith("iommufd-ioas-map-respond:") and "fix:" in said
    seen = CaseVerdict("c", "XFAIL", "known dma-debug-cacheline-overlap: on cache-coherent x86_64 ...")
    assert "3d48c9fd78dd" in _known(repro("twin_dma_missing_sync", "none"), seen)
    assert _known(repro("copy_from_user", "unmapped"), None).startswith("(no record")
    from uafault_harness.campaign.known_issues import KnownIssue
    issue = KnownIssue("*", "variant_*", "*", "raw dereference of a user pointer")
    assert _known(repro("variant_raw_deref", "smap"), None, (issue,)) == (
        "a known issue (not the kernel's): raw dereference of a user pointer")


def test_the_case_lines_run_from_its_marker_to_its_result(tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    console.write_text("# uafault-case: campaign.a.none.1\n    # [result] x\nok 1 a.none.1\n"
                       "# uafault-case: campaign.b.none.2\n    # [pins] y\nnot ok 2 b.none.2\n")
    assert _case_lines(console, "b.none.2") == ["# uafault-case: campaign.b.none.2", "# [pins] y", "not ok 2 b.none.2"]


def test_a_report_must_hold_every_section(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("".join(f"{name}\n{'=' * len(name)}\nx\n\n" for name in SECTIONS))
    assert section_names(report) == list(SECTIONS)
    check_written(report)
    report.write_text("Title\n=====\nx\n")
    with pytest.raises(HarnessError):
        check_written(report)


def test_a_decoded_frame_names_its_file_and_line() -> None:
    line = "[    4.57] uafault_raw_deref (/root/.cache/uafault/build/guest-x86_64/module/core.c:88) uafault"
    assert FRAME_FILE.search(line).group(1).endswith("module/core.c")
    assert FRAME_FILE.search("do_vfs_ioctl (fs/ioctl.c:861 (discriminator 3))").groups() == ("fs/ioctl.c", "861")
    assert FRAME_FILE.search("add_dma_entry (debug.c:?)") is None


def test_no_maintainer_is_asked_about_dispatch_reporting_or_uafaults_modules() -> None:
    """The syscall's dispatch, KASAN's printing and the entry code are in
    every trace; a frame of uafault's own module is in no MAINTAINERS."""
    decoded = """[ 7.1] kasan_report (mm/kasan/report.c:596)
[ 7.1] ? strncpy_from_user (lib/strncpy_from_user.c:123)
[ 7.1] variant_raw_deref (module/variants/uafault_variants.c:1069) uafault_variants
[ 7.1] uafault_ioctl (module/main.c:189) uafault
[ 7.1] __x64_sys_ioctl (fs/ioctl.c:52 fs/ioctl.c:906)
[ 7.1] do_syscall_64 (arch/x86/entry/common.c:47)
"""
    said = _maintainers(resolve_layout(), decoded)
    assert said == ("(no file of the tree in the decoded trace: its frames are in "
                    "module/variants/uafault_variants.c, module/main.c, outside the tree)")
