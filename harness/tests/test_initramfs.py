"""The initramfs: what goes into the archive and what /init does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from uafault_harness.guest.protocol import INIT_AGENT_EXIT, INIT_AGENT_START
from uafault_harness.guest.initramfs import (
    INIT_APPLETS, InitramfsSpec, build_initramfs, list_archive, render_init, shared_libraries,
)
from uafault_harness.setup.requirements import find_tool, tool_named

pytestmark = pytest.mark.skipif(
    any(find_tool(tool_named(t)) is None for t in ("cpio", "ldd", "busybox")),
    reason="needs cpio, ldd and busybox-static",
)


def _busybox() -> Path:
    found = find_tool(tool_named("busybox"))
    assert found is not None
    return found


@pytest.fixture
def fake_agent(tmp_path: Path) -> Path:
    # A real dynamically linked program, so ldd has libraries to report.
    agent = tmp_path / "uafault-agent"
    shutil.copy("/bin/true", agent)
    return agent


def test_archive_holds_agent_libraries_loader_busybox_and_modules(tmp_path: Path, fake_agent: Path) -> None:
    modules = []
    for name in ("uafault.ko", "uafault_example.ko"):
        (tmp_path / name).write_bytes(b"\x7fELF fake module")
        modules.append(tmp_path / name)
    fuzzer = tmp_path / "uafault-fuzz"
    shutil.copy("/bin/true", fuzzer)
    out = build_initramfs(InitramfsSpec(busybox=_busybox(), agent=fake_agent, fuzzer=fuzzer,
                                        modules=tuple(modules), agent_args=("--seed", "7")),
                          tmp_path / "run" / "guest" / "initramfs.cpio.gz")
    members = set(list_archive(out))
    libs = shared_libraries(fake_agent)
    assert any("ld-linux" in str(lib) for lib in libs), libs
    assert any(lib.name.startswith("libc.so") for lib in libs), libs
    for lib in libs:
        assert str(lib).lstrip("/") in members
    expected = {"init", "bin/busybox", "bin/uafault-agent", "bin/uafault-fuzz",
                "lib/modules/uafault.ko", "lib/modules/uafault_example.ko", "dev", "proc", "sys", "tmp"}
    expected |= {f"bin/{applet}" for applet in INIT_APPLETS}
    assert expected <= members
    # Nothing of the staging directory is left next to the archive.
    assert sorted(p.name for p in out.parent.iterdir()) == ["initramfs.cpio.gz"]


def test_archive_entries_have_the_right_kinds(tmp_path: Path, fake_agent: Path) -> None:
    out = build_initramfs(InitramfsSpec(busybox=_busybox(), agent=fake_agent), tmp_path / "i.cpio.gz")
    import gzip
    listing = subprocess.run(["cpio", "--quiet", "-tv"], input=gzip.decompress(out.read_bytes()),
                             capture_output=True, check=True).stdout.decode().splitlines()
    by_name = {line.split()[8]: line for line in listing}
    assert by_name["bin/sh"].startswith("l") and by_name["bin/sh"].endswith("-> busybox")
    assert by_name["init"].startswith("-rwxr-xr-x")
    assert by_name["bin/uafault-agent"].startswith("-rwxr-xr-x")
    assert all(line.split()[2:4] == ["root", "root"] for line in listing)


def test_static_busybox_needs_no_libraries() -> None:
    assert shared_libraries(_busybox()) == []


def test_init_script() -> None:
    text = render_init(["--module", "/lib/modules/uafault.ko", "--targets", "copy *"])
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    for mount in ("-t devtmpfs devtmpfs /dev", "-t proc proc /proc", "-t sysfs sysfs /sys",
                  "-t debugfs debugfs /sys/kernel/debug", "-t tmpfs tmpfs /tmp"):
        assert f"mount {mount}" in lines
    zram = next(l for l in lines if "zram0/disksize" in l)
    assert "echo 64M > /sys/block/zram0/disksize" in zram
    assert "mkswap /dev/zram0" in zram and "swapon /dev/zram0" in zram
    start = lines.index(f'echo "{INIT_AGENT_START}"')
    assert lines[start + 1] == "/bin/uafault-agent --module /lib/modules/uafault.ko --targets 'copy *'"
    assert lines[start + 2:] == ["rc=$?", f'echo "{INIT_AGENT_EXIT} $rc"', "poweroff -f"]
    # Fault injection says one line per injected fault, no stack dump.
    assert "for attr in fail_usercopy failslab fail_page_alloc fail_iommufd; do" in lines
    assert "    echo 1 > /sys/kernel/debug/$attr/verbose 2>/dev/null" in lines
    # The applets /init calls are the ones installed.
    shell_words = ("#", "/", "rc=", "exec", "if", "else", "fi", "for", "done")
    used = {l.split()[0] for l in lines if l.strip() and not l.lstrip().startswith(shell_words)}
    assert used <= set(INIT_APPLETS)
    assert subprocess.run(["sh", "-n"], input=text.encode(), check=False).returncode == 0
