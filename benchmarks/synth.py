"""A seeded generator of a realistic synthetic news archive (JSONL records of ``NewsItem``).

Mix: 70 % ``breaking`` list items (body 30–90 words, no summary) and 30 %
``article`` records (a one-sentence summary and a body of 150–600 words, skewed
short), so bodies average about 150 words.  Titles are 8–15 words.  Words come
from a Zipfian vocabulary (exponent 1.0) of 40,000 made-up words whose forms
vary like English (``-s``, ``-ed``, ``-ing`` … so stemming has work to do), with
news-like stop words mixed in.  30 sources, two years of times (UTC, busier by
day), bylines with authors and wire agencies.

    python -m benchmarks.synth 100000 > archive.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import sys
from bisect import bisect
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

logger = logging.getLogger(__name__)

SEED = 7
VOCABULARY = 40_000
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
SPAN_SECONDS = 2 * 365 * 86400
LIST_SHARE = 0.70
SOURCES = [f"{name}-{kind}" for name, kind in itertools.islice(itertools.product(
    ("jpost", "reuters", "apnews", "afp", "bbc", "ynet", "haaretz", "toi", "cnn", "guardian"),
    ("breaking", "world", "politics")), 30)]
AGENCIES = ["Reuters", "AP", "AFP", "JTA", "TPS", "Bloomberg"]
STOP = ["the", "a", "of", "to", "in", "and", "on", "for", "with", "at", "by", "from", "after", "as", "is",
        "was", "has", "said", "over", "into"]
ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r", "s",
          "sh", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
CODAS = ["", "n", "r", "s", "t", "l", "m", "nd", "rk", "st", "ng"]
SUFFIXES = ["", "", "", "s", "ed", "ing", "er", "ers", "ion", "ions", "ly", "ment"]
FIRST = ["Anna", "David", "Maya", "Tom", "Sara", "Yossi", "Lena", "Omar", "Noa", "Jack", "Rina", "Ali",
         "Eva", "Ben", "Dana", "Ivan", "Lior", "Mark", "Tal", "Zoe"]
LAST = ["Cohen", "Levi", "Smith", "Brown", "Katz", "Novak", "Haddad", "Klein", "Stone", "Weiss", "Rossi",
        "Mizrahi", "Green", "Khan", "Peretz", "Baker", "Adler", "Young", "Gold", "Shapiro"]


def make_vocabulary(rng: random.Random, size: int = VOCABULARY) -> list[str]:
    """``size`` distinct made-up words, most frequent first; stop words take the top ranks."""
    words: list[str] = list(STOP)
    seen = set(words)
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 2, 3))
        stem = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        word = stem + rng.choice(SUFFIXES)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Archive:
    """Generates records one by one; the same seed gives the same records."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.words = make_vocabulary(self.rng)
        weights = [1.0 / rank for rank in range(1, len(self.words) + 1)]
        self.cum = list(itertools.accumulate(weights))
        self.names = [f"{f} {last}" for f in FIRST for last in LAST]

    def text(self, n: int) -> list[str]:
        """``n`` words drawn from the Zipfian vocabulary."""
        return self.rng.choices(self.words, cum_weights=self.cum, k=n)

    def sentences(self, n: int) -> str:
        """``n`` words as sentences of 8–25 words."""
        words = self.text(n)
        out, i = [], 0
        while i < len(words):
            size = self.rng.randint(8, 25)
            chunk = words[i:i + size]
            out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + "." if len(chunk) > 1
                       else chunk[0].capitalize() + ".")
            i += size
        return " ".join(out)

    def moment(self) -> datetime:
        """A time in the two years, busier 06–22 UTC."""
        day = self.rng.randrange(SPAN_SECONDS // 86400)
        hour = self.rng.choices(range(24), weights=[1] * 6 + [4] * 16 + [2] * 2)[0]
        return START + timedelta(days=day, hours=hour, seconds=self.rng.randrange(3600))

    def record(self, n: int) -> dict[str, Any]:
        """The n-th record (call in order)."""
        rng = self.rng
        source = SOURCES[rng.randrange(len(SOURCES))]
        is_list = rng.random() < LIST_SHARE
        title_words = self.text(rng.randint(8, 15))
        title = " ".join([title_words[0].capitalize()] + title_words[1:])
        if is_list:
            body_len = rng.randint(30, 90)
            summary = None
        else:
            body_len = min(600, 150 + int(rng.expovariate(1 / 210)))
            summary = self.sentences(rng.randint(15, 30))
        published = self.moment()
        agency = rng.choice(AGENCIES) if rng.random() < 0.45 else None
        authors = [] if agency and rng.random() < 0.6 else rng.sample(self.names, rng.choice((1, 1, 1, 2)))
        byline = "By " + " and ".join(authors + ([agency.upper()] if agency else [])) if authors or agency else None
        site = source.split("-")[0]
        url = f"https://www.{site}.example/{source.split('-')[1]}/{n:08d}"
        return {
            "key": url, "url": url, "source": source, "kind": "breaking" if is_list else "article",
            "title": title, "summary": summary, "body": self.sentences(body_len), "byline": byline,
            "authors": authors, "agency": agency, "published": published.isoformat(),
            "published_raw": f"{published:%m/%d/%Y %I:%M %p}", "published_tz": "UTC",
            "updated": None, "updated_raw": None,
            "fetched_at": (published + timedelta(minutes=rng.randint(1, 30))).isoformat(),
            "language": "en", "section": source.split("-")[1], "tags": [], "extra": {},
            "fingerprint": f"{rng.getrandbits(64):016x}", "version": 1,
        }

    def records(self, count: int, start: int = 0) -> Iterator[dict[str, Any]]:
        """``count`` records numbered from ``start``."""
        for n in range(start, start + count):
            yield self.record(n)


def write_jsonl(out: TextIO, records: Iterator[dict[str, Any]]) -> int:
    """Write records one a line; return how many."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.synth N [--seed S] [--start K]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--start", type=int, default=0, help="number the records from here")
    args = parser.parse_args(argv)
    archive = Archive(args.seed)
    write_jsonl(sys.stdout, archive.records(args.count, args.start))


if __name__ == "__main__":
    main()
