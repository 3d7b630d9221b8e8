"""The path oracles layer reads each suite's complaints from the KTAP."""

from __future__ import annotations

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import Row
from uafault_harness.core.verdicts import Verdict
from uafault_harness.testsuite.path_oracles_layer import (HELD_CHANGES, HELD_PATHS, KEEPS, KEEPS_COPIES, KEPT_REF,
                                                          MISUSE_FAULTS, PASSER_BY_PATHS, complaints_by_suite,
                                                          longterm_checks, misuse_verdicts, passer_by_verdicts,
                                                          runs_by_suite)

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


# The --refs-passer-by boot: each case notes the pages the agent held
# through the looks before its call, and how many of them the looks saw.
PASSER_BY_KTAP = """\
KTAP version 1
1..3
    KTAP version 1
    # Subtest: path_pipe_read
    # module: kernel
    1..1
    # uafault-case: path_pipe_read.none
    # plan: pages=3 hole=-1:none offset=0 len=12288
    # uafault-refs-passer-by: held 3 seen 3
    ok 1 none
ok 1 path_pipe_read
    KTAP version 1
    # Subtest: path_process_vm_readv
    # module: kernel
    1..1
    # uafault-case: path_process_vm_readv.none
    # uafault-refs-passer-by: held 3 seen 3
    # [refs] page 2 of the mapping (pfn 0x1234): 0 references beyond its mappings and pins after the call, 1 before: a reference dropped that the call never took
    not ok 1 none
not ok 2 path_process_vm_readv
    KTAP version 1
    # Subtest: path_pipe_write
    # module: kernel
    1..1
    # uafault-case: path_pipe_write.none
    # uafault-refs-passer-by: held 3 seen 2
    ok 1 none
ok 3 path_pipe_write
"""


def test_a_suites_cases_and_passer_by_notes_are_read() -> None:
    runs = runs_by_suite(PASSER_BY_KTAP)
    assert list(runs) == ["path_pipe_read", "path_process_vm_readv", "path_pipe_write"]
    read = runs["path_pipe_read"]
    assert read.passers == [(3, 3)] and not read.complaints
    assert [(r.name, r.ok, r.skipped) for r in read.cases] == [("none", True, False)]
    vm = runs["path_process_vm_readv"]
    assert [r.ok for r in vm.cases] == [False] and vm.complaints[0].startswith("[refs] page 2")
    # The suites' own result lines (no indent) are no case.
    assert all(len(run.cases) == 1 for run in runs.values())
    assert complaints_by_suite(PASSER_BY_KTAP)["path_process_vm_readv"] == vm.complaints


def test_the_passer_by_checks_name_what_went_wrong() -> None:
    checks = passer_by_verdicts(1, runs_by_suite(PASSER_BY_KTAP))
    bad = {name for name, ok in checks.items() if not ok}
    assert bad == {
        "correct paths pass with a passer-by's reference let go before each call (exit 1 == 0)",
        "path_process_vm_writev ran under --refs-passer-by",
        "path_process_vm_readv: every case passed with a passer-by",
        "path_process_vm_readv: [refs] charged no passer-by's reference to the call",
        # One held page the looks did not see: the boot proved nothing there.
        "path_pipe_write: the looks before each call saw the passer-by on every page it held",
    }
    assert checks["path_pipe_read: every case passed with a passer-by"]
    assert checks["path_pipe_read: the looks before each call saw the passer-by on every page it held"]


def test_a_passer_by_run_with_every_case_good_passes() -> None:
    good = "".join(f"""\
    KTAP version 1
    # Subtest: {path}
    1..2
    # uafault-refs-passer-by: held 3 seen 3
    ok 1 none
    # uafault-refs-passer-by: held 1 seen 1
    ok 2 none
ok {n} {path}
""" for n, path in enumerate(PASSER_BY_PATHS, 1))
    assert all(passer_by_verdicts(0, runs_by_suite("KTAP version 1\n" + good)).values())
    # A case without its note (the option not passed, an old agent) fails.
    silent = good.replace("    # uafault-refs-passer-by: held 1 seen 1\n", "", 1)
    bad = [n for n, ok in passer_by_verdicts(0, runs_by_suite(silent)).items() if not ok]
    assert bad == [f"{PASSER_BY_PATHS[0]}: the looks before each call saw the passer-by on every page it held"]


