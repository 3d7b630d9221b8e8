"""The kunit layer end to end against a fake kunit.py (no kernel build)."""

from __future__ import annotations

import json
from pathlib import Path

import ktap_samples as samples
import pytest
from conftest import copy_kunit_parser, layout_for

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import KUNIT_PY_RELPATH, Layout
from uafault_harness.core.results import create_run_dir, read_layer
from uafault_harness.kunit.runner import KunitRequest, run_kunit_layer
from uafault_harness.setup.link import ensure_linked
from uafault_harness.setup.link import link

FAKE_KUNIT_PY = r'''
import json, os, sys
step = sys.argv[1]
with open(os.environ["FAKE_KUNIT_ARGV_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
build_dir = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--build_dir="))
print(f"fake kunit.py {step}")
if os.environ.get("FAKE_KUNIT_FAIL_STEP") == step:
    print("ERROR: make failed")
    sys.exit(1)
if step == "exec":
    console = os.environ.get("FAKE_KUNIT_CONSOLE")
    if console:
        with open(os.path.join(build_dir, "test.log"), "w") as f:
            f.write(open(console).read())
    for a in sys.argv:
        if a.startswith("--json="):
            open(a.split("=", 1)[1], "w").write("{}")
    sys.exit(int(os.environ.get("FAKE_KUNIT_EXEC_RC", "0")))
'''


@pytest.fixture
def layout(tmp_path: Path, fake_tree: Path, fake_project: Path, kunit_tool_dir: Path,
           monkeypatch: pytest.MonkeyPatch) -> Layout:
    (fake_tree / KUNIT_PY_RELPATH).write_text(FAKE_KUNIT_PY)
    copy_kunit_parser(kunit_tool_dir, fake_tree)
    link(fake_tree, fake_project)
    monkeypatch.setenv("FAKE_KUNIT_ARGV_LOG", str(tmp_path / "argv.log"))
    return layout_for(fake_tree, fake_project, tmp_path / "cache")


def _console(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "console.txt"
    path.write_text(text)
    monkeypatch.setenv("FAKE_KUNIT_CONSOLE", str(path))


def _argv_log(tmp_path: Path) -> list[list[str]]:
    return [json.loads(l) for l in (tmp_path / "argv.log").read_text().splitlines()]


def test_failed_case_gives_test_failed_and_artefacts(layout: Layout, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _console(tmp_path, samples.UM_CONSOLE, monkeypatch)
    monkeypatch.setenv("FAKE_KUNIT_EXEC_RC", "1")
    run_dir = create_run_dir(layout.results_root)
    result = run_kunit_layer(layout, KunitRequest("um", jobs=3, timeout=60, filter_glob="uafault_*"), run_dir)
    assert result.exit_code is ExitCode.TEST_FAILED
    assert result.counts.passed == 8 and result.counts.failed == 1 and result.counts.skipped == 1
    out = run_dir / "um"
    assert sorted(p.name for p in out.iterdir()) == [
        "console.log", "ktap.txt", "kunit.json", "kunit.out", "summary.json"]
    assert (out / "console.log").read_text() == samples.UM_CONSOLE
    assert (out / "ktap.txt").read_text().startswith("KTAP version 1\n1..3\n")
    assert "fake kunit.py build" in (out / "kunit.out").read_text()
    assert read_layer(out / "summary.json") == result

    config, build, exec_ = _argv_log(tmp_path)
    assert [config[0], build[0], exec_[0]] == ["config", "build", "exec"]
    assert f"--kunitconfig={layout.kunit_dir}" in config
    assert f"--build_dir={layout.build_dir('um')}" in build and "--arch=um" in build
    assert "--jobs=3" in build
    assert "--timeout=60" in exec_ and exec_[-1] == "uafault_*"
    assert f"--json={out / 'kunit.json.part'}" in exec_


def test_x86_64_profile_args_and_smap_policy(layout: Layout, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _console(tmp_path, samples.X86_SMAP_SKIPPED, monkeypatch)
    run_dir = create_run_dir(layout.results_root)
    result = run_kunit_layer(layout, KunitRequest("x86_64", jobs=1), run_dir)
    assert result.exit_code is ExitCode.TEST_FAILED
    assert "SMAP cases were skipped" in result.message
    config, build, exec_ = _argv_log(tmp_path)
    assert "--qemu_args=-cpu max -smp 2" in exec_
    # The raw SMAP accesses oops on purpose: asked for at exec only.
    assert "--kernel_args=uafault_kunit.allow_oops=1" in exec_
    assert not any(a.startswith("--kernel_args") for a in config + build)
    assert f"--kunitconfig={layout.project / 'configs/kunit-x86_64.config'}" in exec_
    assert "--timeout=1800" in exec_


def test_build_failure_is_not_a_test_failure(layout: Layout, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _console(tmp_path, samples.UM_CONSOLE, monkeypatch)
    monkeypatch.setenv("FAKE_KUNIT_FAIL_STEP", "build")
    run_dir = create_run_dir(layout.results_root)
    result = run_kunit_layer(layout, KunitRequest("um", jobs=1), run_dir)
    assert result.exit_code is ExitCode.BUILD_FAILED
    assert "kunit.py build failed" in result.message
    assert [a[0] for a in _argv_log(tmp_path)] == ["config", "build"]
    assert "ERROR: make failed" in (run_dir / "um" / "kunit.out").read_text()


def test_missing_console_log_is_a_run_failure(layout: Layout, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_KUNIT_CONSOLE", raising=False)
    monkeypatch.setenv("FAKE_KUNIT_EXEC_RC", "1")
    result = run_kunit_layer(layout, KunitRequest("um", jobs=1), create_run_dir(layout.results_root))
    assert result.exit_code is ExitCode.RUN_FAILED


def test_unlinked_ksrc_tree_is_refused(tmp_path: Path, fake_tree: Path, fake_project: Path) -> None:
    layout = layout_for(fake_tree, fake_project, tmp_path / "cache", user_tree=True)
    with pytest.raises(HarnessError) as err:
        ensure_linked(layout)
    assert err.value.code is ExitCode.MISSING_PREREQ
    assert "harness/uafault link" in str(err.value)


def test_unlinked_cache_tree_is_linked_automatically(tmp_path: Path, fake_tree: Path, fake_project: Path) -> None:
    layout = layout_for(fake_tree, fake_project, tmp_path / "cache", user_tree=False)
    ensure_linked(layout)
    assert (fake_tree / "lib/uafault").resolve() == fake_project.resolve()
