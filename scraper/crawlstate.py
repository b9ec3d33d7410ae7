"""What a source's spider remembers between runs, apart from the records themselves.

One SQLite file, ``<home>/state/crawl.sqlite``, with three tables:

* ``validators``: the ``ETag`` and ``Last-Modified`` a feed or sitemap URL last
  answered with, sent back as ``If-None-Match`` / ``If-Modified-Since`` so an
  unchanged feed costs a 304 and no parsing;
* ``listings``: for each item key, a hash of how a list page, feed or sitemap
  last showed it (headline, summary, printed times).  A known article whose
  listing is unchanged is not fetched again; a changed listing (a corrected
  headline, a new update time) fetches it once more;
* ``pending``: per source, the article pages that could not be fetched, with
  the item as listed and how many times it was tried: the next run fetches
  them again even when its feed answers 304 (see :class:`scraper.spiders.NewsSpider`).

Both are written only after the records they describe were handled (see
:class:`scraper.spiders.NewsSpider`), so a crawl killed midway re-fetches
instead of skipping what it never saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

from newsdesk.core.sqlite import connect_wal

logger = logging.getLogger(__name__)


class CrawlState:
    """Conditional-GET validators per URL and listing fingerprints per item key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect_wal(path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT,"
                        " last_modified TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS listings (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS pending (source TEXT NOT NULL, key TEXT NOT NULL,"
                        " item TEXT NOT NULL, attempts INTEGER NOT NULL, PRIMARY KEY (source, key))")

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) last seen for ``url``; (None, None) if none."""
        row = self.db.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """Remember the validators of ``url``'s latest full answer (or forget them if both are None)."""
        with self.db:
            if etag is None and last_modified is None:
                self.db.execute("DELETE FROM validators WHERE url = ?", (url,))
            else:
                self.db.execute(
                    "INSERT INTO validators (url, etag, last_modified) VALUES (?, ?, ?)"
                    " ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
                    (url, etag, last_modified),
                )

    def listing(self, key: str) -> str | None:
        """The fingerprint of how ``key`` was last listed, if known."""
        row = self.db.execute("SELECT fingerprint FROM listings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def mark_listings(self, marks: dict[str, str]) -> None:
        """Remember listing fingerprints (key → fingerprint), in one transaction."""
        if not marks:
            return
        with self.db:
            self.db.executemany(
                "INSERT INTO listings (key, fingerprint) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint",
                list(marks.items()),
            )

    def add_pending(self, source: str, key: str, item: str) -> int:
        """One more failed attempt at ``key``'s article page (``item``: the record as listed, JSON); returns the attempts so far."""
        with self.db:
            self.db.execute(
                "INSERT INTO pending (source, key, item, attempts) VALUES (?, ?, ?, 1)"
                " ON CONFLICT(source, key) DO UPDATE SET item = excluded.item, attempts = attempts + 1",
                (source, key, item),
            )
            row = self.db.execute("SELECT attempts FROM pending WHERE source = ? AND key = ?", (source, key)).fetchone()
        return int(row[0])

    def drop_pending(self, source: str, key: str) -> None:
        """``key``'s article page was fetched, or given up."""
        with self.db:
            self.db.execute("DELETE FROM pending WHERE source = ? AND key = ?", (source, key))

    def pending(self, source: str) -> list[tuple[str, str]]:
        """(key, item as listed in JSON) of every article page of ``source`` still to fetch again."""
        return [(row[0], row[1]) for row in
                self.db.execute("SELECT key, item FROM pending WHERE source = ? ORDER BY key", (source,))]

    def close(self) -> None:
        self.db.close()
