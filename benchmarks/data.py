"""Benchmark data: a synthetic archive laid out like a real newsdesk home, and its FTS5 twin.

``prepare_home(workdir, size)`` writes ``<workdir>/home-<size>/archive/…jsonl.gz``
(files of 10,000 records, one per synthetic "run") once and reuses it;
``fts5_table`` builds a SQLite FTS5 table of the same records, with the
Porter stemmer, title weighted 2 like the Whoosh schema.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.synth import Archive, write_jsonl

logger = logging.getLogger(__name__)

PER_FILE = 10_000
DEFAULT_WORKDIR = Path(os.environ.get("NEWSDESK_BENCH_DIR", "/tmp/newsdesk-bench"))


def size_options(parser: argparse.ArgumentParser, what: str = "records in the archive") -> None:
    """The options every scale benchmark takes: ``--size N``, ``--million``, ``--workdir``."""
    parser.add_argument("--size", type=int, default=100_000, help=f"{what} (default 100,000)")
    parser.add_argument("--million", action="store_true", help=f"1,000,000 {what}")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)


def chosen_size(args: argparse.Namespace) -> int:
    """The size ``size_options`` asked for."""
    return 1_000_000 if args.million else int(args.size)


def machine() -> str:
    """One line describing this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, load {load:.1f} at start")


def run_id(n: int) -> str:
    """A run id for the n-th synthetic archive file."""
    return f"20250101T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}Z-synth-{n:06d}"


def prepare_home(workdir: Path, size: int, seed: int = 7) -> Path:
    """A home whose archive holds ``size`` synthetic records (made once, then reused)."""
    home = workdir / f"home-{size}-{seed}"
    done = home / "archive" / ".complete"
    if done.exists():
        return home
    folder = home / "archive" / "2025" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    archive = Archive(seed)
    started = time.perf_counter()
    for n, start in enumerate(range(0, size, PER_FILE)):
        path = folder / f"{run_id(n)}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
            write_jsonl(out, archive.records(min(PER_FILE, size - start), start))
    done.write_text(f"{size} records, seed {seed}\n")
    logger.info("generated %d records in %.0f s", size, time.perf_counter() - started)
    return home


def archive_records(home: Path) -> Iterator[dict[str, Any]]:
    """Every record of a prepared home's archive, in order."""
    for path in sorted((home / "archive").glob("*/*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def epoch(iso: str | None) -> int | None:
    """Seconds since 1970 for an ISO time, or None."""
    return int(datetime.fromisoformat(iso).timestamp()) if iso else None


def fts5_table(home: Path) -> tuple[Path, float]:
    """Build (or reuse) the FTS5 twin of the home's archive; returns its path and build seconds."""
    path = home / "fts5.sqlite"
    if path.exists():
        return path, 0.0
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite3.connect(tmp)
    db.executescript("""
        PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
        CREATE TABLE items(id INTEGER PRIMARY KEY, key TEXT UNIQUE, source TEXT, published INTEGER,
                           title TEXT, body TEXT, record TEXT);
        CREATE VIRTUAL TABLE fts USING fts5(title, body, content='items', content_rowid='id',
                                            tokenize='porter unicode61');
    """)
    rows = []
    for record in archive_records(home):
        body = "\n".join(p for p in (record.get("summary"), record.get("body")) if p)
        rows.append((record["key"], record["source"], epoch(record.get("published")), record["title"], body,
                     json.dumps(record, ensure_ascii=False, separators=(",", ":"))))
        if len(rows) >= 10_000:
            _insert(db, rows)
    _insert(db, rows)
    db.executescript("""
        CREATE INDEX items_published ON items(published);
        CREATE INDEX items_source ON items(source, published);
        INSERT INTO fts(fts) VALUES('optimize');
    """)
    db.commit()
    db.close()
    os.replace(tmp, path)
    return path, time.perf_counter() - started


def _insert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with db:
        for row in rows:
            cur = db.execute("INSERT INTO items(key, source, published, title, body, record) VALUES (?,?,?,?,?,?)",
                             row)
            db.execute("INSERT INTO fts(rowid, title, body) VALUES (?,?,?)", (cur.lastrowid, row[3], row[4]))
    rows.clear()


def git_revision() -> str:
    """The checkout's short commit, for the record."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=False).stdout.strip() or "?"
    except OSError:
        return "?"
