"""Run history: one row per crawl in ``<home>/state/runs.sqlite``, plus the alerts raised.

Every crawl, whoever starts it (the scheduler, cron's ``newsdesk crawl``, a
person), is recorded: a ``running`` row when it starts, completed with status
and counts when it ends.  A row left ``running`` by a process that died is
settled later by :func:`newsdesk.ops.crawl.settle_orphans`.  A run that did not
start because an earlier one still held the source is recorded as ``skipped``.
Old rows, run reports and crawl logs are pruned by age and size (:func:`prune`).

The ``problems`` table holds each source's open health problems, so an alert
is delivered once when a problem starts, not on every run until it clears
(:func:`newsdesk.ops.health.evaluate_run`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from newsdesk.core.home import Home
from newsdesk.core.sqlite import connect_wal

logger = logging.getLogger(__name__)

#: Statuses a finished run can have; ``running`` is the only unfinished one.
FAILED = ("failed", "unreachable", "timeout", "interrupted")
#: Finished runs that say nothing about a source's health either way.
NEUTRAL = ("stopped", "skipped")
STATUSES = ("running", "ok", *NEUTRAL, *FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started     TEXT NOT NULL,
    ended       TEXT,
    status      TEXT NOT NULL,
    seen        INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    dropped     INTEGER NOT NULL DEFAULT 0,
    http_errors INTEGER NOT NULL DEFAULT 0,
    exit_code   INTEGER,
    log_file    TEXT,
    pid         INTEGER,
    message     TEXT NOT NULL DEFAULT '',
    stats       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source, started);
CREATE TABLE IF NOT EXISTS alerts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    source  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    run_id  TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alerts_by_source ON alerts (source, at);
CREATE TABLE IF NOT EXISTS problems (
    source  TEXT NOT NULL,
    problem TEXT NOT NULL,
    since   TEXT NOT NULL,
    run_id  TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (source, problem)
);
"""

#: Columns added since the first schema: (name, definition), added to an older file when opened.
_ADDED_COLUMNS = (("unchanged", "INTEGER NOT NULL DEFAULT 0"),)


def utcnow() -> datetime:
    """Now, aware, in UTC (one place, so tests can freeze it)."""
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds") if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class RunRecord:
    """One row of the run history."""

    run_id: str
    source: str
    trigger: str
    started: datetime
    status: str
    ended: datetime | None = None
    seen: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: int = 0
    http_errors: int = 0
    exit_code: int | None = None
    log_file: str | None = None
    pid: int | None = None
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    @property
    def duration(self) -> float | None:
        return (self.ended - self.started).total_seconds() if self.ended else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = _iso(self.started)
        data["ended"] = _iso(self.ended)
        data["duration"] = self.duration
        return data

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        data = dict(row)
        data["started"] = _parse(data["started"])
        data["ended"] = _parse(data["ended"])
        data["stats"] = json.loads(data["stats"] or "{}")
        return cls(**data)


@dataclass
class AlertRecord:
    """One alert as stored."""

    at: datetime
    source: str
    kind: str
    message: str
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = _iso(self.at)
        return data


