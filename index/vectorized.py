"""Relevance search over numpy arrays of Whoosh's postings: Whoosh's hits, scores and totals, faster.

Whoosh scores a match at a time in Python (about a microsecond each), so a
common word in a million items costs a second.  Here a query of the shapes
``newsdesk search`` produces — words (each one ``title OR body``), phrases,
``AND``/``OR``, field filters and a ``TimeRange`` — is evaluated a posting
list at a time: a term's postings are read block by block from the segment's
posting file into arrays (docnums, weights; positions only for phrases), then
scored with Whoosh's own BM25F formula on whole arrays, intersected and
merged with numpy, and the top N taken by (score desc, docnum asc) as
Whoosh's ``TopCollector`` orders them.  Terms are combined in the tree order
Whoosh's matchers use (``make_weighted_tree`` for ``And``
and ``Or``, ``make_binary_tree`` for phrase words), so sums round the same.

Anything else (prefixes, ``NOT``, another weighting model, a boosted
compound…) is declined with ``None``, and ``index.search`` runs Whoosh's own
matchers.  The posting arrays of recently used terms are kept (``CACHE_BYTES``).
"""

from __future__ import annotations

import pickle
import struct
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from whoosh import formats, query, scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, _lenfield
from whoosh.util import make_binary_tree, make_weighted_tree
from whoosh.util.numeric import byte_to_length

from index.schema import NO_TIME, PackedValues
from index.timequery import TIME, TimeRange

CACHE_BYTES = 256 * 1024 * 1024  # posting arrays kept for the next query
DENSE_SHARE = 32  # lists together longer than 1/32 of a segment are merged in segment-sized arrays
_BLOCK_SIZE = struct.Struct("!i").unpack_from
_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_EMPTY_IDS = np.zeros(0, dtype=np.int64)


class Unsupported(Exception):
    """A query part this module does not evaluate; Whoosh's matchers run instead."""


@dataclass
class Postings:
    """One term's postings in one segment: sorted docnums, weights, and (if read) encoded positions.

    ``values`` holds every posting's encoded positions one after the other;
    posting i's are ``values[starts[i]:starts[i] + sizes[i]]``.  They are
    decoded per query, for the documents a phrase's other words also match.
    """

    ids: np.ndarray
    weights: np.ndarray
    values: np.ndarray | None = None
    starts: np.ndarray | None = None
    sizes: np.ndarray | None = None

    def nbytes(self) -> int:
        arrays = (self.ids, self.weights, self.values, self.starts, self.sizes)
        return sum(int(a.nbytes) for a in arrays if a is not None) + 200


class Matches:
    """Docnums (sorted, segment-local) and their scores; ordered like a Whoosh matcher in a tree."""

    __slots__ = ("ids", "scores")

    def __init__(self, ids: np.ndarray, scores: np.ndarray) -> None:
        self.ids, self.scores = ids, scores

    def __lt__(self, other: Matches) -> bool:  # like Whoosh's Matcher.__lt__, for make_weighted_tree's ties
        return type(other) is type(self)


def _intersect(a: Matches, b: Matches, size: int) -> Matches:
    """Documents in both, each scored a + b (IntersectionMatcher.score)."""
    if len(a.ids) + len(b.ids) < size // DENSE_SHARE:
        ids, ia, ib = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
        return Matches(ids, a.scores[ia] + b.scores[ib])
    small, big = (a, b) if len(a.ids) <= len(b.ids) else (b, a)
    dense = np.full(size, np.nan)  # a document's score in the bigger list; NaN where it is absent
    dense[big.ids] = big.scores
    other = dense[small.ids]
    keep = ~np.isnan(other)
    return Matches(small.ids[keep], small.scores[keep] + other[keep])  # float addition commutes


