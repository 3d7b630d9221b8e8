"""The guest layer end to end with a fake QEMU, a cached fake kernel and fake
artefacts: artefacts on disk, the verdict, and `test`/`results` totals."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import guest_samples as samples
import pytest
from conftest import copy_kunit_parser, layout_for

from uafault_harness.core.errors import ExitCode
from uafault_harness.core.paths import Layout
from uafault_harness.core.results import Counts, create_run_dir, read_layer
from uafault_harness.guest.build import config_text, expected_stamp, guest_kernel
from uafault_harness.guest.modules import Modules
from uafault_harness.guest.runner import GuestRequest, artefacts_for, run_guest_layer, sync_module_sources
from uafault_harness.guest.snapshot import BOOT_ENV
from uafault_harness.setup.requirements import GUEST_RUNTIME_TOOLS, find_tool, tool_named
from uafault_harness.testsuite.summary import run_report

pytestmark = pytest.mark.skipif(
    any(find_tool(tool_named(t)) is None for t in GUEST_RUNTIME_TOOLS if t != "qemu-system-x86_64"),
    reason="needs busybox-static, cpio, ldd and timeout",
)

FAKE_QEMU = r'''#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_QEMU_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
sys.stdout.write(open(os.environ["FAKE_QEMU_CONSOLE"]).read().replace("\n", "\r\n"))
'''

# Records its arguments and exits $FAKE_MAKE_RC (0 unless set).
FAKE_MAKE = r'''#!/bin/sh
echo "$@" >> "$FAKE_MAKE_LOG"
case "${FAKE_MAKE_USER_MARK:+$*}" in *"$FAKE_MAKE_USER_MARK"?*)
    # A user's module: write Kbuild's modules.order and the .ko it names.
    for a in "$@"; do case "$a" in M=*) m="${a#M=}";; esac; done
    if [ -n "$FAKE_MAKE_KO" ]; then echo "$m/$FAKE_MAKE_KO.o" > "$m/modules.order"; : > "$m/$FAKE_MAKE_KO.ko"; fi
    exit "${FAKE_MAKE_USER_RC:-0}";;
esac
exit "${FAKE_MAKE_RC:-0}"
'''


@pytest.fixture
def layout(tmp_path: Path, fake_tree: Path, fake_project: Path, kunit_tool_dir: Path,
           monkeypatch: pytest.MonkeyPatch) -> Layout:
    copy_kunit_parser(kunit_tool_dir, fake_tree)
    (fake_project / "configs" / "guest.config").write_text("CONFIG_SMP=y\n")
    (fake_tree / ".uafault-source").write_text("6.12.117-1~deb12u1\n")
    layout = layout_for(fake_tree, fake_project, tmp_path / "cache", user_tree=False)
    # A guest kernel that guest-build considers up to date.
    kernel = guest_kernel(layout, kasan=False)
    kernel.bzimage.parent.mkdir(parents=True)
    kernel.bzimage.write_text("kernel")
    stamp = expected_stamp(layout, kernel, config_text(layout, kernel))
    kernel.stamp.write_text(f"{stamp}\n")
    (fake_project / "module" / "example").mkdir(parents=True)
    (fake_project / "module" / "main.c").write_text("/* module */\n")
    (fake_project / "module" / "example" / "Makefile").write_text("obj-m += example.o\n")
    (fake_project / "kunit").mkdir(exist_ok=True)
    (fake_project / "kunit" / "copy.c").write_text("/* suite */\n")
    # What an earlier `make guest-artefacts` left for this kernel.
    artefacts = artefacts_for(kernel)
    for module in (*artefacts.modules, artefacts.variants, artefacts.kunit):
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_bytes(b"\x7fELF module")
    shutil.copy("/bin/true", artefacts.agent)
    shutil.copy("/bin/true", artefacts.fuzzer)
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    for name, text in (("qemu-system-x86_64", FAKE_QEMU), ("make", FAKE_MAKE)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QEMU_LOG", str(tmp_path / "qemu.log"))
    # The fake QEMU cannot be saved and restored (guest/snapshot.py).
    monkeypatch.setenv(BOOT_ENV, "cold")
    monkeypatch.setenv("FAKE_MAKE_LOG", str(tmp_path / "make.log"))
    console = tmp_path / "console.txt"
    console.write_text(samples.KTAP_EXPECTED_ONLY)
    monkeypatch.setenv("FAKE_QEMU_CONSOLE", str(console))
    return layout


def test_guest_layer_stores_artefacts_and_passes(layout: Layout, tmp_path: Path) -> None:
    run_dir = create_run_dir(layout.results_root)
    result = run_guest_layer(layout, GuestRequest(allow_crash=True, agent_args="--seed 3"), run_dir)
    assert result.exit_code is ExitCode.OK, result.message
    out = run_dir / "guest"
    assert {"console.log", "ktap.txt", "summary.json", "job.img"} <= {p.name for p in out.iterdir()}
    assert (out / "console.log").read_text() == samples.KTAP_EXPECTED_ONLY
    assert read_layer(out / "summary.json") == result
    assert result.suites == {"copy_from_user": Counts(passed=2), "smap_read": Counts(passed=1)}
    assert result.details["accel"] == "tcg"
    [argv] = [json.loads(l) for l in (tmp_path / "qemu.log").read_text().splitlines()]
    assert "-enable-kvm" not in argv and argv[argv.index("-accel") + 1] == "tcg"
    assert argv[argv.index("-kernel") + 1] == str(guest_kernel(layout, False).bzimage)
    # --allow-crash keeps the guest alive through the expected oops: it
    # boots as strict as any (one command line, one snapshot), its job
    # turns panic-on-oops off before the agent starts.
    assert argv[-1].endswith(" oops=panic")
    assert "echo 0 > /proc/sys/kernel/panic_on_oops\n" in (out / "job.img").read_bytes().decode(errors="replace")
    # make ran once, for the artefacts only, on a copy of module/ that
    # lives in this kernel's build dir.
    kernel = guest_kernel(layout, False)
    modsrc = kernel.build_dir / "uafault-artefacts" / "module"
    kunitsrc = modsrc.parent / "kunit"
    [make_args] = (tmp_path / "make.log").read_text().splitlines()
    assert make_args.split() == ["-C", str(layout.project), "-j1", "guest-artefacts", f"KDIR={kernel.build_dir}",
                                 f"MODSRC={modsrc}", f"KUNITSRC={kunitsrc}", f"AGENT_OUT={modsrc.parent}"]
    assert (modsrc / "main.c").read_text() == "/* module */\n"
    assert (kunitsrc / "copy.c").read_text() == "/* suite */\n"
    assert (modsrc / "example" / "Makefile").is_file()
    assert "3 passed, 0 failed, 0 skipped, 0 unresolved, 0 known deviations" == run_report(run_dir).splitlines()[-1]
    assert "guest x86_64" in run_report(run_dir)


def test_failed_artefact_build_is_a_build_failure(layout: Layout, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MAKE_RC", "2")
    run_dir = create_run_dir(layout.results_root)
    result = run_guest_layer(layout, GuestRequest(), run_dir)
    assert result.exit_code is ExitCode.BUILD_FAILED
    assert "guest-artefacts" in result.message and "exit 2" in result.message
    assert read_layer(run_dir / "guest" / "summary.json").exit_code is ExitCode.BUILD_FAILED
    assert not (tmp_path / "qemu.log").exists()


def test_artefact_left_missing_is_a_build_failure(layout: Layout, tmp_path: Path) -> None:
    artefacts_for(guest_kernel(layout, False)).agent.unlink()
    result = run_guest_layer(layout, GuestRequest(), create_run_dir(layout.results_root))
    assert result.exit_code is ExitCode.BUILD_FAILED
    assert "uafault-agent" in result.message
    assert not (tmp_path / "qemu.log").exists()


def test_fuzz_calls_reach_the_agent_command_line(layout: Layout, tmp_path: Path) -> None:
    run_dir = create_run_dir(layout.results_root)
    run_guest_layer(layout, GuestRequest(fuzz_calls=1234), run_dir)
    init = (run_dir / "guest" / "job.img").read_bytes().decode(errors="replace")
    line = next(l for l in init.splitlines() if l.startswith("/bin/uafault-agent"))
    assert "--fuzzer /bin/uafault-fuzz --fuzz-calls 1234" in line
    assert "--allow-crash" not in line
    assert "uafault_kunit" not in line and "--kunit" not in line


def test_kunit_request_loads_the_suites_last_and_reruns_them(layout: Layout, tmp_path: Path) -> None:
    run_dir = create_run_dir(layout.results_root)
    run_guest_layer(layout, GuestRequest(kunit=True), run_dir)
    init = (run_dir / "guest" / "job.img").read_bytes().decode(errors="replace")
    line = next(l for l in init.splitlines() if l.startswith("/bin/uafault-agent"))
    modules = [w for w in line.split() if w.endswith(".ko")]
    assert modules[-1].endswith("/uafault_kunit.ko") and len(modules) == 3
    assert "--kunit 'uafault_*'" in line
    # The cases that WARN on purpose are turned on once it is loaded; its
    # raw SMAP accesses oops, and this boot may not.
    assert "--kunit-param uafault_kunit.allow_warn=1" in line
    assert "allow_oops" not in line and "--kunit-last" not in line


def test_a_boot_that_may_oops_runs_the_smap_suite_last_with_its_oopses(layout: Layout, tmp_path: Path) -> None:
    run_dir = create_run_dir(layout.results_root)
    run_guest_layer(layout, GuestRequest(kunit=True, allow_crash=True), run_dir)
    init = (run_dir / "guest" / "job.img").read_bytes().decode(errors="replace")
    words = shlex.split(next(l for l in init.splitlines() if l.startswith("/bin/uafault-agent")))
    params = [words[i + 1] for i, w in enumerate(words) if w == "--kunit-param"]
    assert params == ["uafault_kunit.allow_warn=1", "uafault_kunit.allow_oops=1"]
    assert words[words.index("--kunit-last") + 1] == "uafault_smap"
    # Set after the load, never at it: the load-time run stays report-free.
    assert all("allow_" not in words[i + 1] for i, w in enumerate(words) if w == "--module-params")


def test_module_sync_leaves_same_bytes_and_renews_changed_ones(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "example").mkdir(parents=True)
    (src / "main.c").write_text("same\n")
    (src / "example" / "ex.c").write_text("new\n")
    (src / "main.o").write_text("object\n")
    (dst / "example").mkdir(parents=True)
    (dst / "main.c").write_text("same\n")
    (dst / "example" / "ex.c").write_text("old\n")
    # The sources look older than what was built from the copy before.
    for path in (src / "main.c", src / "example" / "ex.c"):
        os.utime(path, (1_000_000, 1_000_000))
    os.utime(dst / "main.c", (2_000_000, 2_000_000))
    sync_module_sources(src, dst)
    assert (dst / "main.c").stat().st_mtime == 2_000_000
    assert (dst / "example" / "ex.c").read_text() == "new\n"
    assert (dst / "example" / "ex.c").stat().st_mtime > 2_000_000
    assert not (dst / "main.o").exists()


def _user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mine = tmp_path / "outside" / "mydrv"
    mine.mkdir(parents=True)
    (mine / "Makefile").write_text("obj-m += mydrv.o\n")
    (mine / "mydrv.c").write_text("/* driver */\n")
    monkeypatch.setenv("FAKE_MAKE_USER_MARK", "uafault-artefacts/user/")
    return mine


def test_a_users_module_is_built_in_a_copy_and_loaded_after_uafault(layout: Layout, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    mine = _user_dir(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_MAKE_KO", "mydrv")
    run_dir = create_run_dir(layout.results_root)
    result = run_guest_layer(layout, GuestRequest(modules=Modules(dirs=(mine,))), run_dir)
    assert result.exit_code is ExitCode.OK, result.message
    kernel = guest_kernel(layout, False)
    artefacts = kernel.build_dir / "uafault-artefacts"
    user = next((artefacts / "user").iterdir())
    assert user.name.startswith("mydrv-") and (user / "mydrv.c").read_text() == "/* driver */\n"
    assert sorted(p.name for p in mine.iterdir()) == ["Makefile", "mydrv.c"]  # left clean
    user_make = (tmp_path / "make.log").read_text().splitlines()[-1].split()
    assert f"M={user}" in user_make and "modules" in user_make
    assert f"KBUILD_EXTRA_SYMBOLS={artefacts / 'module' / 'Module.symvers'}" in user_make
    assert f"UAFAULT_INCLUDE={artefacts / 'module'}" in user_make
    init = (run_dir / "guest" / "job.img").read_bytes().decode(errors="replace")
    line = next(l for l in init.splitlines() if l.startswith("/bin/uafault-agent"))
    assert line.index("uafault.ko") < line.index("/mydrv.ko") and "--expect-targets mydrv" in line


@pytest.mark.parametrize("env, code, words", [
    ({"FAKE_MAKE_USER_RC": "2"}, ExitCode.BUILD_FAILED, "the build against the plain guest kernel failed (make exit 2"),
    ({}, ExitCode.BUILD_FAILED, "the build made no module (is there an obj-m line"),
    ({"FAKE_MAKE_KO": "uafault"}, ExitCode.USAGE, "builds uafault, a name uafault's own modules use"),
])
def test_a_users_module_that_cannot_be_used_is_one_line_naming_it(
        layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], code: ExitCode,
        words: str) -> None:
    mine = _user_dir(tmp_path, monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_guest_layer(layout, GuestRequest(modules=Modules(dirs=(mine,))), create_run_dir(layout.results_root))
    assert result.exit_code is code
    assert result.message.startswith(f"module {mine}: ") and words in result.message
    assert "\n" not in result.message and not (tmp_path / "qemu.log").exists()


def test_the_agents_own_complaint_is_the_layers_message(layout: Layout, tmp_path: Path) -> None:
    (tmp_path / "console.txt").write_text(
        "uafault-init: agent start\r\n"
        "uafault-agent: insert /lib/modules/mydrv.ko: Unknown symbol in module\r\n"
        "uafault-init: agent exit 3\r\n")
    result = run_guest_layer(layout, GuestRequest(), create_run_dir(layout.results_root))
    assert result.exit_code is ExitCode.RUN_FAILED
    assert result.message == ("no KTAP output from the agent (agent exit 3): "
                              "insert /lib/modules/mydrv.ko: Unknown symbol in module")


def test_unchanged_sources_build_nothing_and_a_change_rebuilds(layout: Layout, tmp_path: Path) -> None:
    """A second command on the same sources starts at once; a changed
    source (from any checkout) makes the artefacts again."""
    def makes() -> int:
        log = tmp_path / "make.log"
        return len(log.read_text().splitlines()) if log.is_file() else 0

    run_guest_layer(layout, GuestRequest(allow_crash=True), create_run_dir(layout.results_root))
    assert makes() == 1
    run_guest_layer(layout, GuestRequest(allow_crash=True), create_run_dir(layout.results_root))
    assert makes() == 1
    (layout.project / "module" / "main.c").write_text("/* module, changed */\n")
    run_guest_layer(layout, GuestRequest(allow_crash=True), create_run_dir(layout.results_root))
    assert makes() == 2


def test_a_kernel_without_a_stamp_rebuilds_the_artefacts_when_it_changes(layout: Layout, tmp_path: Path) -> None:
    """A bisection's worktree has no source stamp, so its kernel has none:
    each step's new kernel (its release names the commit) must get modules
    built for it, or they do not load ("Exec format error")."""
    from uafault_harness.guest.build import guest_kernel
    from uafault_harness.guest.runner import artefacts_digest
    kernel = guest_kernel(layout, False)
    kernel.stamp.unlink(missing_ok=True)
    kernel.bzimage.parent.mkdir(parents=True, exist_ok=True)
    kernel.bzimage.write_bytes(b"6.12.0-g35a2ea1b6c5a")
    first = artefacts_digest(layout, kernel)
    assert artefacts_digest(layout, kernel) == first
    kernel.bzimage.write_bytes(b"6.12.0-g61e97a6068ae")
    assert artefacts_digest(layout, kernel) != first


def test_a_command_boots_its_own_copy_of_what_was_built(tmp_path: Path) -> None:
    """Another command's rebuild into the shared build directory changes
    nothing under a command already running; a killed command's copy goes."""
    from uafault_harness.guest.runner import GuestArtefacts, snapshot_artefacts
    home = tmp_path / "build" / "uafault-artefacts"
    files = {"module/uafault.ko": "ko", "module/Module.symvers": "sym", "module/variants/v.ko": "v",
             "kunit/k.ko": "k", "uafault-agent": "agent v1", "uafault-fuzz": "fuzz"}
    for rel, text in files.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    built = GuestArtefacts((home / "module/uafault.ko",), home / "module/variants/v.ko", home / "kunit/k.ko",
                           home / "uafault-agent", home / "uafault-fuzz", home=home)
    root = tmp_path / "in-use"
    dead = root / "guest-x86_64-999999999-gone"
    dead.mkdir(parents=True)
    mine = snapshot_artefacts(built, root, "guest-x86_64")
    (home / "uafault-agent").write_text("agent v2")
    assert mine.agent.read_text() == "agent v1" and mine.agent.parent != home and mine.home == home
    assert mine.symvers.read_text() == "sym" and mine.variants.read_text() == "v"
    assert not dead.exists()
