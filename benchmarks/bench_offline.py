"""Offline: how long ``newsdesk crawl`` of every shipped source takes when no name resolves.

No network is touched: the crawls run with ``tests.failing_dns`` (every lookup
fails as on a machine without a network: the address guard's resolver and
Twisted's).  Measured, as subprocesses of this script:

* ``crawl`` of every enabled shipped source (default ``--parallel``), wall time,
  how many runs started Scrapy and how many were recorded without it;
* ``crawl`` of one source: what one Scrapy process costs, so the all-source
  figure can be set against starting one per source.

    python -m benchmarks.bench_offline [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scraper.sources import load_sources
from tests.failing_dns import OFFLINE_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def crawl(home: Path, *sources: str) -> tuple[float, int, str]:
    """Wall seconds, exit code and the last stderr line of one ``newsdesk crawl``."""
    settings = [arg for name, value in OFFLINE_SETTINGS.items() for arg in ("-s", f"{name}={value}")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NEWSDESK_OFFLINE", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "newsdesk", "crawl", *sources, *settings, "--home", str(home)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    took = time.perf_counter() - start
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return took, done.returncode, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    enabled = [s.id for s in load_sources().values() if s.enabled]
    every, one, started = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            took, code, last = crawl(Path(tmp) / "all")
            every.append(took)
            started.append(len(list((Path(tmp) / "all" / "runs").glob("*.json"))))
            assert code == 1 and last.startswith("no source could be reached"), last
            took, code, _ = crawl(Path(tmp) / "one", enabled[0])
            one.append(took)
    print(json.dumps({
        "sources": len(enabled),
        "all_sources_seconds": {"median": round(statistics.median(every), 2), "max": round(max(every), 2)},
        "scrapy_processes_started": started,
        "one_source_seconds": {"median": round(statistics.median(one), 2)},
        "load_average": os.getloadavg()[0],
    }, indent=1))


if __name__ == "__main__":
    main()
