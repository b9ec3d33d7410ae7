"""Date ranges and date order over the ``day``/``published`` fields (schema.py), fast.

A range is the whole days strictly inside it (a NumericRange on ``day``: a few
tiered terms) plus its first and last day cut to the exact bounds with the
``published`` column.  It scores a constant 1.0 like Whoosh's own range
queries, so relevance order is unchanged.  ``newest_in_range`` answers a
range with no words, sorted by time, by walking days from one end: it reads
only the days it returns, instead of sorting every item of the range.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from whoosh import query
from whoosh.matching import ListMatcher, NullMatcher

from index.schema import day_number, micros

logger = logging.getLogger(__name__)

DAY = "day"
TIME = "published"
LOWEST = -(2**63)
HIGHEST = 2**63 - 1


class _DayEdge(query.Query):
    """The items of one UTC day whose exact time is within [lo, hi] (microseconds)."""

    fieldname = DAY

    def __init__(self, day: int, lo: int, hi: int) -> None:
        self.day, self.lo, self.hi = day, lo, hi
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DayEdge) and (self.day, self.lo, self.hi) == (other.day, other.lo, other.hi)

    def __hash__(self) -> int:
        return hash((_DayEdge, self.day, self.lo, self.hi))

    def __repr__(self) -> str:
        return f"_DayEdge({self.day}, {self.lo}, {self.hi})"

    def estimate_size(self, ixreader: Any) -> int:
        return ixreader.doc_frequency(DAY, day_term(ixreader, self.day))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        ids = [d for d, _ in _day_docs(searcher.reader(), self.day, self.lo, self.hi)]
        return ListMatcher(ids, all_weights=1.0) if ids else NullMatcher()


def day_term(reader: Any, day: int) -> bytes:
    """The full-precision index term of a day number."""
    return reader.schema[DAY].to_bytes(day)


def _day_docs(reader: Any, day: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """(docnum, time) of one segment's live items on ``day`` with lo <= time <= hi."""
    term = day_term(reader, day)
    if (DAY, term) not in reader:
        return []
    column = reader.column_reader(TIME)
    out = []
    for docnum in reader.postings(DAY, term).all_ids():
        moment = column[docnum]
        if lo <= moment <= hi:
            out.append((docnum, moment))
    return out


def _bounds(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    return (micros(since) if since else LOWEST, micros(until) if until else HIGHEST)


def time_range(since: datetime | None, until: datetime | None) -> query.Query:
    """Items with since <= time <= until (naive UTC; either end may be None)."""
    lo, hi = _bounds(since, until)
    first = day_number(lo) if since else None
    last = day_number(hi) if until else None
    parts: list[query.Query] = []
    if first is not None and first == last:
        parts.append(_DayEdge(first, lo, hi))
    else:
        inner_start = first + 1 if first is not None else None
        inner_end = last - 1 if last is not None else None
        if inner_start is None or inner_end is None or inner_start <= inner_end:
            parts.append(query.NumericRange(DAY, inner_start, inner_end, constantscore=False))
        if first is not None:
            parts.append(_DayEdge(first, lo, hi))
        if last is not None:
            parts.append(_DayEdge(last, lo, hi))
    inner = parts[0] if len(parts) == 1 else query.Or(parts)
    return query.ConstantScoreQuery(inner, 1.0)


def _days(reader: Any) -> list[int]:
    """Every day number that has items in this segment, ascending."""
    field = reader.schema[DAY]
    out = []
    for term in reader.lexicon(DAY):
        if term[:1] != b"\x00":  # shifted (coarser) tiers start with the shift
            break
        out.append(field.from_bytes(term))
    return out


def newest_in_range(searcher: Any, since: datetime | None, until: datetime | None, limit: int,
                    newest: bool = True) -> tuple[list[int], int]:
    """Docnums of the first ``limit`` items in the range by time, and how many the range holds.

    Ties in time keep Whoosh's sorted-search order (higher docnum first when newest).
    """
    lo, hi = _bounds(since, until)
    first, last = day_number(lo), day_number(hi)
    leaves = [(r, offset) for r, offset in searcher.reader().leaf_readers()]
    days = sorted({d for r, _ in leaves for d in _days(r) if first <= d <= last}, reverse=newest)
    picked: list[tuple[int, int]] = []
    total = 0
    for day in days:
        edge = day in (first, last)
        found = []
        for reader, offset in leaves:
            if edge or len(picked) < limit:
                found.extend((moment, docnum + offset) for docnum, moment in _day_docs(reader, day, lo, hi))
            else:
                total += _count_day(reader, day)
        total += len(found)
        if len(picked) < limit:
            found.sort(reverse=newest)
            picked.extend(found)
    picked.sort(reverse=newest)
    return [docnum for _, docnum in picked[:limit]], total


def _count_day(reader: Any, day: int) -> int:
    """Live items of one segment on one day."""
    term = day_term(reader, day)
    if (DAY, term) not in reader:
        return 0
    if not reader.has_deletions():
        return int(reader.doc_frequency(DAY, term))
    return sum(1 for _ in reader.postings(DAY, term).all_ids())


def iter_days(searcher: Any) -> Iterator[int]:
    """All day numbers in the index (for tests and tools)."""
    yield from sorted({d for r, _ in searcher.reader().leaf_readers() for d in _days(r)})
