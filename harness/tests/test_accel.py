"""KVM or TCG: the probe against fake QEMUs (a kernel that boots, one
that never prints, one that dies), the answer kept per host boot, and
what each --accel does with it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.guest import accel
from uafault_harness.guest.accel import cached_probe, kvm_device_problem, probe_boot, select_accel

FAKE = {
    "boots": 'print("Booting from ROM..", flush=True); time.sleep(0.2); '
             'print("[ 0.0] Linux version 6.12", flush=True); time.sleep(0.2); '
             'print("Kernel panic - not syncing: VFS", flush=True); time.sleep(600)',
    "silent": 'print("Decompressing Linux... ", flush=True); time.sleep(600)',
    "dies": 'print("qemu: could not access KVM kernel module", flush=True); sys.exit(1)',
}


def fake_qemu(tmp_path: Path, mode: str) -> list[str]:
    script = tmp_path / f"qemu-{mode}"
    script.write_text(f"import sys, time\n{FAKE[mode]}\n")
    return [sys.executable, str(script)]


def test_a_kernel_that_boots_under_kvm_passes_and_is_stopped_at_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Limits no busy machine misses; the fake then sleeps far longer.
    monkeypatch.setattr(accel, "FIRST_LINE_SECONDS", 120.0)
    monkeypatch.setattr(accel, "PANIC_SECONDS", 240.0)
    started = time.monotonic()
    ok, why = probe_boot(fake_qemu(tmp_path, "boots"))
    assert ok and "reached the kernel" in why
    assert time.monotonic() - started < 300  # stopped, not the fake's 600 s sleep


def test_a_kernel_that_never_prints_fails_within_the_first_line_limit(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "FIRST_LINE_SECONDS", 0.5)
    started = time.monotonic()
    ok, why = probe_boot(fake_qemu(tmp_path, "silent"))
    assert not ok and "printed no kernel line in 0 s" in why
    assert time.monotonic() - started < 300  # stopped, not the fake's 600 s sleep


def test_a_qemu_that_dies_says_why(tmp_path: Path) -> None:
    ok, why = probe_boot(fake_qemu(tmp_path, "dies"))
    assert not ok and "QEMU exit 1" in why and "could not access KVM" in why


def test_the_answer_is_kept_for_this_host_boot_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("one\n")
    monkeypatch.setattr(accel, "BOOT_ID", boot_id)
    calls: list[list[str]] = []

    def probe(cmd: list[str]) -> tuple[bool, str]:
        calls.append(cmd)
        return False, "hung"

    cache, qemu = tmp_path / "kvm.json", Path(sys.executable)
    assert cached_probe(cache, qemu, ["q"], probe) == (False, "hung")
    ok, why = cached_probe(cache, qemu, ["q"], probe)
    assert not ok and why.startswith("hung (probed ") and len(calls) == 1
    boot_id.write_text("two\n")
    cached_probe(cache, qemu, ["q"], probe)
    assert len(calls) == 2
    cache.write_text("{not json")
    cached_probe(cache, qemu, ["q"], probe)
    assert len(calls) == 3


def test_each_accel(tmp_path: Path) -> None:
    def never(cmd: list[str]) -> tuple[bool, str]:
        raise AssertionError("probed under --accel tcg")

    qemu = Path(sys.executable)
    assert not select_accel("tcg", qemu, ["q"], tmp_path / "a.json", never).kvm
    auto = select_accel("auto", qemu, ["q"], tmp_path / "b.json", lambda cmd: (False, "no line in 6 s"))
    assert not auto.kvm and auto.note == "TCG: no line in 6 s" and auto.name == "tcg"
    works = select_accel("auto", qemu, ["q"], tmp_path / "c.json", lambda cmd: (True, "booted"))
    assert works.kvm and works.note == "KVM: booted"
    with pytest.raises(HarnessError, match="--accel kvm: KVM does not work here: no line") as err:
        select_accel("kvm", qemu, ["q"], tmp_path / "d.json", lambda cmd: (False, "no line"))
    assert err.value.code is ExitCode.MISSING_PREREQ


def test_a_missing_device_is_said_without_a_boot(tmp_path: Path) -> None:
    # Imported before conftest kept the tests off the host's KVM: the real one.
    assert kvm_device_problem(str(tmp_path / "kvm")) == f"{tmp_path / 'kvm'}: No such file or directory"
    assert kvm_device_problem("/dev/null") is not None
