"""Host prerequisites: which Debian package provides what we probe for,
and what each entry point needs: `setup --for PURPOSE` installs that much
(without recommends); `doctor` probes everything."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..core.errors import ExitCode, HarnessError
from ..core.paths import DEBIAN_SOURCE_PACKAGE

SYSTEM_PYTHON = Path("/usr/bin/python3")


# What each entry point needs, each including the ones before it: `make
# run` builds a kernel and runs UML, a guest boots under QEMU, `--coverage`
# reads gcov's counters and draws lcov's tree, `make test` also runs pytest
# and a headless browser (the report's test).
PURPOSES = ("run", "guest", "coverage", "test")


@dataclass(frozen=True)
class Tool:
    name: str
    package: str
    # Where Debian installs it if it is not on PATH (busybox-static puts
    # busybox in /bin, which some minimal PATHs lack).
    fallback: Path | None = None
    purpose: str = "run"


@dataclass(frozen=True)
class Header:
    path: Path
    package: str
    purpose: str = "run"


TOOLS: tuple[Tool, ...] = (
    Tool("gcc", "gcc"),
    Tool("make", "make"),
    Tool("flex", "flex"),
    Tool("bison", "bison"),
    Tool("bc", "bc"),
    Tool("perl", "perl"),
    Tool("cpio", "cpio"),
    Tool("xz", "xz-utils"),
    Tool("kmod", "kmod"),
    Tool("pahole", "pahole"),
    # The guest kernel is LZ4-compressed (configs/guest.config).
    Tool("lz4", "lz4", purpose="guest"),
    Tool("qemu-system-x86_64", "qemu-system-x86", purpose="guest"),
    Tool("busybox", "busybox-static", fallback=Path("/bin/busybox"), purpose="guest"),
    # The guest layer: shared libraries of the agent, the watchdog's timeout.
    Tool("ldd", "libc-bin", purpose="guest"),
    Tool("timeout", "coreutils", purpose="guest"),
    # The ext4 disk of the ext4 memory kinds, formatted for each boot
    # (/sbin is not on every PATH).
    Tool("mkfs.ext4", "e2fsprogs", fallback=Path("/usr/sbin/mkfs.ext4"), purpose="guest"),
    # --coverage: the host's gcov reads the guest's counters (gcc's own
    # version), genhtml draws the tree.
    Tool("gcov", "gcc", purpose="coverage"),
    Tool("genhtml", "lcov", purpose="coverage"),
    # The campaign report's browser test renders it headless.
    Tool("chromium", "chromium", purpose="test"),
)

# What make needs to build a kernel (the guest kernel; kunit.py checks its own).
KERNEL_BUILD_TOOLS: tuple[str, ...] = ("gcc", "make", "flex", "bison", "bc", "perl")
GUEST_BUILD_TOOLS: tuple[str, ...] = (*KERNEL_BUILD_TOOLS, "lz4")
# What the guest layer needs beyond a built kernel.
GUEST_RUNTIME_TOOLS: tuple[str, ...] = ("qemu-system-x86_64", "busybox", "cpio", "ldd", "timeout", "mkfs.ext4")

HEADERS: tuple[Header, ...] = (
    Header(Path("/usr/include/libelf.h"), "libelf-dev"),
    Header(Path("/usr/include/openssl/ssl.h"), "libssl-dev"),
    Header(Path("/usr/include/libkmod.h"), "libkmod-dev", purpose="guest"),
)

PYTEST_PACKAGE = "python3-pytest"
# The CI-config tests read configs/ci/*.yml.
YAML_PACKAGE = "python3-yaml"

def packages_for(purpose: str) -> tuple[str, ...]:
    """The Debian packages purpose needs (and every purpose before it)."""
    wanted = PURPOSES[:PURPOSES.index(purpose) + 1]
    return tuple(dict.fromkeys(
        [DEBIAN_SOURCE_PACKAGE]
        + [t.package for t in TOOLS if t.purpose in wanted]
        + [h.package for h in HEADERS if h.purpose in wanted]
        + ([PYTEST_PACKAGE, YAML_PACKAGE] if "test" in wanted else [])))


DEBIAN_PACKAGES: tuple[str, ...] = packages_for(PURPOSES[-1])
# apt's recommends would bring systemd, udev, avahi and cups with QEMU.
APT_INSTALL = ("apt-get", "install", "-y", "--no-install-recommends")


def apt_install_command(packages: list[str] | tuple[str, ...]) -> str:
    return " ".join(APT_INSTALL + tuple(packages))


def find_tool(tool: Tool, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    found = shutil.which(tool.name, path=env.get("PATH", ""))
    if found:
        return Path(found)
    if tool.fallback and os.access(tool.fallback, os.X_OK):
        return tool.fallback
    return None


def tool_named(name: str) -> Tool:
    return next(t for t in TOOLS if t.name == name)


def require_tools(names: tuple[str, ...], why: str, env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Each tool's path, or MISSING_PREREQ naming the package to install."""
    found: dict[str, Path] = {}
    for name in names:
        tool = tool_named(name)
        path = find_tool(tool, env)
        if path is None:
            raise HarnessError(ExitCode.MISSING_PREREQ,
                               f"{name} not found on PATH (needed {why}); "
                               f"fix: {apt_install_command([tool.package])}")
        found[name] = path
    return found


def _dpkg_field(package: str, field: str) -> str | None:
    """A field of an installed package's dpkg record, or None (no dpkg, no package)."""
    try:
        proc = subprocess.run(["dpkg-query", "-W", f"-f=${{{field}}}", package],
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def package_installed(package: str) -> bool:
    return (_dpkg_field(package, "Status") or "").endswith(" installed")


def missing_packages(packages: tuple[str, ...] = DEBIAN_PACKAGES) -> list[str]:
    return [p for p in packages if not package_installed(p)]


def installed_package_version(package: str) -> str | None:
    return _dpkg_field(package, "Version") or None


def pytest_interpreter() -> Path | None:
    """An interpreter that can run pytest: ours if it can, else Debian's
    (pyenv interpreters usually lack it)."""
    if importlib.util.find_spec("pytest") is not None:
        return Path(sys.executable)
    if SYSTEM_PYTHON.exists():
        probe = subprocess.run(
            [str(SYSTEM_PYTHON), "-c", "import pytest"],
            capture_output=True, check=False,
        )
        if probe.returncode == 0:
            return SYSTEM_PYTHON
    return None
