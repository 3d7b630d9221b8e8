"""The entry point as a user runs it: exit codes and messages."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import BENCH, make_fake_tree, run_cli

from uafault_harness.core.errors import ExitCode
from uafault_harness.setup.requirements import TOOLS


@pytest.mark.parametrize("args, needle", [
    (["kunit", "--arch", "arm64"], "invalid choice: 'arm64'"),
    (["kunit", "--jobs", "0"], "--jobs must be > 0"),
    (["kunit", "--jobs", "-3"], "--jobs must be > 0"),
    (["kunit", "--jobs", "many"], "--jobs must be a whole number"),
    (["kunit", "--timeout", "0"], "--timeout must be > 0"),
    (["kunit", "--timeout", "1.5"], "--timeout must be a whole number"),
    (["test", "--jobs", "0"], "--jobs must be > 0"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_usage_exits_2(args: list[str], needle: str, isolated_env: dict[str, str]) -> None:
    proc = run_cli(args, isolated_env)
    assert proc.returncode == ExitCode.USAGE
    assert needle in proc.stderr


def test_unknown_run_id(isolated_env: dict[str, str]) -> None:
    proc = run_cli(["results", "19990101T000000Z"], isolated_env)
    assert proc.returncode == ExitCode.NO_SUCH_RUN
    assert "no run '19990101T000000Z'" in proc.stderr


def test_bad_ksrc_exits_bad_tree(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    proc = run_cli(["kunit"], {**isolated_env, "KSRC": str(tmp_path / "nope")})
    assert proc.returncode == ExitCode.BAD_TREE
    assert "is not a usable kernel tree" in proc.stderr


def test_kunit_on_unlinked_ksrc_asks_for_link(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    tree = make_fake_tree(tmp_path / "linux")
    proc = run_cli(["kunit", "--arch", "um"], {**isolated_env, "KSRC": str(tree)})
    assert proc.returncode == ExitCode.MISSING_PREREQ
    assert "run: harness/uafault link" in proc.stderr
    assert not os.path.lexists(tree / "lib/uafault")


def test_kunit_without_tree_asks_for_setup(isolated_env: dict[str, str]) -> None:
    proc = run_cli(["kunit"], isolated_env)
    assert proc.returncode == ExitCode.MISSING_PREREQ
    assert "harness/uafault setup" in proc.stderr


def test_link_unlink_via_cli(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    tree = make_fake_tree(tmp_path / "linux")
    before = (tree / "lib/Makefile").read_bytes()
    env = {**isolated_env, "KSRC": str(tree)}
    first = run_cli(["link"], env)
    assert first.returncode == 0 and "symlinked" in first.stdout
    again = run_cli(["link"], env)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert run_cli(["unlink"], env).returncode == 0
    assert (tree / "lib/Makefile").read_bytes() == before


def _path_without(tmp_path: Path, hidden: str) -> str:
    """A PATH holding every tool doctor looks for except `hidden`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool.name)
        if found and tool.name != hidden:
            (bindir / tool.name).symlink_to(found)
    return str(bindir)


def test_doctor_reports_hidden_qemu(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    env = {**isolated_env, "PATH": _path_without(tmp_path, "qemu-system-x86_64")}
    proc = run_cli(["doctor"], env)
    assert proc.returncode == ExitCode.MISSING_PREREQ
    lines = proc.stdout.splitlines()
    qemu = next(l for l in lines if " qemu-system-x86_64:" in l)
    assert qemu.startswith("MISSING")
    assert qemu.endswith("fix: apt-get install -y --no-install-recommends qemu-system-x86")
    if shutil.which("gcc"):
        assert next(l for l in lines if " gcc:" in l).startswith("ok")
    assert any(l.startswith("info") and "/dev/kvm" in l and "TCG" in l for l in lines)


def test_x86_64_kunit_needs_qemu(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    tree = make_fake_tree(tmp_path / "linux")
    env = {**isolated_env, "KSRC": str(tree), "PATH": _path_without(tmp_path, "qemu-system-x86_64")}
    assert run_cli(["link"], env).returncode == 0
    proc = run_cli(["kunit", "--arch", "x86_64"], env)
    assert proc.returncode == ExitCode.MISSING_PREREQ
    assert "apt-get install -y --no-install-recommends qemu-system-x86" in proc.stderr


def test_bench_dry_run_prints_commands_and_changes_nothing(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    tree = make_fake_tree(tmp_path / "linux")
    env = {**isolated_env, "KSRC": str(tree)}
    build = tmp_path / "cache" / "build"
    build.mkdir(parents=True)
    proc = run_cli(["--dry-run", "--arch", "x86_64", "--jobs", "2"], env, script=BENCH)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for step in ("config", "build", "exec"):
        assert f"kunit.py {step} " in out
    assert "rm -rf " + str(build) in out
    assert "touch " in out and "/kunit/" in out
    assert "'--qemu_args=-cpu max -smp 2'" in out and "--jobs=2" in out
    assert "CONFIG_USERCOPY_KUNIT_TEST=y" in out
    assert "bench-usercopy" in out
    assert "kunit.py config" in out and "--arch=um" not in out
    assert list(build.iterdir()) == []
    assert not os.path.lexists(tree / "lib/uafault")


def test_bench_help() -> None:
    proc = run_cli(["--help"], dict(os.environ), script=BENCH)
    assert proc.returncode == 0 and "--dry-run" in proc.stdout


def test_results_reads_back_the_layers_after_the_campaigns(tmp_path: Path) -> None:
    """`results` totals what `test` printed: the user module and path
    oracles layers included."""
    from uafault_harness.core.results import Counts, LayerResult, SUMMARY_NAME, write_layer
    from uafault_harness.testsuite.path_oracles_layer import LAYER_DIR as PATHS_DIR
    from uafault_harness.testsuite.summary import load_run_layers, totals_line
    from uafault_harness.testsuite.user_module_layer import LAYER_DIR as USER_DIR

    for name, passed in ((USER_DIR, 15), (PATHS_DIR, 18)):
        (tmp_path / name).mkdir()
        write_layer(tmp_path / name / SUMMARY_NAME, LayerResult(name, ExitCode.OK, "", Counts(passed=passed)))
    layers = load_run_layers(tmp_path)
    assert [l.layer for l in layers] == [USER_DIR, PATHS_DIR]
    assert totals_line(layers) == "33 passed, 0 failed, 0 skipped, 0 unresolved, 0 known deviations"


def test_test_help_names_every_layer_it_runs() -> None:
    """`test`'s help says what it runs: each layer of the one list."""
    from uafault_harness.cli import build_parser
    from uafault_harness.testsuite.layers import LAYERS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = " ".join(next(c.help for c in sub._choices_actions if c.dest == "test").split())
    assert all(layer.about in text for layer in LAYERS), text
    assert len({layer.dir for layer in LAYERS}) == len(LAYERS)


def test_each_entry_point_installs_only_what_it_needs() -> None:
    """make run needs no QEMU nor browser; a guest no browser; make test all."""
    from uafault_harness.setup.requirements import DEBIAN_PACKAGES, packages_for
    run, guest, test = (set(packages_for(p)) for p in ("run", "guest", "test"))
    assert run < guest < test and test == set(DEBIAN_PACKAGES)
    assert {"gcc", "libelf-dev", "linux-source-6.12"} <= run
    assert not {"qemu-system-x86", "busybox-static", "chromium", "python3-pytest"} & run
    assert {"qemu-system-x86", "busybox-static", "libkmod-dev"} <= guest and "chromium" not in guest
    assert {"chromium", "python3-pytest", "python3-yaml"} <= test
