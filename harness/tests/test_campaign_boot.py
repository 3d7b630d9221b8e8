"""A campaign batch against a fake QEMU that plays the agent's console for
the cases in its initramfs: verdicts land in the store as they appear, and
a guest that dies in a case leaves that case CRASH (with the report's
title) and the rest for the next boot."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from uafault_harness.campaign.batch import BootEnv, Progress, run_batch
from uafault_harness.campaign.known_issues import KnownIssue
from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import RunInfo, Store
from uafault_harness.guest import protocol
from uafault_harness.guest.build import GuestKernel
from uafault_harness.guest.modules import Modules
from uafault_harness.guest import runner
from uafault_harness.guest.runner import GuestArtefacts, PreparedGuest
from uafault_harness.guest.snapshot import Template
from uafault_harness.setup.requirements import GUEST_RUNTIME_TOOLS, find_tool, tool_named

pytestmark = pytest.mark.skipif(
    any(find_tool(tool_named(t)) is None for t in ("busybox", "cpio", "ldd")),
    reason="needs busybox-static, cpio and ldd",
)

# Reads cases.txt out of the job disk (newc, uncompressed) and plays the agent:
# a target named "crashy" oopses and the kernel panics (oops=panic); under
# the fault kind "swapped" the agent could not set the case up, under
# "unmapped" it skips (the kind does not apply).
FAKE_QEMU = r'''#!/usr/bin/env python3
import sys
if "-incoming" in sys.argv:
    print("qemu-system-x86_64: load of migration failed: Invalid argument")
    sys.exit(1)
job = next(a for a in sys.argv if a.endswith(",id=job")).split(",")[0].split("=", 1)[1]
data = open(job, "rb").read()
pos, cases = 0, ""
while pos < len(data):
    namesize, filesize = int(data[pos+94:pos+102], 16), int(data[pos+54:pos+62], 16)
    name = data[pos+110:pos+110+namesize-1].decode()
    pos = (pos + 110 + namesize + 3) & ~3
    if name == "cases.txt":
        cases = data[pos:pos+filesize].decode()
    pos = (pos + filesize + 3) & ~3
    if name == "TRAILER!!!":
        break
out = sys.stdout
out.write("[    1.000000] Run /init as init process\nINIT_JOB_READ\nINIT_AGENT_START\nKTAP version 1\n")
for n, line in enumerate(cases.splitlines(), 1):
    case_id, target = line.split()[:2]
    out.write(f"CASE_MARKER CAMPAIGN_CASE_PREFIX{case_id}\n")
    if target == "crashy":
        out.write("[    2.000000] BUG: unable to handle page fault for address: 00007f0000001000\n")
        out.write("[    2.000001] #PF: supervisor read access in kernel mode\n")
        out.write("[    2.000002] Kernel panic - not syncing: Fatal exception\n")
        sys.exit(0)
    if line.split()[2] == "swapped":
        out.write("# pagemap: 0 of 8 pages swapped out before the call (5 tries)\n")
        out.write("# [SETUP_TAG] MADV_PAGEOUT left 8 of 8 pages resident after 5 tries on every CPU\n")
        out.write(f"ok {n} {case_id} # SKIP set-up failed\n")
        continue
    if line.split()[2] == "unmapped":
        out.write(f"# no range to unmap\nok {n} {case_id} # SKIP\n")
        continue
    out.write(f"ok {n} {case_id}\n")
out.write("INIT_AGENT_EXIT 0\n[    3.000000] reboot: Power down\n")
'''


@pytest.fixture
def guest(tmp_path: Path) -> PreparedGuest:
    qemu = tmp_path / "qemu-system-x86_64"
    script = FAKE_QEMU.replace("/usr/bin/env python3", sys.executable, 1)
    # The protocol's words from its one definition.
    for word in ("INIT_JOB_READ", "INIT_AGENT_START", "INIT_AGENT_EXIT", "CASE_MARKER", "CAMPAIGN_CASE_PREFIX", "SETUP_TAG"):
        script = script.replace(word, getattr(protocol, word))
    qemu.write_text(script)
    qemu.chmod(0o755)
    agent = tmp_path / "uafault-agent"
    shutil.copy("/bin/true", agent)
    module = tmp_path / "uafault.ko"
    module.write_bytes(b"\x7fELF")
    tools = {name: find_tool(tool_named(name)) for name in GUEST_RUNTIME_TOOLS if name != "qemu-system-x86_64"}
    tools["qemu-system-x86_64"] = qemu
    kernel = GuestKernel(tmp_path / "build", False, ())
    return PreparedGuest(tools, kernel, GuestArtefacts((module,), module, module, agent, agent), tmp_path / "kvm.json")  # type: ignore[arg-type]


def test_a_crash_is_recorded_and_the_rest_is_left_for_the_next_boot(guest: PreparedGuest, tmp_path: Path) -> None:
    cases = [Case(i, "plain", target, "none", 0, -1, 1, 0)
             for i, target in enumerate(("copy_from_user", "crashy", "copy_to_user"))]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "t", "c.toml", "d"), "6.12", "cfg", cases)
    progress = Progress(3, tty=False)
    got = run_batch(guest, store, "R", False, cases, tmp_path / "boot-0001", progress, timeout=60)
    assert got == {cases[0].case_id, cases[1].case_id}
    verdicts = store.verdicts("R")
    assert verdicts[cases[0].case_id].verdict == "PASS"
    crash = verdicts[cases[1].case_id]
    assert crash.verdict == "CRASH" and crash.title == "BUG: unable to handle page fault for address"
    assert "#PF: supervisor read access" in crash.excerpt
    # The next boot gets only what is left, and finishes it.
    got = run_batch(guest, store, "R", False, [cases[2]], tmp_path / "boot-0002", progress, timeout=60)
    assert got == {cases[2].case_id}
    assert {v.verdict for v in store.verdicts("R").values()} == {"PASS", "CRASH"}
    assert len(store.verdicts("R")) == 3
    # The boot that crashed keeps its job (its whole batch) and base, the
    # clean one only its console.
    job = (tmp_path / "boot-0001" / "job.img").read_bytes()
    assert all(c.agent_line().encode() in job for c in cases)
    assert (tmp_path / "boot-0001" / "initramfs.cpio.gz").is_file()
    assert not {"job.img", "initramfs.cpio.gz"} & {p.name for p in (tmp_path / "boot-0002").iterdir()}
    assert (tmp_path / "boot-0002" / "console.log").is_file()


def test_a_case_not_set_up_is_unresolved_not_a_skip_nor_a_known_failure(guest: PreparedGuest,
                                                                         tmp_path: Path) -> None:
    cases = [Case(i, "plain", "copy_to_user", fault, 0, -1, 1, 0)
             for i, fault in enumerate(("swapped", "unmapped", "none"))]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "t", "c.toml", "d"), "6.12", "cfg", cases)
    known = (KnownIssue("*", "copy_to_user", "swapped", "a known bug"),)
    run_batch(guest, store, "R", False, cases, tmp_path / "boot", Progress(3, tty=False), 60, BootEnv(known=known))
    verdicts = store.verdicts("R")
    unresolved = verdicts[cases[0].case_id]
    assert unresolved.verdict == "UNRESOLVED"
    assert unresolved.title.startswith("[setup] MADV_PAGEOUT left 8 of 8 pages resident")
    assert verdicts[cases[1].case_id].verdict == "SKIP"
    assert verdicts[cases[2].case_id].verdict == "PASS"


def test_a_known_crash_is_xfail(guest: PreparedGuest, tmp_path: Path) -> None:
    cases = [Case(0, "plain", "crashy", "none", 0, -1, 1, 0)]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "t", "c.toml", "d"), "6.12", "cfg", cases)
    known = (KnownIssue("*", "crashy", "*", "a known oops"),)
    run_batch(guest, store, "R", False, cases, tmp_path / "boot", Progress(1, tty=False), 60, BootEnv(known=known))
    assert store.verdicts("R")[cases[0].case_id].verdict == "XFAIL"


def test_the_target_list_is_kept_per_build(guest: PreparedGuest, tmp_path: Path) -> None:
    """A build's target list is listed once: the next campaign reads it
    back without a boot, and another module build is another list."""
    from uafault_harness.guest.targets import list_targets, targets_cache

    cache = targets_cache(guest, Modules())
    cache.write_text("uafault-target: copy_from_user uafault fixed_len=0 align=0 kinds=none,unmapped\n")
    listed = list_targets(guest, tmp_path / "list", Modules())
    assert [t.name for t in listed] == ["copy_from_user"] and listed[0].kinds == {"none", "unmapped"}
    assert not (tmp_path / "list").exists()  # no boot
    guest.artefacts.modules[0].write_bytes(b"\x7fELF another build")
    assert targets_cache(guest, Modules()) != cache


def test_a_snapshot_that_will_not_restore_is_dropped_and_the_boot_goes_cold(
        guest: PreparedGuest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = tmp_path / "snapshots" / "k"
    saved.mkdir(parents=True)
    (saved / "state").write_bytes(b"not a guest")
    monkeypatch.setattr(runner, "template", lambda *a: Template(saved / "state", ("saved boot line",)))
    guest = replace(guest, snapshots=tmp_path / "snapshots")
    guest.kernel.bzimage.parent.mkdir(parents=True)
    guest.kernel.bzimage.write_bytes(b"kernel")
    cases = [Case(1, "plain", "copy_from_user", "none", 0, -1, 1, 0)]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "t", "c.toml", "d"), "6.12", "cfg", cases)
    got = run_batch(guest, store, "R", False, cases, tmp_path / "boot", Progress(1, tty=False), timeout=60)
    assert got == {cases[0].case_id} and store.verdicts("R")[cases[0].case_id].verdict == "PASS"
    assert not saved.exists()
    # The log is the cold boot's alone.
    assert "saved boot line" not in (tmp_path / "boot" / "console.log").read_text()


def test_a_boot_tells_its_observers(guest: PreparedGuest, tmp_path: Path) -> None:
    """bench/ times boots through an observer, not by patching boot_guest."""
    seen: list[str] = []

    class Watch(runner.BootObserver):
        def booting(self, out_dir: Path) -> None:
            seen.append(f"booting {out_dir.name}")

        def line(self, tracker: object, line: str) -> None:
            seen.append("line")

        def ended(self, tracker: object, outcome: object, details: dict[str, object]) -> None:
            seen.append(f"ended {outcome.end.value}")  # type: ignore[attr-defined]

    cases = [Case(0, "plain", "copy_from_user", "none", 0, -1, 1, 0)]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "t", "c.toml", "d"), "6.12", "cfg", cases)
    got = run_batch(guest, store, "R", False, cases, tmp_path / "boot-0001", Progress(1, tty=False), 60,
                    observers=(Watch(),))
    assert got == {cases[0].case_id}
    assert seen[0] == "booting boot-0001" and seen[-1].startswith("ended ")
    assert sum(s.startswith("ended") for s in seen) == 1 and seen.count("line") >= 5