def _union(a: Matches, b: Matches, size: int) -> Matches:
    """Documents in either, scored a + b where both match (UnionMatcher.score)."""
    if len(a.ids) + len(b.ids) < size // DENSE_SHARE:
        ids = np.union1d(a.ids, b.ids)
        scores = np.zeros(len(ids))
        scores[np.searchsorted(ids, a.ids)] = a.scores
        at_b = np.searchsorted(ids, b.ids)
        scores[at_b] += b.scores  # 0.0 + b is b exactly; unique positions, so += adds once each
        return Matches(ids, scores)
    present = np.zeros(size, dtype=bool)
    present[a.ids] = True
    present[b.ids] = True
    dense = np.zeros(size)
    dense[a.ids] = a.scores
    dense[b.ids] += b.scores
    ids = np.flatnonzero(present)
    return Matches(ids, dense[ids])


# --- reading postings ------------------------------------------------------------------------------

_cache: OrderedDict[tuple[Any, ...], Postings] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()
_segment_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _cached(key: tuple[Any, ...]) -> Postings | None:
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
        return found


def _keep(key: tuple[Any, ...], postings: Postings) -> None:
    global _cache_bytes
    size = postings.nbytes()
    if size > CACHE_BYTES // 4:
        return
    with _cache_lock:
        old = _cache.pop(key, None)
        if old is not None:  # the same postings, now with their positions' values
            _cache_bytes -= old.nbytes()
        _cache[key] = postings
        _cache_bytes += size
        while _cache_bytes > CACHE_BYTES and _cache:
            _, old = _cache.popitem(last=False)
            _cache_bytes -= old.nbytes()


def clear_cache() -> None:
    """Forget every cached posting and segment array (tests; memory)."""
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _segment_cache.clear()
        _cache_bytes = 0


def _segment_id(reader: Any) -> str:
    segment = reader.segment()
    if segment is None:
        raise Unsupported("not a segment reader")
    return str(segment.segment_id())


def read_postings(reader: Any, fieldname: str, btext: bytes, positions: bool = False) -> Postings:
    """The postings of one term in one segment reader (deleted documents included)."""
    key = (_segment_id(reader), fieldname, btext)
    found = _cached(key)
    if found is not None and (found.values is not None or not positions):
        return found
    fmt = reader.schema[fieldname].format
    try:
        info = reader.term_info(fieldname, btext)
    except KeyError:
        info = None
    if positions and type(fmt) is not formats.Positions:
        raise Unsupported("positions format")
    if info is None:
        ids, weights, values = _EMPTY_IDS, np.zeros(0), _join_values([()])
    elif info.is_inlined():
        ids, weights, inlined = info.inlined_postings()
        ids, weights, values = (np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64),
                                _join_values([tuple(inlined)]))
    else:
        ids, weights, values = _read_blocks(reader, info, positions)
    postings = Postings(ids, weights, *values) if positions else Postings(ids, weights)
    _keep(key, postings)
    return postings