def test_the_agent_notes_the_passer_by_as_the_host_reads_it() -> None:
    from uafault_harness.core.agent_header import agent_string
    from uafault_harness.guest.protocol import PASSER_BY_RE, agent_args

    found = PASSER_BY_RE.search("    " + agent_string("PASSER_BY_LINE").rstrip("\n") % (4, 3))
    assert found is not None and found.groups() == ("4", "3")
    assert agent_args(refs_passer_by=True) == "--refs-passer-by"
    # The kept reference the misuse boot expects is [refs]'s own wording.
    assert KEPT_REF == agent_string("REFS_KEPT") == "a reference kept"


def _movable_row(target: str, verdict: str, title: str = "", kind: str = "movable") -> Row:
    return Row(Case(0, "plain", target, kind, 0, -1, 1, 0, "anon"), Verdict(verdict), title, 0.1)


def _held_change_rows() -> list[Row]:
    return [_movable_row(path, "PASS", kind=kind) for path, kinds in HELD_CHANGES.items() for kind in kinds]


def test_every_long_term_pinner_must_run_and_pass_movable() -> None:
    rows = [_movable_row(path, "PASS") for path in HELD_PATHS] + _held_change_rows()
    assert all(longterm_checks(rows).values())
    rows[0] = _movable_row(HELD_PATHS[0], "FAIL", "[movable] 3 held page(s) still in ZONE_MOVABLE")
    failed = [name for name, ok in longterm_checks(rows[:len(HELD_PATHS) - 1] + _held_change_rows()).items()
              if not ok]
    assert len(failed) == 2
    assert "[movable] 3 held page(s)" in failed[0] and failed[1].endswith("(no case)")


def test_every_held_change_must_run_and_pass() -> None:
    """Each change a held path allows runs under its kind in the longterm
    campaign; a failed or missing one fails the layer."""
    movable = [_movable_row(path, "PASS") for path in HELD_PATHS]
    changes = _held_change_rows()
    assert {(r.case.target, r.case.fault) for r in changes} == {
        ("path_iommufd_access_pages", "held_unmap"), ("path_iommufd_access_pages", "held_detach"),
        ("path_io_uring_read_fixed_held", "held_update"),
        ("path_io_uring_read_fixed_held", "held_unregister"), ("path_v4l2_userptr_vivid", "held_requeue")}
    changes[0] = _movable_row(changes[0].case.target, "FAIL", "[held-change] held_unmap left the pins held",
                              kind="held_unmap")
    failed = [name for name, ok in longterm_checks(movable + changes[:-1]).items() if not ok]
    assert len(failed) == 2
    assert "left the pins held" in failed[0] and failed[1].endswith("(no case)")


def test_the_misuse_boot_runs_movable_on_the_held_paths() -> None:
    """The misuse boot runs movable beside none, and the held changes;
    every held path is a long-term pinner whose misuse keeps its pins,
    and every path that allows a change is a held one."""
    assert MISUSE_FAULTS.split(",") == ["none", "movable", "held_detach", "held_requeue", "held_unmap",
                                      "held_unregister", "held_update"]
    assert set(HELD_PATHS) <= set(KEEPS)
    assert set(HELD_CHANGES) <= set(HELD_PATHS)


def test_the_misuse_boot_wants_each_change_to_find_nothing_held() -> None:
    """On --misuse-paths the held phase comes before the call pins: each
    held change must draw [held-change]'s nothing-held complaint, not
    merely any complaint of that oracle."""
    from uafault_harness.guest.protocol import HELD_CHANGE_ORACLE

    assert HELD_CHANGE_ORACLE == "[held-change]"
    path = "path_io_uring_read_fixed_held"
    said = ["[result] ret 0 done 12289, expected ret 0 done 12288 (reach 12288 of 12288)",
            "[pins] pin balance 0 -> 3: pins leaked", "[pins] VmPin 0 kB -> 12 kB: pinned memory still charged",
            "[movable] 3 held page(s) still in ZONE_MOVABLE: a long-term hold must migrate them out",
            f"[held-change] held_update: {path} held no pin of the range at the change: it changed nothing held",
            "[held-change] held_unregister while held failed: No such device or address"]
    bad = [name for name, ok in misuse_verdicts(1, {path: said}, "").items() if not ok and name.startswith(path)]
    assert bad == [f"{path}: [held-change] caught held_unregister finding nothing held"]


# The --misuse-paths boot's fuse paths: each reports its extra byte; the
# splice server keeps each request in its pipe, which a fixed kernel
# fills with copies, so [refs] says nothing on the write.
MISUSED_FUSE = {
    "path_fuse_direct_write": ["[result] ret 0 done 12289, expected ret 0 done 12288 (reach 12288 of 12288)"],
    "path_fuse_direct_write_splice": ["[result] ret 0 done 12289, expected ret 0 done 12288 (reach 12288 of 12288)"],
}


