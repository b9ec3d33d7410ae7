"""The same searches through ``index.vectorized`` and through Whoosh's own matchers, on one index.

For each query class of ``bench_search`` (its queries, seed 11, the first
``--queries`` of each), ``index.search.search`` runs twice in one process:
as shipped (posting lists scored as arrays; the posting cache emptied before
each query, so nothing is reused), and with ``index.vectorized`` switched
off, so Whoosh's matchers and collectors do the work (the code path before
it, still used for the queries it does not handle).  Hits and totals are
checked equal.  Wall milliseconds, median and p95.

    python -m benchmarks.arrays_vs_matchers --million --queries 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from benchmarks.bench_search import CLASSES, p95, queries_from, search_args, searched_home, whoosh_text
from benchmarks.data import chosen_size, git_revision, machine, size_options


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_options(parser)
    parser.add_argument("--queries", type=int, default=20, help="queries per class")
    args = parser.parse_args(argv)
    size = chosen_size(args)
    home, db_path = searched_home(args.workdir, size)

    import index.search as search_module
    from index import vectorized

    queries = queries_from(db_path, args.queries)
    print(f"machine: {machine()}\nrevision: {git_revision()}\nrecords: {size:,}\n")
    print("| class | arrays median ms | arrays p95 ms | Whoosh matchers median ms | matchers p95 ms |"
          " speed-up (median) | same hits |\n|---|---|---|---|---|---|---|")
    shipped = search_module.top_docs

    def run(q: dict[str, Any], arrays: bool) -> tuple[float, list[str], int]:
        vectorized.clear_cache()
        search_module.top_docs = shipped if arrays else (lambda *a, **k: None)
        try:
            started = time.perf_counter()
            result = search_module.search(home / "index", whoosh_text(q), **search_args(q))
            seconds = time.perf_counter() - started
        finally:
            search_module.top_docs = shipped
        return seconds * 1000, [h.record["key"] for h in result.hits], result.total

    run(queries["keyword"][0], True)  # open the searcher
    for name in CLASSES:
        fast = [run(q, True) for q in queries[name]]
        slow = [run(q, False) for q in queries[name]]
        same = all(f[1:] == s[1:] for f, s in zip(fast, slow))
        f_ms, s_ms = [f[0] for f in fast], [s[0] for s in slow]
        print(f"| {name} | {statistics.median(f_ms):.1f} | {p95(f_ms):.1f} | {statistics.median(s_ms):.1f} | "
              f"{p95(s_ms):.1f} | {statistics.median(s_ms) / statistics.median(f_ms):.1f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
