"""The Whoosh schema, and how a record (one JSONL line) becomes a document."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

#: Bump when the schema changes; an index of another version must be rebuilt (`newsdesk reindex`).
SCHEMA_VERSION = 2  # 2: dupgroup (near-duplicate groups, index.neardup)


def make_schema() -> Schema:
    """Fields that are searched or filtered on; the whole record is kept in ``record``."""
    analyzer = StemmingAnalyzer(cachesize=50000)
    return Schema(
        key=ID(unique=True, stored=True),
        source=ID,
        kind=ID,
        agency=ID,
        language=ID,
        authors=KEYWORD(commas=True, lowercase=True, scorable=False),
        title=TEXT(analyzer=analyzer, field_boost=2.0),
        body=TEXT(analyzer=analyzer),
        # The item's time: when published, or, if only an update time was printed, that.
        published=DATETIME(sortable=True),
        version=NUMERIC(stored=True),
        dupgroup=ID(sortable=True),  # near-duplicate group (index.neardup); absent for a lone record
        record=STORED,
    )


def item_time(record: dict[str, Any]) -> datetime | None:
    """The time an item is searched and sorted by (naive UTC, as Whoosh wants it)."""
    for name in ("published", "updated"):
        value = record.get(name)
        if value:
            try:
                moment = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                continue
            if moment.tzinfo is not None:
                moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
            return moment
    return None


def to_document(record: dict[str, Any]) -> dict[str, Any]:
    """The Whoosh document for one record."""
    text = "\n".join(part for part in (record.get("summary"), record.get("body")) if part)
    doc: dict[str, Any] = {
        "key": record["key"],
        "title": record.get("title") or "",
        "body": text,
        "version": int(record.get("version") or 1),
        "record": json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    }
    for name in ("source", "kind", "language"):
        if record.get(name):
            doc[name] = str(record[name])
    if record.get("agency"):
        doc["agency"] = str(record["agency"]).lower()
    authors = [a.replace(",", " ") for a in record.get("authors") or [] if a]
    if authors:
        doc["authors"] = ",".join(authors)
    moment = item_time(record)
    if moment is not None:
        doc["published"] = moment
    if record.get("dupgroup"):
        doc["dupgroup"] = str(record["dupgroup"])
    return doc
