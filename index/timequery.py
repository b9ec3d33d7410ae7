"""Date ranges and date order over the ``day``/``published`` fields (schema.py), fast.

A range is the whole days strictly inside it (their ``day`` posting lists)
plus its first and last day cut to the exact bounds with the ``published``
column, read once into a sorted docnum array per segment (a cached bitset in
all but name) and intersected with the words by binary search.  It scores a
constant 1.0 like Whoosh's own range queries, so relevance order is unchanged.  ``newest_in_range`` answers a
range with no words, sorted by time, by walking days from one end: it reads
only the days it returns, instead of sorting every item of the range.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections import OrderedDict
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


class _SortedIds(ListMatcher):
    """A ListMatcher over sorted docnums whose skip_to is a binary search."""

    def skip_to(self, id: int) -> None:  # noqa: A002 (Whoosh's name)
        if self._i < len(self._ids) and self._ids[self._i] < id:
            self._i = bisect_left(self._ids, id, self._i)


class TimeRange(query.Query):
    """Items with lo <= time <= hi (microseconds), as one leaf with a constant score of 1.0.

    Its matcher reads, per segment, the posting lists of the whole days inside
    the range and the first and last day cut with the ``published`` column,
    into one sorted docnum array (cached for the next query with the same range
    on the same segment), and intersects by binary search.
    """

    fieldname = DAY

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeRange) and (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self) -> int:
        return hash((TimeRange, self.lo, self.hi))

    def __repr__(self) -> str:
        return f"TimeRange({self.lo}, {self.hi})"

    def __str__(self) -> str:
        lo = "" if self.lo == LOWEST else _iso(self.lo)
        hi = "" if self.hi == HIGHEST else _iso(self.hi)
        return f"published:[{lo} TO {hi}]"

    def estimate_size(self, ixreader: Any) -> int:
        return ixreader.doc_count()

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        ids = range_docnums(searcher.reader(), self.lo, self.hi)
        return _SortedIds(ids, all_weights=1.0) if ids else NullMatcher()


def _iso(micro: int) -> str:
    from datetime import timedelta

    from index.schema import EPOCH

    return (EPOCH + timedelta(microseconds=micro)).isoformat()


_cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_RANGES = 16


def range_docnums(reader: Any, lo: int, hi: int) -> list[int]:
    """Sorted docnums of one segment's live items with lo <= time <= hi (cached per reader and range)."""
    key = (*_segment_key(reader), lo, hi)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    first, last = day_number(lo), day_number(hi)
    ids: list[int] = []
    for day in _days(reader):
        if day < first or day > last:
            continue
        if first < day < last:
            ids.extend(reader.postings(DAY, day_term(reader, day)).all_ids())
        else:
            ids.extend(d for d, _ in _day_docs(reader, day, lo, hi))
    ids.sort()
    with _cache_lock:
        _cache[key] = ids
        while len(_cache) > CACHE_RANGES:
            _cache.popitem(last=False)
    return ids


def _segment_key(reader: Any) -> tuple[Any, ...]:
    """What identifies a segment reader's live documents: segment id and deletion count."""
    segment = reader.segment()
    return (segment.segment_id(), segment.deleted_count())


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
    return TimeRange(*_bounds(since, until))


_days_cache: dict[Any, list[int]] = {}


def _days(reader: Any) -> list[int]:
    """Every day number that has items in this segment, ascending (cached per segment)."""
    key = reader.segment().segment_id()
    if key not in _days_cache:
        if len(_days_cache) > 64:
            _days_cache.clear()
        _days_cache[key] = _read_days(reader)
    return _days_cache[key]


def _read_days(reader: Any) -> list[int]:
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
