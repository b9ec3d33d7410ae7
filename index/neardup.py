"""Near-duplicate groups: the same wire story (Reuters/AP copy) carried by several sources.

Each record's normalized text (title, summary, body; case, accents, punctuation
and spacing folded) is cut into shingles and summarized by a MinHash
(datasketch).  The signature is split into LSH bands kept in
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
from datasketch import MinHash

from index.schema import item_time

logger = logging.getLogger(__name__)

NUM_PERM = 128
BANDS, ROWS = 16, 8  # BANDS × ROWS = NUM_PERM; candidates from Jaccard ≈ (1/16)^(1/8) ≈ 0.71 up
THRESHOLD = 0.7  # estimated Jaccard similarity that makes two records near-duplicates
WINDOW = timedelta(days=3)
MIN_CHARS = 40  # shorter normalized texts ("Breaking news") are never grouped
WORD_SHINGLES_FROM = 30  # words; shorter texts use character 5-grams, robust to one changed word
SCHEME = "affine32"  # fixed, so signatures stored by one datasketch release compare with the next
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
    """Word 3-grams for long texts, character 5-grams for short ones."""
    words = text.split()
    if len(words) >= WORD_SHINGLES_FROM:
        grams = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    else:
        grams = {text[i:i + 5] for i in range(max(1, len(text) - 4))}
    return [g.encode("utf-8") for g in grams]


@lru_cache(maxsize=1)
def _permutations() -> Any:
    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


def _sha1_32(data: bytes) -> int:
    """datasketch's ``sha1_hash32`` (the first 4 bytes of SHA-1, little-endian), without ``struct``."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def signature(text: str) -> np.ndarray:
    """The MinHash values of a normalized text."""
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations(), hashfunc=_sha1_32)
    minhash.update_batch(shingles(text))
    return np.asarray(minhash.hashvalues, dtype=np.uint32)


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
