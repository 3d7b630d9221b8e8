"""Campaign history in SQLite (results/uafault.db, WAL).

The plan of a run is written in one transaction before any case runs;
each verdict is its own committed transaction, so a harness or guest
killed at any moment loses no finished case, and a resumed run knows
exactly which cases are left."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.coverage import Coverage, SourceFile, parse_ranges, ranges
from ..core.verdicts import VERDICTS, Verdict
from ..guest.protocol import DEFAULT_CALLER, DEFAULT_MEMORY
from .spec import DEFAULT_PAIRS, Case

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
    memory TEXT NOT NULL DEFAULT 'anon',
    caller TEXT NOT NULL DEFAULT 'root',
    PRIMARY KEY (run_id, case_id)
);
CREATE TABLE IF NOT EXISTS pairs (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    correct TEXT NOT NULL,
    buggy TEXT NOT NULL,
    PRIMARY KEY (run_id, correct, buggy)
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
-- --coverage: each source file of the code under test (its instrumented
-- lines as ranges "1-3,7", its functions as JSON {name: [first, last]}),
-- and the lines each case ran in it.
CREATE TABLE IF NOT EXISTS coverage_files (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    lines TEXT NOT NULL,
    functions TEXT NOT NULL,
    PRIMARY KEY (run_id, file)
);
CREATE TABLE IF NOT EXISTS coverage (
    run_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    file TEXT NOT NULL,
    lines TEXT NOT NULL,
    PRIMARY KEY (run_id, case_id, file),
    FOREIGN KEY (run_id, case_id) REFERENCES cases(run_id, case_id)
);
-- lava submit (lava/): each LAVA job that runs some of a run's cases,
-- its boots in order (JSON: a list of case-id lists), and when collect
-- read it back ('' until then) with how LAVA ended it.
CREATE TABLE IF NOT EXISTS lava_jobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    server TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    boots TEXT NOT NULL,
    submitted TEXT NOT NULL,
    collected TEXT NOT NULL DEFAULT '',
    ended TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, server, job_id)
);
"""


@dataclass(frozen=True)
class LavaJob:
    """A row of lava_jobs."""
    run_id: str
    server: str
    job_id: int
    shard: int
    boots: tuple[tuple[str, ...], ...]
    collected: str = ""
    ended: str = ""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    campaign: str
    spec_path: str
    spec_digest: str


@dataclass(frozen=True)
class CaseVerdict:
    """A case's stored verdict row."""
    case_id: str
    verdict: Verdict
    title: str = ""
    seconds: float = 0.0
    excerpt: str = ""


# A case as Case() takes it; a database from before memory kinds has none.
CASE_COLUMNS = "idx, variant, target, fault, size, offset, seed, rep, memory, caller"
_OLD_CASE_COLUMNS = f"idx, variant, target, fault, size, offset, seed, rep, '{DEFAULT_MEMORY}', '{DEFAULT_CALLER}'"
# The columns a newer plan added, each with what an older plan's cases had.
_ADDED_COLUMNS = (("memory", DEFAULT_MEMORY), ("caller", DEFAULT_CALLER))


def _has_column(db: sqlite3.Connection, schema: str, name: str) -> bool:
    return any(r[1] == name for r in db.execute(f"PRAGMA {schema}.table_info(cases)"))


def _has_added(db: sqlite3.Connection, schema: str) -> bool:
    """Whether the cases table has every column of _ADDED_COLUMNS."""
    return all(_has_column(db, schema, name) for name, _ in _ADDED_COLUMNS)


