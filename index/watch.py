"""Saved searches that watch the archive: matched after every ingest against the new records only.

A saved search is a name, a query and filters (sources, agencies, authors,
kinds).  After an ingest, every saved search runs restricted to the keys just
indexed, so the cost grows with the size of the ingest, not of the archive.  Each (search, record key) match is
recorded once in ``<home>/state/watch.sqlite``: a record seen again (a re-run,
a corrected headline) is not reported again.  New matches are shown once by
``watch show --new`` and stay "not alerted" until the application's alert
sender (``newsdesk.ops.alerts``, which reads :func:`pending_alerts`) has put them
into a message and called :func:`mark_alerted`.  A saved search may carry its
own notification URLs and cooldown; this module only stores them.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from index.search import Filters, query_for
from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SHOWN_FIELDS = ("key", "url", "title", "summary", "source", "agency", "published", "version", "dupgroup")
_OPTIONS = ("sources", "agencies", "authors", "kinds", "notify", "cooldown")

_SQL = """
CREATE TABLE IF NOT EXISTS searches (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,      -- JSON: sources, agencies, authors, kinds, notify, cooldown
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    search TEXT NOT NULL,
    key TEXT NOT NULL,
    record TEXT NOT NULL,       -- JSON: the fields shown
    matched_at TEXT NOT NULL,
    shown INTEGER NOT NULL DEFAULT 0,
    alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (search, key)
);
"""


class WatchError(NewsdeskError):
    """A saved-search command that cannot be done (unknown name, name taken, bad query)."""


@dataclass
class SavedSearch:
    """A named query with filters."""

    name: str
    query: str
    sources: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    created: str = ""
    notify: list[str] = field(default_factory=list)  # its own notification URLs (secrets: never shown)
    cooldown: float | None = None  # seconds between two messages about it (None: ``[alerts] cooldown``)

    def filters(self) -> Filters:
        """The saved filters (saved searches have no time range: every new record is new)."""
        return Filters(sources=self.sources, agencies=self.agencies, authors=self.authors, kinds=self.kinds)

    def describe(self) -> str:
        """One line: the query and its filters."""
        parts = [repr(self.query) if self.query else "(every record)"]
        for label, values in (("source", self.sources), ("agency", self.agencies),
                              ("author", self.authors), ("kind", self.kinds)):
            parts.extend(f"--{label} {v}" for v in values)
        return " ".join(parts)


@dataclass
class Match:
    """A record a saved search matched, as recorded."""

    search: str
    record: dict[str, Any]
    matched_at: str
    shown: bool
    alerted: bool


def store_path(state_dir: Path) -> Path:
    """Where a home keeps its saved searches and their matches."""
    return state_dir / "watch.sqlite"


@contextmanager
def _open(state_dir: Path) -> Iterator[sqlite3.Connection]:
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(store_path(state_dir))
    try:
        db.executescript(_SQL)
        with db:
            yield db
    finally:
        db.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _row(row: tuple[Any, ...]) -> SavedSearch:
    return SavedSearch(name=row[0], query=row[1], created=row[3], **json.loads(row[2]))


def add(state_dir: Path, saved: SavedSearch, replace: bool = False) -> SavedSearch:
    """Save a search (the query is checked first); WatchError if the name is taken and not ``replace``."""
    from index.schema import make_schema

    if not _NAME.match(saved.name):
        raise WatchError(f"invalid saved-search name {saved.name!r}",
                         "use letters, digits, '-', '_' or '.', at most 64 characters")
    query_for(make_schema(), saved.query, saved.filters())  # raises QueryError on a bad query
    saved.created = saved.created or _now()
    filters = json.dumps({k: v for k, v in asdict(saved).items() if k in _OPTIONS})
    with _open(state_dir) as db:
        exists = db.execute("SELECT 1 FROM searches WHERE name = ?", (saved.name,)).fetchone()
        if exists and not replace:
            raise WatchError(f"a saved search named {saved.name!r} exists",
                             "pick another name, or add --replace")
        if exists:
            db.execute("DELETE FROM matches WHERE search = ?", (saved.name,))
        db.execute("INSERT OR REPLACE INTO searches VALUES (?, ?, ?, ?)",
                   (saved.name, saved.query, filters, saved.created))
    return saved


def remove(state_dir: Path, name: str) -> None:
    """Delete a saved search and its recorded matches."""
    with _open(state_dir) as db:
        if db.execute("DELETE FROM searches WHERE name = ?", (name,)).rowcount == 0:
            raise _unknown(db, name)
        db.execute("DELETE FROM matches WHERE search = ?", (name,))


def _unknown(db: sqlite3.Connection, name: str) -> WatchError:
    names = [r[0] for r in db.execute("SELECT name FROM searches ORDER BY name")]
    return WatchError(f"no saved search named {name!r}",
                      f"saved searches: {', '.join(names)}" if names else "add one with `newsdesk watch add NAME QUERY`")


def saved_searches(state_dir: Path) -> list[tuple[SavedSearch, int, int]]:
    """Every saved search with its number of matches and of matches not yet shown."""
    if not store_path(state_dir).exists():
        return []
    with _open(state_dir) as db:
        rows = db.execute("SELECT * FROM searches ORDER BY name").fetchall()
        counts = {name: (total, new) for name, total, new in db.execute(
            "SELECT search, COUNT(*), SUM(shown = 0) FROM matches GROUP BY search")}
    return [(_row(r), *counts.get(r[0], (0, 0))) for r in rows]


def get(state_dir: Path, name: str) -> SavedSearch:
    """One saved search by name."""
    with _open(state_dir) as db:
        row = db.execute("SELECT * FROM searches WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _unknown(db, name)
    return _row(row)


def matches(state_dir: Path, name: str, new_only: bool = False, mark_shown: bool = False) -> list[Match]:
    """A saved search's matches, newest first; ``new_only`` the ones not shown before (then marked)."""
    with _open(state_dir) as db:
        if not db.execute("SELECT 1 FROM searches WHERE name = ?", (name,)).fetchone():
            raise _unknown(db, name)
        sql = "SELECT search, record, matched_at, shown, alerted FROM matches WHERE search = ?"
        if new_only:
            sql += " AND shown = 0"
        rows = db.execute(sql + " ORDER BY matched_at DESC, rowid DESC", (name,)).fetchall()
        if mark_shown and rows:
            db.execute("UPDATE matches SET shown = 1 WHERE search = ? AND shown = 0", (name,))
    return [Match(r[0], json.loads(r[1]), r[2], bool(r[3]), bool(r[4])) for r in rows]


