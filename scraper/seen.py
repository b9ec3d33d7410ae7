"""The persistent store of item keys and content fingerprints seen in earlier runs.

One SQLite file under ``<home>/state/``.  A key is marked only after its record's
line was flushed to the outbox file (told *written*, :mod:`scraper.outcomes`), so a
crawl killed between the two re-sends the record next time instead of losing it;
ingest is idempotent.

Within a process, :meth:`SeenStore.open` hands the spider and the dedupe
pipeline of a crawl the same store: one connection, and a key the spider
looked up (before following the item's link) is answered from memory when
the item reaches the dedupe pipeline.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from newsdesk.core.sqlite import connect_wal

#: Answers kept for a second look at the same key; beyond this many the oldest go.
KEPT_ANSWERS = 20_000

_OPEN: dict[Path, SeenStore] = {}


class SeenStore:
    """Keys → (fingerprint, version), shared by every crawl of one home."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = connect_wal(path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
            " version INTEGER NOT NULL, last_seen TEXT NOT NULL)"
        )
        self._pending: dict[str, tuple[str, int, str]] = {}
        self._answers: dict[str, tuple[str, int] | None] = {}
        self._users = 1

    @classmethod
    def open(cls, path: Path) -> SeenStore:
        """This process's store for ``path`` (opened on first use); :meth:`close` it when done."""
        where = path.resolve()
        store = _OPEN.get(where)
        if store is None:
            store = _OPEN[where] = cls(path)
        else:
            store._users += 1
        return store

    def get(self, key: str, *, keep: bool = False) -> tuple[str, int] | None:
        """(fingerprint, version) of a known key, counting marks not yet flushed.

        With ``keep``, the answer also serves the next ``get`` of the key (once).
        """
        if key in self._pending:
            fp, version, _ = self._pending[key]
            return fp, version
        if key in self._answers:
            return self._answers.pop(key)
        row = self.db.execute("SELECT fingerprint, version FROM seen WHERE key = ?", (key,)).fetchone()
        answer = (row[0], row[1]) if row else None
        if keep:
            if len(self._answers) >= KEPT_ANSWERS:
                del self._answers[next(iter(self._answers))]
            self._answers[key] = answer
        return answer

    def mark(self, key: str, fp: str, version: int) -> None:
        """Remember a key; written in batches (``flush``)."""
        self._answers.pop(key, None)
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
        """Flush; the last user of a shared store closes its connection."""
        self.flush()
        self._users -= 1
        if self._users > 0:
            return
        self.db.close()
        where = self.path.resolve()
        if _OPEN.get(where) is self:
            del _OPEN[where]
