"""What runs once an ingest has committed its records: near-duplicate groups, then saved searches.

``ingest`` calls :func:`after_ingest` with the keys it just wrote, while it
still holds the index lock and before the outbox files move to the archive: a
crash here means the files are ingested again, and both steps are idempotent
(a key is grouped once, a match recorded once).  The work is proportional to
the number of keys, never to the size of the archive.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from index import neardup, watch
from index.ingest import new_writer
from index.schema import to_document
from newsdesk.errors import NewsdeskError
from newsdesk.home import Home

logger = logging.getLogger(__name__)

CHUNK = 5_000  # records read back from the index at a time


@dataclass
class AfterIngest:
    """What the post-ingest steps did."""

    grouped: int = 0  # records put into (or starting) a near-duplicate group
    watch_matches: dict[str, int] = field(default_factory=dict)  # saved search → new matches
    alerted: int = 0  # matches passed to the alert command


def _stored(ix: Any, keys: Iterable[str]) -> list[dict[str, Any]]:
    with ix.searcher() as searcher:
        found = (searcher.document(key=key) for key in dict.fromkeys(keys))
        return [json.loads(doc["record"]) for doc in found if doc]


def _write_groups(ix: Any, records: dict[str, dict[str, Any]], groups: dict[str, str]) -> None:
    """Set ``dupgroup`` on the given keys' indexed records (reading any not in ``records``)."""
    missing = [k for k in groups if k not in records]
    records = {**records, **{r["key"]: r for r in _stored(ix, missing)}}
    writer = new_writer(ix)
    for key, group in groups.items():
        record = records.get(key)
        if record is None or record.get("dupgroup") == group:
            continue
        record["dupgroup"] = group
        writer.update_document(**to_document(record))
    writer.commit(merge=False)  # merging is maintenance (`newsdesk optimize`), not ingest's job


def after_ingest(home: Home, ix: Any, keys: Iterable[str]) -> AfterIngest:
    """Group the just-indexed records with their near-duplicates, then run saved searches over them.

    The records are read from the index ``CHUNK`` at a time, so memory stays
    bounded however many an ingest brought (both steps remember what they saw
    between chunks: the result is the same as in one go).
    """
    done = AfterIngest()
    unique = list(dict.fromkeys(keys))
    grouping = "dupgroup" in ix.schema
    watching = True
    matches: Counter[str] = Counter()
    for start in range(0, len(unique), CHUNK):
        records = {r["key"]: r for r in _stored(ix, unique[start:start + CHUNK])}
        if not records:
            continue
        if grouping:
            try:
                groups = neardup.group_records(home.state, records.values())
            except (sqlite3.Error, OSError, ValueError) as exc:
                logger.warning("near-duplicate grouping skipped: %s", exc)
                grouping = False
            else:
                if groups:
                    _write_groups(ix, records, groups)
                    done.grouped += len(groups)
        if watching:
            try:
                for name, hits in watch.match_records(home.state, ix, records.values()).items():
                    matches[name] += len(hits)
            except (sqlite3.Error, OSError) as exc:
                logger.warning("saved searches not matched: %s", exc)
                watching = False
    if unique and watching:
        done.watch_matches = dict(matches)
        try:
            done.alerted = _alert(home)
        except (sqlite3.Error, OSError) as exc:
            logger.warning("saved-search alerts not sent: %s", exc)
    return done


def _alert(home: Home) -> int:
    """Send pending saved-search matches to ``[health] alert_command``, the one command all alerts use."""
    from newsdesk.config import load_config

    try:
        command = load_config(home.root / "config.toml").alert_command
    except NewsdeskError as exc:
        logger.warning("%s; saved-search alerts are kept until it is fixed", exc)
        return 0
    return watch.deliver_alerts(home, command)


def restore_groups(home: Home, ix: Any) -> int:
    """Write the stored near-duplicate groups into a freshly rebuilt index; returns records updated."""
    if "dupgroup" not in ix.schema:
        return 0
    groups = neardup.known_groups(home.state)
    if groups:
        _write_groups(ix, {}, groups)
    return len(groups)
