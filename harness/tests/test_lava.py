"""lava/: a local boot's QEMU command as LAVA's qemu device type boots it,
the job definition lava submit sends, how a job's end reads, and collect's
replay of a job's log into the run's verdicts (idempotent).  The lab
itself runs in the `lava` layer of `test`."""

from __future__ import annotations

from pathlib import Path

import yaml

from uafault_harness.campaign.batch import BootEnv, Progress
from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import LavaJob, RunInfo, Store
from uafault_harness.core.verdicts import Verdict
from uafault_harness.guest.disks import BootDisks
from uafault_harness.guest.qemu import QemuEnd, qemu_command
from uafault_harness.guest.runner import ColdBoot
from uafault_harness.lava.api import JobState, LogLine
from uafault_harness.lava.jobs import DEVICE_TYPE, MONITOR_PREFIX, RESULT_PATTERN, job_definition, lava_boot
from uafault_harness.lava.run import _boots_of, _deal, _replay, lava_end


def _cold(tmp_path: Path) -> ColdBoot:
    for name in ("bzImage", "base.cpio.gz", "disk.img", "ext4.img", "job.img", "coverage.img"):
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(b"x")
    src = tmp_path / "src"
    disks = BootDisks(src / "disk.img", src / "ext4.img", src / "job.img", src / "coverage.img")
    command = qemu_command(Path("/usr/bin/qemu-system-x86_64"), src / "bzImage", src / "base.cpio.gz",
                           "console=ttyS0 panic=-1", kvm=False, disk=disks.disk, devices=("-device", "virtio-iommu-pci"),
                           disk_platform=True, ext4=disks.ext4, coverage=disks.coverage, job=disks.job)
    return ColdBoot(command, disks)


def test_a_cold_boot_becomes_lava_images_and_options(tmp_path: Path) -> None:
    out = tmp_path / "boot"
    out.mkdir()
    boot = lava_boot(_cold(tmp_path), out, 1800)
    assert boot.memory_mib == 640 and boot.minutes == 30
    # The kernel and base archive are kept beside the disks; no coverage disk.
    assert set(boot.images) == {"kernel", "initrd", "disk", "ext4", "job"}
    assert boot.images["kernel"][0] == out / "bzImage" and (out / "bzImage").is_file()
    assert boot.images["kernel"][1] == '-kernel {kernel} -append "console=ttyS0 panic=-1"'
    assert boot.images["job"][1] == ("-drive file={job},if=none,format=raw,id=job -device virtio-blk-pci,drive=job,"
                                     "disable-legacy=on,iommu_platform=on,serial=uafault-job")
    # LAVA's device type sets the console, a NIC, -m and the monitor.
    assert "-m" not in boot.extra and "-nographic" not in boot.extra and "-nic" not in boot.extra
    assert ["-accel", "tcg"] == list(boot.extra[boot.extra.index("-accel"):][:2])
    assert "virtio-iommu-pci" in boot.extra


def test_the_job_definition_has_a_deploy_boot_and_monitor_per_boot(tmp_path: Path) -> None:
    out = tmp_path / "boot"
    out.mkdir()
    boot = lava_boot(_cold(tmp_path), out, 600)
    job = yaml.safe_load(job_definition("uafault smoke R shard 1/2 plain", [boot, boot], tmp_path))
    assert job["device_type"] == DEVICE_TYPE and job["context"]["arch"] == "amd64"
    assert job["context"]["memory"] == 640 and job["context"]["no_kvm"] is True
    assert [next(iter(a)) for a in job["actions"]] == ["deploy", "boot", "test"] * 2
    deploy = job["actions"][0]["deploy"]
    # The disks stay where the cold boot made them (its out_dir, in a run).
    assert deploy["to"] == "tmpfs" and deploy["images"]["job"]["url"] == (tmp_path / "src/job.img").resolve().as_uri()
    assert deploy["images"]["kernel"]["url"] == (out / "bzImage").resolve().as_uri()
    monitor = job["actions"][5]["test"]["monitors"][0]
    assert monitor["name"] == f"{MONITOR_PREFIX}2" and monitor["pattern"] == RESULT_PATTERN
    remote = yaml.safe_load(job_definition("j", [boot], tmp_path, "https://files.example.org/r/"))
    assert remote["actions"][0]["deploy"]["images"]["job"]["url"] == "https://files.example.org/r/src/job.img"


