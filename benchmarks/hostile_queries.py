"""How long each hostile query takes through the fenced parser and the time-limited search.

    .venv/bin/python benchmarks/hostile_queries.py --docs 50000

Builds an index of ``--docs`` made-up records (the issue measured Whoosh's
stock parser on 50k documents: ``a*`` 46 s, ``??*`` 28 s, ``a* b* c* d* e*``
over 2 minutes …), then runs every input of tests/hostile_inputs.py plus a
few broad but legitimate queries through ``index.search.search``, three
times each, and prints JSON: per query the outcome (the one-line error, or
the hit count) and the slowest of the three runs, then the longest overall.
As a baseline in the same run: a plain one-word search.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.search_during_ingest import _words, make_records  # noqa: E402
from index.ingest import ingest  # noqa: E402
from index.query import QueryError  # noqa: E402
from index.search import search  # noqa: E402
from newsdesk.core.home import Home  # noqa: E402
from tests.hostile_inputs import PATHOLOGICAL  # noqa: E402
from tests.records import write_outbox  # noqa: E402

BROAD = {"baseline: one word": "troops", "broad prefix kal*": "kal*", "three prefixes": "kal* lor* mir*",
         "stopwords": "the of and", "empty (list all, newest)": ""}


def _time(index_dir: Path, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        result = search(index_dir, text, limit=20, sort="newest" if not text else "relevance")
        outcome = f"{result.total} hits"
    except QueryError as exc:
        outcome = str(exc)
    return time.perf_counter() - started, outcome


def run(docs: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(8)
    words = _words(rng)
    home = Home(workdir / "home")
    started = time.monotonic()
    for start in range(0, docs, 25_000):
        write_outbox(home.root, f"20241024T1{start // 25_000:05d}Z-q", make_records(min(25_000, docs - start), start,
                                                                                  rng, words))
    ingest(home)
    built = time.monotonic() - started
    rows = {}
    for name, text in {**BROAD, **PATHOLOGICAL}.items():
        runs = [_time(home.index, text) for _ in range(3)]
        rows[name] = {"slowest_s": round(max(t for t, _ in runs), 3), "outcome": runs[0][1][:120]}
    hostile = {k: v for k, v in rows.items() if k in PATHOLOGICAL}
    worst = max(hostile, key=lambda k: hostile[k]["slowest_s"])
    return {"docs": docs, "index_build_s": round(built, 1), "queries": rows,
            "longest_hostile": {"query": worst, **hostile[worst]},
            "baseline_one_word_s": rows["baseline: one word"]["slowest_s"],
            "machine": f"{os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsdesk-hostile-") as tmp:
        print(json.dumps(run(args.docs, Path(tmp)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
