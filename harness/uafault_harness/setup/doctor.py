"""`doctor`: one line per prerequisite, each with the exact fix."""

from __future__ import annotations

from pathlib import Path

import os
from dataclasses import dataclass
from typing import Mapping

from ..core.errors import ExitCode, HarnessError
from ..core.paths import DEBIAN_SOURCE_PACKAGE, DEBIAN_SOURCE_TARBALL, Layout, resolve_layout
from .link import LinkState, link_state
from .requirements import (
    HEADERS, PYTEST_PACKAGE, TOOLS, apt_install_command, find_tool, installed_package_version,
    pytest_interpreter,
)
from .source import inspect_tree

SETUP_FIX = "harness/uafault setup"
LINK_FIX = "harness/uafault link"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    # Informational checks are printed but never fail doctor.
    informational: bool = False

    def render(self) -> str:
        status = "info" if self.informational else ("ok" if self.ok else "MISSING")
        text = f"{status:<8} {self.name}: {self.detail}"
        if self.fix and not self.ok:
            text += f"; fix: {self.fix}"
        return text


def tool_checks(env: Mapping[str, str]) -> list[Check]:
    checks = []
    for tool in TOOLS:
        found = find_tool(tool, env)
        checks.append(Check(tool.name, found is not None,
                            str(found) if found else "not found on PATH",
                            apt_install_command([tool.package])))
    return checks


def header_checks() -> list[Check]:
    return [Check(str(h.path), h.path.is_file(), "present" if h.path.is_file() else "not found",
                  apt_install_command([h.package])) for h in HEADERS]


def pytest_check() -> Check:
    interp = pytest_interpreter()
    return Check("pytest", interp is not None,
                 f"importable by {interp}" if interp else "no interpreter can import pytest",
                 apt_install_command([PYTEST_PACKAGE]))


def tarball_check(package: str = DEBIAN_SOURCE_PACKAGE, tarball: Path = DEBIAN_SOURCE_TARBALL
                  ) -> tuple[Check, str | None]:
    version = installed_package_version(package)
    ok = tarball.is_file() and version is not None
    return (Check(f"{package} tarball", ok,
                  f"{tarball} ({version})" if ok else f"{tarball} not installed",
                  apt_install_command([package])), version)


def tree_checks(layout: Layout, installed_version: str | None) -> list[Check]:
    state = inspect_tree(layout)
    if layout.user_tree:
        tree = Check("kernel tree", True, f"KSRC={layout.tree}")
    else:
        if not state.complete:
            tree = Check("kernel tree", False, f"{layout.tree} missing or incomplete", SETUP_FIX)
        elif state.stamp_version is None:
            tree = Check("kernel tree", False, f"{layout.tree} has no {layout.stamp.name} stamp", SETUP_FIX)
        elif installed_version and state.stamp_version != installed_version:
            tree = Check("kernel tree", False,
                         f"{layout.tree} is {state.stamp_version}, installed source is {installed_version}",
                         SETUP_FIX)
        else:
            tree = Check("kernel tree", True, f"{layout.tree} ({state.stamp_version})")
    if not state.complete:
        return [tree, Check("link", False, "no tree to link into", SETUP_FIX)]
    state_ = link_state(layout.tree, layout.project)
    fix = LINK_FIX
    if state_ is LinkState.BLOCKED:
        fix = f"move {layout.tree / 'lib/uafault'} away, then {LINK_FIX}"
    return [tree, Check("link", state_ is LinkState.LINKED,
                        f"{layout.project} {state_.value} into {layout.tree}", fix)]


def kvm_check() -> Check:
    present = os.path.exists("/dev/kvm")
    return Check("/dev/kvm", True,
                 ("present" if present else "absent")
                 + "; guests use KVM where a probe boot shows it works (--accel auto), else QEMU TCG "
                   "(no KVM needed); kunit.py's x86_64 run uses TCG",
                 informational=True)


def run_checks(env: Mapping[str, str]) -> list[Check]:
    checks = tool_checks(env) + header_checks() + [pytest_check()]
    try:
        layout = resolve_layout(env)
    except HarnessError as exc:
        checks.append(tarball_check()[0])
        checks.append(Check("kernel tree", False, str(exc), "fix or unset KSRC"))
    else:
        tarball, version = tarball_check(layout.source_package, layout.source_tarball)
        checks.append(tarball)
        checks += tree_checks(layout, version)
    checks.append(kvm_check())
    return checks


def doctor(env: Mapping[str, str] | None = None) -> ExitCode:
    checks = run_checks(os.environ if env is None else env)
    for check in checks:
        print(check.render())
    failed = [c for c in checks if not c.ok and not c.informational]
    print(f"doctor: {len(failed)} problem(s)" if failed else "doctor: all prerequisites present")
    return ExitCode.MISSING_PREREQ if failed else ExitCode.OK
