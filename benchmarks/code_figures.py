"""Re-measure the figures that comments in scraper/ used to carry (benchmarks/README.md, "Figures that were in the code").

    python3 benchmarks/code_figures.py [--n 20000]

Each is a tight loop of a fixed number of calls (no timed loop), best of 5, in µs per call:

* the JPost spider's printed time read with its strptime format first vs by guessing
  (``scraper.dates.parse_printed`` with and without ``formats``), distinct strings so its
  memo does not answer;
* a pipeline's view of a record: ``newsdesk.core.record.adapt`` vs ``itemadapter.ItemAdapter``
  (the wrap and one read, as each pipeline does per item).

The third figure (what a receiver of a Scrapy signal costs per item, scraper/outcomes.py)
needs a crawl's running reactor to mean anything; it stays with its crawl measurement
in benchmarks/README.md ("Scrapy signal receivers").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_of(fn: Callable[[], None], calls: int, repeats: int = 5) -> float:
    """µs per call of ``fn`` (which makes ``calls`` calls), best of ``repeats``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) / calls * 1e6


def printed_times(n: int) -> tuple[float, float]:
    from scraper.dates import parse_printed

    texts = [f"{1 + i % 12:02d}/{1 + i % 28:02d}/20{10 + i % 15} {1 + i % 12:02d}:{i % 60:02d} PM" for i in range(n)]
    fmt = ("%m/%d/%Y %I:%M %p",)
    with_format = best_of(lambda: [parse_printed(t, "Asia/Jerusalem", formats=fmt) for t in texts], n)
    guessed = best_of(lambda: [parse_printed(t, "Asia/Jerusalem") for t in texts], n)
    assert [parse_printed(t, "Asia/Jerusalem", formats=fmt) for t in texts[:500]] == \
        [parse_printed(t, "Asia/Jerusalem") for t in texts[:500]], "the two readings differ"
    return with_format, guessed


def item_views(n: int) -> tuple[float, float]:
    from itemadapter import ItemAdapter

    from newsdesk.core.record import NewsItem, adapt

    items = [NewsItem(key=f"https://e.example/{i}", title=f"Title {i}") for i in range(n)]
    cheap = best_of(lambda: [adapt(item)["key"] for item in items], n)
    full = best_of(lambda: [ItemAdapter(item)["key"] for item in items], n)
    return cheap, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="calls per loop")
    n = parser.parse_args().n
    fmt, guess = printed_times(n)
    print(f"JPost printed time: strptime format {fmt:.1f} µs, guessing {guess:.1f} µs ({guess / fmt:.1f}×)")
    cheap, full = item_views(n)
    print(f"record view per pipeline: adapt {cheap:.2f} µs, ItemAdapter {full:.2f} µs")


if __name__ == "__main__":
    main()
