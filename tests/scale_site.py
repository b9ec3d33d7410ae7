"""A generated loopback news site and process helpers for the Redis/PostgreSQL integration tests.

``/latest`` lists N articles (the list spider's ticker markup); ``/a/<n>`` is
article n.  The server counts every fetch per path, so a test can check that
each page was fetched once.  Also used by ``benchmarks/scale_stress.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import NOT_FOUND, Answer, LoopbackSite

HTML = {"Content-Type": "text/html; charset=utf-8"}

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("harbour", "senate", "drought", "vaccine", "election", "pipeline", "glacier", "tariff", "satellite",
         "ceasefire", "reactor", "orchestra")


def article_html(n: int) -> bytes:
    """Article n: a headline, a published time and a short body with two topic words."""
    a, b = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
    day = 1 + n % 28
    return f"""<!doctype html><html lang="en"><head><title>Story {n} about the {a}</title>
<meta property="article:published_time" content="2024-10-{day:02d}T{n % 24:02d}:15:00+00:00">
</head><body><article><h1>Story {n} about the {a}</h1>
<p class="byline">By Test Desk</p>
<p>Officials said on Thursday that the {a} and the {b} would be discussed again next week, in report {n}.</p>
<p>Observers expect a decision on the {b} before the end of the month, according to the statement.</p>
</article></body></html>""".encode()


def list_html(count: int) -> bytes:
    """The list page linking every article."""
    items = "".join(
        f'<li class="ticker__item"><a class="ticker__link" href="/a/{n}">'
        f'<span class="ticker__headline">Story {n} about the {WORDS[n % len(WORDS)]}</span></a>'
        f'<time class="ticker__time">2024-10-{1 + n % 28:02d} {n % 24:02d}:15</time></li>'
        for n in range(count))
    return f"<!doctype html><html><body><ol class='ticker'>{items}</ol></body></html>".encode()


class GeneratedSite(LoopbackSite):
    """N articles and one list page on 127.0.0.1, with fetch counts."""

    # A connection per request, as in a crawl spread over many hosts: it keeps the crawl slow
    # enough for the kill and outage tests to land mid-crawl.
    protocol_version = "HTTP/1.0"

    def __init__(self, count: int, delay: float = 0.0) -> None:
        super().__init__()
        self.count = count
        self.delay = delay
        self.fetches: Counter[str] = Counter()
        self.lock = threading.Lock()

    def answer(self, path: str, headers: Any) -> Answer:
        with self.lock:
            self.fetches[path] += 1
        if path == "/latest":
            return 200, HTML, list_html(self.count)
        if path.startswith("/a/") and path[3:].isdigit() and int(path[3:]) < self.count:
            if self.delay:
                time.sleep(self.delay)
            return 200, HTML, article_html(int(path[3:]))
        return NOT_FOUND

    def articles_fetched(self) -> Counter[str]:
        with self.lock:
            return Counter({p: c for p, c in self.fetches.items() if p.startswith("/a/")})


def sources_toml(base: str, source_id: str = "gen") -> str:
    return f"""
[sources.{source_id}]
spider = "list"
urls = ["{base}/latest"]
timezone = "UTC"
schedule = "every 1h"
[sources.{source_id}.options]
item = "ol.ticker > li.ticker__item"
headline = ".ticker__headline"
link = "a.ticker__link::attr(href)"
time = ".ticker__time"
"""


def make_home(path: Path, base: str) -> Path:
    """A data home with the generated site as its only source."""
    from scraper.sources import load_sources

    path.mkdir(parents=True, exist_ok=True)
    others = "".join(f"\n[sources.{other}]\nenabled = false\n" for other in load_sources())
    (path / "sources.toml").write_text(sources_toml(base) + others, encoding="utf-8")
    return path


FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "ROBOTSTXT_OBEY=0",
        "-s", "NEWSDESK_WORKER_ROTATE=1", "-s", "NEWSDESK_WORKER_TTL=3", "-s", "LOG_LEVEL=INFO",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]


def newsdesk(*args: str, home: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``newsdesk ARGS --home HOME`` in the background, output to ``log``."""
    env = dict(os.environ, NEWSDESK_OFFLINE="1", PYTHONPATH=str(ROOT))
    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "newsdesk", "-v", *args, "--home", str(home)],
                            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def worker(redis_url: str, pg_url: str, home: Path, log: Path) -> subprocess.Popen[bytes]:
    return newsdesk("worker", "--redis", redis_url, "--archive", pg_url, "--deliver-every", "1", *FAST,
                    home=home, log=log)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def pg_count(pg_url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(pg_url, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM newsdesk_records WHERE key LIKE '%%/a/%%'").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return -1


def reset(redis_url: str, pg_url: str) -> None:
    """An empty Redis db and no archive tables."""
    import psycopg
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with psycopg.connect(pg_url) as conn:
        conn.execute("DROP TABLE IF EXISTS newsdesk_records, newsdesk_record_versions")
