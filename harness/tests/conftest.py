"""Shared fixtures: fake kernel trees and projects in tmp_path, and the real
Debian tree (when present) for its kunit_parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HARNESS_DIR))

from uafault_harness.core.paths import KUNIT_TOOL_RELPATH, PROJECT_ROOT, Layout, resolve_layout  # noqa: E402

ENTRY_POINT = HARNESS_DIR / "uafault"
BENCH = PROJECT_ROOT / "bench" / "build-and-run"

KCONFIG_DEBUG = b'menu "Kernel hacking"\n\nsource "lib/Kconfig.kgdb"\n\nendmenu\n'
LIB_MAKEFILE = b"obj-y += string.o\nsubdir-$(CONFIG_FORTIFY_SOURCE) += test_fortify\n"


def make_fake_tree(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "Makefile").write_text("# fake kernel Makefile\n")
    (root / "lib" / "Kconfig.debug").write_bytes(KCONFIG_DEBUG)
    (root / "lib" / "Makefile").write_bytes(LIB_MAKEFILE)
    tool = root / KUNIT_TOOL_RELPATH
    tool.mkdir(parents=True)
    (tool / "kunit.py").write_text("#!/usr/bin/env python3\n")
    return root


def make_fake_project(root: Path) -> Path:
    (root / "kunit").mkdir(parents=True)
    (root / "kunit" / ".kunitconfig").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit" / "copy.c").write_text("/* suite */\n")
    (root / "configs").mkdir()
    (root / "configs" / "kunit-x86_64.config").write_text("CONFIG_SMP=y\n")
    (root / "configs" / "coverage.paths").write_text("mm/gup.c\nio_uring/\n")
    (root / "Kconfig").write_text("config UAFAULT_KUNIT_TEST\n")
    return root


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    return make_fake_tree(tmp_path / "linux")


@pytest.fixture
def fake_project(tmp_path: Path) -> Path:
    return make_fake_project(tmp_path / "project")


def real_kunit_tool_dir() -> Path:
    """The tree the harness itself would use; tests needing kunit_parser
    skip when no tree has been set up."""
    tried: list[Path] = []
    without_ksrc = {k: v for k, v in os.environ.items() if k != "KSRC"}
    for env in (dict(os.environ), without_ksrc):
        try:
            tool = resolve_layout(env).kunit_tool_dir
        except Exception:
            continue
        if (tool / "kunit_parser.py").is_file():
            return tool
        tried.append(tool)
    pytest.skip(f"no kernel tree with kunit_parser.py (tried {', '.join(map(str, tried))}); "
                "run harness/uafault setup")


@pytest.fixture
def kunit_tool_dir() -> Path:
    return real_kunit_tool_dir()


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI subprocesses that never touches the real cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("KSRC", "XDG_CACHE_HOME", "UAFAULT_ACCEL")}
    env["UAFAULT_CACHE"] = str(tmp_path / "cache")
    return env


def run_cli(args: list[str], env: dict[str, str], script: Path = ENTRY_POINT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def layout_for(tree: Path, project: Path, cache: Path, user_tree: bool = True) -> Layout:
    return Layout(project=project, cache=cache, tree=tree, user_tree=user_tree)


def copy_kunit_parser(src_tool_dir: Path, tree: Path) -> None:
    dst = tree / KUNIT_TOOL_RELPATH
    for name in ("kunit_parser.py", "kunit_printer.py"):
        shutil.copy(src_tool_dir / name, dst / name)


@pytest.fixture(autouse=True)
def no_host_kvm(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process boots never probe this host's /dev/kvm (tests of the
    probe pass their own)."""
    from uafault_harness.guest import accel
    monkeypatch.setattr(accel, "kvm_device_problem", lambda device=accel.KVM_DEVICE: "no KVM in the tests")