def match_records(state_dir: Path, ix: Any, records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Run every saved search over ``records`` (just indexed in ``ix``); record and return the new matches.

    Each query's matcher only skips to the new records' documents, instead of
    scanning every match in the archive.
    """
    by_key = {r["key"]: r for r in records}
    if not by_key or not store_path(state_dir).exists():
        return {}
    with _open(state_dir) as db:
        searches = [_row(r) for r in db.execute("SELECT * FROM searches ORDER BY name")]
    if not searches:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    with ix.searcher() as searcher:
        docnums = sorted(n for n in (searcher.document_number(key=k) for k in by_key) if n is not None)
        for saved in searches:
            try:
                q = query_for(ix.schema, saved.query, saved.filters())
            except NewsdeskError as exc:
                logger.warning("saved search %s skipped: %s", saved.name, exc)
                continue
            keys = [searcher.stored_fields(n)["key"] for n in _among(searcher, q, docnums)]
            if keys:
                found[saved.name] = [by_key[k] for k in keys if k in by_key]
    new: dict[str, list[dict[str, Any]]] = {}
    now = _now()
    with _open(state_dir) as db:
        for name, hits in found.items():
            for record in hits:
                shown = {k: record.get(k) for k in _SHOWN_FIELDS}
                cursor = db.execute("INSERT OR IGNORE INTO matches (search, key, record, matched_at) VALUES (?, ?, ?, ?)",
                                    (name, record["key"], json.dumps(shown, ensure_ascii=False), now))
                if cursor.rowcount:
                    new.setdefault(name, []).append(shown)
    return new


def _among(searcher: Any, q: Any, docnums: list[int]) -> list[int]:
    """Those of ``docnums`` (sorted, live) that ``q`` matches, by skipping each segment's matcher to them."""
    subs = [(searcher, 0)] if searcher.is_atomic() else searcher.subsearchers
    found: list[int] = []
    for sub, offset in subs:
        local = [n - offset for n in docnums if offset <= n < offset + sub.doc_count_all()]
        if not local:
            continue
        matcher = q.matcher(sub)
        for n in local:
            if not matcher.is_active():
                break
            if matcher.id() < n:
                matcher.skip_to(n)
            if matcher.is_active() and matcher.id() == n:
                found.append(n + offset)
    return found


def pending_alerts(state_dir: Path) -> dict[str, tuple[SavedSearch, list[dict[str, Any]]]]:
    """Each saved search's matches not yet put into an alert, in the order they were matched."""
    if not store_path(state_dir).exists():
        return {}
    with _open(state_dir) as db:
        searches = {r[0]: _row(r) for r in db.execute("SELECT * FROM searches")}
        rows = db.execute("SELECT search, record FROM matches WHERE alerted = 0 ORDER BY rowid").fetchall()
    pending: dict[str, tuple[SavedSearch, list[dict[str, Any]]]] = {}
    for name, record in rows:
        if name in searches:
            pending.setdefault(name, (searches[name], []))[1].append(json.loads(record))
    return pending


def mark_alerted(state_dir: Path, name: str, keys: Iterable[str]) -> None:
    """Record that these matches of ``name`` went into an alert (or were folded into an earlier one)."""
    with _open(state_dir) as db:
        db.executemany("UPDATE matches SET alerted = 1 WHERE search = ? AND key = ?", [(name, k) for k in keys])
