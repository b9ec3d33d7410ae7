"""Search latency: Whoosh (through ``index.search.search``) beside SQLite FTS5, per query class.

Six classes, ``--queries`` each (200 by default), limit 20; every query asks
both engines for the same thing: the top 20 (by relevance, or newest first)
with their records and snippets, and the total number of matches.

    python -m benchmarks.bench_search            # 100k records
    python -m benchmarks.bench_search --million  # 1M records (see benchmarks/README.md for times)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.data import chosen_size, epoch, fts5_table, git_revision, machine, prepare_home, size_options
from benchmarks.synth import SOURCES, SPAN_SECONDS, START, STOP, Archive

logger = logging.getLogger(__name__)

CLASSES = ("keyword", "and2", "phrase", "keyword+30d", "30d newest", "source+keyword")


def _word(rng: random.Random, words: list[str]) -> str:
    """A query word: log-uniform over frequency ranks 20–20,000 (common to rare)."""
    return words[int(math.exp(rng.uniform(math.log(20), math.log(20_000))))]


def make_queries(words: list[str], titles: list[str], per_class: int, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    """The same seeded query set for both engines."""
    rng = random.Random(seed)
    stop = set(STOP)

    def window() -> tuple[datetime, datetime]:
        start = START + timedelta(seconds=rng.randrange(SPAN_SECONDS - 30 * 86400))
        return start, start + timedelta(days=30)

    def bigram() -> str:
        while True:
            title = rng.choice(titles).lower().split()
            pairs = [(a, b) for a, b in zip(title, title[1:]) if a not in stop and b not in stop]
            if pairs:
                return " ".join(rng.choice(pairs))

    out: dict[str, list[dict[str, Any]]] = {c: [] for c in CLASSES}
    for _ in range(per_class):
        out["keyword"].append({"words": [_word(rng, words)]})
        out["and2"].append({"words": [_word(rng, words), _word(rng, words)]})
        out["phrase"].append({"phrase": bigram()})
        since, until = window()
        out["keyword+30d"].append({"words": [_word(rng, words)], "since": since, "until": until})
        since, until = window()
        out["30d newest"].append({"since": since, "until": until, "sort": "newest"})
        out["source+keyword"].append({"words": [_word(rng, words)], "source": rng.choice(SOURCES)})
    return out


def queries_from(db_path: Path, per_class: int, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    """``make_queries`` with phrases from the titles of every 97th record of the FTS5 table."""
    db = sqlite3.connect(db_path)
    try:
        titles = [t for (t,) in db.execute("SELECT title FROM items WHERE id % 97 = 0")]
    finally:
        db.close()
    return make_queries(Archive().words, titles, per_class, seed)


def searched_home(workdir: Path, size: int) -> tuple[Path, Path]:
    """The benchmark home of ``size`` records and its FTS5 table, as ``bench_search`` left them."""
    home = prepare_home(workdir, size)
    db_path = home / "fts5.sqlite"
    if not (home / "index").exists() or not db_path.exists():
        raise SystemExit("run benchmarks.bench_search first (it builds the index and the FTS5 table)")
    return home, db_path


def whoosh_text(q: dict[str, Any]) -> str:
    """The query as newsdesk search syntax."""
    return f'"{q["phrase"]}"' if "phrase" in q else " ".join(q.get("words", []))


def search_args(q: dict[str, Any]) -> dict[str, Any]:
    """``index.search.search``'s arguments for one benchmark query (limit 20)."""
    return {"since": q.get("since"), "until": q.get("until"), "sources": [q["source"]] if "source" in q else [],
            "sort": q.get("sort", "relevance"), "limit": 20}


def run_whoosh(index_dir: Path, cold_postings: bool = False) -> Callable[[dict[str, Any]], int]:
    """A function running one query through newsdesk's search API; returns the total.

    :param cold_postings: empty ``index.vectorized``'s posting cache before each query, so every
        posting list is read from the index files (the page cache stays warm).
    """
    from index import vectorized
    from index.search import search

    def run(q: dict[str, Any]) -> int:
        if cold_postings:
            vectorized.clear_cache()
        return search(index_dir, whoosh_text(q), **search_args(q)).total

    return run


