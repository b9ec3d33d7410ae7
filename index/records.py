"""One record by key, its near-duplicate group, and its earlier versions from the archive.

The lookups behind a record page (``newsdesk serve``): the index holds the
newest version of each key; earlier versions live only in the archive of
record, so :func:`versions` reads the archive files of the months the record
can have been fetched in, and no more than ``MAX_ARCHIVE_FILES`` of them.
"""

from __future__ import annotations

import difflib
import gzip
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import query

from index.store import open_index
from index.integrity import guarded
from index.schema import item_time
from index.search import GROUP_FIELD
from newsdesk.core.home import Home

logger = logging.getLogger(__name__)

MAX_ARCHIVE_FILES = 400  # a record page never reads more archive files than this
MAX_GROUP = 50  # near-duplicates shown for one record
#: Fields that change on every fetch (or with any change): not listed as changes between versions.
UNCOMPARED = ("fetched_at", "version", "fingerprint")
SHORT = 160  # a text up to this long is shown whole, old and new; a longer one as changed sentences
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@guarded
def get_record(index_dir: Path, key: str) -> dict[str, Any] | None:
    """The indexed record with this key, or None."""
    ix = open_index(index_dir)
    try:
        with ix.searcher() as searcher:
            stored = searcher.document(key=key)
            return json.loads(stored["record"]) if stored else None
    finally:
        ix.close()


@guarded
def current_records(index_dir: Path, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The indexed (current) record of each of ``keys`` that is in the index."""
    ix = open_index(index_dir)
    try:
        with ix.searcher() as searcher:
            found = {}
            for key in dict.fromkeys(keys):
                stored = searcher.document(key=key)
                if stored:
                    found[key] = json.loads(stored["record"])
            return found
    finally:
        ix.close()


@guarded
def group_members(index_dir: Path, group: str, limit: int = MAX_GROUP) -> list[dict[str, Any]]:
    """The records of one near-duplicate group, oldest first."""
    ix = open_index(index_dir)
    try:
        if GROUP_FIELD not in ix.schema:
            return []
        with ix.searcher() as searcher:
            found = searcher.search(query.Term(GROUP_FIELD, group), limit=limit, sortedby="published")
            return [json.loads(hit["record"]) for hit in found]
    finally:
        ix.close()


def _month(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.year, moment.month


def _archive_files(home: Home, first: tuple[int, int] | None, last: tuple[int, int] | None) -> list[Path]:
    """Archive files of the months from ``first`` to ``last`` (either open), oldest first."""
    files = []
    for path in sorted(home.archive.glob("*/*/*.jsonl.gz")):
        try:
            month = (int(path.parent.parent.name), int(path.parent.name))
        except ValueError:
            continue
        if (first and month < first) or (last and month > last):
            continue
        files.append(path)
    return files


def versions(home: Home, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every archived version of ``record``'s key (oldest first), or [] if it has only one."""
    if int(record.get("version") or 1) <= 1 or not home.archive.is_dir():
        return []
    first = _month(record.get("published"))
    last = _month(record.get("fetched_at"))
    if first and last and first > last:
        first = None  # a published time after the fetch (a wrong zone upstream): read from the start
    files = _archive_files(home, first, last)
    if len(files) > MAX_ARCHIVE_FILES:
        logger.info("versions of %s: %d archive files, reading the newest %d", record["key"], len(files),
                    MAX_ARCHIVE_FILES)
        files = files[-MAX_ARCHIVE_FILES:]
    key = record["key"]
    needles = {json.dumps(key, ensure_ascii=False), json.dumps(key)}  # however the writer escaped it
    found: dict[int, dict[str, Any]] = {}
    for path in files:
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not any(n in line for n in needles):
                        continue
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(data, dict) and data.get("key") == key:
                        found[int(data.get("version") or 1)] = data
        except (OSError, EOFError) as exc:
            logger.warning("archive file %s unreadable: %s", path, exc)
    return [found[v] for v in sorted(found)]


def version_order(record: dict[str, Any]) -> tuple[int, str]:
    """How versions of one key are ordered (which is newer): by version number, then fetch time."""
    try:
        number = int(record.get("version") or 1)
    except (TypeError, ValueError):
        number = 1
    fetched = item_time({"published": record.get("fetched_at")})
    return number, fetched.isoformat() if fetched else ""


def history(home: Home, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every version of ``record``'s key, oldest first, ending with ``record`` itself (the current one)."""
    found = [v for v in versions(home, record) if version_order(v) != version_order(record)]
    return sorted(found, key=version_order) + [record]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def field_change(old: Any, new: Any) -> dict[str, Any]:
    """One field's change: ``{"old", "new"}``; a long text also gets ``lines``, its changed sentences (±)."""
    change: dict[str, Any] = {"old": old, "new": new}
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > SHORT:
        change["lines"] = [line for line in difflib.unified_diff(_sentences(old), _sentences(new), lineterm="", n=0)
                           if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return change


def changes(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What differs between two versions of a record, field by field (fetch time and version aside)."""
    names = [*older, *(n for n in newer if n not in older)]
    return {name: field_change(older.get(name), newer.get(name)) for name in names
            if name not in UNCOMPARED and older.get(name) != newer.get(name)}
