"""The QEMU runner against fake "qemu" programs: watchdog verdicts, the
console kept on disk, and KVM only on request."""

from __future__ import annotations

import io
import shutil
import sys
import time
from pathlib import Path

import pytest

from uafault_harness.core.errors import HarnessError
from uafault_harness.guest.console import ConsoleTracker
from uafault_harness.guest.kernels import BOOT_KERNELS, DMA_MODES, KERNELS, boot_kernel
from uafault_harness.guest.disks import DISK_BYTES, EXT4_BYTES, ext4_disk, scratch_disk
from uafault_harness.guest.qemu import (BASE_APPEND, EXT4_SERIAL, SCRATCH_SERIAL, QemuEnd, Watchdog, kernel_append,
                                        qemu_command, run_console)

# Prints lines, then behaves as told: exits, hangs silently, or chatters forever.
FAKE_QEMU = r'''
import sys, time
mode = sys.argv[1]
for line in ["SeaBIOS", "[    0.000000] Linux version 6.12.117", "uafault-init: agent start",
             "KTAP version 1", "1..1", "    # uafault-case: s.c"]:
    print(line, end="\r\n", flush=True)
if mode == "hang":
    time.sleep(60)
elif mode == "chatter":
    while True:
        print("[    1.000000] still here", flush=True)
        time.sleep(0.1)
elif mode == "no-poweroff":
    print("uafault-init: agent exit 0", flush=True)
    time.sleep(60)
elif mode == "halted":
    print("uafault-init: agent exit 0", flush=True)
    print("[   12.972926] reboot: Power off not available: System halted instead", flush=True)
    time.sleep(60)
else:
    sys.stdout.write("    ok 1 c\nok 1 s\nuafault-init: agent exit 0\npartial last line")
'''


@pytest.fixture
def fake_qemu(tmp_path: Path) -> Path:
    script = tmp_path / "fake_qemu.py"
    script.write_text(FAKE_QEMU)
    return script


def _run(fake_qemu: Path, tmp_path: Path, mode: str, watchdog: Watchdog):  # type: ignore[no-untyped-def]
    tracker = ConsoleTracker()
    echo = io.StringIO()
    log = tmp_path / "console.log"
    started = time.monotonic()
    outcome = run_console([sys.executable, str(fake_qemu), mode], log, tracker.feed,
                          lambda: tracker.agent_exit is not None, watchdog, echo,
                          halted=lambda: tracker.powered_down)
    return outcome, tracker, log, echo, time.monotonic() - started


def test_silent_guest_is_killed_with_timeout_and_console_kept(fake_qemu: Path, tmp_path: Path) -> None:
    outcome, tracker, log, echo, took = _run(fake_qemu, tmp_path, "hang", Watchdog(overall=30, silence=1.5))
    assert outcome.end is QemuEnd.TIMEOUT and "silence timeout" in outcome.reason
    assert took < 10
    kept = log.read_text().splitlines()
    assert kept[-1] == "    # uafault-case: s.c" and "\r" not in log.read_text()
    assert echo.getvalue().splitlines() == kept
    assert tracker.case == "s.c" and tracker.first_case_seconds is not None


def test_overall_timeout_fires_although_the_guest_chatters(fake_qemu: Path, tmp_path: Path) -> None:
    outcome, _, log, _, took = _run(fake_qemu, tmp_path, "chatter", Watchdog(overall=1.5, silence=30))
    assert outcome.end is QemuEnd.TIMEOUT and "overall timeout" in outcome.reason
    assert took < 10 and "still here" in log.read_text()


def test_guest_that_exits_keeps_every_line(fake_qemu: Path, tmp_path: Path) -> None:
    outcome, tracker, log, _, _ = _run(fake_qemu, tmp_path, "exit", Watchdog(overall=30, silence=30))
    assert outcome.end is QemuEnd.EXITED and outcome.returncode == 0
    assert tracker.agent_exit == 0
    assert log.read_text().endswith("uafault-init: agent exit 0\npartial last line\n")


def test_guest_that_does_not_power_off_is_stopped(fake_qemu: Path, tmp_path: Path) -> None:
    outcome, tracker, _, _, took = _run(fake_qemu, tmp_path, "no-poweroff",
                                        Watchdog(overall=30, silence=30, grace=1))
    assert outcome.end is QemuEnd.HALTED and tracker.agent_exit == 0
    assert took < 10


def test_guest_kernel_that_halts_is_stopped_without_the_grace(fake_qemu: Path, tmp_path: Path) -> None:
    outcome, tracker, log, _, took = _run(fake_qemu, tmp_path, "halted",
                                          Watchdog(overall=30, silence=30, grace=20))
    assert outcome.end is QemuEnd.HALTED and "halted" in outcome.reason
    assert tracker.agent_exit == 0 and tracker.powered_down
    assert took < 10 and log.read_text().splitlines()[-1].endswith("System halted instead")


