"""A temporary edit of one kernel-tree file (a mutant), surviving a kill:
the original is saved and a journal names it before the file is touched,
and recover() puts it back; ensure_linked() runs it before any build, so
no kernel is ever built from an edit a killed run left behind."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core import fsutil

JOURNAL = "tree-edit-journal.json"
BACKUP = "tree-edit-original"


def recover(cache: Path, tree: Path) -> str | None:
    """Undoes an edit a killed run left in @tree; what it restored, or None."""
    journal = cache / JOURNAL
    if not journal.exists():
        return None
    entry = json.loads(journal.read_text())
    target = tree / entry["file"]
    fsutil.atomic_copy(cache / BACKUP, target)
    # Newer than the edit's object file: the next build compiles it again.
    os.utime(target)
    journal.unlink()
    return f"restored {target} (edit {entry['name']} was left applied)"


@contextmanager
def edited(cache: Path, tree: Path, name: str, relpath: Path, new_text: str) -> Iterator[Path]:
    """@relpath of @tree holds @new_text for the duration; yields its path."""
    recover(cache, tree)
    target = tree / relpath
    fsutil.atomic_write_bytes(cache / BACKUP, target.read_bytes())
    fsutil.atomic_write_text(cache / JOURNAL, json.dumps({"name": name, "file": str(relpath)}))
    try:
        fsutil.atomic_write_text(target, new_text)
        yield target
    finally:
        recover(cache, tree)
