"""LAVA job definitions: a shard's boots, each the cold boot a local run
would make (guest/runner.py cold_boot), as LAVA's qemu device type boots
it.  Per boot: a deploy to tmpfs of the kernel, the base archive and the
disks (file:// URLs where the dispatcher runs on this host, else under
--artefacts-url), a qemu boot with uafault's own QEMU options, and a
monitors test action that makes each KTAP result line of the agent one
LAVA test case.  The verdicts themselves are read from the job's log by
`lava collect` (lava/run.py), as a local run reads the console."""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..guest.disks import COVERAGE_NAME
from ..guest.protocol import CASE_MARKER, INIT_AGENT_EXIT
from ..guest.runner import ColdBoot

# The device type this lab's devices are (lava/server.py makes them).
DEVICE_TYPE = "qemu"
KERNEL_NAME = "bzImage"
BASE_NAME = "base.cpio.gz"
# What LAVA's qemu device type sets itself (base.jinja2): the console,
# a NIC, the memory size (from the context's `memory`) and no monitor.
_LAVA_SETS = {"-nographic": 0, "-nic": 1, "-m": 1, "-monitor": 1}
# A KTAP result line of the agent: one LAVA test case (a SKIP is LAVA's
# pass; the verdict, XFAIL and CRASH included, is uafault's, in its store).
RESULT_PATTERN = r"(?P<result>not ok|ok) \d+ (?P<test_case_id>[A-Za-z0-9_.-]+)"
MONITOR_FIXUP = {"ok": "pass", "not ok": "fail"}
# Minutes: a deploy copies a few MB and two small disks; a boot's cases
# get what a local boot's watchdog gives them.
DEPLOY_MINUTES = 10
# Each boot's monitors are a LAVA test suite of this name and its number.
MONITOR_PREFIX = "uafault-boot-"
BOOT_MINUTES = 5


@dataclass(frozen=True)
class LavaBoot:
    """One boot of a job: its files (label -> path, each named in the
    command by {label}), LAVA's extra QEMU options, the memory size and
    the minutes its cases may take."""
    images: dict[str, tuple[Path, str]]
    extra: tuple[str, ...]
    memory_mib: int
    minutes: int


def _keep(src: Path, dst: Path) -> Path:
    """src at dst (a hard link where it can be): the job's files must
    outlive a rebuild of the cache they came from."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


def lava_boot(cold: ColdBoot, out_dir: Path, seconds: int) -> LavaBoot:
    """cold's command as LAVA's qemu method runs it; its kernel and base
    archive kept in out_dir beside its disks.  The coverage disk, which
    only --coverage writes, stays out."""
    args = cold.command[1:]
    images: dict[str, tuple[Path, str]] = {}
    extra: list[str] = []
    memory = 0
    append = ""
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg == "-m":
            memory = int(value)
        if arg in _LAVA_SETS:
            i += 1 + _LAVA_SETS[arg]
        elif arg == "-kernel":
            images["kernel"] = (_keep(Path(value), out_dir / KERNEL_NAME), "-kernel {kernel}")
            i += 2
        elif arg == "-initrd":
            images["initrd"] = (_keep(Path(value), out_dir / BASE_NAME), "-initrd {initrd}")
            i += 2
        elif arg == "-append":
            append = value
            i += 2
        elif arg == "-drive":
            i = _drive(args, i, images)
        else:
            extra.append(shlex.quote(arg))
            i += 1
    kernel_path, kernel_arg = images["kernel"]
    images["kernel"] = (kernel_path, f"{kernel_arg} -append \"{append}\"")
    return LavaBoot(images, tuple(extra), memory, max(1, -(-seconds // 60)))


def _drive(args: list[str], i: int, images: dict[str, tuple[Path, str]]) -> int:
    """A `-drive file=PATH,...` and the `-device` that follows it: an
    image labelled by the file's stem, unless it is the coverage disk."""
    options = dict(o.split("=", 1) for o in args[i + 1].split(","))
    path = Path(options.pop("file"))
    device = args[i + 3] if i + 3 < len(args) and args[i + 2] == "-device" else ""
    end = i + (4 if device else 2)
    if path.name == COVERAGE_NAME:
        return end
    label = path.stem
    rest = ",".join(f"{k}={v}" for k, v in options.items())
    images[label] = (path, f"-drive file={{{label}}},{rest}" + (f" -device {device}" if device else ""))
    return end


def _url(path: Path, artefacts_url: str, root: Path) -> str:
    if not artefacts_url:
        return path.resolve().as_uri()
    return artefacts_url.rstrip("/") + "/" + path.resolve().relative_to(root.resolve()).as_posix()


def job_definition(name: str, boots: list[LavaBoot], root: Path, artefacts_url: str = "") -> str:
    """One job: per boot a deploy, a qemu boot and a monitors test.  URLs
    under artefacts_url stand for files under root (else file://)."""
    actions: list[dict[str, Any]] = []
    for n, boot in enumerate(boots):
        images = {label: {"url": _url(path, artefacts_url, root), "image_arg": arg}
                  for label, (path, arg) in boot.images.items()}
        actions += [
            {"deploy": {"to": "tmpfs", "os": "oe", "timeout": {"minutes": DEPLOY_MINUTES}, "images": images}},
            {"boot": {"method": "qemu", "media": "tmpfs", "timeout": {"minutes": BOOT_MINUTES}}},
            {"test": {"timeout": {"minutes": boot.minutes},
                      "monitors": [{"name": f"{MONITOR_PREFIX}{n + 1}", "start": CASE_MARKER,
                                    "end": INIT_AGENT_EXIT, "pattern": RESULT_PATTERN,
                                    "fixupdict": dict(MONITOR_FIXUP)}]}},
        ]
    memory = max(b.memory_mib for b in boots)
    extra = boots[0].extra
    minutes = sum(b.minutes + DEPLOY_MINUTES + BOOT_MINUTES for b in boots)
    job = {
        "device_type": DEVICE_TYPE,
        "job_name": name,
        "priority": "medium",
        "visibility": "public",
        "timeouts": {"job": {"minutes": minutes + 5}, "action": {"minutes": max(b.minutes for b in boots)},
                     "connection": {"minutes": 2}},
        "context": {"arch": "amd64", "memory": memory, "no_kvm": True, "extra_options": list(extra)},
        "actions": actions,
    }
    return yaml.safe_dump(job, sort_keys=False, width=1000)