def test_how_lava_ended_a_job_is_the_guests_end_for_the_case_in_flight() -> None:
    assert lava_end(JobState(1, "Finished", "Incomplete", "lava-test-monitor timed out after 1800 seconds")) \
        is QemuEnd.TIMEOUT
    assert lava_end(JobState(1, "Finished", "Incomplete", "Connection closed")) is QemuEnd.EXITED
    # Lost or canceled: the case stays planned, for --resume.
    assert lava_end(JobState(1, "Finished", "Incomplete", "")) is None
    assert lava_end(JobState(1, "Finished", "Canceled", "")) is None


def test_crashing_cases_get_a_boot_each_and_boots_are_dealt_in_turn() -> None:
    cases = [Case(i, "plain", "raw_deref" if i % 4 == 0 else "copy_from_user", "smap", i, -1, 1, 0) for i in range(8)]
    dealt = _deal(cases, frozenset({"raw_deref"}), 3, 2)
    boots = [b for shard in dealt for b in shard]
    assert sorted(len(c) for crash, c in boots if crash) == [1, 1]
    assert sorted(c.index for _, b in boots for c in b) == list(range(8))
    assert abs(len(dealt[0]) - len(dealt[1])) <= 1


def _log(lines: list[str]) -> list[LogLine]:
    return [LogLine(100.0 + i, "target", line) for i, line in enumerate(lines)]


def test_a_jobs_log_replays_into_the_runs_verdicts_once(tmp_path: Path) -> None:
    cases = [Case(i, "plain", "copy_from_user", "none", i, -1, 1, 0) for i in range(3)]
    store = Store(tmp_path / "u.db")
    store.create_run(RunInfo("R", "smoke", "s.toml", "d"), "6.12", "cfg", cases)
    store.record_lava_job(LavaJob("R", "http://lab/", 7, 1, (tuple(c.case_id for c in cases),)))
    log = [LogLine(99.0, "info", "Boot command: /usr/bin/qemu-system-x86_64 ..."), *_log([
        f"# uafault-case: campaign.{cases[0].case_id}", f"ok 1 {cases[0].case_id}",
        f"# uafault-case: campaign.{cases[1].case_id}",
        "[    3.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000",
        "[    3.100000] ---[ end trace 0000000000000000 ]---"])]
    boots = _boots_of(log)
    assert len(boots) == 1 and len(boots[0]) == 5
    stored = _replay(store, "R", cases, boots[0], Progress(3, tty=False), BootEnv(), QemuEnd.EXITED,
                     "LAVA job 7 Incomplete: Connection closed", tmp_path / "console.log")
    verdicts = store.verdicts("R")
    assert stored == 2 and verdicts[cases[0].case_id].verdict == Verdict.PASS
    assert verdicts[cases[1].case_id].verdict == Verdict.CRASH
    assert verdicts[cases[1].case_id].title.startswith("BUG: kernel NULL pointer dereference")
    assert verdicts[cases[0].case_id].seconds == 1.0     # the log's own times
    # The case after the crash never ran: left planned.  Again: nothing new.
    assert cases[2].case_id not in verdicts
    assert _replay(store, "R", cases, boots[0], Progress(3, tty=False), BootEnv(), QemuEnd.EXITED, "",
                   tmp_path / "console.log") == 0
    assert [j.job_id for j in store.lava_jobs("R")] == [7]
    store.close()
