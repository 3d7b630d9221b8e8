"""Campaign history in SQLite (results/uafault.db, WAL).

The plan of a run is written in one transaction before any case runs;
each verdict is its own committed transaction, so a harness or guest
killed at any moment loses no finished case, and a resumed run knows
exactly which cases are left."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .campaign_spec import Case
from .errors import ExitCode, HarnessError
from .verdicts import VERDICTS

DB_NAME = "uafault.db"
# A run id: also a directory name under results/campaigns/.
RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    spec_path TEXT NOT NULL,
    spec_digest TEXT NOT NULL,
    source_version TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    started TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    case_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    variant TEXT NOT NULL,
    target TEXT NOT NULL,
    fault TEXT NOT NULL,
    size INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    rep INTEGER NOT NULL,
    PRIMARY KEY (run_id, case_id)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL,
    excerpt TEXT NOT NULL DEFAULT '',
    finished TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id),
    FOREIGN KEY (run_id, case_id) REFERENCES cases(run_id, case_id)
);
"""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    campaign: str
    spec_path: str
    spec_digest: str


@dataclass(frozen=True)
class Verdict:
    case_id: str
    verdict: str
    title: str = ""
    seconds: float = 0.0
    excerpt: str = ""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we say where transactions begin and end.
        # One connection shared by the guests' threads, one at a time.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed verdict survives a power cut too, not only a kill.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def create_run(self, info: RunInfo, source_version: str, config_digest: str, cases: list[Case]) -> None:
        with self._transaction():
            self.db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (info.run_id, info.campaign, info.spec_path, info.spec_digest,
                             source_version, config_digest, _now()))
            self.db.executemany(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(info.run_id, c.case_id, c.index, c.variant, c.target, c.fault, c.size, c.offset, c.seed,
                  c.rep) for c in cases])

    def run_ids(self) -> list[str]:
        """Every run, oldest first (ids made from the UTC time sort by it)."""
        return [row[0] for row in self.db.execute("SELECT run_id FROM runs ORDER BY run_id")]

    def has_run(self, run_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def run_info(self, run_id: str) -> RunInfo:
        row = self.db.execute("SELECT run_id, campaign, spec_path, spec_digest FROM runs WHERE run_id = ?",
                              (run_id,)).fetchone()
        if row is None:
            raise HarnessError(ExitCode.NO_SUCH_RUN, f"no campaign run {run_id!r} in {self._path()}")
        return RunInfo(*row)

    def planned(self, run_id: str) -> list[Case]:
        rows = self.db.execute("SELECT idx, variant, target, fault, size, offset, seed, rep FROM cases "
                               "WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        return [Case(*row) for row in rows]

    def record(self, run_id: str, verdict: Verdict) -> None:
        if verdict.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict.verdict}")
        with self._transaction():
            self.db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (run_id, verdict.case_id, verdict.verdict, verdict.title, verdict.seconds,
                             verdict.excerpt, _now()))

    def verdicts(self, run_id: str) -> dict[str, Verdict]:
        rows = self.db.execute("SELECT case_id, verdict, title, seconds, excerpt FROM verdicts "
                               "WHERE run_id = ?", (run_id,)).fetchall()
        return {row[0]: Verdict(*row) for row in rows}

    def _path(self) -> str:
        return str(self.db.execute("PRAGMA database_list").fetchone()[2])

    def _transaction(self) -> "_Tx":
        return _Tx(self.db, self._lock)


def merge_into(dest: Path, sources: list[Path]) -> dict[str, int]:
    """Fold campaign databases (shards run on other machines) into dest.
    Runs, plans and verdicts are copied as they are; a row already in dest
    (the same run merged twice) is kept, not doubled.  Returns rows added
    per table."""
    store = Store(dest)
    added = {"runs": 0, "cases": 0, "verdicts": 0}
    try:
        for source in sources:
            if not source.is_file():
                raise HarnessError(ExitCode.USAGE, f"{source}: no such database")
            if source.resolve() == dest.resolve():
                raise HarnessError(ExitCode.USAGE, f"{source}: cannot merge a database into itself")
            store.db.execute("ATTACH DATABASE ? AS src", (str(source),))
            try:
                with store._transaction():
                    for table in added:
                        cur = store.db.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM src.{table}")
                        added[table] += cur.rowcount
            finally:
                store.db.execute("DETACH DATABASE src")
    finally:
        store.close()
    return added


class _Tx:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
