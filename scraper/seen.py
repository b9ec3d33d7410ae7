"""The persistent store of item keys and content fingerprints seen in earlier runs.

One SQLite file under ``<home>/state/``.  A key is marked only after its record
reached the outbox (the ``item_scraped`` signal), so a crawl killed between the
two re-sends the record next time instead of losing it; ingest is idempotent.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from newsdesk.sqlite import connect_wal


class SeenStore:
    """Keys → (fingerprint, version), shared by every crawl of one home."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect_wal(path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
            " version INTEGER NOT NULL, last_seen TEXT NOT NULL)"
        )
        self._pending: dict[str, tuple[str, int, str]] = {}

    def get(self, key: str) -> tuple[str, int] | None:
        """(fingerprint, version) of a known key, counting marks not yet flushed."""
        if key in self._pending:
            fp, version, _ = self._pending[key]
            return fp, version
        row = self.db.execute("SELECT fingerprint, version FROM seen WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def mark(self, key: str, fp: str, version: int) -> None:
        """Remember a key; written in batches (``flush``)."""
        self._pending[key] = (fp, version, datetime.now(timezone.utc).isoformat())
        if len(self._pending) >= 200:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [(k, fp, v, ts) for k, (fp, v, ts) in self._pending.items()]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO seen (key, fingerprint, version, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " version = excluded.version, last_seen = excluded.last_seen",
                rows,
            )
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self.db.close()