class RunHistory:
    """The run history of one home; each call opens its own short connection (thread- and process-safe)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.path = home.runs_db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.home.ensure(self.home.state)
        with closing(connect_wal(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for name, definition in _ADDED_COLUMNS:
                if name not in columns:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")
            with db:  # one transaction
                yield db

    def start(self, run_id: str, source: str, trigger: str, log_file: Path | None,
              started: datetime | None = None) -> None:
        """Record a run that has just started."""
        with self._db() as db:
            db.execute("INSERT INTO runs (run_id, source, trigger, started, status, log_file) "
                       "VALUES (?, ?, ?, ?, 'running', ?)",
                       (run_id, source, trigger, _iso(started or utcnow()), str(log_file) if log_file else None))

    def set_pid(self, run_id: str, pid: int) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (pid, run_id))

    def finish(self, run_id: str, status: str, *, seen: int = 0, new: int = 0, updated: int = 0,
               unchanged: int = 0, dropped: int = 0, http_errors: int = 0, exit_code: int | None = None,
               message: str = "", stats: dict[str, Any] | None = None, ended: datetime | None = None) -> None:
        """Complete a run's row with how it ended."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self._db() as db:
            db.execute(
                "UPDATE runs SET ended = ?, status = ?, seen = ?, new = ?, updated = ?, unchanged = ?, "
                "dropped = ?, http_errors = ?, exit_code = ?, message = ?, stats = ? WHERE run_id = ?",
                (_iso(ended or utcnow()), status, seen, new, updated, unchanged, dropped, http_errors,
                 exit_code, message, json.dumps(stats or {}, sort_keys=True, default=str), run_id),
            )

    def skipped(self, run_id: str, source: str, trigger: str, message: str) -> None:
        """Record a run that did not start (an earlier one of the source still runs)."""
        self.start(run_id, source, trigger, None)
        self.finish(run_id, "skipped", message=message)

    def get(self, run_id: str) -> RunRecord | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def runs(self, source: str | None = None, limit: int | None = 20, *, finished: bool = False,
             before: str | None = None) -> list[RunRecord]:
        """Runs, newest first; only finished ones if asked; only those started before run ``before``."""
        where: list[str] = []
        args: list[Any] = []
        if source:
            where.append("source = ?")
            args.append(source)
        if finished:
            where.append("status != 'running'")
        if before:
            where.append("started <= (SELECT started FROM runs WHERE run_id = ?) AND run_id != ?")
            args += [before, before]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY started DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._db() as db:
            return [RunRecord.from_row(r) for r in db.execute(sql, args).fetchall()]

    def running(self) -> list[RunRecord]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY started").fetchall()
        return [RunRecord.from_row(r) for r in rows]

    def last(self, source: str, status: str | None = None) -> RunRecord | None:
        """The newest run of ``source`` (with that status, if given)."""
        sql = "SELECT * FROM runs WHERE source = ?" + (" AND status = ?" if status else "")
        args = (source, status) if status else (source,)
        with self._db() as db:
            row = db.execute(sql + " ORDER BY started DESC, rowid DESC LIMIT 1", args).fetchone()
        return RunRecord.from_row(row) if row else None

    def add_alert(self, alert: AlertRecord) -> None:
        with self._db() as db:
            db.execute("INSERT INTO alerts (at, source, kind, message, run_id, details) VALUES (?, ?, ?, ?, ?, ?)",
                       (_iso(alert.at), alert.source, alert.kind, alert.message, alert.run_id,
                        json.dumps(alert.details, sort_keys=True, default=str)))

    def alerts(self, source: str | None = None, since: datetime | None = None,
               limit: int = 50) -> list[AlertRecord]:
        """Stored alerts, newest first."""
        where: list[str] = []
        args: list[Any] = []
        if source:
            where.append("source = ?")
            args.append(source)
        if since:
            where.append("at >= ?")
            args.append(_iso(since))
        sql = "SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, limit)).fetchall()
        return [AlertRecord(at=_parse(r["at"]) or utcnow(), source=r["source"], kind=r["kind"],
                            message=r["message"], run_id=r["run_id"], details=json.loads(r["details"]))
                for r in rows]

    def open_problems(self, source: str) -> set[str]:
        """The health problems of ``source`` alerted and not yet cleared."""
        with self._db() as db:
            return {r[0] for r in db.execute("SELECT problem FROM problems WHERE source = ?", (source,))}

    def open_problem(self, source: str, problem: str, alert: AlertRecord) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO problems (source, problem, since, run_id, message) "
                       "VALUES (?, ?, ?, ?, ?)", (source, problem, _iso(alert.at), alert.run_id, alert.message))

    def clear_problem(self, source: str, problem: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM problems WHERE source = ? AND problem = ?", (source, problem))

    def prune(self, before: datetime) -> int:
        """Delete finished runs and alerts older than ``before``, keeping each source's newest run."""
        with self._db() as db:
            cursor = db.execute(
                "DELETE FROM runs WHERE started < ? AND status != 'running' AND run_id NOT IN "
                "(SELECT run_id FROM runs AS r WHERE r.started = "
                "(SELECT MAX(started) FROM runs AS s WHERE s.source = r.source))",
                (_iso(before),),
            )
            db.execute("DELETE FROM alerts WHERE at < ?", (_iso(before),))
            return cursor.rowcount


def _files_by_age(folder: Path, pattern: str) -> list[tuple[float, int, Path]]:
    found = []
    if folder.is_dir():
        for path in folder.glob(pattern):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            found.append((info.st_mtime, info.st_size, path))
    return sorted(found)


def prune(home: Home, keep_days: float, max_log_bytes: int, now: datetime | None = None,
          keep: set[str] | None = None) -> dict[str, int]:
    """Remove history, run reports and crawl logs older than ``keep_days``; then the oldest logs over size.

    :param keep: run ids whose files stay (runs in progress).
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=keep_days)
    keep = keep or set()
    removed = {"runs": 0, "reports": 0, "logs": 0}
    if keep_days > 0:
        removed["runs"] = RunHistory(home).prune(cutoff) if home.runs_db.exists() else 0
        for mtime, _, path in _files_by_age(home.runs, "*.json"):
            if mtime < cutoff.timestamp() and path.stem not in keep:
                path.unlink(missing_ok=True)
                removed["reports"] += 1
    logs = [entry for entry in _files_by_age(home.logs, "[0-9]*.log") if entry[2].stem not in keep]
    if keep_days > 0:
        for entry in list(logs):
            if entry[0] < cutoff.timestamp():
                entry[2].unlink(missing_ok=True)
                logs.remove(entry)
                removed["logs"] += 1
    if max_log_bytes > 0:
        total = sum(size for _, size, _ in logs)
        for _, size, path in logs:  # oldest first
            if total <= max_log_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed["logs"] += 1
    if any(removed.values()):
        logger.info("pruned %(runs)d runs, %(reports)d run reports, %(logs)d crawl logs", removed)
    return removed


def pid_alive(pid: int | None) -> bool:
    """True if a process with this pid exists (ours or not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
