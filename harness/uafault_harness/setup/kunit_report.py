"""What an older tree's KUnit does not print and the harness must read:
one reversible edit of lib/kunit/test.c, made with the link.

Before "kunit: Fix reporting of the skipped parameterized tests"
(b08f75b9bb01, 6.5) KUnit printed a parameter's result line with no
"# SKIP <reason>" directive: on 6.1 a skipped parameter reads as "ok",
to kunit.py and to us, so a case that skips for a missing feature, or
is a known deviation (XFAIL), would pass silently.  The edit prints the
directive as later kernels do, and only that: the suites' code and what
KUnit runs stay as they are.  A tree whose KUnit prints it needs
nothing (its file lacks the old lines)."""

from __future__ import annotations

from pathlib import Path

from ..core import fsutil

RELPATH = Path("lib/kunit/test.c")
MARKER = "/* uafault-link: a parameter's SKIP directive (b08f75b9bb01); harness/uafault unlink undoes */"

_OLD = (
    "\t\t\t\tkunit_log(KERN_INFO, &test,\n"
    "\t\t\t\t\t  KUNIT_SUBTEST_INDENT KUNIT_SUBTEST_INDENT\n"
    '\t\t\t\t\t  "%s %d %s",\n'
    "\t\t\t\t\t  kunit_status_to_ok_not_ok(test.status),\n"
    "\t\t\t\t\t  test.param_index + 1, param_desc);\n"
)
_NEW = (
    f"\t\t\t\t{MARKER}\n"
    "\t\t\t\tkunit_log(KERN_INFO, &test,\n"
    "\t\t\t\t\t  KUNIT_SUBTEST_INDENT KUNIT_SUBTEST_INDENT\n"
    '\t\t\t\t\t  "%s %d %s%s%s",\n'
    "\t\t\t\t\t  kunit_status_to_ok_not_ok(test.status),\n"
    "\t\t\t\t\t  test.param_index + 1, param_desc,\n"
    '\t\t\t\t\t  test.status == KUNIT_SKIPPED ? " # SKIP " : "",\n'
    '\t\t\t\t\t  test.status == KUNIT_SKIPPED ? test.status_comment : "");\n'
)


def _text(tree: Path) -> str | None:
    path = tree / RELPATH
    return path.read_text() if path.is_file() else None


def needed(tree: Path) -> bool:
    """The tree's KUnit prints parameters without their directive."""
    text = _text(tree)
    return text is not None and _OLD in text


def applied(tree: Path) -> bool:
    text = _text(tree)
    return text is not None and _NEW in text


def apply(tree: Path) -> list[str]:
    """Makes the edit where it is needed; the changes made."""
    if not needed(tree):
        return []
    path = tree / RELPATH
    fsutil.atomic_write_text(path, path.read_text().replace(_OLD, _NEW, 1))
    return [f"made {path} print a parameter's SKIP directive (its KUnit predates b08f75b9bb01)"]


def revert(tree: Path) -> list[str]:
    """Undoes the edit, byte for byte; the changes made."""
    if not applied(tree):
        return []
    path = tree / RELPATH
    fsutil.atomic_write_text(path, path.read_text().replace(_NEW, _OLD, 1))
    return [f"restored {path}"]
