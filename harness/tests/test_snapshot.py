"""Saved guests (guest/snapshot.py): when one is made, what it is keyed on,
and what a boot that cannot make one is told."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.guest import snapshot
from uafault_harness.guest.protocol import INIT_JOB_WAIT
from uafault_harness.guest.qemu import Watchdog
from uafault_harness.guest.snapshot import BOOT_ENV, Template, boot_mode, template, template_key

# Plays QEMU to the snapshot point, then its monitor: the descriptor that
# `getfd` passes is where `migrate fd:state` writes the guest.
FAKE_QEMU = r'''#!/usr/bin/env python3
import json, os, socket, sys, time
path = next(a for a in sys.argv if a.startswith("unix:"))[5:].split(",")[0]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(1)
print("[    0.100000] Linux version 6.12", flush=True)
if os.environ.get("FAKE_NO_WAIT"):
    sys.exit(1)
print("uafault-init: zram swap on\nMARKER", flush=True)
conn, _ = server.accept()
conn.sendall(b'{"QMP": {}}\n')
buf, fds, log = b"", [], open(os.environ["FAKE_QMP_LOG"], "a")
while True:
    msg, anc, _, _ = socket.recv_fds(conn, 4096, 4)
    if not msg:
        break
    fds += anc
    buf += msg
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        command = json.loads(line)
        log.write(command["execute"] + "\n")
        log.flush()
        if command["execute"] == "migrate":
            os.write(fds[-1], b"GUEST STATE")
        reply = {"status": "completed"} if command["execute"] == "query-migrate" else {}
        conn.sendall(json.dumps({"return": reply}).encode() + b"\n")
time.sleep(60)
'''


@pytest.fixture
def fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    qemu = tmp_path / "qemu"
    qemu.write_text(FAKE_QEMU.replace("/usr/bin/env python3", sys.executable, 1).replace("MARKER", INIT_JOB_WAIT))
    qemu.chmod(0o755)
    monkeypatch.setenv("FAKE_QMP_LOG", str(tmp_path / "qmp.log"))
    return qemu


def test_the_boot_mode_is_checked() -> None:
    assert boot_mode({}) == "snapshot" and boot_mode({BOOT_ENV: "cold"}) == "cold"
    with pytest.raises(HarnessError, match=r"\$UAFAULT_BOOT='warm': expected one of snapshot, cold") as err:
        boot_mode({BOOT_ENV: "warm"})
    assert err.value.code is ExitCode.USAGE


def test_the_key_follows_the_command_and_the_kernels_bytes(tmp_path: Path) -> None:
    bzimage = tmp_path / "bzImage"
    bzimage.write_bytes(b"kernel 1")
    cmd = ["qemu-system-x86_64", "-kernel", str(bzimage), "-append", "console=ttyS0"]
    key = template_key(cmd, bzimage)
    assert template_key(list(cmd), bzimage) == key
    assert template_key(cmd[:-1] + ["console=ttyS0 oops=panic"], bzimage) != key
    bzimage.write_bytes(b"kernel 2")
    assert template_key(cmd, bzimage) != key


def test_a_template_is_saved_at_the_job_wait_and_then_reused(tmp_path: Path, fake_qemu: Path) -> None:
    root = tmp_path / "snapshots"
    made_with: list[Path] = []

    def make_cmd(work: Path) -> list[str]:
        made_with.append(work)
        return [str(fake_qemu)]

    first = template(root, "k1", make_cmd)
    assert isinstance(first, Template) and first.made_seconds is not None
    assert first.state.read_bytes() == b"GUEST STATE"
    # The console up to the snapshot point, which a restored boot's log starts with.
    assert first.console == ("[    0.100000] Linux version 6.12", "uafault-init: zram swap on", INIT_JOB_WAIT)
    # The monitor saw a descriptor first, then an unthrottled migration.
    assert (tmp_path / "qmp.log").read_text().split()[:4] == ["qmp_capabilities", "getfd", "migrate-set-parameters",
                                                              "migrate"]
    # Nothing of the boot is left: its blank disks, the socket, the partial directory.
    assert not made_with[0].exists() and sorted(p.name for p in root.iterdir()) == [".k1.lock", "k1"]
    again = template(root, "k1", make_cmd)
    assert isinstance(again, Template) and again.made_seconds is None and again.state == first.state
    assert len(made_with) == 1


def test_a_boot_that_never_waits_for_its_job_says_so_and_leaves_nothing(tmp_path: Path, fake_qemu: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NO_WAIT", "1")
    monkeypatch.setattr(snapshot, "TEMPLATE_WATCHDOG", Watchdog(overall=30, silence=30, grace=0))
    root = tmp_path / "snapshots"
    why = template(root, "k1", lambda work: [str(fake_qemu)])
    assert isinstance(why, str) and why.startswith("the boot never reached its job wait (QEMU exited 1")
    assert [p.name for p in root.iterdir()] == [".k1.lock"]


def test_only_the_newest_templates_are_kept(tmp_path: Path, fake_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "TEMPLATES_KEPT", 2)
    root = tmp_path / "snapshots"
    for key in ("a", "b", "c"):
        assert isinstance(template(root, key, lambda work: [str(fake_qemu)]), Template)
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["b", "c"]
