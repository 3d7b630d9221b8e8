"""Booting from a snapshot: a guest booted once to its /init's job wait
(guest/initramfs.py) is saved with QEMU's migration stream, and every boot
of the same kernel, base archive and QEMU command restores it and goes on
from there with its own job disk.  The kernel's boot and /init's set-up
(1.5-3 s under TCG, most of a short batch) are paid once per build, not
once per boot; a restore takes about 0.15 s.

What the restored guest shares with the saved one is only what no job
has touched: the kernel booted, the file systems mounted, the zram swap
on.  Each restore's disks are new files; /init drops the block cache of
every disk before it reads its job, so nothing of the saved guest's disks
is read back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from .protocol import INIT_JOB_WAIT
from .qemu import Watchdog, run_console

BOOT_ENV = "UAFAULT_BOOT"
# snapshot: restore a saved guest where one is (or can be) made; cold:
# boot the kernel every time (a boot-time problem, a kernel change to try).
BOOT_MODES = ("snapshot", "cold")
SNAPSHOT_DIRNAME = "snapshots"
STATE_NAME = "state"
TEMPLATE_CONSOLE = "console.log"
# Part of every key: a change to what a template holds makes new ones.
SNAPSHOT_FORMAT = "uafault-snapshot-1"
# Saved guests kept in the cache (70-220 MB each: zero pages are not
# stored), newest used first.
TEMPLATES_KEPT = 10
# A template boot is a whole boot (a TCG KASAN kernel on a busy host).
TEMPLATE_WATCHDOG = Watchdog(overall=600, silence=300, grace=0)
QMP_TIMEOUT = 120.0
# QEMU throttles migration to 128 MiB/s by default; a file has no link to spare.
MIGRATE_BANDWIDTH = 8 << 30


def boot_mode(env: Mapping[str, str] = os.environ) -> str:
    mode = env.get(BOOT_ENV) or BOOT_MODES[0]
    if mode not in BOOT_MODES:
        raise HarnessError(ExitCode.USAGE, f"${BOOT_ENV}={mode!r}: expected one of {', '.join(BOOT_MODES)}")
    return mode


@dataclass(frozen=True)
class Template:
    state: Path
    # The saved boot's console up to the snapshot point: a restored boot's
    # log starts with it, so the log reads as one boot.
    console: tuple[str, ...]
    # Seconds it took to make, when this call made it.
    made_seconds: float | None = None


def template_key(cmd: list[str], bzimage: Path) -> str:
    """What a saved guest depends on: QEMU (binary, arguments, with every
    per-boot file replaced by the caller) and the kernel's bytes (the
    command names the kernel by path only; the base archive is named by
    its digest)."""
    qemu = Path(cmd[0])
    found = shutil.which(str(qemu))
    st = os.stat(found) if found else None
    h = hashlib.sha256(SNAPSHOT_FORMAT.encode())
    h.update(f"{found}:{st.st_size if st else 0}:{st.st_mtime_ns if st else 0}\0".encode())
    h.update("\0".join(cmd[1:]).encode())
    h.update(bzimage.read_bytes())
    return h.hexdigest()[:24]


def _load(directory: Path) -> Template | None:
    state, console = directory / STATE_NAME, directory / TEMPLATE_CONSOLE
    try:
        os.utime(directory)  # the newest used is the last pruned
        lines = console.read_text(errors="replace").splitlines()
    except OSError:
        # None yet, or another command pruned it just now.
        return None
    return Template(state, tuple(lines)) if state.is_file() else None


class _Qmp:
    """Just enough of QEMU's monitor protocol to save a running guest."""

    def __init__(self, path: Path, timeout: float = QMP_TIMEOUT) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rw", encoding="utf-8")
        self.file.readline()  # the greeting
        self.call("qmp_capabilities")

    def call(self, command: str, fd: int | None = None, **arguments: object) -> object:
        request = (json.dumps({"execute": command, "arguments": arguments}) + "\n").encode()
        # The file descriptor travels with the command (SCM_RIGHTS).
        socket.send_fds(self.sock, [request], [fd] if fd is not None else [])
        while True:
            line = self.file.readline()
            if not line:
                raise OSError(f"QMP closed during {command}")
            reply = json.loads(line)
            if "error" in reply:
                raise OSError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            if "return" in reply:
                return reply["return"]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _save(qmp_path: Path, state: Path) -> None:
    """Migrate the running guest into state and wait until it is written.
    The guest keeps running while its memory is copied (it only polls its
    job disk); QEMU stops it for the last pages.  QEMU writes the file
    itself (a descriptor passed to it): a helper process might still be
    writing when QEMU says the migration is complete."""
    qmp = _Qmp(qmp_path)
    fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        qmp.call("getfd", fd=fd, fdname="state")
        qmp.call("migrate-set-parameters", **{"max-bandwidth": MIGRATE_BANDWIDTH})
        qmp.call("migrate", uri="fd:state")
        deadline = time.monotonic() + QMP_TIMEOUT
        while time.monotonic() < deadline:
            info = qmp.call("query-migrate")
            status = info.get("status") if isinstance(info, dict) else None
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise OSError(f"migration {status}: {info.get('error-desc', '')}")  # type: ignore[union-attr]
            time.sleep(0.02)
        raise OSError(f"migration not done after {QMP_TIMEOUT:g} s")
    finally:
        os.close(fd)
        qmp.close()


