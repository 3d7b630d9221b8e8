"""guest-build against a fake tree and a fake `make`: the commands, the
.config, the option check and the stamp."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import layout_for, run_cli

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import Layout
from uafault_harness.guest.build import BZIMAGE_RELPATH, build_guest_kernel, guest_kernel, make_command

GUEST_CONFIG = "# guest\nCONFIG_SMP=y\nCONFIG_ZRAM=y\nCONFIG_KUNIT=m\n# CONFIG_FOO is not set\n"
KASAN_CONFIG = "CONFIG_KASAN=y\n"

# Logs its argv; olddefconfig keeps .config (minus $FAKE_MAKE_DROP), `all`
# produces a bzImage.
FAKE_MAKE = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_MAKE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
out = next(a[2:] for a in args if a.startswith("O="))
if "olddefconfig" in args:
    path = os.path.join(out, ".config")
    drop = os.environ.get("FAKE_MAKE_DROP", "")
    text = "".join(l for l in open(path) if not (drop and l.startswith(drop)))
    open(path, "w").write(text + "CONFIG_DEFAULTED=y\n")
if "all" in args:
    image = os.path.join(out, "arch/x86/boot/bzImage")
    os.makedirs(os.path.dirname(image), exist_ok=True)
    open(image, "w").write("kernel")
sys.exit(int(os.environ.get("FAKE_MAKE_RC", "0")))
'''


@pytest.fixture
def layout(tmp_path: Path, fake_tree: Path, fake_project: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    (fake_project / "configs" / "guest.config").write_text(GUEST_CONFIG)
    (fake_project / "configs" / "guest-kasan.config").write_text(KASAN_CONFIG)
    (fake_tree / ".uafault-source").write_text("6.12.117-1~deb12u1\n")
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "make").write_text(FAKE_MAKE)
    (bindir / "make").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MAKE_LOG", str(tmp_path / "make.log"))
    return layout_for(fake_tree, fake_project, tmp_path / "cache", user_tree=False)


def _make_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "make.log"
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []


def test_build_runs_the_plain_recipe_then_is_cached(layout: Layout, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    kernel = build_guest_kernel(layout, kasan=False, jobs=2)
    build = tmp_path / "cache" / "build" / "guest-x86_64"
    assert kernel.build_dir == build and kernel.bzimage == build / BZIMAGE_RELPATH
    base = ["-C", str(layout.tree), f"O={build}", "ARCH=x86_64"]
    # The profile names exactly what configs/coverage.paths lists.
    profile = "GCOV_PROFILE=$(if $(filter mm/gup,$(obj)/$(target-stem))$(filter io_uring,$(obj)),y)"
    assert _make_calls(tmp_path) == [base + ["olddefconfig"], base + ["-j2", profile, "all"]]
    # .config started as the fragment byte for byte (olddefconfig appended to it).
    assert (build / ".config").read_text().startswith(GUEST_CONFIG)
    stamp = (build / ".uafault-guest-stamp").read_text()
    assert len(stamp.strip()) == 64

    capsys.readouterr()
    build_guest_kernel(layout, kasan=False, jobs=2)
    assert len(_make_calls(tmp_path)) == 2
    assert "up to date" in capsys.readouterr().out

    # A changed fragment or source tree invalidates the stamp.
    (layout.project / "configs" / "guest.config").write_text(GUEST_CONFIG + "CONFIG_SWAP=y\n")
    build_guest_kernel(layout, kasan=False, jobs=2)
    assert len(_make_calls(tmp_path)) == 4
    layout.stamp.write_text("6.12.118-1\n")
    build_guest_kernel(layout, kasan=False, jobs=2)
    assert len(_make_calls(tmp_path)) == 6


def test_kasan_concatenates_fragments_into_its_own_dir(layout: Layout, tmp_path: Path) -> None:
    kernel = build_guest_kernel(layout, kasan=True, jobs=1)
    assert kernel.build_dir.name == "guest-x86_64-kasan"
    assert kernel.dotconfig.read_text().startswith(GUEST_CONFIG + KASAN_CONFIG)
    assert not (tmp_path / "cache" / "build" / "guest-x86_64").exists()


def test_option_lost_in_olddefconfig_fails_the_build(layout: Layout, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MAKE_DROP", "CONFIG_ZRAM=")
    with pytest.raises(HarnessError) as err:
        build_guest_kernel(layout, kasan=False, jobs=2)
    assert err.value.code is ExitCode.BUILD_FAILED
    assert "Missing: CONFIG_ZRAM=y" in str(err.value)
    assert [c[-1] for c in _make_calls(tmp_path)] == ["olddefconfig"]
    assert not (guest_kernel(layout, False).stamp).exists()


def test_an_option_the_tree_does_not_have_is_left_out(layout: Layout, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """An older tree (6.1 has no IOMMUFD) builds without what its Kconfig
    lacks, and says so; an option it has but loses is still an error."""
    from uafault_harness.guest.build import tree_symbols, unknown_options

    (layout.tree / "Kconfig").write_text("config ZRAM\n\tbool\nmenuconfig KUNIT\n")
    assert tree_symbols(layout.tree) == {"CONFIG_ZRAM", "CONFIG_KUNIT"}
    assert unknown_options("CONFIG_ZRAM=y\nCONFIG_IOMMUFD=y\n# CONFIG_X is not set\n",
                           tree_symbols(layout.tree)) == ["CONFIG_IOMMUFD"]
    assert unknown_options("CONFIG_IOMMUFD=y\n", frozenset()) == []
    monkeypatch.setenv("FAKE_MAKE_DROP", "CONFIG_ZRAM=")
    with pytest.raises(HarnessError) as err:
        build_guest_kernel(layout, kasan=False, jobs=2)
    assert "Missing: CONFIG_ZRAM=y" in str(err.value)
    assert "left out: CONFIG_" in capsys.readouterr().out


def test_a_users_tree_compiles_through_ccache_where_it_is_installed(layout: Layout, tmp_path: Path) -> None:
    ccache = tmp_path / "fakebin" / "ccache"
    ccache.write_text("#!/bin/sh\nexec \"$@\"\n")
    ccache.chmod(0o755)
    build_guest_kernel(layout, kasan=False, jobs=2)   # the cached Debian tree: built once, as it always was
    assert not any("CC=ccache gcc" in c for c in _make_calls(tmp_path))
    mine = replace(layout, user_tree=True)            # KSRC: a bisection's steps, a developer's commits
    build_guest_kernel(mine, kasan=False, jobs=2)
    calls = _make_calls(tmp_path)[2:]
    assert calls and all("CC=ccache gcc" in c for c in calls)
    ccache.unlink()
    assert "CC=ccache gcc" not in make_command(mine, guest_kernel(mine, False), "all")


def test_make_failure_leaves_no_stamp(layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_guest_kernel(layout, kasan=False, jobs=2)
    (layout.project / "configs" / "guest.config").write_text(GUEST_CONFIG + "CONFIG_SWAP=y\n")
    monkeypatch.setenv("FAKE_MAKE_RC", "2")
    with pytest.raises(HarnessError) as err:
        build_guest_kernel(layout, kasan=False, jobs=2)
    assert err.value.code is ExitCode.BUILD_FAILED
    assert not guest_kernel(layout, False).stamp.exists()


def test_tree_without_source_stamp_always_runs_make(layout: Layout, tmp_path: Path) -> None:
    layout.stamp.unlink()
    build_guest_kernel(layout, kasan=False, jobs=2)
    build_guest_kernel(layout, kasan=False, jobs=2)
    assert len(_make_calls(tmp_path)) == 4
    assert not guest_kernel(layout, False).stamp.exists()


def test_dry_run_prints_commands_and_changes_nothing(tmp_path: Path, fake_tree: Path,
                                                    isolated_env: dict[str, str]) -> None:
    project_configs = Path(__file__).resolve().parents[2] / "configs"
    env = {**isolated_env, "KSRC": str(fake_tree), "FAKE_MAKE_LOG": str(tmp_path / "make.log")}
    proc = run_cli(["guest-build", "--dry-run", "--jobs", "2"], env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"cp {project_configs / 'guest.config'} " in out
    assert f"make -C {fake_tree} O=" in out and "ARCH=x86_64 olddefconfig" in out
    assert "ARCH=x86_64 -j2 'GCOV_PROFILE=$(if " in out and ",y)' all" in out and "guest-x86_64/.config" in out
    kasan = run_cli(["guest-build", "--dry-run", "--kasan"], env).stdout
    assert f"cat {project_configs / 'guest.config'} {project_configs / 'guest-kasan.config'} > " in kasan
    assert "guest-x86_64-kasan" in kasan
    assert not (tmp_path / "cache").exists()
