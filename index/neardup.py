"""Near-duplicate groups: the same wire story (Reuters/AP copy) carried by several sources.

Each record's normalized text (title, summary, body; case, accents, punctuation
and spacing folded) is cut into shingles and summarized by a MinHash (the one
datasketch 2 computes with its "affine32" scheme, bit for bit: a test
compares).  The signature is split into LSH bands kept in
``<home>/state/neardup.sqlite``; a new record's candidates are the records
sharing a band, found by indexed lookups, so grouping costs the same whatever
the archive's size.  A candidate joins the record's group when the estimated
Jaccard similarity is at least ``THRESHOLD`` and the two were published within
``WINDOW`` of each other (the same headline a year later is a new story).

The group id is the key of the group's first record.  It is written into the
indexed record as ``dupgroup`` (lone records have none), which ``search
--collapse`` folds on.  A record keeps the group it was given when first seen.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from index.schema import item_time

logger = logging.getLogger(__name__)

NUM_PERM = 128
BANDS, ROWS = 16, 8  # BANDS × ROWS = NUM_PERM; candidates from Jaccard ≈ (1/16)^(1/8) ≈ 0.71 up
THRESHOLD = 0.7  # estimated Jaccard similarity that makes two records near-duplicates
WINDOW = timedelta(days=3)
MIN_CHARS = 40  # shorter normalized texts ("Breaking news") are never grouped
WORD_SHINGLES_FROM = 30  # words; shorter texts use character 5-grams, robust to one changed word
SEED = 1  # draws the permutations: stored signatures compare only with ones made with the same seed
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]")

_SQL = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    grp TEXT,            -- group id (first member's key); NULL while alone
    at REAL,             -- published, UTC epoch seconds (NULL if unknown)
    sig BLOB NOT NULL    -- NUM_PERM uint32 MinHash values
);
CREATE TABLE IF NOT EXISTS bands (band INTEGER NOT NULL, hash INTEGER NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bands_lookup ON bands (band, hash);
"""


def normalize(record: dict[str, Any]) -> str:
    """Title, summary and body as comparable text: lower case, no accents, punctuation or extra space."""
    text = " ".join(str(record.get(name) or "") for name in ("title", "summary", "body"))
    text = unicodedata.normalize("NFKD", text)
    if not text.isascii():  # (ASCII has no combining marks: most English news skips this loop)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


def shingles(text: str) -> list[bytes]:
    """Word 3-grams for long texts, character 5-grams for short ones (of a ``normalize``d text)."""
    words = text.encode("utf-8").split()  # a normalized text is spaced by single ASCII spaces
    if len(words) >= WORD_SHINGLES_FROM:
        return list({b" ".join(gram) for gram in zip(words, words[1:], words[2:])})
    return [gram.encode("utf-8") for gram in {text[i:i + 5] for i in range(max(1, len(text) - 4))}]


# The MinHash of datasketch 2 ("affine32"): each shingle's 32-bit hash (the first 4 bytes of its
# SHA-1, little-endian) is mixed by MurmurHash3's finalizer, then sent through NUM_PERM affine
# permutations h -> a*h + b mod 2**32 (a odd: a bijection); a signature holds each one's minimum.
# Computed here rather than by datasketch, whose import loads scipy for its LSH tuning: 63 MB and
# 0.4 s in every ingest process, for the one class used (benchmarks/README.md, issue 7).
@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The ``a`` (odd) and ``b`` of each permutation, as datasketch draws them for ``SEED``."""
    draw = np.random.RandomState(SEED)
    a = draw.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _fmix32(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, element-wise (uint32 products wrap: arithmetic mod 2**32)."""
    hashes = hashes ^ (hashes >> np.uint32(16))
    hashes = hashes * np.uint32(0x85EBCA6B)
    hashes = hashes ^ (hashes >> np.uint32(13))
    hashes = hashes * np.uint32(0xC2B2AE35)
    return hashes ^ (hashes >> np.uint32(16))


def signature(text: str) -> np.ndarray:
    """The MinHash values (NUM_PERM uint32) of a normalized text."""
    heads = b"".join(hashlib.sha1(shingle).digest()[:4] for shingle in shingles(text))
    hashes = _fmix32(np.frombuffer(heads, dtype="<u4").astype(np.uint32))
    a, b = _permutations()
    return (hashes[:, np.newaxis] * a + b).min(axis=0)


