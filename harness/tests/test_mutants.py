"""The mutant catalogue's checks and the tree edit that survives a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from uafault_harness.core.errors import ExitCode
from uafault_harness.core.paths import PROJECT_ROOT
from uafault_harness.core.results import Counts, LayerResult
from uafault_harness.mutate.catalogue import CATALOGUE, CatalogueError, check_against_tree, load_catalogue
from uafault_harness.mutate.runner import KILLED, SURVIVED, UNBUILDABLE, Outcome, classify, score, select
from uafault_harness.setup.tree_edit import JOURNAL, edited, recover

ENTRY = """\
[[mutant]]
name = "{name}"
file = "lib/a.c"
find = "return 1;"
replace = "return 0;"
class = "a result flipped"
arch = "um"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mutants.toml"
    path.write_text(text)
    return path


def test_the_shipped_catalogue_loads_with_unique_names() -> None:
    mutants = load_catalogue(PROJECT_ROOT / CATALOGUE)
    assert len(mutants) >= 10
    assert len({m.name for m in mutants}) == len(mutants)
    assert {m.arch for m in mutants} <= {"um", "x86_64"}


@pytest.mark.parametrize("text, where, says", [
    (ENTRY.format(name="a") + 'colour = "red"\n', ":1:", "unknown key(s) colour"),
    (ENTRY.format(name="a").replace('find = "return 1;"\n', ""), ":1:", "find: must be a non-empty string"),
    (ENTRY.format(name="a") + "\n" + ENTRY.format(name="a"), ":9:", "name 'a' given twice"),
    (ENTRY.format(name="a").replace('"return 0;"', '"return 1;"'), ":1:", "replace is the same as find"),
    (ENTRY.format(name="a").replace('"um"', '"sparc"'), ":1:", "arch 'sparc'"),
    (ENTRY.format(name="a").replace('"lib/a.c"', '"../a.c"'), ":1:", "a path inside the kernel tree"),
    ("[campaign]\n", "", "must hold [[mutant]] tables"),
])
def test_a_bad_catalogue_says_file_line_and_what(tmp_path: Path, text: str, where: str, says: str) -> None:
    with pytest.raises(CatalogueError) as e:
        load_catalogue(_write(tmp_path, text))
    assert e.value.code is ExitCode.BAD_CONFIG
    assert f"mutants.toml{where}" in str(e.value) and says in str(e.value)


def test_find_must_occur_exactly_once_in_the_tree(tmp_path: Path) -> None:
    path = _write(tmp_path, ENTRY.format(name="a") + "\n" + ENTRY.format(name="b").replace("lib/a.c", "lib/b.c"))
    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    (tree / "lib/a.c").write_text("int f(void) { return 1; }\n")
    (tree / "lib/b.c").write_text("int f(void) { return 1; }\nint g(void) { return 1; }\n")
    mutants = load_catalogue(path)
    check_against_tree(mutants[:1], tree, path)
    with pytest.raises(CatalogueError, match=r"mutants.toml:9: b: find occurs 2 times in lib/b.c"):
        check_against_tree(mutants, tree, path)


def test_select_and_score() -> None:
    mutants = load_catalogue(PROJECT_ROOT / CATALOGUE)
    assert [m.name for m in select(mutants, ["um_strnlen*", "zeroed_t*"])] == ["um_strnlen_no_nul", "zeroed_tail_unmasked"]
    outcomes = [Outcome("a", "um", "", KILLED, ["s"], 1), Outcome("b", "um", "", SURVIVED, [], 1),
                Outcome("c", "um", "", UNBUILDABLE, ["x"], 1)]
    assert score(outcomes) == (1, 2)


def test_classify_names_the_failing_suites() -> None:
    failed = LayerResult("kunit um", ExitCode.TEST_FAILED, "2 case(s) failed",
                         suites={"uafault_iter": Counts(passed=3, failed=2), "uafault_copy": Counts(passed=9)})
    assert classify(failed) == (KILLED, ["uafault_iter"])
    assert classify(LayerResult("kunit um", ExitCode.OK, "ok"))[0] == SURVIVED
    assert classify(LayerResult("kunit um", ExitCode.BUILD_FAILED, "no"))[0] == UNBUILDABLE
    assert classify(LayerResult("kunit um", ExitCode.RUN_FAILED, "hung")) == (KILLED, ["hung"])


def _tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    cache, tree = tmp_path / "cache", tmp_path / "tree"
    cache.mkdir()
    (tree / "lib").mkdir(parents=True)
    target = tree / "lib/a.c"
    target.write_bytes(b"int f(void) { return 1; }\n")
    return cache, tree, target


def test_an_edit_is_undone_byte_for_byte(tmp_path: Path) -> None:
    cache, tree, target = _tree(tmp_path)
    with edited(cache, tree, "m", Path("lib/a.c"), "int f(void) { return 0; }\n") as path:
        assert path.read_text() == "int f(void) { return 0; }\n"
        assert (cache / JOURNAL).exists()
    assert target.read_bytes() == b"int f(void) { return 1; }\n"
    assert not (cache / JOURNAL).exists()
    assert recover(cache, tree) is None


def test_an_edit_left_by_a_killed_run_is_recovered(tmp_path: Path) -> None:
    cache, tree, target = _tree(tmp_path)
    code = (f"import os, signal, sys; sys.path.insert(0, {str(PROJECT_ROOT / 'harness')!r})\n"
            "from pathlib import Path\n"
            "from uafault_harness.setup.tree_edit import edited\n"
            f"with edited(Path({str(cache)!r}), Path({str(tree)!r}), 'm', Path('lib/a.c'), 'broken\\n'):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == "broken\n"
    old = os.stat(target).st_mtime_ns
    said = recover(cache, tree)
    assert said is not None and "edit m was left applied" in said
    assert target.read_bytes() == b"int f(void) { return 1; }\n"
    assert os.stat(target).st_mtime_ns >= old
    assert not (cache / JOURNAL).exists()
