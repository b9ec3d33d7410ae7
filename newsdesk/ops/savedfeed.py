"""Atom feeds of saved searches: what ``/saved/NAME.atom`` serves and ``newsdesk watch feed NAME`` prints.

One document for both, made by feedgen: an entry per match (the newest
``FEED_ENTRIES``), with the record's key as its id, its link, its published
time, the time it matched as ``updated``, and its summary.  The feed of all
saved searches holds each record once, with the searches it matched as
categories.  Links are absolute only when a base URL is given (the server
passes its own; ``watch feed --base-url`` the same one, for the same bytes).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feedgen.feed import FeedGenerator

from index import watch

logger = logging.getLogger(__name__)

FEED_ENTRIES = 200
#: Characters XML 1.0 cannot carry (lxml refuses them); a record's text loses them in a feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: Any) -> str:
    return _NOT_XML.sub("", str(value or ""))


def _time(iso: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(iso)) if iso else None
    except ValueError:
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=timezone.utc)


def _feed(feed_id: str, title: str, subtitle: str, path: str, base_url: str, entries: list[dict[str, Any]],
          created: str) -> bytes:
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(_text(title))
    fg.subtitle(_text(subtitle) or "newsdesk saved search")
    fg.author(name="newsdesk")
    fg.generator("newsdesk")
    if base_url:
        fg.link(href=base_url.rstrip("/") + path, rel="self", type="application/atom+xml")
        fg.link(href=base_url.rstrip("/") + "/saved", rel="alternate", type="text/html")
    times = [t for t in (_time(e["matched_at"]) for e in entries) if t]
    fg.updated(max(times, default=None) or _time(created) or datetime(1970, 1, 1, tzinfo=timezone.utc))
    for record in entries:
        entry = fg.add_entry(order="append")
        entry.id(_text(record["key"]))
        entry.title(_text(record.get("title")) or "(no title)")
        if record.get("url"):
            entry.link(href=_text(record["url"]), rel="alternate")
        published = _time(record.get("published"))
        if published:
            entry.published(published)
        entry.updated(_time(record["matched_at"]) or published or fg.updated())
        facts = " · ".join(_text(v) for v in (record.get("source"), record.get("agency")) if v)
        summary = _text(record.get("summary")) or facts or "(no summary)"
        entry.summary(summary)
        if not record.get("url"):
            entry.content(summary, type="text")  # Atom: an entry without a link carries content
        if record.get("source"):
            entry.author(name=_text(record.get("agency") or record["source"]))
        for name in record.get("searches", []):
            entry.category(term=_text(name))
    return bytes(fg.atom_str(pretty=True))


def entries(state_dir: Path, name: str) -> list[dict[str, Any]]:
    """A saved search's matches as ``watch show --json`` prints them, newest first."""
    return [{**m.record, "matched_at": m.matched_at} for m in watch.matches(state_dir, name)]


def search_feed(state_dir: Path, name: str, base_url: str = "") -> bytes:
    """The Atom document of one saved search (WatchError if there is none of that name)."""
    saved = watch.get(state_dir, name)
    return _feed(f"urn:newsdesk:saved:{saved.name}", f"newsdesk: {saved.name}", saved.describe(),
                 f"/saved/{saved.name}.atom", base_url, entries(state_dir, name)[:FEED_ENTRIES], saved.created)


def all_feed(state_dir: Path, base_url: str = "") -> bytes:
    """One Atom document of every saved search's matches (each record once)."""
    by_key: dict[str, dict[str, Any]] = {}
    created = ""
    for saved, _, _ in watch.saved_searches(state_dir):
        created = max(created, saved.created)
        for record in entries(state_dir, saved.name):
            known = by_key.setdefault(record["key"], {**record, "searches": []})
            known["searches"].append(saved.name)
            known["matched_at"] = max(known["matched_at"], record["matched_at"])
    newest = sorted(by_key.values(), key=lambda r: r["matched_at"], reverse=True)[:FEED_ENTRIES]
    return _feed("urn:newsdesk:saved", "newsdesk: saved searches", "every saved search's matches",
                 "/saved.atom", base_url, newest, created)
