"""The Whoosh schema, and how a record (one JSONL line) becomes a document.

Time is kept twice, each shaped for one job (since schema version 3):

- ``day``: the UTC day number (days since 1970-01-01), a 32-bit NUMERIC with
  tiers of 16 days.  A month's range is a handful of terms instead of the
  hundreds of microsecond terms a DATETIME range expands to.
- ``published``: the exact time in microseconds, a column only (not indexed):
  sorting reads it per hit, and the first and last day of a range are cut to
  the exact bounds with it.

Stemming goes through a C-level ``functools.lru_cache`` instead of Whoosh's
Python LFU cache: the same stems, a quarter of the cost.
"""

from __future__ import annotations

import functools
import itertools
import json
import pickle
from array import array
from datetime import datetime, timedelta, timezone
from typing import Any

from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3PostingsWriter
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.lang.porter import stem
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode

#: Bump when the schema changes; an index of another version must be rebuilt (`newsdesk reindex`).
SCHEMA_VERSION = 6  # 2: dupgroup (index.neardup); 3: day numbers + a time column; 4: posting blocks pickled
#                     with protocol 4; 5: posting blocks packed (speed); 6: names (source, kind, language,
#                     agency, authors) as keyword_value makes them

EPOCH = datetime(1970, 1, 1)
MICROS_PER_DAY = 86_400_000_000
NO_TIME = 0  # the ``published`` column value of an item without a time (last in every time order)


@functools.lru_cache(maxsize=200_000)
def cached_stem(word: str) -> str:
    """Porter stem of a word, memoized (module level so the pickled schema can name it)."""
    return stem(word)


class PackedValues:
    """A posting block's values (each posting's encoded positions) as one string and their end offsets.

    Whoosh keeps a block's values as a tuple of ``bytes``, one per posting, and
    reads the ``i``-th with ``values[i]``; this answers the same, but pickles
    as two strings instead of 128 objects, so a block loads several times
    faster and ``index.vectorized`` reads the values without touching each one.
    """

    __slots__ = ("data", "ends")

    def __init__(self, data: bytes, ends: bytes) -> None:
        self.data = data
        self.ends = array("I")
        self.ends.frombytes(ends)

    @classmethod
    def pack(cls, values: list[bytes]) -> PackedValues:
        ends = array("I", itertools.accumulate(map(len, values)))
        return cls(b"".join(values), ends.tobytes())

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.ends[i - 1] if i else 0:self.ends[i]]

    def __len__(self) -> int:
        return len(self.ends)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self.ends)))

    def __reduce__(self) -> tuple[Any, ...]:
        return PackedValues, (self.data, self.ends.tobytes())


class _PackedBlocks(W3PostingsWriter):
    """Whoosh's posting-block writer with a block's data packed for fast loading.

    Whoosh pickles a block as a tuple of docnum deltas, a tuple of weights and
    a tuple of values with pickle protocol 2, which writes each ``bytes`` value
    as a call to ``codecs.encode``.  Here the deltas are an ``array('I')``, the
    weights an ``array('f')`` (Whoosh's own types for them while writing) and
    the values a :class:`PackedValues`, pickled with protocol 4: a body block
    of 128 postings loads in a few µs instead of 43.  The file layout and every
    field of a block are Whoosh's, so Whoosh's own matchers read these blocks
    (they iterate the deltas and index the weights and values).
    """

    def _mini_ids(self) -> Any:
        return array("I", delta_encode(self._ids))

    def _mini_weights(self) -> Any:
        weights = self._weights
        if all(w == 1.0 for w in weights):
            return None
        if all(w == weights[0] for w in weights):
            return weights[0]
        return weights  # the block's own array('f'), replaced by a new one after the write

    def _mini_values(self) -> Any:
        fixed = self._format.fixed_value_size()
        if fixed is not None and fixed >= 0:  # no values, or of one size: Whoosh packs those itself
            return super()._mini_values()
        return PackedValues.pack(self._values)

    def _write_block(self, last: bool = False) -> None:
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data = pickle.dumps((self._mini_ids(), self._mini_weights(), self._mini_values()), 4)
        info = pickle.dumps((len(ids), ids[-1], self._maxweight, 0, length_to_byte(self._minlength),
                             length_to_byte(self._maxlength)), 2)
        size = len(info) + len(data)
        self._postfile.write_int(-size if last else size)  # negative: the term's last block
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class PlainCodec(W3Codec):
    """Whoosh's codec without zlib on posting blocks, without per-block length statistics,
    and with posting blocks packed for fast loading (``_PackedBlocks``).

    The statistics (shortest/longest document of each posting block) serve only
    Whoosh's block-skipping top-N, which ``index.search`` does not use; reading
    every posting's document length back while writing cost about 15 % of ingest.
    Without them a block's bound is computed as for the shortest possible
    document: still an upper bound, so any search stays correct.
    """

    length_stats = False

    def __init__(self) -> None:
        super().__init__(compression=0)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        return _PackedBlocks(dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=0,
                                inlinelimit=self._inlinelimit)