def run_fts5(db_path: Path) -> Callable[[dict[str, Any]], int]:
    """A function running the same query on FTS5: top 20 records with snippets, and the count."""
    db = sqlite3.connect(db_path)

    def run(q: dict[str, Any]) -> int:
        where, args = [], []
        match = f'"{q["phrase"]}"' if "phrase" in q else " ".join(f'"{w}"' for w in q.get("words", []))
        if "since" in q:
            where.append("i.published BETWEEN ? AND ?")
            args += [epoch(q["since"].isoformat()), epoch(q["until"].isoformat())]
        if "source" in q:
            where.append("i.source = ?")
            args.append(q["source"])
        if match:
            cond = " AND ".join(["fts MATCH ?"] + where)
            rows = db.execute(
                "SELECT i.record, snippet(fts, 1, '[[', ']]', ' … ', 24) FROM fts JOIN items i ON i.id = fts.rowid "
                f"WHERE {cond} ORDER BY bm25(fts, 2.0, 1.0) LIMIT 20", [match] + args).fetchall()
            total = db.execute(f"SELECT count(*) FROM fts JOIN items i ON i.id = fts.rowid WHERE {cond}",
                               [match] + args).fetchone()[0]
        else:
            cond = " AND ".join(where)
            rows = db.execute(f"SELECT i.record, substr(i.body, 1, 200) FROM items i WHERE {cond} "
                              "ORDER BY i.published DESC LIMIT 20", args).fetchall()
            total = db.execute(f"SELECT count(*) FROM items i WHERE {cond}", args).fetchone()[0]
        for record, _snippet in rows:
            json.loads(record)
        return int(total)

    return run


def timed(run: Callable[[dict[str, Any]], int],
          queries: list[dict[str, Any]]) -> tuple[list[float], list[float], int]:
    """Wall and CPU milliseconds per query, and the sum of totals (a check both engines did the work)."""
    times, cpu, totals = [], [], 0
    for q in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        totals += run(q)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return times, cpu, totals


def p95(values: list[float]) -> float:
    """The 95th percentile."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def ensure_index(home: Path) -> float:
    """Build the Whoosh index of the home's archive with ``reindex`` unless it is current; seconds taken."""
    from index.ingest import reindex
    from index.schema import SCHEMA_VERSION
    from newsdesk.core.home import Home

    marker = home / "index" / "SCHEMA_VERSION"
    if marker.exists() and marker.read_text().strip() == str(SCHEMA_VERSION):
        return 0.0
    started = time.perf_counter()
    reindex(Home(home))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_options(parser)
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    size = chosen_size(args)
    print(f"machine: {machine()}\nrevision: {git_revision()}\nrecords: {size:,}")
    home = prepare_home(args.workdir, size)
    built = ensure_index(home)
    if built:
        print(f"whoosh index built by reindex in {built:.0f} s")
    db_path, fts_built = fts5_table(home)
    if fts_built:
        print(f"fts5 table built in {fts_built:.0f} s")
    queries = queries_from(db_path, args.queries)
    engines = {"whoosh": run_whoosh(home / "index"), "fts5": run_fts5(db_path),
               "whoosh_cold": run_whoosh(home / "index", cold_postings=True)}
    for run in engines.values():  # warm up: imports, open, caches
        for q in queries["keyword"][:5]:
            run(q)
    rows = []
    print("\nWall ms (what a user waits; inflated by other processes on a busy machine), then CPU ms\n"
          "(this process only; steadier under load). Ratios are Whoosh/FTS5 of the p95.\n")
    print("| class | whoosh median | whoosh p95 | fts5 median | fts5 p95 | ratio p95 | whoosh CPU median |"
          " whoosh CPU p95 | fts5 CPU median | fts5 CPU p95 | ratio CPU p95 | totals equal |"
          " whoosh p95, no posting cache | its ratio |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in CLASSES:
        c_times, _, _ = timed(engines["whoosh_cold"], queries[name])
        w_times, w_cpu, w_total = timed(engines["whoosh"], queries[name])
        f_times, f_cpu, f_total = timed(engines["fts5"], queries[name])
        row = {"class": name, "whoosh_median": statistics.median(w_times), "whoosh_p95": p95(w_times),
               "fts5_median": statistics.median(f_times), "fts5_p95": p95(f_times),
               "whoosh_cpu_median": statistics.median(w_cpu), "whoosh_cpu_p95": p95(w_cpu),
               "fts5_cpu_median": statistics.median(f_cpu), "fts5_cpu_p95": p95(f_cpu),
               "whoosh_total": w_total, "fts5_total": f_total,
               "whoosh_cold_median": statistics.median(c_times), "whoosh_cold_p95": p95(c_times)}
        row["ratio_p95"] = row["whoosh_p95"] / row["fts5_p95"]
        row["ratio_cpu_p95"] = row["whoosh_cpu_p95"] / max(row["fts5_cpu_p95"], 0.001)
        rows.append(row)
        print(f"| {name} | {row['whoosh_median']:.1f} | {row['whoosh_p95']:.1f} | {row['fts5_median']:.1f} | "
              f"{row['fts5_p95']:.1f} | {row['ratio_p95']:.1f} | {row['whoosh_cpu_median']:.1f} | "
              f"{row['whoosh_cpu_p95']:.1f} | {row['fts5_cpu_median']:.1f} | {row['fts5_cpu_p95']:.1f} | "
              f"{row['ratio_cpu_p95']:.1f} | {w_total == f_total} ({w_total}/{f_total}) | "
              f"{row['whoosh_cold_p95']:.1f} | {row['whoosh_cold_p95'] / row['fts5_p95']:.1f} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "size": size, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
