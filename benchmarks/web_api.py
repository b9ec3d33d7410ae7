"""Warm query latency through ``newsdesk serve``'s API beside the cold ``newsdesk search`` process.

Builds (once; reused with ``--home``) a home of N seeded synthetic records
(made-up words with a Zipf-like spread, ten sources, three agencies, 60 days of
times), starts ``newsdesk serve`` on a free loopback port as a subprocess, and:

- warm: after a few warm-up requests, times QUERIES ``GET /api/search`` calls
  (HTTP round trip from this process, the JSON body read whole);
- library: the same queries in this process through the app's ``Archive.search``
  and the JSON shaping, without HTTP (what the server itself spends);
- cold: times CLI_RUNS ``newsdesk search … --json`` processes (wall time,
  start to exit), the same queries, on the same index.

Prints median / p95 / mean for both and their ratio.

    .venv/bin/python -m benchmarks.web_api [--records 10000] [--queries 300] [--cli-runs 30] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SEED = 20241024
VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vu", "zo")
         for b in ("bar", "cen", "dol", "fim", "gat", "hul", "jer", "kos", "lum", "mir",
                   "nop", "qas", "rit", "sul", "tov", "wex", "yal", "zin", "bro", "cra")]  # 200 words
SOURCES = [f"bench-{i}" for i in range(10)]
AGENCIES = [None, None, "Reuters", "AP", "AFP"]
START = datetime(2024, 9, 1, tzinfo=timezone.utc)


def synthetic_records(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` records of made-up words; word frequencies fall off like 1/rank."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(VOCAB))]
    records: list[dict[str, Any]] = []
    for i in range(count):
        published = START + timedelta(seconds=rng.randrange(60 * 86400))
        title = " ".join(rng.choices(VOCAB, weights, k=8)).capitalize()
        body = " ".join(rng.choices(VOCAB, weights, k=rng.randrange(40, 160)))
        records.append({
            "key": f"https://bench.example/{i}", "url": f"https://bench.example/{i}", "source": rng.choice(SOURCES),
            "kind": "article", "title": title, "summary": None, "body": body, "byline": None, "authors": [],
            "agency": rng.choice(AGENCIES), "published": published.isoformat(), "published_raw": None,
            "published_tz": "UTC", "updated": None, "updated_raw": None,
            "fetched_at": (published + timedelta(minutes=5)).isoformat(), "language": "en", "section": None,
            "tags": [], "extra": {}, "fingerprint": f"{i:x}", "version": 1,
        })
    return records


def build_home(root: Path, count: int) -> None:
    """Write the records to the outbox and ingest them (skipped if the index exists)."""
    from index.ingest import ingest
    from newsdesk.core.home import Home

    if (root / "index").is_dir():
        print(f"reusing {root}", file=sys.stderr)
        return
    outbox = root / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / "20241101T000000Z-bench-aaaaaa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(count)), encoding="utf-8")
    started = time.perf_counter()
    result = ingest(Home(root))
    print(f"ingested {result.records} records in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def query_set(count: int, seed: int = SEED + 1) -> list[dict[str, str | list[str]]]:
    """Search parameters as the API takes them: words, sometimes dates, a source, a sort."""
    rng = random.Random(seed)
    queries: list[dict[str, str | list[str]]] = []
    for _ in range(count):
        params: dict[str, str | list[str]] = {"q": " ".join(rng.sample(VOCAB[:120], rng.choice((1, 1, 2, 3))))}
        if rng.random() < 0.4:
            day = START + timedelta(days=rng.randrange(50))
            params["since"] = f"{day:%Y-%m-%d}"
            params["until"] = f"{day + timedelta(days=rng.randrange(1, 10)):%Y-%m-%d}"
        if rng.random() < 0.3:
            params["source"] = [rng.choice(SOURCES)]
        params["sort"] = rng.choice(("relevance", "relevance", "newest"))
        queries.append(params)
    return queries


def cli_args(params: dict[str, str | list[str]]) -> list[str]:
    """The same search as ``newsdesk search`` arguments."""
    args = [str(params["q"])]
    for name in ("since", "until", "sort"):
        if name in params:
            args += [f"--{name}", str(params[name])]
    for source in params.get("source", []):
        args += ["--source", source]
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def summary(times: list[float]) -> dict[str, float]:
    """Median, p95 and mean in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(times), "median_ms": statistics.median(times) * 1000, "p95_ms": p95 * 1000,
            "mean_ms": statistics.fmean(times) * 1000}


