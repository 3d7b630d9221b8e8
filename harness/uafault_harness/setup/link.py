"""Hook the project into a kernel tree: lib/uafault symlink plus one line
each in lib/Kconfig.debug and lib/Makefile, and in a tree whose KUnit
prints no parameter's SKIP directive the one edit that makes it
(kunit_report.py), every change reversible."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from . import kunit_report
from .source import require_tree
from .tree_edit import recover

LINK_MARKER = "# uafault-link: added by harness/uafault setup; undo with harness/uafault unlink"
SYMLINK_RELPATH = Path("lib/uafault")


@dataclass(frozen=True)
class HookLine:
    relpath: Path
    line: str

    @property
    def block(self) -> bytes:
        return f"{LINK_MARKER}\n{self.line}\n".encode()


HOOK_LINES: tuple[HookLine, ...] = (
    HookLine(Path("lib/Kconfig.debug"), 'source "lib/uafault/Kconfig"'),
    HookLine(Path("lib/Makefile"), "obj-y += uafault/"),
)


class LinkState(enum.Enum):
    LINKED = "linked"
    NOT_LINKED = "not linked"
    PARTIAL = "partially linked"
    STALE = "symlink points elsewhere"
    BLOCKED = "lib/uafault exists and is not a symlink"


def _symlink_points_at(link: Path, project: Path) -> bool:
    try:
        return link.resolve() == project.resolve()
    except OSError:
        return False


def _hook_present(tree: Path, hook: HookLine) -> bool:
    return hook.block in (tree / hook.relpath).read_bytes()


def link_state(tree: Path, project: Path) -> LinkState:
    link = tree / SYMLINK_RELPATH
    if link.exists() and not link.is_symlink():
        return LinkState.BLOCKED
    hooks = [_hook_present(tree, h) for h in HOOK_LINES]
    if link.is_symlink() and not _symlink_points_at(link, project):
        return LinkState.STALE
    if link.is_symlink() and all(hooks) and not kunit_report.needed(tree):
        return LinkState.LINKED
    if link.is_symlink() or any(hooks) or kunit_report.applied(tree):
        return LinkState.PARTIAL
    return LinkState.NOT_LINKED


def _check_hook_files(tree: Path) -> None:
    for hook in HOOK_LINES:
        if not (tree / hook.relpath).is_file():
            raise HarnessError(ExitCode.BAD_TREE, f"{tree / hook.relpath} missing: not a kernel tree?")


def link(tree: Path, project: Path) -> list[str]:
    """Returns the changes made; empty when already linked."""
    _check_hook_files(tree)
    changes: list[str] = []
    link_path = tree / SYMLINK_RELPATH
    if link_path.exists() and not link_path.is_symlink():
        raise HarnessError(
            ExitCode.BAD_TREE,
            f"{link_path} exists and is not a symlink; refusing to replace it. "
            "Move it away, then run: harness/uafault link",
        )
    if not link_path.is_symlink():
        fsutil.atomic_symlink(project, link_path)
        changes.append(f"symlinked {link_path} -> {project}")
    elif not _symlink_points_at(link_path, project):
        old = os.readlink(link_path)
        fsutil.atomic_symlink(project, link_path)
        changes.append(f"re-pointed {link_path} from {old} to {project}")
    for hook in HOOK_LINES:
        path = tree / hook.relpath
        data = path.read_bytes()
        if hook.block in data:
            continue
        # Kernel files end in a newline; if one does not, ours would join
        # its last line.
        sep = b"" if data.endswith(b"\n") or not data else b"\n"
        fsutil.atomic_write_bytes(path, data + sep + hook.block)
        changes.append(f"added {hook.line!r} to {path}")
    changes += kunit_report.apply(tree)
    return changes


def unlink(tree: Path, project: Path) -> list[str]:
    _check_hook_files(tree)
    changes: list[str] = []
    for hook in HOOK_LINES:
        path = tree / hook.relpath
        data = path.read_bytes()
        if hook.block in data:
            fsutil.atomic_write_bytes(path, data.replace(hook.block, b""))
            changes.append(f"removed {hook.line!r} from {path}")
    changes += kunit_report.revert(tree)
    link_path = tree / SYMLINK_RELPATH
    if link_path.is_symlink():
        # Any symlink there is ours (possibly from an older clone); a real
        # directory is not, and we leave it alone.
        link_path.unlink()
        changes.append(f"removed symlink {link_path}")
    return changes


def ensure_linked(layout: Layout) -> None:
    """The suites and the guest kernel only configure if the tree sources
    lib/uafault: link it, or re-point a link left by another checkout.
    A mutant a killed run left in the tree is undone first."""
    require_tree(layout)
    restored = recover(layout.cache, layout.tree)
    if restored:
        print(f"[uafault] {restored}", flush=True)
    state = link_state(layout.tree, layout.project)
    if state is LinkState.LINKED:
        return
    if state is LinkState.BLOCKED:
        raise HarnessError(
            ExitCode.BAD_TREE,
            f"{layout.tree}/lib/uafault exists and is not a symlink; move it away and run: harness/uafault link",
        )
    if layout.user_tree:
        raise HarnessError(
            ExitCode.MISSING_PREREQ,
            f"the project is not linked into KSRC tree {layout.tree} ({state.value}); "
            "run: harness/uafault link",
        )
    for change in link(layout.tree, layout.project):
        print(f"link: {change}")