def _make(directory: Path, make_cmd: Callable[[Path], list[str]]) -> Template | str:
    """Boot to the snapshot point and save the guest into directory; the
    reason when that failed."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="uafault-snap-"))  # short: a socket path has 108 bytes
    part = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    qmp_path = work / "qmp"
    cmd = make_cmd(work) + ["-qmp", f"unix:{qmp_path},server=on,wait=off"]
    lines: list[str] = []
    saved: list[str] = []  # "" once saved, else why not

    def on_line(line: str, _seconds: float | None) -> None:
        if saved:
            return
        lines.append(line)
        if line.startswith(INIT_JOB_WAIT):
            try:
                _save(qmp_path, part / STATE_NAME)
                saved.append("")
            except (OSError, ValueError) as exc:
                saved.append(str(exc))

    try:
        outcome = run_console(cmd, work / TEMPLATE_CONSOLE, on_line, lambda: False, TEMPLATE_WATCHDOG, None,
                              halted=lambda: bool(saved))
        if not saved:
            return f"the boot never reached its job wait ({outcome.reason})"
        if saved[0]:
            return f"saving it failed: {saved[0]}"
        fsutil.atomic_write_text(part / TEMPLATE_CONSOLE, "".join(line + "\n" for line in lines))
        part.chmod(0o755)
        # Under the lock: anything there is a leftover that would not load.
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(part, directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(part, ignore_errors=True)
    made = _load(directory)
    return made if made is not None else "the saved guest is incomplete"


def forget(saved: Template) -> None:
    """Drop a saved guest that would not restore; the next boot makes it again."""
    shutil.rmtree(saved.state.parent, ignore_errors=True)


def _prune(root: Path, keep: Path) -> None:
    dirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and d != keep]
    for old in sorted(dirs, key=lambda d: d.stat().st_mtime)[:max(0, len(dirs) - (TEMPLATES_KEPT - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def template(root: Path, key: str, make_cmd: Callable[[Path], list[str]]) -> Template | str:
    """The saved guest for key, made first if there is none: make_cmd(dir)
    is the boot's QEMU command with blank disks of the same sizes in dir.
    The reason instead when none could be made (the caller boots cold,
    which reports what went wrong as any boot does)."""
    directory = root / key
    found = _load(directory)
    if found is not None:
        return found
    with fsutil.locked(fsutil.dir_lock(directory), "snapshot of a booted guest"):
        found = _load(directory)
        if found is not None:
            return found
        print("[uafault] guest: booting once to save a snapshot (each boot of this kernel and agent "
              "restores it)", flush=True)
        started = time.monotonic()
        made = _make(directory, make_cmd)
        if isinstance(made, Template):
            _prune(root, directory)
            return replace(made, made_seconds=round(time.monotonic() - started, 3))
        return made
