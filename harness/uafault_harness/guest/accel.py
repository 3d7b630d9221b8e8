"""KVM or TCG for a guest boot.  `auto` (the default) uses KVM where a
probe shows it boots a kernel, TCG otherwise; `kvm` insists; `tcg` never
probes.  /dev/kvm is often there and broken (nested KVM: on the machines
this was written on a real-mode guest runs, but the kernel's decompressor
never finishes), so the probe boots the guest kernel itself and must see
its first line within seconds.  The answer is kept per host boot and QEMU
binary, so a broken KVM costs its few seconds once."""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.errors import ExitCode, HarnessError

ACCELS = ("auto", "kvm", "tcg")
DEFAULT_ACCEL = "auto"
# The default of every booting command's --accel, so `test` hands its
# choice to the commands it runs.
ACCEL_ENV = "UAFAULT_ACCEL"
KVM_DEVICE = "/dev/kvm"
# In the cache: the probe's answer for this host boot.
ACCEL_CACHE_NAME = "kvm-probe.json"
# linux/kvm.h: _IO(KVMIO, 0x00) and _IO(KVMIO, 0x01); the API is 12 since 2.6.22.
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12
# Under a working KVM the kernel prints its first line well within a
# second, under TCG in about two; a broken one never does.
FIRST_LINE_SECONDS = 6.0
PANIC_SECONDS = 20.0
FIRST_LINE = "Linux version"
PROBE_DONE = "Kernel panic"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

KvmProbe = Callable[[list[str]], tuple[bool, str]]


@dataclass(frozen=True)
class AccelChoice:
    kvm: bool
    note: str

    @property
    def name(self) -> str:
        return "kvm" if self.kvm else "tcg"


def accel_arg(text: str) -> str:
    """argparse type of --accel; argparse runs it on the default too, which
    may come from $UAFAULT_ACCEL."""
    if text not in ACCELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(ACCELS)} (from --accel or ${ACCEL_ENV})")
    return text


def default_accel() -> str:
    return os.environ.get(ACCEL_ENV, DEFAULT_ACCEL)


def kvm_device_problem(device: str = KVM_DEVICE) -> str | None:
    """Why /dev/kvm cannot run a VM at all (no device, no permission, an
    old API, no VM), or None: milliseconds, before any boot."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"{device}: {exc.strerror}"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        if version != KVM_API_VERSION:
            return f"{device}: KVM API {version}, not {KVM_API_VERSION}"
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
    except OSError as exc:
        return f"{device}: cannot create a VM ({errno.errorcode.get(exc.errno or 0, exc.errno)})"
    finally:
        os.close(fd)
    return None


def probe_boot(cmd: list[str]) -> tuple[bool, str]:
    """Boot cmd (the guest kernel, no initrd, panic=-1): its first line must
    come within FIRST_LINE_SECONDS and its panic (no root) within
    PANIC_SECONDS.  QEMU is killed the moment either is late."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    first_at: float | None = None
    try:
        while True:
            elapsed = time.monotonic() - start
            if first_at is None and FIRST_LINE.encode() in seen:
                first_at = elapsed
            if PROBE_DONE.encode() in seen:
                return True, f"a KVM probe boot reached the kernel in {first_at or elapsed:.1f} s"
            limit = FIRST_LINE_SECONDS if first_at is None else PANIC_SECONDS
            if elapsed >= limit:
                what = "printed no kernel line" if first_at is None else "did not finish booting"
                return False, f"a KVM probe boot {what} in {limit:.0f} s"
            if not sel.select(timeout=limit - elapsed):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                proc.wait()
                if PROBE_DONE.encode() in seen:
                    continue
                tail = (seen.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
                return False, f"a KVM probe boot failed (QEMU exit {proc.returncode}: {tail[:160]})"
            seen = (seen + chunk)[-65536:]
    finally:
        sel.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def _probe_key(qemu: Path) -> dict[str, object]:
    try:
        boot_id = BOOT_ID.read_text().strip()
    except OSError:
        boot_id = ""
    stat = qemu.stat()
    return {"boot_id": boot_id, "qemu": str(qemu), "qemu_mtime": stat.st_mtime_ns, "qemu_size": stat.st_size}


def cached_probe(cache: Path, qemu: Path, cmd: list[str], probe: KvmProbe) -> tuple[bool, str]:
    """The probe's answer for this host boot and QEMU, probing only once."""
    key = _probe_key(qemu)
    try:
        kept = json.loads(cache.read_text())
        if kept.get("key") == key and key["boot_id"]:
            return bool(kept["ok"]), f"{kept['why']} (probed {kept['when']})"
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    ok, why = probe(cmd)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "ok": ok, "why": why,
                               "when": time.strftime("%Y-%m-%d %H:%M:%S")}))
    os.replace(tmp, cache)
    return ok, why


def probe_kvm(cmd: list[str]) -> tuple[bool, str]:
    """/dev/kvm must make a VM, then cmd must boot under it."""
    why = kvm_device_problem()
    return (False, why) if why is not None else probe_boot(cmd)


def select_accel(want: str, qemu: Path, probe_cmd: list[str], cache: Path,
                 probe: KvmProbe = probe_kvm) -> AccelChoice:
    """TCG, or KVM when asked for (kvm) or allowed (auto) and it works; a
    KVM that was insisted on and does not work is an error."""
    if want == "tcg":
        return AccelChoice(False, "TCG (--accel tcg)")
    ok, why = cached_probe(cache, qemu, probe_cmd, probe)
    if ok:
        return AccelChoice(True, f"KVM: {why}")
    if want == "kvm":
        raise HarnessError(ExitCode.MISSING_PREREQ, f"--accel kvm: KVM does not work here: {why}")
    return AccelChoice(False, f"TCG: {why}")
