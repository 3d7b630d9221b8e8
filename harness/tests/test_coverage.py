"""--coverage on the host: the profile list, the coverage disk's records,
gcov's reading of real counters (a program built here with gcc), the
store, and the report's tables and lcov tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import CaseVerdict, RunInfo, Store
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.coverage import Coverage, SourceFile, Sources, from_tracefile, parse_ranges, ranges
from uafault_harness.guest.coverage import RECORD, Record, case_coverage, read_records
from uafault_harness.core.profiled import parse_profiled
from uafault_harness.reports.coverage import Ran, file_rows, mechanics, reach, section, tracefile
from uafault_harness.reports.html import render

# A target's code: the error path runs only when the call is refused.
SOURCE = """\
int copy(int len)
{
\tint ret = 0;
\tif (len < 0)
\t\tgoto fail;
\tret = len * 2;
\treturn ret;
fail:
\treturn -14; /* -EFAULT */
}
int unused(int x)
{
\tif (x)
\t\treturn -22; /* -EINVAL */
\treturn 0;
}
int main(int argc, char **argv)
{
\treturn copy(argc - 2) < 0 ? unused(0) : 0;
}
"""


def test_the_profile_list_names_files_and_directories() -> None:
    p = parse_profiled("# comment\nmm/gup.c\nio_uring/  # all of it\n", "cov.paths")
    assert p.files == ("mm/gup.c",) and p.dirs == ("io_uring/",)
    assert p.covers("mm/gup.c") and p.covers("io_uring/rsrc.c")
    assert not p.covers("io_uring/sub/x.c") and not p.covers("mm/memory.c")
    assert p.make_variable() == "GCOV_PROFILE=$(if $(filter mm/gup,$(obj)/$(target-stem))$(filter io_uring,$(obj)),y)"


@pytest.mark.parametrize("text, where", [("mm/gup.c\nmm/gup.h\n", "cov.paths:2"), ("../etc/x.c\n", "cov.paths:1"),
                                         ("# nothing\n", "cov.paths")])
def test_a_bad_profile_line_names_its_place(text: str, where: str) -> None:
    with pytest.raises(HarnessError) as err:
        parse_profiled(text, "cov.paths")
    assert err.value.code is ExitCode.BAD_CONFIG and str(err.value).startswith(where + ":")


def test_line_ranges_round_trip() -> None:
    assert ranges({7, 1, 2, 3, 9, 10}) == "1-3,7,9-10"
    assert parse_ranges("1-3,7,9-10") == {1, 2, 3, 7, 9, 10} and parse_ranges("") == set()


def test_records_are_read_up_to_the_first_incomplete_one(tmp_path: Path) -> None:
    image = tmp_path / "coverage.img"
    # A record ends in a newline after its bytes: the third one's were
    # still on their way to the disk when the guest died.
    image.write_bytes(f"{RECORD} 3 campaign.a /b/mm/gup.gcda\n".encode() + b"abc\n"
                      + f"{RECORD} 2 campaign.b /b/lib/iov iter.gcda\n".encode() + b"xy\n"
                      + f"{RECORD} 9 campaign.c /b/x.gcda\n".encode() + b"cut" + b"\0" * 100)
    assert read_records(image) == [Record("campaign.a", "/b/mm/gup.gcda", b"abc"),
                                   Record("campaign.b", "/b/lib/iov iter.gcda", b"xy")]


def _counters(build: Path, argc: int) -> bytes:
    """The counters of one run of the program with argc - 1 arguments."""
    gcda = build / "mm" / "gup.gcda"
    gcda.unlink(missing_ok=True)
    subprocess.run([str(build / "prog"), *["x"] * (argc - 1)], cwd=build, check=False)
    return gcda.read_bytes()


def test_gcov_says_which_lines_each_case_ran(tmp_path: Path) -> None:
    # The kernel's layout: the source in the tree, the notes in O=.
    tree, build = tmp_path / "linux", tmp_path / "build"
    (tree / "mm").mkdir(parents=True)
    (build / "mm").mkdir(parents=True)
    (tree / "mm" / "gup.c").write_text(SOURCE)
    subprocess.run(["gcc", "-O0", "--coverage", "-c", str(tree / "mm" / "gup.c"), "-o", "mm/gup.o"], cwd=build,
                   check=True)
    subprocess.run(["gcc", "--coverage", "mm/gup.o", "-o", "prog"], cwd=build, check=True)
    fault, clean = _counters(build, 1), _counters(build, 3)   # copy(-1): the error path; copy(1)
    sources = Sources(tree.resolve(), parse_profiled("mm/gup.c\n", "p"))
    gcda = str(build / "mm" / "gup.gcda")
    cov = case_coverage([Record("campaign.fault", gcda, fault), Record("campaign.clean", gcda, clean),
                         Record("campaign.lost", str(tmp_path / "gone" / "x.gcda"), b"")], sources)
    assert set(cov.files) == {"mm/gup.c"}
    f = cov.files["mm/gup.c"]
    assert f.path == str(tree.resolve() / "mm" / "gup.c")
    assert {"copy", "unused", "main"} <= set(f.functions) and f.functions["copy"][0] == 1
    fault_lines, clean_lines = cov.hits["campaign.fault"]["mm/gup.c"], cov.hits["campaign.clean"]["mm/gup.c"]
    assert 9 in fault_lines and 9 not in clean_lines and 6 in clean_lines and 6 not in fault_lines
    assert 14 not in fault_lines | clean_lines and {4, 14} <= f.lines
    assert any("no notes file" in p for p in cov.problems)


def _coverage() -> tuple[Coverage, list[Ran]]:
    cov = Coverage(files={"mm/gup.c": SourceFile("mm/gup.c", "/nonexistent/gup.c", set(range(1, 20)),
                                                 {"copy": (1, 10)})},
                   hits={"t.none": {"mm/gup.c": {1, 3, 4, 6, 7}}, "t.unmapped": {"mm/gup.c": {1, 3, 4, 5, 9}},
                         "t.uffd": {"mm/gup.c": {1, 3, 4, 5, 9, 8}}})
    return cov, [Ran("t.none", "t", "none"), Ran("t.unmapped", "t", "unmapped"), Ran("t.uffd", "t", "uffd")]


def test_lines_with_and_without_a_fault_and_who_reached_them_first(tmp_path: Path) -> None:
    cov, cases = _coverage()
    [row] = file_rows(cov, cases)
    assert (row.lines, row.reached, row.no_fault, row.only_fault) == (19, 8, 5, 3)
    source = tmp_path / "gup.c"
    source.write_text(SOURCE)
    cov.files["mm/gup.c"].path = str(source)
    [r] = reach(cov, cases)
    # 5 and 9 first by unmapped (plan order), 8 only by uffd.
    assert r.opened == {("mm/gup.c", 5): "unmapped", ("mm/gup.c", 9): "unmapped", ("mm/gup.c", 8): "uffd"}
    # unused() was never entered: its -EINVAL is not a gap of this target.
    assert r.gaps == []
    cov.hits["t.uffd"]["mm/gup.c"] -= {9}
    cov.hits["t.unmapped"]["mm/gup.c"] -= {9}
    assert reach(cov, cases)[0].gaps == [("mm/gup.c", 9)]
    page = section(cov, cases, "coverage/index.html")
    assert 'class="only-fault">2<' in page and 'href="coverage/index.html"' in page
    info = tracefile(cov, cases)
    assert info.count("end_of_record") == 3 and "TN:unmapped" in info and "DA:5,1" in info


def test_a_campaign_run_with_coverage_gets_its_section_and_lcov_tree(tmp_path: Path) -> None:
    if shutil.which("genhtml") is None:
        pytest.fail("genhtml is missing: harness/uafault setup --for coverage installs lcov")
    source = tmp_path / "gup.c"
    source.write_text(SOURCE)
    cases = [Case(0, "plain", "t", "none", 0, -1, 1, 0), Case(1, "plain", "t", "unmapped", 0, -1, 1, 0)]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R1", "smoke", "smoke.toml", "d"), "v", "c", cases)
    for c in cases:
        store.record("R1", CaseVerdict(c.case_id, "PASS"))
    files = {"mm/gup.c": SourceFile("mm/gup.c", str(source), {1, 3, 4, 5, 6, 7, 9}, {"copy": (1, 10)})}
    store.record_coverage("R1", Coverage(files, {cases[0].case_id: {"mm/gup.c": {1, 3, 4, 6}}}))
    # A second boot's coverage merges into the run's.
    store.record_coverage("R1", Coverage(files, {cases[1].case_id: {"mm/gup.c": {1, 3, 4, 5, 9}},
                                                 cases[0].case_id: {"mm/gup.c": {7}}}))
    assert store.coverage("R1").hits[cases[0].case_id]["mm/gup.c"] == {1, 3, 4, 6, 7}
    store.close()
    _, page = render(tmp_path / "u.db", "R1", tmp_path / "coverage")
    assert "Error-path coverage" in page and 'class="only-fault">2<' in page
    assert (tmp_path / "coverage" / "index.html").is_file()
    [page_of_file] = (tmp_path / "coverage").rglob("gup.c.gcov.html")
    assert "return -14" in page_of_file.read_text()


def test_what_a_kind_reaches_on_every_target_is_its_own_not_an_error_path() -> None:
    files = {"mm/memory.c": SourceFile("mm/memory.c", "/nonexistent", set(range(1, 100)), {})}
    hits = {f"{t}.{k}": {"mm/memory.c": lines} for t, k, lines in [
        ("a", "none", {1}), ("a", "fork_cow", {1, 50, 51, 10}),
        ("b", "none", {1}), ("b", "fork_cow", {1, 50, 51, 20}),
        ("c", "none", {1}), ("c", "fork_cow", {1, 50, 30})]}
    cov = Coverage(files, hits)
    cases = [Ran(key, *key.split(".")) for key in hits]
    assert mechanics(cov, cases) == {"fork_cow": {"mm/memory.c": {1, 50}}}
    opened = {r.target: sorted(r.opened) for r in reach(cov, cases)}
    # 51 is not on every target: a and b keep it as their own.
    assert opened == {"a": [("mm/memory.c", 10), ("mm/memory.c", 51)],
                      "b": [("mm/memory.c", 20), ("mm/memory.c", 51)], "c": [("mm/memory.c", 30)]}
    # Two targets are too few to tell the kind's lines from theirs.
    two = [c for c in cases if c.target != "c"]
    assert mechanics(cov, two) == {}


def test_kunit_coverage_is_lcov_s_capture_read_back(tmp_path: Path) -> None:
    """UML's route: counters next to the objects, zeroed before a run,
    captured by lcov after it; read back as one case."""
    from uafault_harness.kunit.coverage import capture, zero_counters
    if shutil.which("lcov") is None:
        pytest.fail("lcov is missing: harness/uafault setup --for coverage installs it")
    tree = tmp_path / "linux"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "gup.c").write_text(SOURCE)
    subprocess.run(["gcc", "-O0", "--coverage", "mm/gup.c", "-o", "prog"], cwd=tree, check=True)
    subprocess.run([str(tree / "prog"), "x", "y"], cwd=tree, check=False)   # copy(1): no error path
    assert capture(tree, tmp_path / "no.info") is None
    assert zero_counters(tree) == 1 and capture(tree, tmp_path / "none.info") is not None
    subprocess.run([str(tree / "prog")], cwd=tree, check=False)             # copy(-1): the error path
    assert capture(tree, tmp_path / "run.info") is None
    sources = Sources(tree.resolve(), parse_profiled("mm/gup.c\n", "p"))
    cov = from_tracefile((tmp_path / "run.info").read_text(), sources.name, "kunit")
    assert set(cov.files) == {"mm/gup.c"}
    ran = cov.hits["kunit"]["mm/gup.c"]
    assert 9 in ran and 6 not in ran and {6, 9, 14} <= cov.files["mm/gup.c"].lines
    # lcov names a function's first line; it ends where the next begins.
    assert cov.files["mm/gup.c"].functions["copy"] == (1, 10)
