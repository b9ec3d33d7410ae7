"""Search latency while a large ingest runs, against the same searches on an idle index.

    .venv/bin/python benchmarks/search_during_ingest.py --records 100000

1. Builds a home whose index already holds ``--base`` records, and an outbox of
   ``--records`` new ones (made-up headlines over a 5,000-word vocabulary).
2. Baseline: runs the query mix for ``--baseline-seconds`` on the idle index.
3. Starts ``newsdesk ingest`` in a subprocess and runs the same query mix in
   this process until the ingest ends, each search through ``index.search.search``
   (opening the index each time, as the CLI does).
4. Prints JSON: ingest time, searches run, errors, latency p50/p95/p99/max in
   both phases and their ratio, and whether every new record became findable.

Every query has to answer (an error counts and is printed); the figure the
issue asks for is the worst latency during the ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.ingest import ingest  # noqa: E402
from index.search import search  # noqa: E402
from newsdesk.core.home import Home  # noqa: E402
from tests.records import record, write_outbox  # noqa: E402

QUERIES = ['"special counsel"', "troops korea", "title:missile", "weather OR rain", "border NOT talks",
           "minist*", "ceasefire", "report number", "election results", "body:hospital"]


def _words(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "po", "ne", "sa", "ri", "to"]
    made_up = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)}
    real = ("troops korea missile weather rain border talks minister ministry ceasefire election results "
            "hospital report number special counsel storm court police army market").split()
    return real + sorted(made_up)[:5000]


def make_records(count: int, offset: int, rng: random.Random, words: list[str]) -> list[dict[str, Any]]:
    """``count`` records with keys starting at ``offset``."""
    out = []
    for i in range(offset, offset + count):
        title = " ".join(rng.choice(words) for _ in range(8))
        body = " ".join(rng.choice(words) for _ in range(60))
        day = 1 + i % 28
        out.append(record(f"https://bench.example/item/{i}", title, f"2024-10-{day:02d}T12:00:00+00:00", body=body))
    return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(values), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(pick(0.95) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def _run_queries(index_dir: Path, until: Any, rng: random.Random) -> tuple[list[float], list[str]]:
    latencies, errors = [], []
    while not until():
        text = rng.choice(QUERIES)
        started = time.perf_counter()
        try:
            search(index_dir, text, limit=20)
        except Exception as exc:  # every failure is a finding: count it, print it
            errors.append(f"{text!r}: {type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - started)
    return latencies, errors


def run(records: int, base: int, baseline_seconds: float, workdir: Path) -> dict[str, Any]:
    rng = random.Random(8)
    words = _words(rng)
    home = Home(workdir / "home")
    write_outbox(home.root, "20241024T100000Z-base", make_records(base, 0, rng, words))
    ingest(home)
    write_outbox(home.root, "20241024T110000Z-big", make_records(records, base, rng, words))

    end = time.monotonic() + baseline_seconds
    idle, idle_errors = _run_queries(home.index, lambda: time.monotonic() > end, rng)

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "newsdesk", "ingest", "--home", str(home.root)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    busy, busy_errors = _run_queries(home.index, lambda: proc.poll() is not None, rng)
    out, err = proc.communicate()
    ingest_seconds = time.monotonic() - started
    findable = search(home.index, "", limit=1).total
    result = {
        "records_ingested": records, "already_indexed": base, "ingest_exit": proc.returncode,
        "ingest_seconds": round(ingest_seconds, 1), "ingest_output": out.strip(), "ingest_stderr": err.strip()[-300:],
        "idle": _percentiles(idle), "during_ingest": _percentiles(busy),
        "errors_idle": idle_errors[:5], "errors_during_ingest": busy_errors[:5],
        "error_count": len(idle_errors) + len(busy_errors), "documents_after": findable,
    }
    if idle and busy:
        result["ratio_p50"] = round(statistics.median(busy) / statistics.median(idle), 2)
        result["ratio_max"] = round(max(busy) / max(idle), 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=10_000, help="records indexed before the measurement")
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        result = run(args.records, args.base, args.baseline_seconds, Path(tmp))
    result["machine"] = f"{os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}"
    print(json.dumps(result, indent=1))
    return 0 if result["error_count"] == 0 and result["ingest_exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
