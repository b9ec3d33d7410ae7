"""What runs once an ingest has committed its records: near-duplicate groups, then saved searches.

``ingest`` calls :func:`after_batch` after each batch it commits (with the
batch's records and their near-duplicate signatures, computed while its
worker processes indexed them), while it still holds the index lock and
before the outbox files move to the archive: a crash here means the files are
ingested again, and both steps are idempotent (a key is grouped once, a match
recorded once).  The work is proportional to the number of records, never to
the size of the archive.  Sending the matches to people is not the index's
job: the application does it after the ingest (``newsdesk.ops.alerts.after_ingest``),
outside the index lock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from index import neardup, watch
from index.store import new_writer
from index.schema import to_document
from newsdesk.core.home import Home

logger = logging.getLogger(__name__)


@dataclass
class AfterIngest:
    """What the post-ingest steps did."""

    grouped: int = 0  # records put into (or starting) a near-duplicate group
    watch_matches: dict[str, int] = field(default_factory=dict)  # saved search → new matches

    def add(self, other: AfterIngest) -> None:
        """Count another batch's work in."""
        self.grouped += other.grouped
        for name, count in other.watch_matches.items():
            self.watch_matches[name] = self.watch_matches.get(name, 0) + count


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


def signatures(ix: Any, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The near-duplicate signatures of records about to be committed (CPU only: no index or store access).

    ``ingest`` computes them while its worker processes index the same batch.
    """
    if "dupgroup" not in ix.schema:
        return {}
    return {record["key"]: neardup.record_signature(record) for record in records}


def after_batch(home: Home, ix: Any, records: list[dict[str, Any]],
                sigs: dict[str, Any] | None = None) -> AfterIngest:
    """Group a just-committed batch with its near-duplicates, then run saved searches over it.

    ``records`` are the batch's records as indexed (merged with what was there).
    """
    done = AfterIngest()
    if not records:
        return done
    by_key = {r["key"]: r for r in records}
    if "dupgroup" in ix.schema:
        try:
            groups = neardup.group_records(home.state, by_key.values(), sigs)
        except (sqlite3.Error, OSError, ValueError) as exc:
            logger.warning("near-duplicate grouping skipped: %s", exc)
        else:
            if groups:
                _write_groups(ix, by_key, groups)
                done.grouped = len(groups)
    try:
        new = watch.match_records(home.state, ix, by_key.values())
        done.watch_matches = {name: len(hits) for name, hits in new.items()}
    except (sqlite3.Error, OSError) as exc:
        logger.warning("saved searches not matched: %s", exc)
    return done


def restore_groups(home: Home, ix: Any) -> int:
    """Write the stored near-duplicate groups into a freshly rebuilt index; returns records updated."""
    if "dupgroup" not in ix.schema:
        return 0
    groups = neardup.known_groups(home.state)
    if groups:
        _write_groups(ix, {}, groups)
    return len(groups)
