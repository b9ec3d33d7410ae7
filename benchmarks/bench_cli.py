"""Cold ``newsdesk search``: wall time of a fresh process per query, imports and index open included.

For each query class (as in bench_search), ``--runs`` queries each start a new
``newsdesk search … --json`` process on the benchmark home; beside it, a fresh
``python`` process running the same query on the FTS5 table (the floor: the
interpreter's own start-up is in both).  Run ``bench_search`` first (it builds
the index and the FTS5 table).

    python -m benchmarks.bench_cli            # 100k
    python -m benchmarks.bench_cli --million  # 1M
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_search import CLASSES, p95, queries_from, searched_home, whoosh_text
from benchmarks.data import chosen_size, epoch, git_revision, machine, size_options

logger = logging.getLogger(__name__)

FTS5_SCRIPT = """
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
match, since, until, source = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
where, args = [], []
if since:
    where.append("i.published BETWEEN ? AND ?"); args += [int(since), int(until)]
if source:
    where.append("i.source = ?"); args.append(source)
if match:
    cond = " AND ".join(["fts MATCH ?"] + where)
    rows = db.execute("SELECT i.record, snippet(fts, 1, '[[', ']]', ' … ', 24) FROM fts JOIN items i "
                      "ON i.id = fts.rowid WHERE " + cond + " ORDER BY bm25(fts, 2.0, 1.0) LIMIT 20",
                      [match] + args).fetchall()
    total = db.execute("SELECT count(*) FROM fts JOIN items i ON i.id = fts.rowid WHERE " + cond,
                       [match] + args).fetchone()[0]
else:
    cond = " AND ".join(where)
    rows = db.execute("SELECT i.record, substr(i.body, 1, 200) FROM items i WHERE " + cond
                      + " ORDER BY i.published DESC LIMIT 20", args).fetchall()
    total = db.execute("SELECT count(*) FROM items i WHERE " + cond, args).fetchone()[0]
print(json.dumps([json.loads(r) for r, _ in rows]), total)
"""


def newsdesk_argv(home: Path, q: dict[str, Any]) -> list[str]:
    """The ``newsdesk search`` command line of one benchmark query."""
    exe = shutil.which("newsdesk", path=str(Path(sys.executable).parent)) or "newsdesk"
    argv = [exe, "search", whoosh_text(q), "--home", str(home), "--limit", "20", "--json", "--tz", "UTC"]
    if "since" in q:
        argv += ["--since", q["since"].strftime("%Y-%m-%dT%H:%M:%S"), "--until", q["until"].strftime("%Y-%m-%dT%H:%M:%S")]
    if "source" in q:
        argv += ["--source", q["source"]]
    if q.get("sort"):
        argv += ["--sort", q["sort"]]
    return argv


def fts5_argv(db: Path, q: dict[str, Any]) -> list[str]:
    """A cold python process running the same query on FTS5."""
    match = f'"{q["phrase"]}"' if "phrase" in q else " ".join(f'"{w}"' for w in q.get("words", []))
    since = str(epoch(q["since"].isoformat())) if "since" in q else ""
    until = str(epoch(q["until"].isoformat())) if "until" in q else ""
    return [sys.executable, "-c", FTS5_SCRIPT, str(db), match, since, until, q.get("source", "")]


def wall(argv: list[str]) -> tuple[float, float]:
    """Wall seconds a process takes from start to exit (it must succeed), and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_options(parser)
    parser.add_argument("--runs", type=int, default=10, help="cold processes per class")
    args = parser.parse_args(argv)
    size = chosen_size(args)
    home, db = searched_home(args.workdir, size)
    print(f"machine: {machine()}\nrevision: {git_revision()}\nrecords: {size:,}")
    queries = queries_from(db, args.runs, seed=23)
    floor = [wall([sys.executable, "-c", "pass"]) for _ in range(5)]
    print(f"bare `python -c pass`: wall {statistics.median(w for w, _ in floor) * 1000:.0f} ms, "
          f"CPU {statistics.median(c for _, c in floor) * 1000:.0f} ms\n")
    print("| class | newsdesk wall median s | wall p95 s | wall max s | CPU median s | CPU max s |"
          " fts5 process wall median s | fts5 wall p95 s | fts5 CPU median s | ratio wall (median) |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for name in CLASSES:
        nd = [wall(newsdesk_argv(home, q)) for q in queries[name]]
        ft = [wall(fts5_argv(db, q)) for q in queries[name]]
        nd_wall, nd_cpu = [w for w, _ in nd], [c for _, c in nd]
        ft_wall, ft_cpu = [w for w, _ in ft], [c for _, c in ft]
        print(f"| {name} | {statistics.median(nd_wall):.2f} | {p95(nd_wall):.2f} | {max(nd_wall):.2f} | "
              f"{statistics.median(nd_cpu):.2f} | {max(nd_cpu):.2f} | {statistics.median(ft_wall):.2f} | "
              f"{p95(ft_wall):.2f} | {statistics.median(ft_cpu):.2f} | "
              f"{statistics.median(nd_wall) / statistics.median(ft_wall):.1f} |", flush=True)


if __name__ == "__main__":
    main()
