"""Booting the guest under QEMU with a watchdog, streaming its serial
console line by line to the terminal, a log file and a callback."""

from __future__ import annotations

import ctypes
import enum
import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from ..core.agent_header import agent_string
from .initramfs import JOB_SERIAL

# TCG "max" exposes SMAP (the uafault_smap target needs it); -smp 2 gives
# the race cases two CPUs.
# Two NUMA nodes, half the memory each: the agent's `migrate` kind asks
# move_pages() for a pinned range on the other node.  Both CPUs sit on
# node 0 (a CPU on each would split the two cores of one socket, whose
# LLC shared across nodes the kernel WARNs about at boot).  movablecore=
# gives each node a ZONE_MOVABLE of its own.
# pci-testdev: a PCI function no driver claims, which uafault.ko takes as
# the device of its DMA targets (behind the IOMMU when there is one).
# No NIC (the default one's iPXE ROM only slowed the firmware), and qboot
# instead of SeaBIOS: it loads the kernel and QEMU's ACPI tables (virtio-
# iommu's VIOT too) and nothing else, 0.2 s less a boot (bench/guest).
# RAM: init_on_free clears all of it at every boot, and a guest's first
# touch of a page is the host's too (clearing 1 GiB took 2.3 s of a boot
# after a pause on this machine, 0.3 s back to back), so as little as
# the kinds need: THP wants 512 MiB left to the kernel (hugepage_init()
# turns it off below that), which 640 MiB leaves the plain kernel; the
# KASAN kernel's shadow and reserves take 170 MiB more (guest/kernels.py).
GUEST_MIB = 640
NUMA_NODES = 2


def memory_args(mib: int) -> tuple[str, ...]:
    args: list[str] = ["-m", str(mib)]
    for node in range(NUMA_NODES):
        args += ["-object", f"memory-backend-ram,id=mem{node},size={mib // NUMA_NODES}M",
                 "-numa", f"node,nodeid={node},memdev=mem{node}" + (",cpus=0-1" if node == 0 else "")]
    return tuple(args)


QEMU_BASE_ARGS: tuple[str, ...] = (
    "-machine", "q35", "-cpu", "max", "-smp", "2", "-nographic", "-no-reboot", "-nic", "none",
    "-bios", "qboot.rom", "-device", "pci-testdev",
)
# panic=-1 reboots at once on a panic, which -no-reboot turns into QEMU
# exiting: a dead guest ends the run instead of waiting for the watchdog.
# movablecore: a ZONE_MOVABLE where user pages land, so a long-term pin
# has something to migrate (the agent's `movable` kind checks it did).
# null_blk.*: one device whose data lives in memory, so a direct read sees
# what a write left (the agent's dio_*_null_blk paths), 1 GiB at most.
# init_on_free: a freed page reads back zeroes, never its old bytes, so a
# target that uses memory after giving it back sees nothing plausible.
# rcupdate.rcu_expedited: every synchronize_rcu() expedited, as syzbot
# boots its kernels; the normal grace periods of the agent's module
# unloads took 0.3 s of every TCG boot (bench/profile: a batch's cases
# and unload 0.62 s, 0.32 s after).
# vivid.*: one video capture node (its only input S-Video), with a scaler,
# so a frame can be as small as 16x16 (the agent's v4l2 path).
BASE_APPEND = ("console=ttyS0 panic=-1 movablecore=256M null_blk.nr_devices=1 null_blk.memory_backed=1 "
               "null_blk.gb=1 init_on_free=1 rcupdate.rcu_expedited=1 vivid.node_types=0x1 vivid.num_inputs=1 vivid.input_types=0x2 "
               "vivid.ccs_cap_mode=4")
# Any oops is a bug: panic so the run stops on the first one instead of
# continuing on a kernel in an unknown state.  A boot with --allow-crash,
# whose SMAP target oopses on purpose and must survive that, turns it off
# once booted (its job, guest/initramfs.py), so its boot is as strict and
# its command line (a snapshot's key) the same.
OOPS_PANIC = "oops=panic"
DEFAULT_TIMEOUT = 900
DEFAULT_SILENCE_TIMEOUT = 300
# After the agent's exit marker the guest only has to power off.
POWEROFF_GRACE = 30
# The boot's disks: guest/disks.py.
# The agent finds each disk by its serial, whatever QEMU's order.
SCRATCH_SERIAL = agent_string("SCRATCH_SERIAL")
EXT4_SERIAL = agent_string("EXT4_SERIAL")
# --coverage's disk (guest/coverage.py reads it).
COVERAGE_SERIAL = agent_string("COVERAGE_SERIAL")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class QemuEnd(enum.Enum):
    """How QEMU ended (not a case's verdict: core/verdicts.py)."""
    EXITED = "exited"        # QEMU ended by itself (poweroff, panic=-1)
    HALTED = "halted"        # the guest finished but QEMU stayed; we stopped it
    TIMEOUT = "timeout"      # the watchdog killed QEMU


@dataclass(frozen=True)
class Watchdog:
    overall: float = DEFAULT_TIMEOUT
    silence: float = DEFAULT_SILENCE_TIMEOUT
    grace: float = POWEROFF_GRACE


@dataclass(frozen=True)
class RunOutcome:
    end: QemuEnd
    reason: str
    returncode: int | None
    wall_seconds: float


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the harness dies, so a killed
    harness (kill -9, a CI timeout) leaves no QEMU behind; a halted guest's
    QEMU would otherwise spin forever."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# What a user's `append` may not set: the harness's own console, panic
# and memory layout, and what runs as init.
_RESERVED_PARAMS = ("console", "panic", "oops", "movablecore", "init", "rdinit", "null_blk.nr_devices",
                    "null_blk.memory_backed", "null_blk.gb", "init_on_free", "kasan.fault", "vivid.node_types",
                    "vivid.num_inputs", "vivid.input_types", "vivid.ccs_cap_mode")