def test_a_kept_pipe_of_copies_passes_only_with_refs_silent() -> None:
    assert "path_fuse_direct_write_splice" in KEEPS_COPIES
    checks = misuse_verdicts(1, MISUSED_FUSE, "")
    assert all(checks.values())
    # Before 0c4bcfdecb1a the pipe held the caller's pages: [refs] saw them.
    held = {**MISUSED_FUSE, "path_fuse_direct_write_splice": MISUSED_FUSE["path_fuse_direct_write_splice"] + [
        f"[refs] page 0 of the mapping (pfn 0x1234): 2 references beyond its mappings and pins after the call, 0 before: {KEPT_REF}"]}
    bad = [name for name, ok in misuse_verdicts(1, held, "").items() if not ok]
    assert bad == ["path_fuse_direct_write_splice: what it kept holds none of the caller's pages ([refs] silent: 0c4bcfdecb1a)"]
    # Not run at all: the silence proves nothing.
    gone = {k: v for k, v in MISUSED_FUSE.items() if k != "path_fuse_direct_write_splice"}
    assert not all(misuse_verdicts(1, gone, "").values())


def test_a_server_that_kept_nothing_fails_the_boot() -> None:
    from uafault_harness.core.agent_header import agent_string

    said = agent_string("MISUSE_NOT_KEPT_LINE") % "/tmp/uafault-fuse-write_splice"
    bad = [name for name, ok in misuse_verdicts(1, MISUSED_FUSE, "console\n" + said).items() if not ok]
    assert len(bad) == 1 and bad[0].startswith("every misused path kept what it must past its call (")
    assert "/tmp/uafault-fuse-write_splice" in bad[0]


# The user caller's boots: misused io_uring paths, then correct ones.
CALLER_MISUSE_KTAP = """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: path_io_uring_read_fixed
    1..1
    # uafault-case: path_io_uring_read_fixed.none
    # [accounting] VmPin 12 kB after the case, 0 kB before: charged and not given back
    # [accounting] uid 64242 registered 4186112 bytes of its RLIMIT_MEMLOCK (4194304) before the case, not after it: Cannot allocate memory
    not ok 1 none
not ok 1 path_io_uring_read_fixed
    KTAP version 1
    # Subtest: path_io_uring_write_fixed
    1..1
    # uafault-case: path_io_uring_write_fixed.none
    # [accounting] VmPin 12 kB after the case, 0 kB before: charged and not given back
    not ok 1 none
not ok 2 path_io_uring_write_fixed
"""


def _correct_ktap(paths: tuple[str, ...], note: str = "") -> str:
    out = [f"KTAP version 1\n1..{len(paths)}\n"]
    for n, path in enumerate(paths, 1):
        out.append(f"    KTAP version 1\n    # Subtest: {path}\n    1..1\n    # uafault-case: {path}.none\n"
                   f"{note if n == 1 else ''}    ok 1 none\nok {n} {path}\n")
    return "".join(out)


def test_the_caller_checks_need_both_accounting_complaints_on_the_misuse() -> None:
    from uafault_harness.testsuite.path_oracles_layer import ACCOUNTING_CORRECT_PATHS, caller_verdicts

    correct = runs_by_suite(_correct_ktap(ACCOUNTING_CORRECT_PATHS))
    checks = caller_verdicts(1, runs_by_suite(CALLER_MISUSE_KTAP), 0, correct)
    assert [n for n, ok in checks.items() if not ok] == [
        "path_io_uring_write_fixed as the user caller, misused: [accounting] caught "
        "the limit's registration refused after the case"]
    # Correct paths: one that complains, or did not run, fails its checks.
    noisy = runs_by_suite(_correct_ktap(ACCOUNTING_CORRECT_PATHS, "    # [accounting] VmLck 4 kB after the case\n"))
    bad = [n for n, ok in caller_verdicts(1, runs_by_suite(CALLER_MISUSE_KTAP), 0, noisy).items() if not ok]
    assert f"{ACCOUNTING_CORRECT_PATHS[0]} as the user caller: [accounting] silent" in bad
    missing = runs_by_suite(_correct_ktap(ACCOUNTING_CORRECT_PATHS[1:]))
    bad = [n for n, ok in caller_verdicts(1, runs_by_suite(CALLER_MISUSE_KTAP), 0, missing).items() if not ok]
    assert f"{ACCOUNTING_CORRECT_PATHS[0]} as the user caller: every case passed" in bad
    # The layer's boots name the agent's option.
    from uafault_harness.guest.protocol import agent_args
    assert agent_args(targets="path_[ix]*", faults="none", caller="user") == (
        "--targets 'path_[ix]*' --faults none --caller user")
