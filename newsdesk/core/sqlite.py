"""SQLite files that several processes open at once (crawls of many sources, the scheduler, ingest)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def connect_wal(path: Path, timeout: float = 60.0, isolation_level: str | None = "") -> sqlite3.Connection:
    """A connection in WAL mode, waiting up to ``timeout`` seconds for other processes' locks.

    Turning WAL on needs a moment of exclusive access, and SQLite answers
    "database is locked" at once, without its busy wait, when two processes
    open a new file together; so the switch is retried until ``timeout``.
    ``isolation_level`` is ``sqlite3.connect``'s (None: autocommit).
    """
    db = sqlite3.connect(path, timeout=timeout, isolation_level=isolation_level)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
