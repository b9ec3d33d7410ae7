"""Does the post-ingest work (near-duplicate grouping + saved searches) grow with the archive?

Builds two homes from synthetic records (random words, no real text), one with
a SMALL and one with a LARGE archive, each with the same saved searches, then
ingests the same batch of new records into both and times the post-ingest steps
(``index.afteringest``: signatures, after_batch, finish)
alone and the whole ingest.  Reports times and the large/small ratio: ~1.0
means the cost follows the batch, not the archive.

    .venv/bin/python -m benchmarks.after_ingest [--small 1000] [--large 10000] [--batch 200]
"""

from __future__ import annotations

import argparse
import logging
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import index.afteringest as afteringest
from index.ingest import ingest
from index.watch import SavedSearch, add
from newsdesk.core.home import Home
from tests.records import record, write_outbox

logger = logging.getLogger(__name__)

ROUNDS = 3  # batches ingested into each home; the fastest counts (the machine is shared)
WORDS = [f"w{i}" for i in range(5000)] + ["korea", "troops", "grid", "missile", "ceasefire", "election"]


def _records(rng: random.Random, prefix: str, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        title = " ".join(rng.choices(WORDS, k=10))
        body = " ".join(rng.choices(WORDS, k=120))
        day = 1 + i % 28
        out.append(record(f"https://bench.example/{prefix}/{i}", title, f"2024-10-{day:02d}T12:00:00+00:00",
                          source=rng.choice(["a", "b", "c"]), body=body))
    return out


def _home(root: Path, size: int, rng: random.Random) -> Home:
    home = Home(root)
    for name, query in [("k", "korea troops"), ("g", "grid"), ("m", "missile OR ceasefire"), ("e", "election"),
                        ("x", '"w1 w2"')]:
        add(home.state, SavedSearch(name=name, query=query))
    for start in range(0, size, 5000):
        write_outbox(root, f"20241001T{start // 5000:06d}Z-base-aaaaaa", _records(rng, f"base{start}", min(5000, size - start)))
        ingest(home)
    return home


def _timed_ingest(home: Home, batch: list[dict[str, Any]], run_id: str) -> tuple[float, float, float]:
    """Wall time of the post-ingest steps (signatures, after_batch, finish), their CPU time (less
    disturbed by other load), and the wall time of the whole ingest."""
    spent: list[tuple[float, float]] = []
    steps = ("signatures", "after_batch", "finish")
    real = {name: getattr(afteringest, name) for name in steps}

    def timed(fn: Any) -> Any:
        def run(*args: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args)
            finally:
                spent.append((time.perf_counter() - started, time.process_time() - cpu))
        return run

    for name in steps:
        setattr(afteringest, name, timed(real[name]))
    try:
        write_outbox(home.root, run_id, batch)
        started = time.perf_counter()
        ingest(home)
        total = time.perf_counter() - started
    finally:
        for name in steps:
            setattr(afteringest, name, real[name])
    return sum(w for w, _ in spent), sum(c for _, c in spent), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    batches = [_records(random.Random(7 + i), f"new{i}", args.batch) for i in range(ROUNDS)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _timed_ingest(_home(Path(tmp) / "warm", 100, random.Random(1)), batches[0], "20241030T000000Z-w-aaaaaa")
        for label, size in (("small", args.small), ("large", args.large)):
            home = _home(Path(tmp) / label, size, random.Random(1))
            times = [_timed_ingest(home, batch, f"20241030T00000{i}Z-new-bbbbbb") for i, batch in enumerate(batches)]
            rows.append((label, size, *(min(t[i] for t in times) for i in range(3))))
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    for label, size, hook, cpu, total in rows:
        print(f"{label:<6} archive {size:>6}: after_ingest {hook * 1000:7.1f} ms wall, {cpu * 1000:7.1f} ms CPU; "
              f"whole ingest {total * 1000:7.1f} ms wall (batch of {args.batch}, best of {ROUNDS})")
    small, large = rows
    print(f"ratio large/small (archive {large[1] / small[1]:.0f}x): after_ingest {large[2] / small[2]:.2f} wall, "
          f"{large[3] / small[3]:.2f} CPU; whole ingest {large[4] / small[4]:.2f} wall")


if __name__ == "__main__":
    main()
