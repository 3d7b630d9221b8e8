"""The `bisect` layer of `test`: cause bisection over a small synthetic
history, through the real CLI.  A throwaway git repository holds a copy
of module/example/ as a user's driver and four commits: the copy, a
comment, the bug (the pinned pages never unpinned), another comment.  A
repro config of the bug's [pins] failure names the driver; `bisect
--good C1 --bad C4 --repo REPO` must end on the third commit, keep a log
per step and the `git bisect run` script, and leave the user's checkout
as it found it (HEAD, a clean tree, no worktree)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from ..core.paths import Layout
from ..core.results import LayerResult
from ..triage.bisect import RUN_SCRIPT
from .campaign_layers import checks_layer, cli_command, run_logged
from .user_module_layer import MUTATIONS, copy_example

LAYER_DIR = "bisect"
DRIVER = "bis"
# The bug the third commit brings: the pin never released.
BUG = MUTATIONS[1]
REPRO = f"""\
[repro]
kernel = "plain"
modules = ["repo/{DRIVER}"]
target = "{DRIVER}_pin_buffer"
fault = "none"
runs = 1
expect = "FAIL"
title = "[pins]"
"""


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "uafault", "GIT_AUTHOR_EMAIL": "uafault@localhost",
           "GIT_COMMITTER_NAME": "uafault", "GIT_COMMITTER_EMAIL": "uafault@localhost", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def history(project: Path, work: Path) -> tuple[Path, list[str]]:
    """The repository and its four commits, oldest first."""
    repo = work / "repo"
    driver = copy_example(project, repo / DRIVER, DRIVER)
    source = driver / f"{DRIVER}.c"
    _git(repo, "init", "-q")
    commits = []
    for message, change in (("the driver", None), ("a comment", ("/* ", "/* A comment. */\n/* ")),
                            ("the bug", BUG), ("another comment", ("/* A comment. */", "/* Comments. */"))):
        if change is not None:
            text = source.read_text()
            if change[0] not in text:
                raise ValueError(f"{source}: no {change[0]!r} to change")
            source.write_text(text.replace(change[0], change[1], 1))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message)
        commits.append(_git(repo, "rev-parse", "HEAD"))
    return repo, commits


def bisect_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    with tempfile.TemporaryDirectory(prefix="uafault-bisect-") as scratch:
        work = Path(scratch)
        repo, commits = history(layout.project, work)
        config = work / "pin_leak.toml"
        config.write_text(REPRO)
        log = out / "bisect.log"
        rc = run_logged(layout, cli_command(layout, jobs, "bisect", str(config), "--good", commits[0],
                                            "--bad", commits[-1], "--repo", str(repo)), log)
        text = log.read_text(errors="replace")
        found = re.search(r"^bisect: first bad commit: (\w+) (.*)$", text, re.M)
        where = re.search(r"logs in (\S+)", text)
        logs = Path(where.group(1)) if where else out
        return {
            f"bisect over the synthetic history: exit 0 (see {log})": rc == 0,
            "it names the commit that brought the bug": bool(found) and found.group(1) == commits[2]
            and found.group(2) == "the bug",
            "each step has its log": bool(where) and len(list(logs.glob("step-*.log"))) >= 2,
            f"with the {RUN_SCRIPT} for git bisect run": (logs / RUN_SCRIPT).is_file(),
            "the user's checkout is as it was": _git(repo, "rev-parse", "HEAD") == commits[-1]
            and _git(repo, "status", "--porcelain") == ""
            and len(_git(repo, "worktree", "list").splitlines()) == 1,
        }


def run_bisect_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    return checks_layer("bisect", bisect_checks(layout, out, jobs), out, out / "bisect.log",
                        "the synthetic history's bad commit found, the checkout untouched")
