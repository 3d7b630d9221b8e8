"""`lava up` / `lava down`: a LAVA lab on this machine, from Debian's
packages (lava-server, lava-dispatcher 2023.01 on Debian 12).

up installs what is missing (apt, no recommends; PostgreSQL first, since
lava-server's postinst makes its database), starts the PostgreSQL cluster,
makes (once) the `uafault` superuser and its API token, the qemu device
type, a worker and N qemu devices (TCG: this lab's devices never ask for
KVM), then starts the web server (gunicorn on 127.0.0.1), the scheduler
and the worker, each in its own session with its pid kept.  What it did
is in LAB_FILE (the URL, the token, what it started); a second `up`
starts only what is not running.  down stops what up started, PostgreSQL
only if up had to start it.  Works without systemd (this machine's PID 1
is not): the services' own command lines, as their units have them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from ..setup.provision import install_packages
from .api import Server
from .jobs import DEVICE_TYPE

# The lab's state, in the cache (kept across runs of the same machine).
LAB_DIR = "lava"
LAB_FILE = "lab.json"
USER = "uafault"
WORKER = "uafault-worker"
DEVICE_PREFIX = "uafault-qemu-"
PORT = 8000
# First the database (lava-server's postinst needs it running), then LAVA.
DATABASE_PACKAGES = ("postgresql",)
LAVA_PACKAGES = ("lava-server", "lava-dispatcher")
DEVICES_DIR = Path("/etc/lava-server/dispatcher-config/devices")
LOG_DIR = Path("/var/log/lava-server")
# What up starts, by name: the program each runs.
PROGRAMS = {"gunicorn": "gunicorn3", "scheduler": "lava-server", "worker": "lava-worker"}
# How long the web server may take to answer after starting.
START_SECONDS = 90
# Each device's dictionary: the qemu type without KVM (the job's own QEMU
# options choose TCG), a MAC of its own.
DEVICE_DICT = """{{% extends 'qemu.jinja2' %}}
{{% set no_kvm = True %}}
{{% set mac_addr = '52:54:00:75:af:{n:02x}' %}}
"""


@dataclass
class Lab:
    url: str = f"http://127.0.0.1:{PORT}/"
    token: str = ""
    worker_token: str = ""
    devices: int = 0
    # Process name -> pid, of what up started.
    pids: dict[str, int] = field(default_factory=dict)
    started_postgres: str = ""

    @staticmethod
    def path(layout: Layout) -> Path:
        return layout.cache / LAB_DIR / LAB_FILE

    @classmethod
    def load(cls, layout: Layout) -> "Lab | None":
        path = cls.path(layout)
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text()))

    def save(self, layout: Layout) -> None:
        path = self.path(layout)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(path)


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HarnessError(ExitCode.SERVER, f"{what}: `{' '.join(cmd)}` exited {done.returncode}: "
                                            f"{(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def _manage(*args: str) -> str:
    return _run(["lava-server", "manage", *args], f"lava-server manage {args[0]}")


def _alive(pid: int, program: str) -> bool:
    """Whether pid runs program still (not a zombie, not a reused pid:
    the lab file outlives the machine's processes)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return state != "Z" and program in command


def _install() -> None:
    missing = [p for p in DATABASE_PACKAGES + LAVA_PACKAGES if not _installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise HarnessError(ExitCode.MISSING_PREREQ, "lava up installs and starts system services: run it as root")
    if any(p in missing for p in DATABASE_PACKAGES):
        install_packages([p for p in DATABASE_PACKAGES if p in missing])
    _start_postgres()
    install_packages([p for p in LAVA_PACKAGES if p in missing])
    # A postinst that ran without its database left the package half set up.
    _run(["dpkg", "--configure", "-a"], "finishing lava-server's set-up")


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                          check=False)
    return done.returncode == 0 and done.stdout.endswith("installed")


def _start_postgres() -> str:
    """The cluster's name if it had to be started, else ''."""
    listed = _run(["pg_lsclusters", "--no-header"], "listing PostgreSQL clusters").split("\n")
    clusters = [line.split() for line in listed if line.strip()]
    if not clusters:
        raise HarnessError(ExitCode.MISSING_PREREQ, "PostgreSQL is installed but has no cluster "
                                                    "(pg_createcluster 15 main)")
    version, name, _, status = clusters[0][:4]
    if status == "online":
        return ""
    _run(["pg_ctlcluster", version, name, "start"], "starting PostgreSQL")
    return f"{version} {name}"


def _once(lab: Lab, devices: int) -> None:
    """The user, its token, the device type, the worker and the devices:
    each made only if missing."""
    users = _manage("users", "list")
    if USER not in users.split():
        _manage("users", "add", "--superuser", "--staff", "--passwd", USER, USER)
    if not lab.token:
        lab.token = _manage("tokens", "add", "--user", USER, "--description", "uafault").strip().split()[-1]
    if DEVICE_TYPE not in _manage("device-types", "list").split():
        _manage("device-types", "add", DEVICE_TYPE)
    if WORKER not in _manage("workers", "list", "--all").split():
        said = _manage("workers", "add", WORKER)
        lab.worker_token = said.strip().split()[-1]
    known = _manage("devices", "list", "--all").split()
    DEVICES_DIR.mkdir(parents=True, exist_ok=True)
    for n in range(1, devices + 1):
        name = f"{DEVICE_PREFIX}{n:02d}"
        (DEVICES_DIR / f"{name}.jinja2").write_text(DEVICE_DICT.format(n=n))
        if name not in known:
            _manage("devices", "add", "--device-type", DEVICE_TYPE, "--worker", WORKER, name)
        # A job LAVA lost (its worker killed) leaves the device's health in
        # doubt; this lab has no health check to settle it, so up does.
        _manage("devices", "update", "--health", "GOOD", name)
    lab.devices = max(lab.devices, devices)


def _spawn(lab: Lab, name: str, cmd: list[str], log: Path) -> None:
    pid = lab.pids.get(name)
    if pid and _alive(pid, cmd[0]):
        return
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd="/",
                                start_new_session=True)
    lab.pids[name] = proc.pid


