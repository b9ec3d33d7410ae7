"""Cold `newsdesk search` in two checkouts, alternated: did a change of the code's layout cost start-up time?

    python -m benchmarks.cold_search_ab OLD_CHECKOUT NEW_CHECKOUT --home HOME [--runs 8]

Each run starts a fresh ``python -m newsdesk search korea --json`` with PYTHONPATH set to one checkout, the
two checkouts taking turns (so the machine's other load falls on both alike); prints median and minimum wall s.
Both searches must succeed on HOME's index (build it with bench_search or bench_ingest first).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--home", type=Path, required=True, help="a benchmark home with an index")
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    times: dict[Path, list[float]] = {args.old: [], args.new: []}
    for _ in range(args.runs):
        for tree in (args.old, args.new):
            env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "newsdesk", "search", "korea", "--home", str(args.home),
                                   "--json", "--limit", "5"], env=env, cwd=tree, capture_output=True, text=True)
            times[tree].append(time.perf_counter() - started)
            if done.returncode:
                print(f"{tree}: exit {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr)
                return 1
    for tree, spent in times.items():
        print(f"{tree}: median {statistics.median(spent):.3f} s, min {min(spent):.3f} s ({args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
