"""The build progress line: objects so far, time, and what the last build says is left."""

from __future__ import annotations

import json
import time
from pathlib import Path

from uafault_harness.core.progress import STATS_NAME, build_progress, objects_since, progress_line


def test_the_line_counts_new_objects_and_estimates_from_the_last_build(tmp_path: Path) -> None:
    old = tmp_path / "old.o"
    old.write_text("")
    start = time.time() + 10
    (tmp_path / "sub").mkdir()
    for name in ("a.o", "sub/b.o", "sub/c.c"):
        (tmp_path / name).write_text("")
    assert objects_since(tmp_path, 0) == 3
    assert objects_since(tmp_path, start) == 0
    assert progress_line("kunit.py build (um)", 10, 65, None) == "[uafault] kunit.py build (um): 10 objects built, 1m05s"
    line = progress_line("b", 500, 60, {"objects": 2000, "seconds": 400})
    assert line.endswith("(last build: 2000 objects in 6m40s; ~5m40s left)")
    # Past a smaller last build, it estimates nothing.
    assert progress_line("b", 791, 160, {"objects": 16, "seconds": 14}).endswith("(last build: 16 objects in 0m14s)")


def test_a_finished_build_records_its_figures_and_a_failed_one_does_not(tmp_path: Path) -> None:
    said: list[str] = []
    with build_progress("b", tmp_path, period=0.05, say=said.append) as build:
        (tmp_path / "x.o").write_text("")
        # However busy the machine, the watcher says a line before this goes on.
        deadline = time.monotonic() + 60
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        build.ok = True
    assert said and said[-1].startswith("[uafault] b: 1 objects built, ")
    assert json.loads((tmp_path / STATS_NAME).read_text())["objects"] == 1
    (tmp_path / STATS_NAME).unlink()
    with build_progress("b", tmp_path, period=10, say=said.append):
        (tmp_path / "y.o").write_text("")
    assert not (tmp_path / STATS_NAME).exists()
