"""Counts of matching records per hour, day or week: when a story broke and how it grew.

Buckets are hours, days or ISO weeks (starting Monday) of the user's zone;
empty buckets over the asked window are included, so a chart shows the gaps:
from ``since`` (else the first match) to ``until`` (else the last match).  Times are read from the ``published`` column, not from the
stored records, so a timeline over many matches stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from index.store import open_index
from index.integrity import guarded
from index.schema import from_micros
from index.search import Filters, QueryError, query_for

logger = logging.getLogger(__name__)

BY = ("hour", "day", "week")
MAX_BUCKETS = 5000


@dataclass
class Timeline:
    """Per-bucket counts (bucket starts are aware, in the user's zone)."""

    by: str
    buckets: list[tuple[datetime, int]] = field(default_factory=list)
    total: int = 0
    undated: int = 0
    query: str = ""


def _floor(moment: datetime, by: str, zone: tzinfo) -> datetime:
    local = moment.astimezone(zone)
    if by == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if by == "week":
        day -= timedelta(days=day.weekday())
    return datetime.combine(day, time(0), tzinfo=zone)


def _span(first: datetime, last: datetime, by: str, zone: tzinfo) -> list[datetime]:
    """Every bucket start from ``first`` to ``last`` (both bucket starts), in order."""
    starts: list[datetime] = []
    if by == "hour":
        moment = first.astimezone(timezone.utc)
        end = last.astimezone(timezone.utc)
        while moment <= end:
            start = _floor(moment, by, zone)
            if not starts or start != starts[-1]:
                starts.append(start)
            moment += timedelta(hours=1)
            if len(starts) > MAX_BUCKETS:
                break
        return starts
    step = 7 if by == "week" else 1
    day: date = first.date()
    while day <= last.date() and len(starts) <= MAX_BUCKETS:
        starts.append(datetime.combine(day, time(0), tzinfo=zone))
        day += timedelta(days=step)
    return starts


@guarded
def timeline(index_dir: Path, text: str, *, filters: Filters | None = None, by: str = "day",
             zone: tzinfo = timezone.utc) -> Timeline:
    """Count the records matching ``text`` and ``filters`` per ``by`` bucket of ``zone``."""
    if by not in BY:
        raise QueryError(f"unknown bucket {by!r}", f"use one of: {', '.join(BY)}")
    ix = open_index(index_dir)
    try:
        q = query_for(ix.schema, text, filters)
        with ix.searcher() as searcher:
            column: Any = searcher.reader().column_reader("published", translate=False)
            moments = [from_micros(column[docnum]) for docnum in searcher.docs_for_query(q)]
    finally:
        ix.close()
    return tally(Timeline(by=by, query=str(q)), moments, zone, window(filters))


def window(filters: Filters | None) -> tuple[datetime | None, datetime | None]:
    """The span a timeline is asked about: ``since`` and ``until`` (None where not given)."""
    if filters is None:
        return None, None
    return filters.since, filters.until


def tally(result: Timeline, moments: Iterable[datetime | None], zone: tzinfo,
          asked: tuple[datetime | None, datetime | None] = (None, None)) -> Timeline:
    """Fill ``result`` with the count of ``moments`` per bucket (None counts as undated).

    :param asked: the window asked for; its empty buckets are shown too (when they
        number at most MAX_BUCKETS; a wider window shows the matches' span).
    """
    counts: dict[datetime, int] = {}
    for moment in moments:
        result.total += 1
        if moment is None:
            result.undated += 1
            continue
        start = _floor(moment, result.by, zone)
        counts[start] = counts.get(start, 0) + 1
    ends = list(counts)
    if asked[0] is not None and (counts or asked[1] is not None):
        ends.append(_floor(asked[0], result.by, zone))
    if asked[1] is not None and (counts or asked[0] is not None):
        ends.append(_floor(asked[1], result.by, zone))
    if len(ends) > len(counts):
        padded = _span(min(ends), max(ends), result.by, zone)
        if len(padded) <= MAX_BUCKETS:
            result.buckets = [(start, counts.get(start, 0)) for start in padded]
            return result
    if counts:
        starts = _span(min(counts), max(counts), result.by, zone)
        if len(starts) > MAX_BUCKETS:
            raise QueryError(f"the matches span more than {MAX_BUCKETS} {result.by}s",
                             "use a wider --by (day, week) or a shorter range (--since/--until)")
        result.buckets = [(start, counts.get(start, 0)) for start in starts]
    return result


def label(start: datetime, by: str) -> str:
    """A bucket's name as shown: ``2024-10-24 19:00``, ``2024-10-24``, ``week of 2024-10-21``."""
    if by == "hour":
        return start.strftime("%Y-%m-%d %H:00")
    if by == "week":
        return f"week of {start:%Y-%m-%d}"
    return start.strftime("%Y-%m-%d %a")
