"""Search speed: PostgreSQL (index.pg) beside Whoosh (index.search) and SQLite FTS5, same records, same queries.

    NEWSDESK_TEST_PG=postgresql://… .venv/bin/python benchmarks/search_pg.py [--records 5000] [--repeat 5]

Records are generated (seeded): titles and bodies drawn from a fixed
vocabulary, dates spread over a year, five sources.  Each engine gets the
same records; each query runs ``--repeat`` times after one warm-up and the
median wall time is reported, with the ratio to Whoosh measured in the same
run.  PostgreSQL answers the query as ``index.pg`` compiles it (the local
index's parser and analyzer, so the same hits as Whoosh), FTS5 as MATCH
understands it; Whoosh as ``newsdesk search`` does.  Load time is
reported too.  The table drops and recreates ``newsdesk_records``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger(__name__)

VOCAB = ("ceasefire talks resume in cairo storm batters coast volcano erupts iceland finance ministers meet "
         "washington north korea troops russia ukraine power grid drones missiles election senate vote harbour "
         "strike drought vaccine pipeline glacier tariff satellite reactor orchestra market bank rates court "
         "ruling protest police border refugees summit leaders climate energy oil prices budget").split()
QUERIES = ["korea", "north korea troops", '"power grid"', "ceasefire OR summit", "election NOT senate",
           "drought vaccine pipeline", "market"]


def records(count: int) -> list[dict]:
    """Seeded synthetic records in the outbox format."""
    rng = random.Random(9)
    out = []
    for n in range(count):
        title = " ".join(rng.choice(VOCAB) for _ in range(8)).capitalize()
        body = ". ".join(" ".join(rng.choice(VOCAB) for _ in range(14)) for _ in range(6))
        day = 1 + n % 365
        published = f"2024-{1 + (day - 1) // 31 % 12:02d}-{1 + day % 28:02d}T{n % 24:02d}:00:00+00:00"
        out.append({"key": f"https://bench.example/{n}", "url": f"https://bench.example/{n}",
                    "source": f"source-{n % 5}", "kind": "article", "title": title, "summary": None, "body": body,
                    "byline": None, "authors": [], "agency": None, "published": published, "published_raw": None,
                    "published_tz": None, "updated": None, "updated_raw": None,
                    "fetched_at": "2024-12-31T00:00:00+00:00", "language": "en", "section": None, "tags": [],
                    "extra": {}, "fingerprint": str(n), "version": 1})
    return out


def timed(func, repeat: int) -> float:
    func()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def fts5_query(text: str) -> str:
    """The query in FTS5 syntax: NOT becomes FTS5's binary NOT, words stay ANDed."""
    return text.replace(" NOT ", " NOT ")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("NEWSDESK_TEST_PG")
    if not url:
        print("set NEWSDESK_TEST_PG (see .ci/services.sh)", file=sys.stderr)
        return 2
    from index import pg
    from index.ingest import ingest
    from index.search import search
    from newsdesk.core.home import Home

    data = records(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    home = Home.resolve(tmp / "home")
    home.ensure(home.outbox)
    (home.outbox / "20241231T000000Z-bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    load = {}
    start = time.perf_counter()
    ingest(home)
    load["whoosh"] = time.perf_counter() - start
    conn = pg.connect(url)
    conn.execute("DROP TABLE IF EXISTS newsdesk_records, newsdesk_record_versions")
    conn.commit()
    conn.close()
    start = time.perf_counter()
    pg.load_archive(home, url)
    load["postgresql"] = time.perf_counter() - start
    db = sqlite3.connect(tmp / "fts.sqlite")
    start = time.perf_counter()
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, title, body, published UNINDEXED, "
               "tokenize='porter')")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)",
                   [(r["key"], r["title"], r["body"], r["published"]) for r in data])
    db.commit()
    load["fts5"] = time.perf_counter() - start

    print(f"{args.records} records, median of {args.repeat} runs, 20 hits with snippets, newest first")
    print(f"load: whoosh {load['whoosh']:.2f} s, postgresql {load['postgresql']:.2f} s, fts5 {load['fts5']:.2f} s")
    print(f"{'query':<28} {'hits':>6} {'whoosh ms':>10} {'pg ms':>8} {'fts5 ms':>8} {'pg/whoosh':>10} {'fts5/whoosh':>12}")
    ratios_pg, ratios_fts = [], []
    for text in QUERIES:
        total = search(home.index, text, limit=20, sort="newest").total
        w = timed(lambda: search(home.index, text, limit=20, sort="newest"), args.repeat)
        p = timed(lambda: pg.search(url, text, limit=20, sort="newest"), args.repeat)
        fq = fts5_query(text)
        f = timed(lambda: db.execute(
            "SELECT key, snippet(docs, 2, '[[', ']]', '…', 20), (SELECT count(*) FROM docs WHERE docs MATCH ?) "
            "FROM docs WHERE docs MATCH ? ORDER BY published DESC LIMIT 20", (fq, fq)).fetchall(), args.repeat)
        ratios_pg.append(p / w)
        ratios_fts.append(f / w)
        print(f"{text:<28} {total:>6} {w * 1000:>10.1f} {p * 1000:>8.1f} {f * 1000:>8.1f} {p / w:>10.2f} {f / w:>12.2f}")
    print(f"geometric mean ratio: pg/whoosh {statistics.geometric_mean(ratios_pg):.2f}, "
          f"fts5/whoosh {statistics.geometric_mean(ratios_fts):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
