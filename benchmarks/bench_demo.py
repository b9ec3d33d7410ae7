"""How long `newsdesk demo` takes, end to end, as a user runs it (issue 20: "well under a minute").

Runs ``<python> -m newsdesk demo --home <fresh dir>`` (or the ``--newsdesk``
executable given, e.g. a fresh clone's ``.venv/bin/newsdesk``) ``--runs``
times, each in a new demo home, and prints each run's wall time, exit code
and the hits its three searches printed, then the median and the slowest.
The first run after an install also compiles the .pyc files; pass
``--runs 1`` on a fresh venv to see that case.

    python benchmarks/bench_demo.py --runs 3
    python benchmarks/bench_demo.py --newsdesk /tmp/clone/.venv/bin/newsdesk --runs 1
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(command: list[str], home: Path) -> tuple[float, int, int]:
    """Wall seconds, exit code and hit lines (``(N of M matches shown)`` summed) of one demo."""
    env = dict(os.environ)
    env.pop("NEWSDESK_HOME", None)
    began = time.perf_counter()
    done = subprocess.run([*command, "demo", "--home", str(home)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600)
    took = time.perf_counter() - began
    shown = sum(int(n) for n in re.findall(r"^\((\d+) of \d+ match", done.stdout, flags=re.M))
    if done.returncode:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
    return took, done.returncode, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--newsdesk", help="the newsdesk executable (default: this Python's -m newsdesk)")
    args = parser.parse_args()
    command = [args.newsdesk] if args.newsdesk else [sys.executable, "-m", "newsdesk"]
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        for i in range(args.runs):
            took, code, shown = one_run(command, Path(scratch) / f"demo-{i}")
            times.append(took)
            print(f"run {i + 1}: {took:.1f} s, exit {code}, {shown} hits shown")
    print(f"median {statistics.median(times):.1f} s, slowest {max(times):.1f} s over {len(times)} runs "
          f"on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
