"""`bisect REPRO --good REV --bad REV [--repo DIR]`: the first commit at
which a repro config reproduces, syzbot's cause bisection for uafault.

The repository is the kernel tree (KSRC, the default) or a git repository
holding one of the repro's module directories (a user's driver).  Each
step checks the revision out in a worktree of the harness's own (the
user's checkout is never touched), builds what the step needs (the guest
kernel from that tree, or only the module), and replays the repro:
reproduced is bad, not reproduced good, a build that fails skip.  git
bisect picks the steps and names the first bad commit; each step's log
is kept under results/bisect/<run>/, with bisect-run.sh beside it, which
does the same through `git bisect run` in the user's own checkout."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from ..core.results import new_run_id
from ..guest.accel import DEFAULT_ACCEL
from ..guest.modules import Modules
from ..setup.link import link
from .repro import Repro, describe, run_repro

BISECT_DIR = "bisect"
RUN_SCRIPT = "bisect-run.sh"
# More steps than any history git can halve in one run needs.
MAX_STEPS = 64
GOOD, BAD, SKIP = "good", "bad", "skip"
# `git bisect run`'s exit codes: 0 good, 1 bad, 125 skip, >127 stop.
RUN_EXIT = {ExitCode.OK: 1, ExitCode.TEST_FAILED: 0, ExitCode.BUILD_FAILED: 125}


@dataclass(frozen=True)
class Step:
    commit: str
    verdict: str
    detail: str
    log: Path


@dataclass(frozen=True)
class BisectResult:
    first_bad: str | None
    steps: tuple[Step, ...]
    out_dir: Path
    # What git bisect said last (the first bad commit's summary, or why none).
    said: str


# One step: the revision checked out in the worktree -> (verdict, detail).
StepTest = Callable[[Path], tuple[str, str]]


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise HarnessError(ExitCode.USAGE, f"git -C {repo} {shlex.join(args)}: "
                                           f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout + proc.stderr


def commit_of(repo: Path, rev: str, what: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.USAGE, f"{what} {rev!r} is not a commit of {repo}")
    return proc.stdout.strip()


def top_of(repo: Path) -> Path:
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(ExitCode.USAGE, f"{repo} is not in a git repository")
    return Path(proc.stdout.strip())


def in_worktree(repro: Repro, top: Path, worktree: Path) -> Repro:
    """repro with each module directory inside top moved to worktree."""
    dirs = tuple(worktree / d.relative_to(top) if d.is_relative_to(top) else d for d in repro.modules.dirs)
    return dataclasses.replace(repro, modules=Modules(repro.modules.variants, dirs))


def module_step(layout: Layout, repro: Repro, top: Path, runs: int, jobs: int, accel: str) -> StepTest:
    """A step of a module repository: only the module is built again."""
    def test(worktree: Path) -> tuple[str, str]:
        return _replay(layout, in_worktree(repro, top, worktree), runs, jobs, accel)
    return test


def kernel_step(layout: Layout, repro: Repro, runs: int, jobs: int, accel: str) -> StepTest:
    """A step of a kernel tree: the guest kernel is built from the worktree.
    The worktree is the harness's own, so it links itself in there (a
    user's KSRC it never links unasked); the reset before the next
    checkout undoes that."""
    def test(worktree: Path) -> tuple[str, str]:
        link(worktree, layout.project)
        return _replay(dataclasses.replace(layout, tree=worktree, user_tree=True), repro, runs, jobs, accel)
    return test


def _replay(layout: Layout, repro: Repro, runs: int, jobs: int, accel: str) -> tuple[str, str]:
    try:
        result = run_repro(layout, repro, runs, jobs, accel)
    except HarnessError as exc:
        if exc.code is ExitCode.BUILD_FAILED:
            return SKIP, f"does not build: {exc}"
        raise
    return (BAD if result.ok else GOOD), describe(repro, result)


def run_script(repro: Repro, runs: int, accel: str, harness: Path) -> str:
    codes = " ".join(f"{int(code)}) exit {mapped};;" for code, mapped in RUN_EXIT.items())
    return (f"#!/bin/sh\n# git bisect run {RUN_SCRIPT} (from the repository being bisected): repro\n"
            f"# {repro.path} reproduced is bad, not reproduced good, no build skip.\n"
            f"{shlex.quote(str(harness))} repro {shlex.quote(str(repro.path))} --runs {runs} --accel {accel}\n"
            f"case $? in {codes} *) exit 128;; esac\n")


def step_for(layout: Layout, repro: Repro, top: Path, runs: int, jobs: int, accel: str) -> tuple[StepTest, bool]:
    """How a step of a bisection of top tests a revision: the module's
    rebuild, for a repository holding a module directory of repro, or the
    guest kernel's, for a kernel tree (True: keep its worktree, whose fresh
    checkout would build the kernel from scratch)."""
    if any(d.is_relative_to(top) for d in repro.modules.dirs):
        return module_step(layout, repro, top, runs, jobs, accel), False
    if (top / "mm" / "gup.c").is_file():
        return kernel_step(layout, repro, runs, jobs, accel), True
    raise HarnessError(ExitCode.USAGE, f"bisect: {top} is neither a kernel tree nor a repository holding "
                                       f"a module directory of {repro.path}")


def bisect(layout: Layout, repro: Repro, repo: Path, good: str, bad: str, runs: int, test: StepTest,
           harness: Path, accel: str = DEFAULT_ACCEL, echo: bool = True, keep_worktree: bool = False) -> BisectResult:
    """keep_worktree: leave the worktree for the next bisection of repo (a
    kernel tree: a fresh checkout's new mtimes would make its guest kernel
    build from scratch); otherwise it goes, and repo is as it was."""
    top = top_of(repo)
    good_commit, bad_commit = commit_of(top, good, "--good"), commit_of(top, bad, "--bad")
    out = fsutil.fresh_dir(layout.results_root / BISECT_DIR, f"{repro.name}-{new_run_id()}")
    fsutil.atomic_write_text(out / RUN_SCRIPT, run_script(repro, runs, accel, harness))
    (out / RUN_SCRIPT).chmod(0o755)
    worktree = worktree_of(layout, top)
    with fsutil.locked(fsutil.dir_lock(worktree), f"bisection of {top}"):
        return _bisect(top, worktree, good_commit, bad_commit, out, test, echo, keep_worktree)


def worktree_of(layout: Layout, top: Path) -> Path:
    """One worktree per repository, at one path: a kernel tree's guest
    build directory is named by its tree's path, so a kept worktree's next
    bisection builds incrementally into the same one."""
    digest = hashlib.sha256(str(top.resolve()).encode()).hexdigest()[:10]
    return layout.cache / BISECT_DIR / f"worktree-{top.name}-{digest}"


def _checkout(top: Path, worktree: Path, commit: str) -> None:
    """worktree at commit: the kept one moved there (git rewrites only
    the files that differ), else a new one."""
    if (worktree / ".git").is_file() and str(worktree) in git(top, "worktree", "list", "--porcelain", check=False):
        git(worktree, "bisect", "reset", check=False)
        git(worktree, "reset", "--hard", "--quiet")
        git(worktree, "clean", "-fdxq")
        git(worktree, "checkout", "--quiet", "--detach", commit)
        return
    # None, or what a killed run left: git's record of it, then the files.
    git(top, "worktree", "remove", "--force", str(worktree), check=False)
    git(top, "worktree", "prune", check=False)
    shutil.rmtree(worktree, ignore_errors=True)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    git(top, "worktree", "add", "--detach", str(worktree), commit)


def _bisect(top: Path, worktree: Path, good_commit: str, bad_commit: str, out: Path, test: StepTest,
            echo: bool, keep_worktree: bool) -> BisectResult:
    _checkout(top, worktree, bad_commit)
    steps: list[Step] = []
    said = ""
    first_bad = None
    try:
        said = git(worktree, "bisect", "start", bad_commit, good_commit)
        for number in range(1, MAX_STEPS + 1):
            commit = git(worktree, "rev-parse", "HEAD").strip()
            log = out / f"step-{number:02d}-{commit[:12]}.log"
            with open(log, "w") as f, contextlib.redirect_stdout(_Tee(f, sys.stdout if echo else None)):
                print(f"[bisect] step {number}: {commit}", flush=True)
                verdict, detail = test(worktree)
                print(f"[bisect] step {number}: {commit[:12]} is {verdict}: {detail}", flush=True)
            steps.append(Step(commit, verdict, detail, log))
            # The step's build may have left files behind (the harness's link
            # in a kernel tree): the next checkout must find none.
            git(worktree, "reset", "--hard", "--quiet")
            git(worktree, "clean", "-fdxq")
            # Only skipped commits left is an exit status of 2, not an error.
            said = git(worktree, "bisect", verdict, check=False)
            if "is the first bad commit" in said:
                first_bad = said.split()[0]
                break
            if "cannot bisect more" in said or "only 'skip'ped commits left" in said:
                break
            if "Bisecting:" not in said:
                raise HarnessError(ExitCode.RUN_FAILED, f"git bisect {verdict} in {worktree}: {said.strip()}")
    finally:
        git(worktree, "bisect", "reset", check=False)
        if not keep_worktree:
            git(top, "worktree", "remove", "--force", str(worktree), check=False)
            git(top, "worktree", "prune", check=False)
    fsutil.atomic_write_text(out / "bisect.log", said)
    return BisectResult(first_bad, tuple(steps), out, said)


class _Tee(io.TextIOBase):
    """print() to a step's log, and to the terminal too."""

    def __init__(self, log: io.TextIOBase | object, echo: object | None) -> None:
        self._log, self._echo = log, echo

    def write(self, text: str) -> int:
        for stream in (self._log, self._echo):
            if stream is not None:
                stream.write(text)  # type: ignore[attr-defined]
        return len(text)

    def flush(self) -> None:
        for stream in (self._log, self._echo):
            if stream is not None:
                stream.flush()  # type: ignore[attr-defined]