_PARAM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@%-]*)?$")


def append_problem(extra: str) -> str | None:
    """Why extra cannot go on the guest's kernel command line, or None:
    words `name` or `name=value` of plain characters (no quotes, no
    spaces inside a value), none of them a parameter the harness sets."""
    for word in extra.split():
        if not _PARAM.fullmatch(word):
            return f"{word!r} is not a kernel parameter (name or name=value, no quotes)"
        name = word.split("=", 1)[0]
        if name in _RESERVED_PARAMS:
            return f"{name} is set by the harness ({BASE_APPEND} {OOPS_PANIC})"
    return None


def kernel_append(extra: str = "", own: str = "") -> str:
    """The command line: the harness's, a kernel's own (guest/kernels.py),
    then the user's extra."""
    parts = [BASE_APPEND, own, OOPS_PANIC, extra]
    return " ".join(p for p in parts if p)


def _virtio_disk(image: Path, ident: str, platform: bool, serial: str = "") -> list[str]:
    """A virtio-blk disk; platform: its DMA through the DMA API (and the
    IOMMU), which needs a modern-only device."""
    options = ",disable-legacy=on,iommu_platform=on" if platform else ""
    options += f",serial={serial}" if serial else ""
    return ["-drive", f"file={image},if=none,format=raw,id={ident}",
            "-device", f"virtio-blk-pci,drive={ident}{options}"]


def qemu_command(qemu: Path, bzimage: Path, initrd: Path | None, append: str, kvm: bool,
                 disk: Path | None = None, devices: tuple[str, ...] = (), disk_platform: bool = False,
                 ext4: Path | None = None, coverage: Path | None = None, memory_mib: int = GUEST_MIB,
                 job: Path | None = None) -> list[str]:
    # kvm only once guest/accel.py has seen it boot this kernel.
    accel = ["-accel", "kvm" if kvm else "tcg"]
    cmd = [str(qemu), *QEMU_BASE_ARGS, *memory_args(memory_mib), *accel, "-kernel", str(bzimage)]
    if initrd is not None:
        cmd += ["-initrd", str(initrd)]
    cmd += devices
    if disk is not None:
        cmd += _virtio_disk(disk, "disk", disk_platform, SCRATCH_SERIAL)
    if ext4 is not None:
        cmd += _virtio_disk(ext4, "ext4", disk_platform, EXT4_SERIAL)
    if coverage is not None:
        cmd += _virtio_disk(coverage, "coverage", disk_platform, COVERAGE_SERIAL)
    if job is not None:
        cmd += _virtio_disk(job, "job", disk_platform, JOB_SERIAL)
    return cmd + ["-append", append]


def incoming_args(state: Path) -> list[str]:
    """Start from a saved guest (guest/snapshot.py) instead of booting."""
    return ["-incoming", f"exec:cat {shlex.quote(str(state))}"]


def run_console(
    cmd: list[str],
    console_log: Path,
    on_line: Callable[[str, float | None], None],
    finished: Callable[[], bool],
    watchdog: Watchdog,
    echo: IO[str] | None,
    clock: Callable[[], float] = time.monotonic,
    halted: Callable[[], bool] = lambda: False,
    preamble: tuple[str, ...] = (),
) -> RunOutcome:
    """Run QEMU until it exits, the guest has halted (halted(): nothing
    more can come, so QEMU is stopped at once) or the watchdog fires.  Every console line is
    appended and flushed to console_log before anything else sees it, so a
    killed run keeps everything that was printed.  preamble: the console
    of the boot a restored guest was saved from, logged and seen first
    (with no time: it was printed before this QEMU started)."""
    start = clock()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    pending = b""
    last_output = start
    done_at: float | None = None
    stop: tuple[QemuEnd, str] | None = None
    try:
        with open(console_log, "w", encoding="utf-8", errors="backslashreplace") as log:
            def show(line: str, seconds: float | None) -> None:
                log.write(line + "\n")
                log.flush()
                if echo is not None:
                    echo.write(line + "\n")
                    echo.flush()
                on_line(line, seconds)

            def emit(raw: bytes, now: float) -> None:
                show(raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n"), now - start)

            for line in preamble:
                show(line, None)

            while True:
                now = clock()
                if halted():
                    stop = (QemuEnd.HALTED, "the guest kernel halted; QEMU stopped")
                    break
                if done_at is None and finished():
                    done_at = now
                deadlines = [(start + watchdog.overall, QemuEnd.TIMEOUT,
                              f"overall timeout: QEMU still running after {watchdog.overall:g} s"),
                             (last_output + watchdog.silence, QemuEnd.TIMEOUT,
                              f"silence timeout: no console output for {watchdog.silence:g} s")]
                if done_at is not None:
                    deadlines.append((done_at + watchdog.grace, QemuEnd.HALTED,
                                      f"the guest finished but QEMU did not exit within {watchdog.grace:g} s"))
                deadline, verdict, reason = min(deadlines, key=lambda d: d[0])
                if now >= deadline:
                    stop = (verdict, reason)
                    break
                if not sel.select(timeout=deadline - now):
                    continue
                chunk = os.read(fd, 65536)
                now = clock()
                if not chunk:
                    break
                last_output = now
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    emit(raw, now)
            if pending:
                emit(pending, clock())
    finally:
        sel.close()
        if proc.poll() is None:
            # Its own session: the group is QEMU and nothing of anyone else's.
            os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        proc.stdout.close()
    wall = clock() - start
    if stop is not None:
        return RunOutcome(stop[0], stop[1], rc, wall)
    return RunOutcome(QemuEnd.EXITED, f"QEMU exited {rc}", rc, wall)
