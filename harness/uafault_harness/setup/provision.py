"""`setup`: packages, kernel source, link -- each step a no-op when done."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from .image import prepare_image
from .link import link
from .requirements import (APT_INSTALL, apt_install_command, installed_package_version, missing_packages,
                           packages_for)
from .source import ensure_source

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def _privilege_prefix() -> list[str] | None:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "env", *(f"{k}={v}" for k, v in APT_ENV.items())]
    return None


def install_packages(packages: list[str]) -> None:
    prefix = _privilege_prefix()
    if prefix is None:
        raise HarnessError(
            ExitCode.MISSING_PREREQ,
            f"missing packages {' '.join(packages)} and no root/sudo to install them; as root run:\n"
            f"  apt-get update && DEBIAN_FRONTEND=noninteractive {apt_install_command(packages)}",
        )
    env = {**os.environ, **APT_ENV}
    for cmd in (prefix + ["apt-get", "update"], prefix + [*APT_INSTALL, *packages]):
        print(f"setup: running {shlex.join(cmd)}", flush=True)
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            raise HarnessError(ExitCode.MISSING_PREREQ, f"{shlex.join(cmd)} failed")


def ensure_packages(purpose: str) -> None:
    """Install what purpose needs and is missing, e.g. QEMU the first time a
    guest boots; MISSING_PREREQ with the command when it cannot."""
    missing = missing_packages(packages_for(purpose))
    if missing:
        print(f"[uafault] installing what a {purpose} needs: {' '.join(missing)}", flush=True)
        install_packages(missing)


def setup(layout: Layout, install: bool, purpose: str = "run") -> ExitCode:
    changed = False
    code = ExitCode.OK
    # The tree's own source package (linux-source-6.1 for debian:6.1).
    missing = missing_packages(tuple(dict.fromkeys(packages_for(purpose) + (layout.source_package,))))
    if not missing:
        print(f"setup: every Debian package for {purpose} installed")
    elif install:
        install_packages(missing)
        changed = True
    else:
        print(f"setup: missing packages (not installing): {' '.join(missing)}\n"
              f"  fix: {apt_install_command(missing)}")
        code = ExitCode.MISSING_PREREQ

    before = layout.stamp.read_bytes() if layout.stamp.exists() else None
    message = ensure_source(layout, layout.source_tarball, installed_package_version(layout.source_package))
    print(f"setup: {message}")
    changed |= (layout.stamp.read_bytes() if layout.stamp.exists() else None) != before

    if layout.source.kind == "image":
        # The prebuilt kernel and its headers, fetched once into the cache.
        image = prepare_image(layout, layout.source)
        print(f"setup: prebuilt kernel {image.describe()} in {image.root}")

    link_changes = link(layout.tree, layout.project)
    for change in link_changes:
        print(f"setup: {change}")
    if not link_changes:
        print(f"setup: project already linked into {layout.tree}")
    changed |= bool(link_changes)

    print("setup: done" if changed else "setup: everything already in place; nothing changed")
    return code
