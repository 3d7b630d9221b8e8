"""The path oracles layer reads each suite's complaints from the KTAP."""

from __future__ import annotations

from uafault_harness.testsuite.path_oracles_layer import complaints_by_suite

KTAP = """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: path_pipe_write
    # module: kernel
    1..1
    # uafault-case: path_pipe_write.none
    # plan: pages=3 hole=-1:none offset=0 len=12288
    # [result] ret 0 done 12289, expected ret 0 done 12288 (reach 12288 of 12288)
    not ok 1 none
not ok 1 path_pipe_write
    KTAP version 1
    # Subtest: path_io_uring_read_fixed
    1..1
    # [pins] pin balance 0 -> 3: pins leaked
    # [pins] VmPin 0 kB -> 12 kB: pinned memory still charged
    not ok 1 none
not ok 2 path_io_uring_read_fixed
"""


def test_complaints_are_grouped_by_suite_in_order() -> None:
    got = complaints_by_suite(KTAP)
    assert list(got) == ["path_pipe_write", "path_io_uring_read_fixed"]
    assert got["path_pipe_write"] == ["[result] ret 0 done 12289, expected ret 0 done 12288 (reach 12288 of 12288)"]
    assert [c.split(":")[0] for c in got["path_io_uring_read_fixed"]] == ["[pins] pin balance 0 -> 3", "[pins] VmPin 0 kB -> 12 kB"]
