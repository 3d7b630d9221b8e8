"""The Debian kernel source tree in the cache: unpack, stamp, adopt."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout, missing_tree_markers


@dataclass(frozen=True)
class SourceState:
    present: bool
    complete: bool
    stamp_version: str | None


def read_stamp(stamp: Path) -> str | None:
    try:
        return stamp.read_text().strip() or None
    except FileNotFoundError:
        return None


def inspect_tree(layout: Layout) -> SourceState:
    return SourceState(
        present=layout.tree.is_dir(),
        complete=layout.tree.is_dir() and not missing_tree_markers(layout.tree),
        stamp_version=read_stamp(layout.stamp),
    )


def _unpack(tarball: Path, version: str, layout: Layout) -> None:
    """Unpack next to the final location, then swap it in, so an interrupted
    unpack never leaves a half tree where a complete one is expected."""
    layout.cache.mkdir(parents=True, exist_ok=True)
    name = layout.tree.name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.unpack-", dir=layout.cache))
    try:
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(staging)], check=True)
        unpacked = staging / name
        if missing_tree_markers(unpacked):
            raise HarnessError(
                ExitCode.BAD_TREE,
                f"{tarball} did not unpack to a kernel tree at {name}/",
            )
        fsutil.atomic_write_text(unpacked / layout.stamp.name, version + "\n")
        old = None
        if layout.tree.exists():
            old = layout.cache / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            layout.tree.rename(old)
        unpacked.rename(layout.tree)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        raise HarnessError(ExitCode.MISSING_PREREQ, f"unpacking {tarball} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_source(layout: Layout, tarball: Path, installed_version: str | None) -> str:
    """Make the cache tree match the installed tarball.  Returns what was
    done, for the user."""
    if layout.user_tree:
        return f"using KSRC tree {layout.tree} (not managed by setup)"
    state = inspect_tree(layout)
    if installed_version is None or not tarball.is_file():
        if state.complete:
            return f"{layout.source_package} not installed; keeping existing tree {layout.tree}"
        raise HarnessError(
            ExitCode.MISSING_PREREQ,
            f"{tarball} is missing; install it: apt-get install -y {layout.source_package}",
        )
    if state.complete and state.stamp_version == installed_version:
        return f"source tree {layout.tree} is up to date ({installed_version})"
    if state.complete and state.stamp_version is None:
        # Unpacked by hand from the same tarball: adopt rather than spend
        # minutes unpacking it again.
        fsutil.atomic_write_text(layout.stamp, installed_version + "\n")
        return f"adopted existing tree {layout.tree} as {installed_version}"
    reason = (
        f"stamp says {state.stamp_version}, installed is {installed_version}"
        if state.complete else "tree missing or incomplete"
    )
    print(f"unpacking {tarball} into {layout.tree} ({reason}) ...", flush=True)
    _unpack(tarball, installed_version, layout)
    return f"unpacked {installed_version} into {layout.tree}"


def require_tree(layout: Layout) -> None:
    missing = missing_tree_markers(layout.tree)
    if not missing:
        return
    if layout.user_tree:
        raise HarnessError(ExitCode.BAD_TREE, f"KSRC tree {layout.tree} lacks {missing[0]}")
    raise HarnessError(
        ExitCode.MISSING_PREREQ,
        f"no kernel tree at {layout.tree}; run: harness/uafault setup",
    )
