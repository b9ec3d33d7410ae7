"""One-off A/B measurements of the levers kept in issue 7, on the 100k benchmark data.

Compares, in one process and on the same queries (CPU milliseconds, so a busy
machine matters less):

- opening the index: the pre-issue-7 index (compound segment, zlib blocks,
  DATETIME) against the current one (separate files, plain blocks);
- keyword + 30-day range: DATETIME ``DateRange`` with Whoosh's default top-N
  collector + count (the old code path, minus snippets) against ``TimeRange``
  with the one-pass collector (the new path, minus snippets);
- the collector alone on the new index: Whoosh's default (block skipping, then
  a second pass to count) against one exact pass;
- the analyzer: Whoosh's StemmingAnalyzer (Python LFU stem cache) against ours
  (functools.lru_cache), tokens checked equal.

    python -m benchmarks.levers --old-home DIR_WITH_OLD_INDEX --new-home DIR_WITH_NEW_INDEX
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_search import p95, queries_from
from benchmarks.data import machine

logger = logging.getLogger(__name__)


def cpu_ms(fn: Any) -> float:
    """CPU milliseconds of one call."""
    started = time.process_time()
    fn()
    return (time.process_time() - started) * 1000


def naive(moment: Any) -> Any:
    """An aware UTC time as the naive UTC time the index works in."""
    return moment.replace(tzinfo=None)


def show(label: str, values: list[float]) -> None:
    """One line: median and p95."""
    print(f"| {label} | {statistics.median(values):.1f} | {p95(values):.1f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-home", type=Path, required=True, help="a home whose index/ was built by schema v1")
    parser.add_argument("--new-home", type=Path, required=True, help="a home whose index/ is current")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args(argv)
    from whoosh import collectors, index, query
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.qparser import AndGroup, MultifieldParser

    from index.schema import make_analyzer
    from index.timequery import time_range

    print(f"machine: {machine()}\n\n| measurement | median ms (CPU) | p95 ms (CPU) |\n|---|---|---|")
    old_dir, new_dir = args.old_home / "index", args.new_home / "index"
    for label, where in (("open + searcher, old index (compound, zlib)", old_dir),
                         ("open + searcher, new index (separate files)", new_dir)):
        times = []
        for _ in range(10):
            def op() -> None:
                ix = index.open_dir(str(where), indexname="newsdesk")
                ix.searcher().close()
            times.append(cpu_ms(op))
        show(label, times)
    queries = queries_from(args.new_home / "fts5.sqlite", args.queries, seed=31)
    old_ix, new_ix = index.open_dir(str(old_dir), indexname="newsdesk"), index.open_dir(str(new_dir), indexname="newsdesk")
    old_s, new_s = old_ix.searcher(), new_ix.searcher()
    old_p = MultifieldParser(["title", "body"], old_ix.schema, group=AndGroup)
    new_p = MultifieldParser(["title", "body"], new_ix.schema, group=AndGroup)

    def old_range(q: dict[str, Any]) -> None:
        full = query.And([old_p.parse(" ".join(q["words"])), query.DateRange("published", naive(q["since"]), naive(q["until"]))])
        len(old_s.search(full, limit=20, terms=True))

    def new_range(q: dict[str, Any]) -> None:
        full = query.And([new_p.parse(" ".join(q["words"])), time_range(naive(q["since"]), naive(q["until"]))])
        c = collectors.TopCollector(20, usequality=False, replace=0)
        new_s.search_with_collector(full, c)
        len(c.results())

    def parsed(q: dict[str, Any]) -> Any:
        return new_p.parse(f'"{q["phrase"]}"' if "phrase" in q else " ".join(q["words"]))

    def default_collector(q: dict[str, Any]) -> None:
        len(new_s.search(parsed(q), limit=20))

    def one_pass(q: dict[str, Any]) -> None:
        c = collectors.TopCollector(20, usequality=False, replace=0)
        new_s.search_with_collector(parsed(q), c)
        len(c.results())

    ranged = queries["keyword+30d"]
    show("keyword+30d, old: DATETIME DateRange, default collector + count", [cpu_ms(lambda: old_range(q)) for q in ranged])
    show("keyword+30d, new: TimeRange, one exact pass", [cpu_ms(lambda: new_range(q)) for q in ranged])
    for name in ("keyword", "and2", "phrase"):
        show(f"{name}, new index, Whoosh default top-N + count", [cpu_ms(lambda: default_collector(q))
                                                                  for q in queries[name]])
        show(f"{name}, new index, one exact pass", [cpu_ms(lambda: one_pass(q)) for q in queries[name]])
    texts = [r for (r,) in db.execute("SELECT body FROM items WHERE id % 50 = 0 LIMIT 2000")]
    old_a, new_a = StemmingAnalyzer(), make_analyzer()
    assert all([t.text for t in old_a(x)] == [t.text for t in new_a(x)] for x in texts[:200])
    show("analyze 2,000 bodies, StemmingAnalyzer (LFU cache)", [cpu_ms(lambda: [t.text for x in texts for t in old_a(x)])
                                                                 for _ in range(3)])
    show("analyze 2,000 bodies, ours (lru_cache)", [cpu_ms(lambda: [t.text for x in texts for t in new_a(x)])
                                                    for _ in range(3)])


if __name__ == "__main__":
    main()