def test_qemu_command_is_tcg_unless_kvm_was_chosen(tmp_path: Path) -> None:
    tcg = qemu_command(Path("/usr/bin/qemu-system-x86_64"), tmp_path / "bzImage", tmp_path / "i.cpio.gz",
                       kernel_append(), kvm=False)
    assert tcg[tcg.index("-accel") + 1] == "tcg"
    assert not any("kvm" in arg for arg in tcg)
    for a, b in (("-cpu", "max"), ("-smp", "2"), ("-m", "640"), ("-initrd", str(tmp_path / "i.cpio.gz"))):
        assert tcg[tcg.index(a) + 1] == b
    # Two NUMA nodes of half the memory each (the migrate kind), the CPUs on node 0.
    nodes = [tcg[i + 1] for i, a in enumerate(tcg) if a == "-numa"]
    assert nodes == ["node,nodeid=0,memdev=mem0,cpus=0-1", "node,nodeid=1,memdev=mem1"]
    assert "memory-backend-ram,id=mem1,size=320M" in tcg
    assert "-nographic" in tcg and "-no-reboot" in tcg
    assert tcg[-2:] == ["-append", f"{BASE_APPEND} oops=panic"]
    kvm = qemu_command(Path("q"), tmp_path / "bzImage", None, kernel_append("x=1"), kvm=True)
    assert kvm[kvm.index("-accel") + 1] == "kvm" and "-initrd" not in kvm and kvm[-1] == f"{BASE_APPEND} oops=panic x=1"
    # KASAN reports every bug of a boot; a freed page never reads back its bytes.
    kasan = boot_kernel("kasan")
    assert kernel_append(own=kasan.append) == f"{BASE_APPEND} kasan.fault=panic oops=panic"
    assert "init_on_free=1" in BASE_APPEND
    assert kernel_append("x=1", "swiotlb=force") == f"{BASE_APPEND} swiotlb=force oops=panic x=1"
    disk = scratch_disk(tmp_path)
    assert disk.stat().st_size == DISK_BYTES and disk.stat().st_blocks == 0
    with_disk = qemu_command(Path("q"), tmp_path / "bzImage", None, "", kvm=False, disk=disk)
    assert with_disk[with_disk.index("-drive") + 1] == f"file={disk},if=none,format=raw,id=disk"
    assert with_disk[with_disk.index("-drive") + 3] == f"virtio-blk-pci,drive=disk,serial={SCRATCH_SERIAL}"


def test_each_kernel_boots_its_dma_mapping(tmp_path: Path) -> None:
    """The iommu kernel adds the IOMMU and puts the disk's DMA through it;
    every kernel has the PCI device uafault.ko's DMA targets use."""
    assert [k.name for k in BOOT_KERNELS][:2] == ["plain", "kasan"] and {"swiotlb", "iommu"} <= set(KERNELS)
    assert {k.dma for k in BOOT_KERNELS} == set(DMA_MODES)
    iommu = boot_kernel("iommu")
    cmd = qemu_command(Path("q"), tmp_path / "bzImage", None, "", kvm=False, disk=tmp_path / "d.img",
                       devices=iommu.qemu_args, disk_platform=iommu.disk_platform)
    assert cmd[cmd.index("-device") + 1] == "pci-testdev" and "virtio-iommu-pci" in cmd
    assert any("iommu_platform=on" in arg for arg in cmd) and f"file={tmp_path / 'd.img'},if=none,format=raw,id=disk" in cmd
    plain = qemu_command(Path("q"), tmp_path / "bzImage", None, "", kvm=False)
    assert "virtio-iommu-pci" not in plain and "pci-testdev" in plain
    with pytest.raises(HarnessError, match="no guest kernel 'ubsan'"):
        boot_kernel("ubsan")


def test_the_ext4_disk_is_a_real_ext4_the_agent_finds_by_serial(tmp_path: Path) -> None:
    mkfs = shutil.which("mkfs.ext4") or "/usr/sbin/mkfs.ext4"
    image = ext4_disk(tmp_path, Path(mkfs))
    with image.open("rb") as f:
        f.seek(0x438)  # the superblock's s_magic
        assert f.read(2) == b"\x53\xef"
    assert image.stat().st_blocks * 512 < EXT4_BYTES // 2  # sparse
    assert (EXT4_SERIAL, SCRATCH_SERIAL) == ("uafault-ext4", "uafault-scratch")  # read from protocol.h
    for platform in (False, True):
        cmd = qemu_command(Path("q"), tmp_path / "bzImage", None, "", kvm=False, disk_platform=platform, ext4=image)
        device = cmd[cmd.index(f"file={image},if=none,format=raw,id=ext4") + 2]
        assert device.endswith(f"serial={EXT4_SERIAL}") and ("iommu_platform=on" in device) == platform
    with pytest.raises(OSError, match="false"):
        ext4_disk(tmp_path, Path("/bin/false"))


def test_the_kasan_guest_gets_the_ram_thp_needs_beside_its_shadow(tmp_path: Path) -> None:
    """THP is off below 512 MiB of kernel-visible RAM: the plain guests get
    640 MiB, KASAN (170 MiB of shadow and reserves) 1 GiB."""
    from uafault_harness.guest.kernels import boot_kernel

    assert {boot_kernel(k).memory_mib for k in ("plain", "swiotlb", "iommu")} == {640}
    cmd = qemu_command(Path("q"), tmp_path / "bzImage", None, "", kvm=False, memory_mib=boot_kernel("kasan").memory_mib)
    assert cmd[cmd.index("-m") + 1] == "1024"
    assert "memory-backend-ram,id=mem0,size=512M" in cmd and "memory-backend-ram,id=mem1,size=512M" in cmd
