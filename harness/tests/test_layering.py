"""The harness's packages depend one way: core <- setup <- kunit <- guest
<- campaign <- triage, reports read the campaign store (and the protocol's
oracle tags), lava runs campaigns' cases on a LAVA lab, mutate drives kunit over edits of the tree (setup), the test
layers sit on everything and the CLI on top."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "uafault_harness"
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "setup": {"core"},
    "kunit": {"core", "setup"},
    "guest": {"core", "setup", "kunit"},
    "campaign": {"core", "setup", "kunit", "guest"},
    "triage": {"core", "setup", "kunit", "guest", "campaign"},
    "reports": {"core", "campaign", "guest"},
    "mutate": {"core", "setup", "kunit"},
    "lava": {"core", "setup", "guest", "campaign"},
    "testsuite": {"core", "setup", "kunit", "guest", "campaign", "triage", "reports", "mutate", "lava"},
}


def _imports(path: Path, group: str) -> set[str]:
    found = set()
    for dots, module in re.findall(r"^from (\.+)([\w.]*) import", path.read_text(), re.M):
        found.add(module.split(".")[0] if len(dots) == 2 else group)
    return found - {group, ""}


def test_every_package_imports_only_what_is_below_it() -> None:
    groups = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert groups == set(ALLOWED)
    wrong = []
    for group in sorted(groups):
        for path in sorted((PACKAGE / group).glob("*.py")):
            extra = _imports(path, group) - ALLOWED[group]
            if extra:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {sorted(extra)}")
    assert not wrong
    # Only the CLI lives at the top.
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "cli.py"]


def test_triage_and_bench_go_through_the_batch_not_the_runners_insides() -> None:
    """Triage boots cases with campaign/batch.py; bench/ watches boots with
    an observer instead of replacing the harness's functions."""
    for path in sorted((PACKAGE / "triage").glob("*.py")):
        assert not re.search(r"^from \.\.campaign\.runner import", path.read_text(), re.M), path.name
    bench = PACKAGE.parent.parent / "bench"
    for path in sorted(p for p in bench.iterdir() if p.is_file()):
        assert not re.search(r"^\s*\w+\.boot_guest\s*=", path.read_text(errors="replace"), re.M), path.name