def _wait_web(url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url + "api/v0.2/system/version/", timeout=5):
                return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise HarnessError(ExitCode.SERVER, f"LAVA's web server did not answer at {url} within "
                                                    f"{START_SECONDS} s ({exc}); see {LOG_DIR}/gunicorn.log") from exc
            time.sleep(1)


def _worker_token(lab: Lab) -> str:
    """The worker's token, read back from the API when an earlier up made
    the worker and this lab file does not have it."""
    if lab.worker_token:
        return lab.worker_token
    lab.worker_token = Server(lab.url, lab.token).worker_token(WORKER)
    if not lab.worker_token:
        raise HarnessError(ExitCode.SERVER, f"no token for LAVA worker {WORKER}")
    return lab.worker_token


def up(layout: Layout, devices: int) -> Lab:
    if devices < 1:
        raise HarnessError(ExitCode.USAGE, f"--devices {devices}: want at least 1")
    _install()
    lab = Lab.load(layout) or Lab()
    started = _start_postgres()
    lab.started_postgres = lab.started_postgres or started
    lab.save(layout)
    _once(lab, devices)
    lab.save(layout)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    shutil.chown(LOG_DIR, "lavaserver", "lavaserver")
    logs = layout.cache / LAB_DIR
    _spawn(lab, "gunicorn", [PROGRAMS["gunicorn"], "lava_server.wsgi", "--log-level", "INFO", "--log-file",
                             str(LOG_DIR / "gunicorn.log"), "-u", "lavaserver", "-g", "lavaserver",
                             "--worker-class", "eventlet", "--workers", "2", "--bind", f"127.0.0.1:{PORT}"],
           logs / "gunicorn.out")
    _spawn(lab, "scheduler", [PROGRAMS["scheduler"], "manage", "lava-scheduler", "--level", "INFO", "--log-file",
                              str(LOG_DIR / "lava-scheduler.log")], logs / "scheduler.out")
    lab.save(layout)
    _wait_web(lab.url)
    _spawn(lab, "worker", [PROGRAMS["worker"], "--level", "INFO", "--url", lab.url, "--name", WORKER,
                           "--token", _worker_token(lab), "--log-file", str(logs / "lava-worker.log")],
           logs / "worker.out")
    lab.save(layout)
    print(f"[lava] LAVA {Server(lab.url, lab.token).version()} up: {lab.url} (user {USER}, password {USER}); "
          f"{lab.devices} qemu devices on worker {WORKER}; state in {Lab.path(layout)}", flush=True)
    return lab


def down(layout: Layout) -> None:
    lab = Lab.load(layout)
    if lab is None:
        print("[lava] no lab of ours to stop", flush=True)
        return
    for name, pid in lab.pids.items():
        if _alive(pid, PROGRAMS[name]):
            os.killpg(pid, signal.SIGTERM)
            print(f"[lava] stopped {name} ({pid})", flush=True)
    lab.pids = {}
    if lab.started_postgres:
        _run(["pg_ctlcluster", *lab.started_postgres.split(), "stop"], "stopping PostgreSQL")
        print(f"[lava] stopped PostgreSQL {lab.started_postgres}", flush=True)
        lab.started_postgres = ""
    lab.save(layout)


def worker_pid(layout: Layout) -> int | None:
    """The worker up started, if it runs (the kill-in-the-middle test)."""
    lab = Lab.load(layout)
    pid = lab.pids.get("worker") if lab else None
    return pid if pid and _alive(pid, PROGRAMS["worker"]) else None