def record_signature(record: dict[str, Any]) -> np.ndarray | None:
    """The signature of a record's text; None if it is too short to group."""
    text = normalize(record)
    return signature(text) if len(text) >= MIN_CHARS else None


def band_hashes(sig: np.ndarray) -> list[int]:
    """One 63-bit hash per LSH band of a signature."""
    return [int.from_bytes(hashlib.blake2b(sig[b * ROWS:(b + 1) * ROWS].tobytes(), digest_size=8).digest(),
                           "big") >> 1 for b in range(BANDS)]


@dataclass
class _Known:
    key: str
    grp: str | None
    at: float | None
    sig: np.ndarray


class GroupStore:
    """The signatures and LSH bands of every record seen, in one sqlite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(_SQL)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> GroupStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _known(self, key: str) -> _Known | None:
        row = self.db.execute("SELECT key, grp, at, sig FROM records WHERE key = ?", (key,)).fetchone()
        return _Known(row[0], row[1], row[2], np.frombuffer(row[3], dtype=np.uint32)) if row else None

    def _candidates(self, bands: list[int]) -> list[str]:
        found: dict[str, None] = {}
        for number, value in enumerate(bands):
            for (key,) in self.db.execute("SELECT key FROM bands WHERE band = ? AND hash = ?", (number, value)):
                found[key] = None
        return list(found)

    def assign(self, records: Iterable[dict[str, Any]],
               signatures: dict[str, np.ndarray | None] | None = None) -> dict[str, str]:
        """Place each record not seen before; returns ``{key: group}`` for every record whose group changed.

        :param signatures: ``record_signature`` of records, computed beforehand (the others are computed here).
        """
        changed: dict[str, str] = {}
        signatures = signatures or {}
        with self.db:
            for record in records:
                key = record["key"]
                if self._known(key) is not None:
                    continue
                sig = signatures[key] if key in signatures else record_signature(record)
                if sig is None:
                    continue
                bands = band_hashes(sig)
                moment = item_time(record)
                at = (moment - datetime(1970, 1, 1)).total_seconds() if moment else None
                best = self._best_match(sig, at, self._candidates(bands))
                group = None
                if best is not None:
                    group = best.grp or best.key
                    if best.grp is None:
                        self.db.execute("UPDATE records SET grp = ? WHERE key = ?", (group, best.key))
                        changed[best.key] = group
                    changed[key] = group
                self.db.execute("INSERT INTO records (key, grp, at, sig) VALUES (?, ?, ?, ?)",
                                (key, group, at, sig.tobytes()))
                self.db.executemany("INSERT INTO bands (band, hash, key) VALUES (?, ?, ?)",
                                    [(n, h, key) for n, h in enumerate(bands)])
        return changed

    def _best_match(self, sig: np.ndarray, at: float | None, keys: list[str]) -> _Known | None:
        best, best_score = None, THRESHOLD
        for key in keys:
            known = self._known(key)
            if known is None:
                continue
            if at is not None and known.at is not None and abs(at - known.at) > WINDOW.total_seconds():
                continue
            score = float(np.mean(sig == known.sig))
            if score >= best_score:
                best, best_score = known, score
        return best

    def groups(self) -> dict[str, str]:
        """``{key: group}`` for every grouped record (to restore groups after a reindex)."""
        return dict(self.db.execute("SELECT key, grp FROM records WHERE grp IS NOT NULL"))


def store_path(state_dir: Path) -> Path:
    """Where a home keeps its near-duplicate signatures."""
    return state_dir / "neardup.sqlite"


def group_records(state_dir: Path, records: Iterable[dict[str, Any]],
                  signatures: dict[str, np.ndarray | None] | None = None) -> dict[str, str]:
    """Assign groups to newly indexed records; ``{key: group}`` of the records to rewrite in the index."""
    with GroupStore(store_path(state_dir)) as store:
        return store.assign(records, signatures)


def known_groups(state_dir: Path) -> dict[str, str]:
    """Every grouped key and its group, from the store (empty if there is none)."""
    path = store_path(state_dir)
    if not path.exists():
        return {}
    with GroupStore(path) as store:
        return store.groups()
