"""A LAVA server's REST API (v0.2), as lavacli speaks it: submit a job,
read its state, its log and its results, cancel it.  Standard library
only; every failure is a HarnessError(SERVER) that names the request."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import yaml

from ..core.errors import ExitCode, HarnessError

API = "api/v0.2/"
# One request; a job's log can be large, the server is local or a lab's.
REQUEST_SECONDS = 60
# How often a waiting collect asks again.
POLL_SECONDS = 5


@dataclass(frozen=True)
class JobState:
    """What LAVA says of a job: state Submitted, Scheduling, Scheduled,
    Running, Canceling or Finished; health Unknown, Complete, Incomplete
    or Canceled (once Finished); failure_comment why, when Incomplete."""
    job_id: int
    state: str
    health: str
    failure_comment: str = ""
    # When it was submitted, started and ended (UTC seconds; 0: not yet).
    submitted: float = 0.0
    started: float = 0.0
    ended: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state == "Finished"


@dataclass(frozen=True)
class LogLine:
    """One entry of a job's log: its time (seconds since the epoch), its
    level (`target` for what the device printed) and its message."""
    seconds: float
    level: str
    message: Any


class Server:
    def __init__(self, url: str, token: str = "") -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HarnessError(ExitCode.USAGE, f"--server {url!r}: want the server's http(s) URL, "
                                               "e.g. http://127.0.0.1:8000/")
        self.url = url if url.endswith("/") else url + "/"
        self.token = token

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 missing_ok: bool = False) -> bytes:
        """The answer's body; b"" for a 404 when missing_ok."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + API + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return b""
            said = exc.read().decode(errors="replace")[:500]
            raise HarnessError(ExitCode.SERVER, f"LAVA {method} {self.url}{API}{path}: HTTP {exc.code}: "
                                                f"{said}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise HarnessError(ExitCode.SERVER, f"LAVA {method} {self.url}{API}{path}: {exc} "
                                                "(is the server up? `harness/uafault lava up`)") from exc

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raw = self._request(method, path, body)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise HarnessError(ExitCode.SERVER, f"LAVA {path}: not JSON: {raw[:200]!r}") from exc

    def version(self) -> str:
        return str(self._json("GET", "system/version/").get("version", "?"))

    def worker_token(self, hostname: str) -> str:
        """A worker's token ('' if the server has no such worker)."""
        for worker in self._json("GET", "workers/").get("results", []):
            if worker.get("hostname") == hostname:
                return str(worker.get("token") or "")
        return ""

    def submit(self, definition: str) -> int:
        """The job's id (one definition, one job: no multinode)."""
        ids = self._json("POST", "jobs/", {"definition": definition}).get("job_ids") or []
        if len(ids) != 1:
            raise HarnessError(ExitCode.SERVER, f"LAVA answered job ids {ids} for one job")
        return int(ids[0])

    def job(self, job_id: int) -> JobState:
        got = self._json("GET", f"jobs/{job_id}/")
        return JobState(job_id, str(got.get("state", "")), str(got.get("health", "")),
                        str(got.get("failure_comment") or ""), _epoch(str(got.get("submit_time") or "")),
                        _epoch(str(got.get("start_time") or "")), _epoch(str(got.get("end_time") or "")))

    def cancel(self, job_id: int) -> None:
        self._request("GET", f"jobs/{job_id}/cancel/")

    def log(self, job_id: int) -> list[LogLine]:
        """The job's log: YAML, a list of {dt, lvl, msg}; none before the
        job started (or for one canceled before)."""
        raw = self._request("GET", f"jobs/{job_id}/logs/", missing_ok=True)
        try:
            entries = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or []
        except yaml.YAMLError as exc:
            raise HarnessError(ExitCode.SERVER, f"LAVA job {job_id}'s log is not YAML: {exc}") from exc
        return [LogLine(_epoch(str(e.get("dt", ""))), str(e.get("lvl", "")), e.get("msg", "")) for e in entries]

    def results(self, job_id: int) -> list[dict[str, Any]]:
        """The job's test cases (every suite)."""
        got = self._json("GET", f"jobs/{job_id}/tests/?limit=100000")
        return list(got.get("results", got) if isinstance(got, dict) else got)

    def wait(self, job_ids: list[int], deadline: float) -> dict[int, JobState]:
        """Each job's state once all are finished or the deadline passed."""
        while True:
            states = {i: self.job(i) for i in job_ids}
            if all(s.finished for s in states.values()) or time.monotonic() >= deadline:
                return states
            time.sleep(POLL_SECONDS)


def _epoch(text: str) -> float:
    """LAVA's log time, e.g. 2026-12-07T14:42:10.984017, as UTC seconds."""
    try:
        return dt.datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return 0.0
