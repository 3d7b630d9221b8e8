"""A progress line while a kernel builds: kunit.py builds in silence for
minutes, and a guest build's compiler lines say nothing of how far it
is.  Every PERIOD seconds: the objects built so far, the time taken, and
what is left going by the last build of the same directory."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

PERIOD = 20.0
STATS_NAME = ".uafault-build-stats.json"


def objects_since(root: Path, since: float) -> int:
    """*.o files under root written at or after since."""
    count = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".o"):
                try:
                    count += os.stat(os.path.join(dirpath, name)).st_mtime >= since
                except OSError:
                    pass
    return count


def _minutes(seconds: float) -> str:
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def progress_line(label: str, built: int, elapsed: float, last: dict[str, float] | None) -> str:
    line = f"[uafault] {label}: {built} objects built, {_minutes(elapsed)}"
    if last and last.get("objects") and last.get("seconds"):
        line += f" (last build: {int(last['objects'])} objects in {_minutes(last['seconds'])}"
        # Past the last build (it was a smaller one): it says nothing of this one.
        if built < last["objects"] and elapsed < last["seconds"]:
            line += f"; ~{_minutes(last['seconds'] - elapsed)} left"
        line += ")"
    return line


class Build:
    """What the block tells build_progress: whether the build succeeded."""
    ok: bool = False


@contextlib.contextmanager
def build_progress(label: str, build_dir: Path, period: float = PERIOD,
                   say: Callable[[str], None] = lambda s: print(s, flush=True)) -> Iterator[Build]:
    """Print progress_line() every period while the block builds into
    build_dir; a build that succeeds (Build.ok) records its figures for the
    next."""
    stats = build_dir / STATS_NAME
    try:
        last: dict[str, float] | None = json.loads(stats.read_text())
    except (OSError, ValueError):
        last = None
    start = time.time()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(period):
            say(progress_line(label, objects_since(build_dir, start - 1), time.time() - start, last))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    build = Build()
    try:
        yield build
    finally:
        done.set()
        watcher.join()
    built = objects_since(build_dir, start - 1)
    # A no-op rebuild says nothing about how long a real one takes.
    if build.ok and built:
        try:
            stats.write_text(json.dumps({"objects": built, "seconds": round(time.time() - start, 1)}))
        except OSError:
            pass