def _started_of(run_id_time: str) -> str:
    """A run id's UTC time (20261207T152257Z) as the runs table's started
    column spells it; "" for none."""
    if not run_id_time:
        return ""
    when = dt.datetime.strptime(run_id_time[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    return when.isoformat(timespec="seconds")


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
        for name, default in _ADDED_COLUMNS:
            if not _has_column(self.db, "main", name):
                # A database from before memory kinds (callers): its cases
                # were all anon (root).
                self.db.execute(f"ALTER TABLE cases ADD COLUMN {name} TEXT NOT NULL DEFAULT '{default}'")

    def close(self) -> None:
        self.db.close()

    def create_run(self, info: RunInfo, source_version: str, config_digest: str, cases: list[Case],
                   pairs: tuple[tuple[str, str], ...] = ()) -> None:
        """The run, its plan and its campaign's (correct, buggy) target
        pairs, for report --variants."""
        with self._transaction():
            self.db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (info.run_id, info.campaign, info.spec_path, info.spec_digest,
                             source_version, config_digest, _now()))
            self.db.executemany("INSERT INTO pairs VALUES (?, ?, ?)", [(info.run_id, *p) for p in pairs])
            self.db.executemany(
                f"INSERT INTO cases (run_id, case_id, {CASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(info.run_id, c.case_id, c.index, c.kernel, c.target, c.fault, c.size, c.offset, c.seed,
                  c.rep, c.memory, c.caller) for c in cases])

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
        rows = self.db.execute(f"SELECT {CASE_COLUMNS} FROM cases "
                               "WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        return [Case(*row) for row in rows]

    def record(self, run_id: str, verdict: CaseVerdict) -> None:
        if verdict.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict.verdict}")
        with self._transaction():
            self.db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (run_id, verdict.case_id, verdict.verdict, verdict.title, verdict.seconds,
                             verdict.excerpt, _now()))

    def verdicts(self, run_id: str) -> dict[str, CaseVerdict]:
        rows = self.db.execute("SELECT case_id, verdict, title, seconds, excerpt FROM verdicts "
                               "WHERE run_id = ?", (run_id,)).fetchall()
        return {row[0]: CaseVerdict(row[0], Verdict(row[1]), *row[2:]) for row in rows}

    def record_lava_job(self, job: LavaJob) -> None:
        with self._transaction():
            self.db.execute("INSERT INTO lava_jobs (run_id, server, job_id, shard, boots, submitted) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (job.run_id, job.server, job.job_id, job.shard, json.dumps(job.boots), _now()))

    def lava_jobs(self, run_id: str) -> list[LavaJob]:
        rows = self.db.execute("SELECT run_id, server, job_id, shard, boots, collected, ended FROM lava_jobs "
                               "WHERE run_id = ? ORDER BY submitted, job_id", (run_id,)).fetchall()
        return [LavaJob(r[0], r[1], r[2], r[3], tuple(tuple(b) for b in json.loads(r[4])), r[5], r[6])
                for r in rows]

    def lava_collected(self, job: LavaJob, ended: str) -> None:
        with self._transaction():
            self.db.execute("UPDATE lava_jobs SET collected = ?, ended = ? WHERE run_id = ? AND server = ? "
                            "AND job_id = ?", (_now(), ended, job.run_id, job.server, job.job_id))

    def record_coverage(self, run_id: str, cov: Coverage) -> None:
        """A boot's coverage (case ids as the store knows them), merged
        into the rows it touches: one transaction."""
        with self._transaction():
            for f in cov.files.values():
                row = self.db.execute("SELECT lines, functions FROM coverage_files WHERE run_id = ? AND file = ?",
                                      (run_id, f.name)).fetchone()
                lines = f.lines | (parse_ranges(row[0]) if row else set())
                functions = {**(json.loads(row[1]) if row else {}), **f.functions}
                self.db.execute("INSERT OR REPLACE INTO coverage_files VALUES (?, ?, ?, ?, ?)",
                                (run_id, f.name, f.path, ranges(lines), json.dumps(functions)))
            for case, by_file in cov.hits.items():
                for name, ran in by_file.items():
                    row = self.db.execute("SELECT lines FROM coverage WHERE run_id = ? AND case_id = ? AND file = ?",
                                          (run_id, case, name)).fetchone()
                    self.db.execute("INSERT OR REPLACE INTO coverage VALUES (?, ?, ?, ?)",
                                    (run_id, case, name, ranges(ran | (parse_ranges(row[0]) if row else set()))))

    def coverage(self, run_id: str) -> Coverage:
        return _load_coverage(self.db, run_id)

    def _path(self) -> str:
        return str(self.db.execute("PRAGMA database_list").fetchone()[2])

    def _transaction(self) -> "_Tx":
        return _Tx(self.db, self._lock)


@dataclass(frozen=True)
class Row:
    """A planned case and its verdict."""
    case: Case
    verdict: Verdict
    title: str
    seconds: float

    @property
    def params(self) -> tuple[object, ...]:
        """The case without its repetition: what flakiness compares."""
        c = self.case
        return (c.kernel, c.target, c.fault, c.size, c.offset, c.seed, c.memory, c.caller)


@dataclass(frozen=True)
class RunHeader:
    run_id: str
    campaign: str
    started: str
    source_version: str
    config_digest: str


class History:
    """The campaign database read-only, for what reads it after the runs:
    reports, exports, the detection matrix, the test layers.  Every query
    of theirs is here."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise HarnessError(ExitCode.NO_SUCH_RUN, f"{path}: no campaign database; run a campaign first")
        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_: object) -> None:
        self.db.close()

    def newest_run(self, campaign: str | None = None, since: str = "") -> str | None:
        """The newest run by when it was planned (of campaign; planned no
        earlier than since, a UTC time as a run id spells it), or None.
        Not by id: a run named with --run-id (lava-..., local-...) sorts
        anywhere."""
        row = self.db.execute(
            "SELECT r.run_id FROM runs r WHERE (? IS NULL OR r.campaign = ?) AND r.started >= ? "
            "ORDER BY r.started DESC, r.rowid DESC LIMIT 1", (campaign, campaign, _started_of(since))).fetchone()
        return str(row[0]) if row else None

    def header(self, run_id: str) -> RunHeader:
        row = self.db.execute("SELECT run_id, campaign, started, source_version, config_digest FROM runs "
                              "WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise HarnessError(ExitCode.NO_SUCH_RUN, f"no campaign run {run_id!r} in {self.path}")
        return RunHeader(*row)

    def pairs(self, run_id: str) -> tuple[tuple[str, str], ...]:
        """The run's (correct, buggy) target globs; a run stored before
        campaigns named them has the default."""
        rows = self.db.execute("SELECT correct, buggy FROM pairs WHERE run_id = ? ORDER BY rowid",
                               (run_id,)).fetchall()
        return tuple((str(c), str(b)) for c, b in rows) or DEFAULT_PAIRS

    def newest_paired_run(self) -> str | None:
        """The newest run that planned a buggy target of one of its pairs."""
        row = self.db.execute(
            "SELECT r.run_id FROM runs r WHERE EXISTS (SELECT 1 FROM cases c WHERE c.run_id = r.run_id AND ("
            "EXISTS (SELECT 1 FROM pairs p WHERE p.run_id = r.run_id AND c.target GLOB p.buggy) OR "
            "(NOT EXISTS (SELECT 1 FROM pairs p WHERE p.run_id = r.run_id) AND c.target GLOB ?))) "
            "ORDER BY r.run_id DESC LIMIT 1", (DEFAULT_PAIRS[0][1],)).fetchone()
        return str(row[0]) if row else None

    def rows(self, run_id: str) -> list[Row]:
        """The run's cases that have a verdict, in plan order."""
        columns = CASE_COLUMNS if _has_added(self.db, "main") else _OLD_CASE_COLUMNS
        return [Row(Case(*r[:10]), Verdict(r[10]), *r[11:]) for r in self.db.execute(
            f"SELECT {columns}, verdict, title, seconds "
            "FROM cases c JOIN verdicts v ON v.run_id = c.run_id AND v.case_id = c.case_id "
            "WHERE c.run_id = ? ORDER BY c.idx", (run_id,))]

    def coverage(self, run_id: str) -> Coverage:
        """What --coverage stored for the run (empty without it)."""
        return _load_coverage(self.db, run_id)

    def planned_count(self, run_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM cases WHERE run_id = ?", (run_id,)).fetchone()[0])

    def verdict_count(self, run_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM verdicts WHERE run_id = ?", (run_id,)).fetchone()[0])

    def runs_of(self, campaign: str, upto: str) -> list[str]:
        """The runs of a campaign up to and including upto, oldest first."""
        return [r[0] for r in self.db.execute("SELECT run_id FROM runs WHERE campaign = ? AND run_id <= ? "
                                              "ORDER BY run_id", (campaign, upto))]

    def crash_titles(self, campaign: str, verdicts: tuple[Verdict, ...]) -> list[tuple[str, int, str, str]]:
        """(title, cases, first run, last run) over every run of a campaign."""
        marks = ", ".join("?" * len(verdicts))
        return self.db.execute(
            "SELECT v.title, count(*), min(v.run_id), max(v.run_id) FROM verdicts v JOIN runs r ON "
            f"r.run_id = v.run_id WHERE r.campaign = ? AND v.verdict IN ({marks}) AND v.title != '' "
            "GROUP BY v.title ORDER BY 2 DESC", (campaign, *verdicts)).fetchall()

    def mean_case_seconds(self, campaign: str) -> float | None:
        """Guest seconds a case of the campaign's earlier runs took, on average."""
        row = self.db.execute("SELECT avg(v.seconds) FROM verdicts v JOIN runs r ON r.run_id = v.run_id "
                              "WHERE r.campaign = ?", (campaign,)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def verdict_tally(self, run_id: str) -> tuple[int, int, dict[str, int]]:
        """(cases planned, cases with exactly one verdict, verdicts by kind;
        "doubled": cases with more than one)."""
        rows = self.db.execute("SELECT case_id, count(*) FROM verdicts WHERE run_id = ? GROUP BY case_id",
                               (run_id,)).fetchall()
        by_verdict = dict(self.db.execute("SELECT verdict, count(*) FROM verdicts WHERE run_id = ? "
                                          "GROUP BY verdict", (run_id,)).fetchall())
        doubled = sum(1 for _, n in rows if n != 1)
        return self.planned_count(run_id), len(rows) - doubled, {**by_verdict, "doubled": doubled}

    def first_failure(self, run_id: str, verdicts: tuple[Verdict, ...]) -> str | None:
        """The first case, in plan order, that ended as one of verdicts with
        an oracle's complaint (a "[tag] ..." title)."""
        marks = ", ".join("?" * len(verdicts))
        row = self.db.execute(
            "SELECT c.case_id FROM cases c JOIN verdicts v ON v.run_id = c.run_id AND v.case_id = c.case_id "
            f"WHERE c.run_id = ? AND v.verdict IN ({marks}) AND v.title LIKE '[%' ORDER BY c.idx LIMIT 1",
            (run_id, *verdicts)).fetchone()
        return str(row[0]) if row else None


def merge_into(dest: Path, sources: list[Path]) -> dict[str, int]:
    """Fold campaign databases (shards run on other machines) into dest.
    Runs, plans and verdicts are copied as they are; a row already in dest
    (the same run merged twice) is kept, not doubled.  Returns rows added
    per table."""
    store = Store(dest)
    # Parents first (foreign keys).  Shards of one run on one build agree on
    # a file's instrumented lines, so the first copy of a file's row stands.
    added = {"runs": 0, "cases": 0, "pairs": 0, "verdicts": 0, "coverage_files": 0, "coverage": 0}
    try:
        for source in sources:
            if not source.is_file():
                raise HarnessError(ExitCode.USAGE, f"{source}: no such database")
            if source.resolve() == dest.resolve():
                raise HarnessError(ExitCode.USAGE, f"{source}: cannot merge a database into itself")
            store.db.execute("ATTACH DATABASE ? AS src", (str(source),))
            try:
                with store._transaction():
                    # A database from before a table existed lacks it.
                    present = {str(r[0]) for r in store.db.execute(
                        "SELECT name FROM src.sqlite_master WHERE type = 'table'")}
                    for table in added:
                        if table not in present:
                            continue
                        # By name: an older database lacks later columns.
                        columns = ", ".join(str(r[1]) for r in store.db.execute(f"PRAGMA src.table_info({table})"))
                        cur = store.db.execute(f"INSERT OR IGNORE INTO main.{table} ({columns}) "
                                               f"SELECT {columns} FROM src.{table}")
                        added[table] += cur.rowcount
            finally:
                store.db.execute("DETACH DATABASE src")
    finally:
        store.close()
    return added


def _load_coverage(db: sqlite3.Connection, run_id: str) -> Coverage:
    cov = Coverage()
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'coverage_files'").fetchone():
        return cov  # a database from before --coverage, opened read-only
    for name, source, lines, functions in db.execute(
            "SELECT file, source, lines, functions FROM coverage_files WHERE run_id = ?", (run_id,)):
        cov.files[name] = SourceFile(name, source, parse_ranges(lines),
                                     {k: (v[0], v[1]) for k, v in json.loads(functions).items()})
    for case, name, lines in db.execute("SELECT case_id, file, lines FROM coverage WHERE run_id = ?", (run_id,)):
        cov.hits.setdefault(case, {})[name] = parse_ranges(lines)
    return cov


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
