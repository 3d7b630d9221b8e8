"""Cause bisection's git side with a step that reads the checked-out file
instead of booting a guest: the first bad commit, skips, a log per step,
the git bisect run script, and the user's checkout left alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import layout_for

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.guest.modules import Modules
from uafault_harness.triage.bisect import BAD, GOOD, RUN_SCRIPT, SKIP, bisect, in_worktree
from uafault_harness.triage.repro import Repro

ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
       "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=ENV).stdout.strip()


def history(repo: Path, states: list[str]) -> list[str]:
    """A commit per state of drv/drv.c."""
    (repo / "drv").mkdir(parents=True)
    git(repo, "init", "-q")
    commits = []
    for i, state in enumerate(states):
        (repo / "drv" / "drv.c").write_text(state)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"commit {i}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    return commits


def repro(tmp_path: Path, repo: Path) -> Repro:
    return Repro(tmp_path / "r.toml", "plain", Modules(False, (repo / "drv",)), "drv_x", "none", 0, -1, 1, 0, 1, 1,
                 "FAIL", "[pins]", "d")


def reader(seen: list[str]) -> object:
    def step(worktree: Path) -> tuple[str, str]:
        text = (worktree / "drv" / "drv.c").read_text()
        seen.append(text)
        print(f"testing {text!r}")
        return (SKIP, "no build") if "broken" in text else (BAD, "leak") if "leak" in text else (GOOD, "clean")
    return step


@pytest.fixture
def layout(tmp_path: Path, fake_tree: Path, fake_project: Path):  # type: ignore[no-untyped-def]
    return layout_for(fake_tree, fake_project, tmp_path / "cache", user_tree=False)


def test_the_first_bad_commit_is_found_and_the_checkout_left_alone(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    commits = history(repo, ["ok", "ok 2", "ok 3", "leak", "leak 2", "leak 3"])
    seen: list[str] = []
    result = bisect(layout, repro(tmp_path, repo), repo, commits[0], commits[-1], 1, reader(seen),  # type: ignore[arg-type]
                    Path("/h/uafault"), echo=False)
    assert result.first_bad == commits[3]
    assert 2 <= len(result.steps) <= 3 and len(seen) == len(result.steps)
    logs = sorted(result.out_dir.glob("step-*.log"))
    assert len(logs) == len(result.steps) and "testing" in logs[0].read_text()
    script = (result.out_dir / RUN_SCRIPT).read_text()
    assert "/h/uafault repro" in script and "0) exit 1;; 1) exit 0;; 4) exit 125;;" in script
    assert git(repo, "rev-parse", "HEAD") == commits[-1] and git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_a_commit_that_does_not_build_is_skipped(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    commits = history(repo, ["ok", "broken", "leak", "leak 2"])
    result = bisect(layout, repro(tmp_path, repo), repo, commits[0], commits[-1], 1, reader([]),  # type: ignore[arg-type]
                    Path("/h/uafault"), echo=False)
    # The commit that does not build hides whether the bug came with it or
    # after it: git says both may be first, and no first bad commit is named.
    assert result.first_bad is None and [s.verdict for s in result.steps].count(SKIP) == 1
    assert "could be any of" in result.said and commits[1] in result.said and commits[2] in result.said


def test_bad_revisions_are_usage_errors(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    commits = history(repo, ["ok", "leak"])
    with pytest.raises(HarnessError, match="--good 'nope' is not a commit") as err:
        bisect(layout, repro(tmp_path, repo), repo, "nope", commits[-1], 1, reader([]),  # type: ignore[arg-type]
               Path("/h"), echo=False)
    assert err.value.code is ExitCode.USAGE
    with pytest.raises(HarnessError, match="not in a git repository"):
        bisect(layout, repro(tmp_path, repo), tmp_path, "a", "b", 1, reader([]), Path("/h"), echo=False)  # type: ignore[arg-type]


def test_module_directories_move_into_the_worktree(tmp_path: Path) -> None:
    r = repro(tmp_path, tmp_path / "repo")
    moved = in_worktree(r, tmp_path / "repo", tmp_path / "wt")
    assert moved.modules.dirs == (tmp_path / "wt" / "drv",)
    assert in_worktree(r, tmp_path / "other", tmp_path / "wt").modules.dirs == r.modules.dirs


def test_a_kept_worktree_is_moved_not_made_again(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    """A kernel tree's worktree stays for the next bisection, which checks
    out only what differs: a file no commit touched keeps its mtime, so
    the guest kernel's make rebuilds only what the steps changed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README").write_text("in every commit, changed by none\n")
    commits = history(repo, ["ok", "ok 2", "leak", "leak 2"])
    first = bisect(layout, repro(tmp_path, repo), repo, commits[0], commits[-1], 1, reader([]),  # type: ignore[arg-type]
                   Path("/h/uafault"), echo=False, keep_worktree=True)
    [kept] = [Path(line.split()[1]) for line in git(repo, "worktree", "list", "--porcelain").splitlines()
              if line.startswith("worktree ") and Path(line.split()[1]) != repo]
    stamp = (kept / "README").stat().st_mtime_ns
    (kept / "stray.o").write_text("left by a build\n")
    second = bisect(layout, repro(tmp_path, repo), repo, commits[0], commits[-1], 1, reader([]),  # type: ignore[arg-type]
                    Path("/h/uafault"), echo=False, keep_worktree=True)
    assert first.first_bad == second.first_bad == commits[2]
    assert (kept / "README").stat().st_mtime_ns == stamp and not (kept / "stray.o").exists()
    assert git(repo, "rev-parse", "HEAD") == commits[-1] and git(repo, "status", "--porcelain") == ""
