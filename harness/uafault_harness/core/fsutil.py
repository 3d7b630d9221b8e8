"""Crash-safe file primitives: a run killed at any moment leaves either the
old or the new file, never half of one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def _temp_sibling(path: Path) -> Path:
    # Same directory, so os.replace() is a rename within one filesystem.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _temp_sibling(path)
    try:
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o644)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_copy(src: Path, dst: Path) -> None:
    tmp = _temp_sibling(dst)
    try:
        shutil.copyfile(src, tmp)
        # mkstemp creates 0600; artefacts are meant to be shared.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_symlink(target: str | Path, link: Path) -> None:
    """Create or re-point `link` so readers never see it missing."""
    tmp = link.parent / f".{link.name}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sparse_file(path: Path, size: int, head: bytes = b"") -> Path:
    """path made anew: head, then zeroes (no blocks) up to size bytes; a
    guest's disk image."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def sparse_files(*files: tuple[Path, int]) -> tuple[Path, ...]:
    """Each (path, size) made anew, empty and sparse: a boot's blank disks."""
    return tuple(sparse_file(path, size) for path, size in files)


def fresh_dir(parent: Path, name: str) -> Path:
    """A new directory parent/name; mkdir is the claim, so a run of the
    same second (a name from the time) gets name-1, name-2, ..."""
    parent.mkdir(parents=True, exist_ok=True)
    suffix = 0
    while True:
        path = parent / (name if suffix == 0 else f"{name}-{suffix}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            suffix += 1


def dir_lock(directory: Path) -> Path:
    """The lock file of a build directory: beside it, so nothing that
    cleans the directory removes it."""
    return directory.parent / f".{directory.name}.lock"


@contextlib.contextmanager
def locked(lock: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the file lock for the block: two harness
    commands (two checkouts, a campaign beside a repro) sharing one cache
    take turns at a build directory instead of building into it at once.
    Says once what it waits for; the lock goes with the process, so a killed
    command never leaves one behind."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[uafault] waiting for another harness command's {what} ({lock})", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