def make_analyzer() -> Any:
    """Whoosh's StemmingAnalyzer chain (same tokens), with the fast stem cache."""
    return (RegexTokenizer() | LowercaseFilter() | StopFilter()
            | StemFilter(stemfn=cached_stem, cachesize=None))


def make_schema() -> Schema:
    """Fields that are searched, filtered or sorted on; the whole record is kept in ``record``."""
    analyzer = make_analyzer()
    return Schema(
        key=ID(unique=True, stored=True),
        source=ID,
        kind=ID,
        agency=ID,
        language=ID,
        authors=KEYWORD(commas=True, lowercase=True, scorable=False),
        title=TEXT(analyzer=analyzer, field_boost=2.0),
        body=TEXT(analyzer=analyzer),
        # The item's time (published, or if only an update time was printed, that): see the module doc.
        day=NUMERIC(int, bits=32, shift_step=4),
        published=COLUMN(NumericColumn("q", default=NO_TIME)),
        dupgroup=ID(sortable=True),  # near-duplicate group (index.neardup); absent for a lone record
        record=STORED,
    )


#: Fields holding names rather than words: matched whole, ignoring case (``agency:Reuters``, ``--agency REUTERS``).
KEYWORD_FIELDS = ("source", "kind", "agency", "language", "authors")


def keyword_value(fieldname: str, value: Any) -> str:
    """How a name is indexed and looked up: lower case; an author's commas and runs of spaces become one space.

    The same on the local index and the PostgreSQL archive, for records and for queries and filters,
    so ``--author "Smith, John"`` finds the record whose byline says "Smith, John".
    """
    text = str(value)
    if fieldname == "authors":
        text = text.replace(",", " ")
    return " ".join(text.split()).lower()


def item_time(record: dict[str, Any]) -> datetime | None:
    """The time an item is searched and sorted by (naive UTC)."""
    for name in ("published", "updated"):
        value = record.get(name)
        if value:
            try:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is not None:
                    moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
            except (TypeError, ValueError, OverflowError):  # OverflowError: 0001-01-01 east of UTC
                continue
            return moment
    return None


def micros(moment: datetime) -> int:
    """Microseconds since 1970 of a naive UTC time."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micro: int) -> datetime | None:
    """The aware UTC time of a ``published`` column value; None for an item without a time."""
    if micro == NO_TIME:
        return None
    return (EPOCH + timedelta(microseconds=micro)).replace(tzinfo=timezone.utc)


def day_number(micro: int) -> int:
    """The UTC day number of a time in microseconds."""
    return micro // MICROS_PER_DAY


def to_document(record: dict[str, Any]) -> dict[str, Any]:
    """The Whoosh document for one record."""
    text = "\n".join(part for part in (record.get("summary"), record.get("body")) if part)
    doc: dict[str, Any] = {
        "key": record["key"],
        "title": record.get("title") or "",
        "body": text,
        "record": json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    }
    for name in ("source", "kind", "language", "agency"):
        if record.get(name):
            doc[name] = keyword_value(name, record[name])
    authors = [keyword_value("authors", a) for a in record.get("authors") or [] if a]
    if authors:
        doc["authors"] = ",".join(authors)
    moment = item_time(record)
    if moment is not None:
        value = micros(moment)
        doc["published"] = value
        doc["day"] = day_number(value)
    if record.get("dupgroup"):
        doc["dupgroup"] = str(record["dupgroup"])
    return doc
