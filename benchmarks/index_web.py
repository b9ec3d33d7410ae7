"""The web server under concurrent load during ingests, and what the index's checksums cost.

Builds a home of N synthetic records (``benchmarks.synth``) ingested as FILES outbox files
(one segment each), then:

- integrity: ``check_open`` (every open, and every reuse of a thread's searcher: the TOC's
  CRC and a stat per file), ``check_full`` (``verify``: every byte), and ``record`` with no
  checksums to reuse (the worst case of a commit: every file hashed), beside the time of one
  ingest commit of 1,000 records;
- web: the real ``serve`` server (waitress, ``--threads 8``) in this process, REQUESTS API
  requests with IN_FLIGHT at once while ingests commit new and replaced records; counts
  the answers by status and gives latency median / p95.  ``--shared`` first runs the same
  load with one searcher shared by every thread (the code before this change) for comparison.

    .venv/bin/python -m benchmarks.index_web [--records 10000] [--files 5] [--requests 240] [--in-flight 24] [--shared]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.data import machine
from benchmarks.synth import Archive

logger = logging.getLogger(__name__)

QUERIES = ["", "sarkfaner", "harroun OR prims", '"deangbrerk heangkanding"', "sark*", "sarkfaner -prims", "korly"]


def _outbox(home: Path, n: int, records: list[dict[str, Any]]) -> None:
    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / f"20250101T00{n:04d}Z-synth-{n:06d}.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def build(home: Path, records: int, files: int) -> Archive:
    from index.ingest import ingest
    from newsdesk.core.home import Home

    archive = Archive(7)
    per = records // files
    for n in range(files):
        _outbox(home, n, list(archive.records(per, n * per)))
        ingest(Home(home))
    return archive


def _median_ms(fn: Any, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def integrity_costs(home: Path, archive: Archive, records: int) -> None:
    from index import integrity
    from index.ingest import ingest
    from index.store import open_index
    from newsdesk.core.home import Home

    index = home / "index"
    size = sum(p.stat().st_size for p in index.iterdir()) / 1e6
    files = len([p for p in index.iterdir() if p.name.startswith("newsdesk_")])
    med, p95 = _median_ms(lambda: integrity.check_open(index), 200)
    print(f"index: {records} records, {files} segment files, {size:.1f} MB")
    print(f"check_open (every open / searcher reuse): median {med:.3f} ms, p95 {p95:.3f} ms")
    med, _ = _median_ms(lambda: integrity.check_full(index), 5)
    print(f"check_full (verify, every byte): median {med:.1f} ms ({size / med * 1000:.0f} MB/s)")
    ix = open_index(index)
    try:
        def rehash() -> None:
            (index / integrity.CHECKSUMS).unlink()
            integrity.record(ix)
        med, _ = _median_ms(rehash, 5)
    finally:
        ix.close()
    print(f"record with nothing to reuse (every file hashed): median {med:.1f} ms")
    _outbox(home, 900, list(archive.records(1000, records + 10_000)))
    start = time.perf_counter()
    ingest(Home(home))
    print(f"one ingest of 1000 new records (commit + checksums of its files): {time.perf_counter() - start:.2f} s")


def _get(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, (time.perf_counter() - start) * 1000


def _shared_searcher() -> Any:
    """The code before: one searcher per index directory shared by every thread (behind a lock only to open)."""
    from index.store import open_index

    opened: dict[Path, Any] = {}
    lock = threading.Lock()

    def searcher(index_dir: Path) -> Any:
        key = Path(index_dir).resolve()
        with lock:
            found = opened.get(key)
            if found is not None:
                try:
                    if found.up_to_date():
                        return found
                except Exception:  # as the code before did: open afresh
                    logger.debug("reopening", exc_info=True)
            found = open_index(key).searcher()
            opened[key] = found
            return found

    return searcher


def web_load(home: Path, archive: Archive, records: int, requests: int, in_flight: int, label: str) -> None:
    from index.ingest import ingest
    from newsdesk.cli.serve import make_server
    from newsdesk.core.home import Home
    from newsdesk.web.app import create_app

    srv = make_server(create_app(Home(home), "UTC"), "127.0.0.1", 0, threads=8)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.effective_port}"
    stop = threading.Event()
    commits = Counter[str]()

    def keep_ingesting() -> None:
        n = 1000
        while not stop.is_set() and n < 1012:
            batch = list(archive.records(200, records + 20_000 + n * 200)) + list(archive.records(20, n % 50 * 20))
            _outbox(home, n, batch)
            ingest(Home(home))
            commits["ingest"] += 1
            n += 1

    urls = [f"{base}{'/api/timeline' if n % 5 == 4 else '/api/search'}?q={urllib.parse.quote(QUERIES[n % len(QUERIES)])}"
            f"&sort={('relevance', 'newest', 'oldest')[n % 3]}&facets=1&page={1 + n % 3}"
            + ("&collapse=1" if n % 7 == 0 else "") for n in range(requests)]
    writer = threading.Thread(target=keep_ingesting)
    start = time.perf_counter()
    writer.start()
    try:
        with ThreadPoolExecutor(in_flight) as pool:
            answers = list(pool.map(_get, urls))
    finally:
        stop.set()
        writer.join()
        srv.close()
        thread.join(10)
    wall = time.perf_counter() - start
    statuses = Counter(status for status, _ in answers)
    latencies = sorted(ms for _, ms in answers)
    print(f"{label}: {requests} requests, {in_flight} in flight, {commits['ingest']} ingests committed meanwhile, "
          f"{wall:.1f} s: statuses {dict(sorted(statuses.items()))}; latency median "
          f"{statistics.median(latencies):.0f} ms, p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--requests", type=int, default=240)
    parser.add_argument("--in-flight", type=int, default=24)
    parser.add_argument("--shared", action="store_true", help="first run the load with one shared searcher")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("newsdesk.web.app", "waitress"):  # the before run's 500s, and waitress's queue-depth warnings
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    print(machine())
    with tempfile.TemporaryDirectory(prefix="newsdesk-index-web-") as tmp:
        home = Path(tmp) / "home"
        archive = build(home, args.records, args.files)
        integrity_costs(home, archive, args.records)
        if args.shared:
            import index.search

            mine = index.search._searcher
            index.search._searcher = _shared_searcher()
            try:
                web_load(home, archive, args.records, args.requests, args.in_flight, "one shared searcher (before)")
            finally:
                index.search._searcher = mine
        web_load(home, archive, args.records, args.requests, args.in_flight, "a searcher per thread (now)")


if __name__ == "__main__":
    main()
