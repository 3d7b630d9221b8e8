"""The initramfs: what goes into the archive and what /init does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from uafault_harness.core.errors import HarnessError
from uafault_harness.guest import initramfs
from uafault_harness.guest.protocol import INIT_AGENT_EXIT, INIT_AGENT_START, INIT_JOB_READ, INIT_JOB_WAIT
from uafault_harness.guest.initramfs import (
    INIT_APPLETS, JOB_DISK_BYTES, JOB_SERIAL, BaseSpec, JobSpec, build_base, build_job, cached_base,
    list_archive, render_init, render_job, shared_libraries,
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


def test_base_holds_agent_libraries_loader_and_busybox_and_the_job_the_rest(tmp_path: Path,
                                                                            fake_agent: Path) -> None:
    modules = []
    for name in ("uafault.ko", "uafault_example.ko"):
        (tmp_path / name).write_bytes(b"\x7fELF fake module")
        modules.append(tmp_path / name)
    fuzzer = tmp_path / "uafault-fuzz"
    shutil.copy("/bin/true", fuzzer)
    base_spec = BaseSpec(busybox=_busybox(), agent=fake_agent, fuzzer=fuzzer)
    base = build_base(base_spec, tmp_path / "run" / "guest" / "initramfs.cpio.gz")
    out = base.archive
    members = set(list_archive(out))
    libs = shared_libraries(fake_agent)
    assert any("ld-linux" in str(lib) for lib in libs), libs
    assert any(lib.name.startswith("libc.so") for lib in libs), libs
    for lib in libs:
        assert str(lib).lstrip("/") in members
    expected = {"init", "bin/busybox", "bin/uafault-agent", "bin/uafault-fuzz", "dev", "proc", "sys", "tmp"}
    expected |= {f"bin/{applet}" for applet in INIT_APPLETS}
    assert expected <= members and not any(m.endswith(".ko") for m in members)
    # Nothing of the staging directory is left next to the archive.
    assert sorted(p.name for p in out.parent.iterdir()) == ["initramfs.cpio.gz"]

    # A program of the job brings only the libraries the base lacks.
    program = tmp_path / "repro"
    shutil.copy("/bin/true", program)
    job = build_job(JobSpec(agent_args=("--seed", "7"), modules=tuple(modules), files=(("/plan.txt", "a\n"),),
                            programs=(("/bin/repro", program),)),
                    tmp_path / "job.img", base.libraries)
    assert job.stat().st_size == JOB_DISK_BYTES and job.read_bytes()[:6] == b"070701"
    assert set(list_archive(job)) == {"job.sh", "lib/modules/uafault.ko", "lib/modules/uafault_example.ko",
                                  "plan.txt", "bin/repro", "bin", "lib", "lib/modules"}


def test_a_job_too_big_for_its_disk_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initramfs, "JOB_DISK_BYTES", 1024)
    with pytest.raises(HarnessError, match="job is 0 MiB .* its disk holds 0 MiB"):
        build_job(JobSpec(files=(("/plan.txt", "x" * 4096),)), tmp_path / "job.img")
    assert not (tmp_path / "job.img").exists()


def test_the_base_is_built_once_per_content(tmp_path: Path, fake_agent: Path) -> None:
    spec = BaseSpec(busybox=_busybox(), agent=fake_agent)
    first = cached_base(spec, tmp_path).archive
    built = first.stat().st_ino  # a rebuild is written anew and renamed over it
    assert cached_base(spec, tmp_path).archive == first and first.stat().st_ino == built
    fake_agent.write_bytes(fake_agent.read_bytes() + b"\0")
    second = cached_base(spec, tmp_path).archive
    assert second != first and second.is_file()


def test_archive_entries_have_the_right_kinds(tmp_path: Path, fake_agent: Path) -> None:
    out = build_base(BaseSpec(busybox=_busybox(), agent=fake_agent), tmp_path / "i.cpio.gz").archive
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


def _applets_used(text: str) -> set[str]:
    shell_words = ("#", "/", "rc=", "exec", "if", "else", "fi", "for", "done", "while", "[", "cd", "then",
                   "read", ".", "serial=", "params=", "case", "esac")
    return {l.split()[0] for l in text.splitlines() if l.strip() and not l.lstrip().startswith(shell_words)}


def test_init_script_prepares_the_machine_and_waits_for_its_job() -> None:
    text = render_init()
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    for mount in ("-t devtmpfs devtmpfs /dev", "-t proc proc /proc", "-t sysfs sysfs /sys",
                  "-t debugfs debugfs /sys/kernel/debug", "-t tmpfs tmpfs /tmp"):
        assert f"mount {mount}" in lines
    zram = next(l for l in lines if "zram0/disksize" in l)
    assert "echo 64M > /sys/block/zram0/disksize" in zram
    assert "mkswap /dev/zram0" in zram and "swapon /dev/zram0" in zram
    # Fault injection says one line per injected fault, no stack dump.
    assert "for attr in fail_usercopy failslab fail_page_alloc fail_iommufd; do" in lines
    assert "    echo 1 > /sys/kernel/debug/$attr/verbose 2>/dev/null" in lines
    # Set-up, then the snapshot point, then the job: found by its serial,
    # read once an archive is there, every disk's cache dropped first.
    wait = lines.index(f'echo "{INIT_JOB_WAIT}"')
    assert wait > lines.index(zram)
    tail = "\n".join(lines[wait:])
    head = "\n".join(lines[:wait])
    assert f'[ "$serial" = {JOB_SERIAL} ]' in head and 'echo "uafault-init: no job disk' in head
    assert 'read -r -n 6 magic < $job && [ "$magic" = 070701 ] && break' in tail
    assert tail.count("blockdev --flushbufs") == 2
    assert lines[-3:] == ["cd / && cpio -idmu < $job 2>/dev/null", f'echo "{INIT_JOB_READ}"', ". /job.sh"]
    assert _applets_used(text) <= set(INIT_APPLETS)
    assert subprocess.run(["sh", "-n"], input=text.encode(), check=False).returncode == 0


def test_job_script_runs_the_agent_once_and_powers_off() -> None:
    text = render_job(["--module", "/lib/modules/uafault.ko", "--targets", "copy *"])
    lines = text.splitlines()
    start = lines.index(f'echo "{INIT_AGENT_START}"')
    assert lines[start + 1] == "/bin/uafault-agent --module /lib/modules/uafault.ko --targets 'copy *'"
    assert lines[start + 2:] == ["rc=$?", f'echo "{INIT_AGENT_EXIT} $rc"', "poweroff -f"]
    assert "panic_on_oops" not in text
    # The kernel boots with oops=panic; a job whose targets oops on purpose
    # turns it off before the agent starts.
    crash = render_job(["--allow-crash"], allow_crash=True).splitlines()
    assert crash[crash.index(f'echo "{INIT_AGENT_START}"') - 1] == "echo 0 > /proc/sys/kernel/panic_on_oops"
    assert _applets_used(text) <= set(INIT_APPLETS)
    assert subprocess.run(["sh", "-n"], input=text.encode(), check=False).returncode == 0
