"""Capture retention: ``[capture] keep_days`` and ``max_gb``, oldest run first, never a current record's page.

A run's WARC file may go when it is older than ``keep_days``, or, oldest
first, while all capture files together take more than ``max_gb`` (0 turns
either limit off).  A file is kept whatever its age while anything still
needs it: the capture of an indexed record (each record's newest version,
so the page of a record's only version is never removed; pages of versions
a later fetch replaced may go), or of a record still waiting in the outbox
(its run is not ingested yet, or is still crawling).  With archived records
but no index to say which pages they need, nothing is removed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from index.store import IndexMissing, open_index
from newsdesk.core.home import Home
from newsdesk.core.runid import run_time
from scraper.warcfile import run_id_of, warc_files, warc_root

logger = logging.getLogger(__name__)

GB = 1024 ** 3


@dataclass
class PruneResult:
    """What one retention pass removed and what it had to keep."""

    removed: list[str] = field(default_factory=list)  # WARC files, relative to <home>/archive/warc/
    freed: int = 0  # bytes
    kept_needed: int = 0  # files past a limit kept because a record needs them
    total: int = 0  # bytes of capture left


def prune_captures(home: Home, keep_days: float, max_bytes: int, now: datetime | None = None) -> PruneResult:
    """Remove capture files past ``keep_days`` or over ``max_bytes`` (oldest first) that no record needs."""
    result = PruneResult()
    files = warc_files(home)
    sizes = {path: path.stat().st_size for path in files}
    result.total = sum(sizes.values())
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days) if keep_days > 0 else None
    aged = [p for p in files if cutoff is not None and (run_time(run_id_of(p)) or cutoff) < cutoff]
    over = max_bytes > 0 and result.total > max_bytes
    if not aged and not over:
        return result  # nothing to do: the index is not read
    needed = _needed(home)
    if needed is None:
        logger.warning("capture: retention skipped: the archive holds records but there is no index to say "
                       "which pages they need (run `newsdesk reindex`)")
        return result
    root = warc_root(home)
    for path in files:  # oldest run first
        past_age = path in aged
        if not past_age and not (max_bytes > 0 and result.total > max_bytes):
            continue
        name = path.relative_to(root).as_posix()
        if name in needed or run_id_of(path) in needed:
            result.kept_needed += 1
            continue
        path.unlink(missing_ok=True)
        result.removed.append(name)
        result.freed += sizes[path]
        result.total -= sizes[path]
    if max_bytes > 0 and result.total > max_bytes:
        logger.warning("capture: %.2f GB kept, over [capture] max_gb: the rest holds pages of archived records",
                       result.total / GB)
    if result.removed:
        logger.info("capture: removed %d WARC files (%.1f MB)", len(result.removed), result.freed / 1024 ** 2)
    return result


def _needed(home: Home) -> set[str] | None:
    """WARC files (relative names) of indexed records, and run ids with records still in the outbox.

    None when that cannot be known: archived records but no index (removed
    for a rebuild, say) must not make every old capture look unneeded.
    """
    needed: set[str] = set()
    if home.outbox.is_dir():
        needed |= {p.name.split(".", 1)[0] for p in home.outbox.iterdir()}
    try:
        ix = open_index(home.index)
    except IndexMissing:
        archived = home.archive.is_dir() and next(home.archive.glob("*/*/*.jsonl.gz"), None) is not None
        return None if archived else needed
    try:
        with ix.searcher() as searcher:
            for stored in searcher.all_stored_fields():
                name = json.loads(stored["record"]).get("capture_warc")
                if name:
                    needed.add(name)
    finally:
        ix.close()
    return needed
