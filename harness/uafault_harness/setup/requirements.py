"""Host prerequisites: which Debian package provides what we probe for.
`setup` installs every package listed here; `doctor` probes each one."""

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
from ..core.paths import DEBIAN_SOURCE_PACKAGE, DEBIAN_SOURCE_TARBALL

SYSTEM_PYTHON = Path("/usr/bin/python3")


@dataclass(frozen=True)
class Tool:
    name: str
    package: str
    # Where Debian installs it if it is not on PATH (busybox-static puts
    # busybox in /bin, which some minimal PATHs lack).
    fallback: Path | None = None


@dataclass(frozen=True)
class Header:
    path: Path
    package: str


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
    Tool("qemu-system-x86_64", "qemu-system-x86"),
    Tool("busybox", "busybox-static", fallback=Path("/bin/busybox")),
    Tool("pahole", "pahole"),
    # The guest layer: shared libraries of the agent, the KVM probe's timeout.
    Tool("ldd", "libc-bin"),
    Tool("timeout", "coreutils"),
    # The ext4 disk of the ext4 memory kinds, formatted for each boot
    # (/sbin is not on every PATH).
    Tool("mkfs.ext4", "e2fsprogs", fallback=Path("/usr/sbin/mkfs.ext4")),
    # The campaign report's browser test renders it headless.
    Tool("chromium", "chromium"),
)

# What make needs to build a kernel (the guest kernel; kunit.py checks its own).
KERNEL_BUILD_TOOLS: tuple[str, ...] = ("gcc", "make", "flex", "bison", "bc", "perl")
# What the guest layer needs beyond a built kernel.
GUEST_RUNTIME_TOOLS: tuple[str, ...] = ("qemu-system-x86_64", "busybox", "cpio", "ldd", "timeout", "mkfs.ext4")

HEADERS: tuple[Header, ...] = (
    Header(Path("/usr/include/libelf.h"), "libelf-dev"),
    Header(Path("/usr/include/openssl/ssl.h"), "libssl-dev"),
    Header(Path("/usr/include/libkmod.h"), "libkmod-dev"),
)

PYTEST_PACKAGE = "python3-pytest"
# The CI-config tests read configs/ci/*.yml.
YAML_PACKAGE = "python3-yaml"

DEBIAN_PACKAGES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [t.package for t in TOOLS]
        + [h.package for h in HEADERS]
        + [PYTEST_PACKAGE, YAML_PACKAGE, DEBIAN_SOURCE_PACKAGE]
    )
)


def apt_install_command(packages: list[str] | tuple[str, ...]) -> str:
    return "apt-get install -y " + " ".join(packages)


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


def source_tarball() -> Path:
    return DEBIAN_SOURCE_TARBALL


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