def _read_blocks(reader: Any, info: Any, values: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    """Read a posting list from the posting file: [int size][info pickle][data pickle] per block.

    Returns the docnums, the weights and (if ``values``) the values as ``_join_values`` gives them.
    """
    offset, length = info.extent()
    if isinstance(length, tuple):  # Whoosh stores the length as a 1-tuple
        length = length[0]
    try:
        postfile = reader._terms._postfile
    except AttributeError:
        raise Unsupported("unknown segment layout") from None
    buf = postfile.get(offset, length)
    if buf[:4] != WHOOSH3_HEADER_MAGIC:
        raise Unsupported("unknown posting format")
    loads, dumps = pickle.loads, pickle.dumps
    view = memoryview(buf)
    id_runs: list[Any] = []
    weight_runs: list[Any] = []
    value_runs: list[Any] = []
    counts: list[int] = []
    pos, end = 4, len(buf)
    while pos < end:
        size = abs(_BLOCK_SIZE(buf, pos)[0])
        start = pos + 4
        block_info = loads(view[start:start + size])
        data_at = start + len(dumps(block_info, 2))  # the info tuple was written with protocol 2
        count, _, _, compression = block_info[:4]
        if compression:
            raise Unsupported("compressed posting blocks")
        ids, weights, block_values = loads(view[data_at:start + size])
        id_runs.append(ids)
        counts.append(count)
        if weights is None or isinstance(weights, float):  # all 1.0, or all the same
            weights = array("f", (1.0 if weights is None else weights,)) * count
        weight_runs.append(weights)
        if values:
            value_runs.append(block_values if block_values is not None else (b"",) * count)
        pos = start + size
    sizes = np.array(counts, dtype=np.int64)
    total = int(sizes.sum())
    # Each block stores its docnums as deltas from 0: one running sum, less the sum at the previous block's end.
    ids = np.cumsum(_concat(id_runs, np.uint32, total).astype(np.int64))
    ends = np.cumsum(sizes)
    ids -= np.repeat(np.concatenate(([0], ids[ends[:-1] - 1])), sizes)
    weights_out = _concat(weight_runs, np.float32, total).astype(np.float64)
    return ids, weights_out, (_join_values(value_runs) if values else None)


def _concat(runs: list[Any], dtype: Any, total: int) -> np.ndarray:
    """One array of the blocks' ``array`` objects (packed blocks) or tuples (Whoosh's own)."""
    if all(type(run) is array for run in runs):
        return np.frombuffer(b"".join(run.tobytes() for run in runs), dtype=dtype) if runs else np.zeros(0, dtype)
    return np.fromiter(chain.from_iterable(runs), dtype=dtype, count=total)


def _join_values(runs: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks' values as one byte buffer (padded), with each value's start and size."""
    if all(type(run) is PackedValues for run in runs):
        data = b"".join(run.data for run in runs)
        ends = np.frombuffer(b"".join(run.ends.tobytes() for run in runs), dtype=np.uint32).astype(np.int64)
        lengths = np.array([len(run.data) for run in runs], dtype=np.int64)
        per_block = np.array([len(run.ends) for run in runs], dtype=np.int64)
        ends += np.repeat(np.cumsum(lengths) - lengths, per_block)  # block-relative → buffer offsets
        sizes = np.diff(ends, prepend=0)
    else:
        values = list(chain.from_iterable(runs))
        data = b"".join(values)
        sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    return np.frombuffer(data + bytes(16), dtype=np.uint8), np.cumsum(sizes) - sizes, sizes


def _segment_array(reader: Any, name: str, build: Any) -> Any:
    key = (_segment_id(reader), reader.segment().deleted_count(), name)
    with _cache_lock:
        if key in _segment_cache:
            _segment_cache.move_to_end(key)
            return _segment_cache[key]
    value = build()
    with _cache_lock:
        _segment_cache[key] = value
        while len(_segment_cache) > 64:
            _segment_cache.popitem(last=False)
    return value


def _numeric_column(column: Any, count: int) -> np.ndarray:
    """A Whoosh ``NumericColumn`` reader's values for ``count`` documents, read as one array."""
    try:
        typecode, default = column._typecode, column._default
        stored = min(count, column._count)
        raw = column._dbfile.get(column._basepos, stored * column._fixedlen)
    except AttributeError:
        raise Unsupported("column layout") from None
    values = np.full(count, default, dtype=np.dtype(typecode))  # 'B' lengths stay one byte each
    values[:stored] = np.frombuffer(raw, dtype=np.dtype(typecode).newbyteorder(">"))
    return values


def field_lengths(reader: Any, fieldname: str) -> np.ndarray:
    """Every document's length in ``fieldname`` as Whoosh stores it (its one-byte encoding)."""

    def build() -> np.ndarray:
        count = reader.doc_count_all()
        try:
            column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        except AttributeError:
            raise Unsupported("unknown length column") from None
        return np.zeros(count, dtype=np.uint8) if column is None else _numeric_column(column, count)

    return _segment_array(reader, f"len:{fieldname}", build)


def deleted(reader: Any) -> np.ndarray | None:
    """The sorted docnums of a segment's deleted documents, or None."""
    if not reader.has_deletions():
        return None
    return _segment_array(reader, "deleted", lambda: np.array(sorted(reader.deleted_docs_set), dtype=np.int64))


# --- evaluating a query --------------------------------------------------------------------------


class _Context:
    """What every leaf of one query needs: the top searcher's statistics and one segment's reader."""

    def __init__(self, top: Any, reader: Any) -> None:
        self.top, self.reader, self.schema = top, reader, top.schema
        weighting = top.weighting
        if type(weighting) is not scoring.BM25F:
            raise Unsupported("weighting model")
        self.weighting = weighting


def _indexed(ctx: _Context, fieldname: str, text: Any) -> bytes | None:
    """The term's bytes if this segment holds it (Term.matcher's and Phrase.matcher's checks), else None."""
    try:
        btext = ctx.schema[fieldname].to_bytes(text)
    except ValueError:
        return None
    return btext if (fieldname, btext) in ctx.reader else None


def _term(ctx: _Context, fieldname: str, text: Any, boost: float) -> Matches:
    btext = _indexed(ctx, fieldname, text)
    if btext is None:
        return Matches(_EMPTY_IDS, np.zeros(0))
    postings = read_postings(ctx.reader, fieldname, btext)
    scores = _scores(ctx, fieldname, btext, postings)
    return Matches(postings.ids, scores * boost if boost != 1.0 else scores)  # WrappingMatcher's boost


def _scores(ctx: _Context, fieldname: str, btext: bytes, postings: Postings) -> np.ndarray:
    """Whoosh's score of each posting: BM25F for a scorable field, else the posting's weight."""
    if not ctx.schema[fieldname].scorable:
        return postings.weights
    w = ctx.weighting
    b = w._field_B.get(fieldname, w.B)
    k1 = w.K1
    idf = ctx.top.idf(fieldname, btext)
    avgfl = ctx.top.avg_field_length(fieldname) or 1
    tf = postings.weights
    fl = _LENGTHS[field_lengths(ctx.reader, fieldname)[postings.ids]]
    # scoring.bm25, operation for operation: idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
    return idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl)))


