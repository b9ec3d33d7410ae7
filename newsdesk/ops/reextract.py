"""Re-derive archived records from their captured pages with today's spiders and pipelines.

Each run's WARC file (:mod:`scraper.warcfile`) is replayed like a fixture
folder (:func:`newsdesk.ops.fixtures.crawl_start`: a scratch home, the clock
frozen at the fetch time, every request answered from the capture).  A record
that comes out is compared with the archived record of its key, but only when
that record is the one read from the same capture (a later fetch's record is
newer than anything an old page can say).  Where a field differs, a new
version (the archived version + 1) goes to the outbox and is ingested; the
seen store learns its fingerprint, so the next crawl does not count the same
change again.

The order that makes a crash safe: the outbox file is written whole (a
temporary name, fsynced, renamed), then the seen store is told, then ingest
runs.  A crash before the rename leaves nothing; after it, ingest picks the
file up on its next run.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from index.ingest import IngestResult, ingest
from index.store import open_index
from index.records import get_record
from newsdesk.core.errors import NewsdeskError
from newsdesk.ops.fixtures import crawl_start, merged_records
from newsdesk.core.home import Home
from newsdesk.core.runid import new_run_id, run_time
from newsdesk.core.record import FIELD_NAMES
from scraper.seen import SeenStore
from scraper.sources import load_sources
from scraper.warcfile import WarcRun, run_id_of, warc_files

logger = logging.getLogger(__name__)

#: Fields that say where and when a record was read, not what it says: never a reason for a new version.
NOT_COMPARED = frozenset({"fetched_at", "version", "capture", "capture_warc", "fingerprint"})
COMPARED = tuple(name for name in FIELD_NAMES if name not in NOT_COMPARED)


class ReextractError(NewsdeskError):
    """What ``reextract`` was asked cannot be done (an unknown source, no index yet)."""

    exit_code = 2


@dataclass
class Change:
    """One archived record whose captured page now gives other values."""

    key: str
    title: str | None
    version: int  # the new version's number
    fields: dict[str, tuple[Any, Any]]  # name → (archived, re-derived)


@dataclass
class ReextractResult:
    """What one ``reextract`` found (and, unless a dry run, wrote)."""

    captures: int = 0  # WARC files replayed
    records: int = 0  # records re-derived
    unchanged: int = 0
    newer: int = 0  # the archived record was read from a later capture: left alone
    not_archived: int = 0  # a record the archive does not hold (dropped when crawled): left alone
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dry_run: bool = False
    ingest: IngestResult | None = None

    @property
    def by_field(self) -> Counter[str]:
        """How many records changed in each field."""
        return Counter(name for change in self.changes for name in change.fields)

    def to_dict(self) -> dict[str, Any]:
        return {"captures": self.captures, "records": self.records, "changed": len(self.changes),
                "unchanged": self.unchanged, "newer": self.newer, "not_archived": self.not_archived,
                "dry_run": self.dry_run, "by_field": dict(sorted(self.by_field.items())),
                "changes": [{"key": c.key, "title": c.title, "version": c.version,
                             "fields": {n: {"old": o, "new": v} for n, (o, v) in c.fields.items()}}
                            for c in self.changes],
                "problems": self.problems}


def reextract(home: Home, source_ids: list[str] | None = None, since: datetime | None = None,
              dry_run: bool = False) -> ReextractResult:
    """Replay the captures of ``source_ids`` (all by default) from runs started at ``since`` or later."""
    sources = load_sources(home.sources_file)
    unknown = [s for s in source_ids or [] if s not in sources]
    if unknown:
        raise ReextractError(f"unknown source {unknown[0]!r} (known: {', '.join(sources) or 'none'})")
    open_index(home.index).close()  # IndexMissing before any replay when nothing was crawled yet
    result = ReextractResult(dry_run=dry_run)
    new_records: list[dict[str, Any]] = []
    for path in warc_files(home):
        started = run_time(run_id_of(path))
        if since is not None and (started is None or started < since):
            continue
        run = WarcRun.open(path)
        if source_ids and run.source not in source_ids:
            continue
        source = sources.get(run.source)
        if source is None:
            result.problems.append(f"{path.name}: source {run.source!r} is no longer configured")
            continue
        result.captures += 1
        starts = [s for s in run.starts if run.fetched_at(s) is not None]
        runs = [crawl_start(home, source, start, replay=run) for start in starts]
        result.problems += [f"{path.name}: {r.start}: {r.problem}" for r in runs if r.problem]
        for record in merged_records(runs):
            result.records += 1
            new = _compare(home, record, result)
            if new is not None:
                new_records.append(new)
    if new_records and not dry_run:
        result.ingest = _write(home, new_records)
    return result


def _compare(home: Home, record: dict[str, Any], result: ReextractResult) -> dict[str, Any] | None:
    """The new version of the record's key if the re-derived record differs from its archived one."""
    archived = get_record(home.index, record["key"])
    if archived is None:
        result.not_archived += 1
        return None
    if archived.get("capture") != record.get("capture"):
        result.newer += 1
        return None
    changed = {name: (archived.get(name), record.get(name)) for name in COMPARED
               if _value(archived.get(name)) != _value(record.get(name))}
    if not changed:
        result.unchanged += 1
        return None
    version = int(archived.get("version") or 1) + 1
    result.changes.append(Change(record["key"], record.get("title") or archived.get("title"), version, changed))
    return {**record, "version": version}


def _value(value: Any) -> Any:
    """Empty values are alike (a record from before a field existed has no such key)."""
    return value if value not in (None, "", [], {}) else None


def _write(home: Home, records: list[dict[str, Any]]) -> IngestResult:
    """New versions → a whole outbox file → the seen store → ingest (the module docstring's order)."""
    home.ensure(home.outbox)
    run_id = new_run_id("reextract")
    final = home.outbox / f"{run_id}.jsonl"
    tmp = home.outbox / f"{run_id}.jsonl.writing"
    with open(tmp, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, final)
    store = SeenStore.open(home.seen_db)
    try:
        for record in records:
            store.mark(record["key"], record.get("fingerprint") or "", record["version"])
    finally:
        store.close()
    logger.info("reextract: %d new versions in %s", len(records), final.name)
    return ingest(home)