def in_process(root: Path, queries: list[dict[str, str | list[str]]]) -> list[float]:
    """Seconds per query through the app's Archive and JSON shaping, in this process (after a warm-up)."""
    from werkzeug.datastructures import MultiDict

    from newsdesk.core.home import Home
    from newsdesk.web.app import Archive, SearchForm, search_json

    archive = Archive(Home(root))
    times = []
    for i, params in enumerate([*queries[:20], *queries]):
        started = time.perf_counter()
        form = SearchForm.from_args(MultiDict(params))
        json.dumps(search_json(archive.search(form, timezone.utc, facets=False), False))
        if i >= 20:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cli-runs", type=int, default=30)
    parser.add_argument("--home", type=Path, help="Build (or reuse) the index here instead of a temp dir.")
    options = parser.parse_args()

    root = options.home or Path(tempfile.mkdtemp(prefix="newsdesk-web-bench-")) / "home"
    build_home(root, options.records)
    newsdesk = str(Path(sys.executable).with_name("newsdesk"))
    queries = query_set(options.queries)
    port = free_port()
    env = {**os.environ, "NEWSDESK_HOME": str(root)}
    server = subprocess.Popen([newsdesk, "serve", "--port", str(port), "--tz", "UTC"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/api/search?"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "q=warmup", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"newsdesk serve did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)
        for params in queries[:20]:  # warm-up: imports, caches, the OS page cache
            urllib.request.urlopen(base + urllib.parse.urlencode(params, doseq=True), timeout=30).read()
        warm, totals = [], []
        for params in queries:
            started = time.perf_counter()
            body = urllib.request.urlopen(base + urllib.parse.urlencode(params, doseq=True), timeout=30).read()
            warm.append(time.perf_counter() - started)
            totals.append(json.loads(body)["total"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    library = in_process(root, queries)
    cold = []
    for params in queries[:options.cli_runs]:
        started = time.perf_counter()
        subprocess.run([newsdesk, "search", *cli_args(params), "--json", "--tz", "UTC"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cold.append(time.perf_counter() - started)
    w, c, lib = summary(warm), summary(cold), summary(library)
    same = summary(warm[:len(cold)])  # the cold runs' queries, served warm
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    print(f"index: {options.records} synthetic records; {len(queries)} queries, "
          f"matches per query median {statistics.median(totals):.0f}, max {max(totals)}")
    print(f"{'':<28}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'mean ms':>9}")
    print(f"{'warm GET /api/search':<28}{w['n']:>5}{w['median_ms']:>11.1f}{w['p95_ms']:>9.1f}{w['mean_ms']:>9.1f}")
    print(f"{'  of which library (no HTTP)':<28}{lib['n']:>5}{lib['median_ms']:>11.1f}{lib['p95_ms']:>9.1f}"
          f"{lib['mean_ms']:>9.1f}")
    print(f"{'cold newsdesk search --json':<28}{c['n']:>5}{c['median_ms']:>11.1f}{c['p95_ms']:>9.1f}{c['mean_ms']:>9.1f}")
    print(f"{'warm, the cold runs queries':<28}{same['n']:>5}{same['median_ms']:>11.1f}{same['p95_ms']:>9.1f}"
          f"{same['mean_ms']:>9.1f}")
    print(f"cold CLI / warm API (same queries): median {c['median_ms'] / same['median_ms']:.1f}×, "
          f"p95 {c['p95_ms'] / same['p95_ms']:.1f}×")
    print(f"cold CLI / warm API (all queries): median {c['median_ms'] / w['median_ms']:.1f}×, p95 {c['p95_ms'] / w['p95_ms']:.1f}×")
    if options.home is None:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