def _phrase(ctx: _Context, node: query.Phrase) -> Matches:
    if node.slop != 1 or node.boost != 1.0:
        raise Unsupported("phrase options")
    field = ctx.schema[node.fieldname]
    if not field.format or not field.format.supports("positions"):
        raise Unsupported("phrase on a field without positions")
    indexed = [_indexed(ctx, node.fieldname, word) for word in node.words]
    btexts = [t for t in indexed if t is not None]
    if len(btexts) < len(indexed):  # a word this segment lacks: no phrase here (Phrase.matcher)
        return Matches(_EMPTY_IDS, np.zeros(0))
    lists = [read_postings(ctx.reader, node.fieldname, t, positions=True) for t in btexts]
    scored = [Matches(p.ids, _scores(ctx, node.fieldname, t, p)) for t, p in zip(btexts, lists)]
    size = ctx.reader.doc_count_all()
    both = make_binary_tree(lambda a, b: _intersect(a, b, size), scored)  # SpanNear2's intersection
    if not len(both.ids):
        return both
    # Keys doc_row * SPAN + position; a run of words ends where word k sits one after word k-1.
    rows = np.arange(len(both.ids), dtype=np.int64) * _SPAN
    run = _EMPTY_IDS
    for k, postings in enumerate(lists):
        at = np.searchsorted(postings.ids, both.ids)
        assert postings.values is not None and postings.starts is not None and postings.sizes is not None
        counts, positions = _positions(postings.values, postings.starts[at], postings.sizes[at])
        keys = np.repeat(rows, counts) + positions  # sorted and unique
        if k == 0:
            run = keys
        elif len(keys) and len(run):
            after = run + 1
            found = np.searchsorted(keys, after)
            run = after[keys[np.minimum(found, len(keys) - 1)] == after]
        else:
            run = _EMPTY_IDS
    keep = np.zeros(len(both.ids), dtype=bool)
    keep[run // _SPAN] = True
    return Matches(both.ids[keep], both.scores[keep])


_SPAN = 1 << 32  # bigger than any position in a field


_HEADER = np.frombuffer(b"\x80\x02]q\x00", dtype=np.uint8)  # PROTO 2, EMPTY_LIST, BINPUT 0
_HEADER_AT = np.arange(4, 9)  # after the 4-byte count
_BININT1 = ord("K")  # an int of one byte
_BININT2 = ord("M")  # an int of two bytes, little-endian


def _positions(joined: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many positions each of some encoded values holds, and all of them, in order.

    ``joined`` holds the values one after the other; ``starts`` and ``sizes``
    pick the ones to decode.  A ``Positions`` value is a 4-byte count and a
    protocol-2 pickle of the position deltas.  When every delta but the first
    (the word's first position) is under 256, as nearly always in a news text,
    the pickle is a ``K <byte>`` pair per delta (the first may be ``M <2
    bytes>``) at a fixed place, and the deltas are gathered by index
    arithmetic.  The other values are unpickled.
    """
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    counts = np.zeros(len(starts), dtype=np.int64)
    for k in range(4):  # the big-endian count
        counts = (counts << 8) | joined[starts + k]
    many = (counts > 1).astype(np.int64)  # a MARK before the items and APPENDS after, else one APPEND
    wide = sizes - (11 + 2 * counts + many)  # 0: every delta a BININT1; 1: the first a BININT2
    plain = ((wide == 0) | (wide == 1)) & (joined[starts[:, None] + _HEADER_AT] == _HEADER).all(axis=1)
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts  # where each value's deltas go
    owner = np.repeat(np.arange(len(starts), dtype=np.int32), counts)
    nth = np.arange(total, dtype=np.int64) - offsets[owner]
    first_wide = (nth == 0) & (wide[owner] == 1)
    opcode_at = np.repeat(starts + 9 + many, counts) + 2 * nth + (nth > 0) * wide[owner]
    if total and opcode_at.max() + 2 >= len(joined):
        raise Unsupported("a value shorter than its count")
    bad = joined[opcode_at] != np.where(first_wide, _BININT2, _BININT1)
    if bad.any():
        plain[owner[bad]] = False
    deltas = joined[opcode_at + 1].astype(np.int64)
    deltas[first_wide] += joined[opcode_at[first_wide] + 2].astype(np.int64) << 8  # little-endian
    for index in np.flatnonzero(~plain).tolist():  # a delta of 256 or more: read the pickle
        body = joined[starts[index] + 4:starts[index] + sizes[index]].tobytes()
        decoded = pickle.loads(body if body.endswith(b".") else body + b".")
        deltas[offsets[index]:offsets[index] + len(decoded)] = decoded
    positions = np.cumsum(deltas)
    if total:  # restart the running sum at each value's first delta
        first = offsets[counts > 0]
        base = np.zeros(total, dtype=np.int64)
        base[first[1:]] = positions[first[1:] - 1]
        positions -= np.maximum.accumulate(base)
    return counts, positions


def _evaluate(ctx: _Context, node: Any) -> Matches:
    if isinstance(node, query.Term):
        if node.fieldname not in ctx.schema:
            return Matches(_EMPTY_IDS, np.zeros(0))
        return _term(ctx, node.fieldname, node.text, node.boost)
    if isinstance(node, TimeRange):  # a scan of the time column: a day's postings hold no more
        times = column_values(ctx.reader, TIME)
        ids = np.flatnonzero((times >= node.lo) & (times <= node.hi) & (times != NO_TIME))
        return Matches(ids, np.ones(len(ids)))  # ListMatcher(all_weights=1.0) scores 1.0
    if isinstance(node, query.Phrase):
        return _phrase(ctx, node)
    if type(node) in (query.And, query.Or) and node.boost == 1.0:
        subs = node.subqueries
        if not subs:
            return Matches(_EMPTY_IDS, np.zeros(0))
        if type(node) is query.Or and (node.scale or node.minmatch or len(subs) >= query.Or.TOO_MANY_CLAUSES):
            raise Unsupported("Or options")
        parts = [_evaluate(ctx, q) for q in subs]
        if len(parts) == 1:
            return parts[0]
        size = ctx.reader.doc_count_all()
        if type(node) is query.Or and len(parts) > 2 and size <= 5000:
            # Or._matcher preloads a small segment (ArrayUnionMatcher): scores added in query order
            folded = parts[0]
            for part in parts[1:]:
                folded = _union(folded, part, size)
            return folded
        # The matcher trees of DefaultOr._matcher and And._matcher: smallest (Or) or largest (And) first
        sign = 1 if type(node) is query.Or else -1
        sizes = [sign * q.estimate_size(ctx.reader) for q in subs]
        combine = _union if sign == 1 else _intersect
        return make_weighted_tree(lambda a, b: combine(a, b, size), list(zip(sizes, parts)))
    raise Unsupported(type(node).__name__)


def column_values(reader: Any, name: str) -> np.ndarray:
    """A segment's numeric column (``published``) as one array, a value per document."""

    def build() -> np.ndarray:
        if not reader.has_column(name):
            raise Unsupported("a segment without the column")
        return _numeric_column(reader.column_reader(name, translate=False), reader.doc_count_all())

    return _segment_array(reader, f"col:{name}", build)


def top_docs(searcher: Any, q: Any, limit: int, sortedby: str | None = None,
             reverse: bool = False, missing_last: bool = False) -> tuple[list[tuple[float, int]], int] | None:
    """The top ``limit`` (score, docnum) of ``q`` and the number of matches, or None.

    By relevance (score desc, then time desc with undated last, then docnum asc: as
    ``index.search.StableTopCollector``), or with ``sortedby`` a numeric column by
    (value, docnum), descending if ``reverse`` (the value then stands in the score's place;
    ``missing_last``: documents without a value, 0, come after the others in ascending order).
    None when the query has a part this module does not evaluate.
    """
    best_keys, best_ids, best_times, total = [], [], [], 0
    try:
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            if reader.doc_count_all() == 0:
                continue
            found = _evaluate(_Context(searcher, reader), q)
            ids, keys = found.ids, found.scores
            gone = deleted(reader)
            if gone is not None and len(ids):
                alive = ~np.isin(ids, gone, assume_unique=True)
                ids, keys = ids[alive], keys[alive]
            if sortedby is not None:
                keys = column_values(reader, sortedby)[ids]
                if missing_last and not reverse:
                    keys = np.where(keys == 0, np.iinfo(keys.dtype).max, keys)
            total += len(ids)
            if len(ids) > limit:
                # the best ``limit`` keys, and every document tied with the last: the docnum decides
                high = sortedby is None or reverse
                edge = np.partition(keys, len(keys) - limit if high else limit - 1)[len(keys) - limit if high
                                                                                  else limit - 1]
                pick = np.flatnonzero(keys >= edge if high else keys <= edge)
                ids, keys = ids[pick], keys[pick]
            if sortedby is None:
                best_times.append(column_values(reader, TIME)[ids])
            best_ids.append(ids + offset)
            best_keys.append(keys)
    except Unsupported:
        return None
    if not best_ids:
        return [], 0
    ids = np.concatenate(best_ids)
    keys = np.concatenate(best_keys)
    if sortedby is None:
        order = np.lexsort((ids, -np.concatenate(best_times), -keys))[:limit]
    else:
        order = np.lexsort((ids, keys))
        order = order[::-1][:limit] if reverse else order[:limit]
    convert = float if sortedby is None else int
    return [(convert(keys[i]), int(ids[i])) for i in order], total
