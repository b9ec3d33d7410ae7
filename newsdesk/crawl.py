"""Run crawls: one ``scrapy crawl`` subprocess per source, then read its run report.

Twisted's reactor cannot restart, so every crawl gets a fresh process.  The
crawl's log goes to ``<home>/logs/<run-id>.log``; what a person needs to know
(items seen/new/updated/dropped, errors, an unreachable site) comes back as a
:class:`CrawlOutcome` built from the run report the crawl leaves behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

from newsdesk.home import Home
from newsdesk.runid import new_run_id
from scraper.sources import Source

#: Exceptions as Scrapy counts them → what to tell a person.
_NETWORK_ERRORS = {
    "DNSLookupError": "DNS lookup failed",
    "ConnectionRefusedError": "connection refused",
    "TCPTimedOutError": "connection timed out",
    "TimeoutError": "timed out",
    "ConnectError": "could not connect",
    "ConnectionLost": "connection lost",
    "ResponseNeverReceived": "no response",
    "NoRouteError": "no route to host",
    "SSLError": "TLS error",
    "IgnoreRequest": "request refused by a guard",
    # Scrapy 2.14+ wraps the Twisted errors in its own.
    "DownloadConnectionRefusedError": "connection refused",
    "DownloadTimeoutError": "timed out",
    "DownloadCancelledError": "download cancelled",
    "DownloadFailedError": "download failed",
    "CannotResolveHostError": "DNS lookup failed",
}


@dataclass
class CrawlOutcome:
    """What one crawl of one source did."""

    source: str
    run_id: str
    exit_code: int
    log_file: Path
    stats: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = ""

    def stat(self, name: str) -> int:
        return int(self.stats.get(name, 0) or 0)

    @property
    def new(self) -> int:
        return self.stat("newsdesk/items_new")

    @property
    def updated(self) -> int:
        return self.stat("newsdesk/items_updated")

    @property
    def dropped(self) -> dict[str, int]:
        prefix = "newsdesk/dropped/"
        return {k[len(prefix):]: int(v) for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def seen(self) -> int:
        return self.stat("item_scraped_count") + self.stat("item_dropped_count")


    @property
    def network_problem(self) -> str | None:
        """One line when nothing could be downloaded: why, in plain words."""
        if self.stat("downloader/response_count") > 0:
            return None
        prefix = "downloader/exception_type_count/"
        kinds = [k[len(prefix):].rsplit(".", 1)[-1] for k in self.stats if k.startswith(prefix)]
        if not kinds:
            return None
        return ", ".join(sorted({_NETWORK_ERRORS.get(kind, kind) for kind in kinds}))

    @property
    def errors(self) -> int:
        return (self.stat("newsdesk/article_failed") + self.stat("newsdesk/page_failed")
                + self.stat("log_count/ERROR") + (1 if self.exit_code else 0))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.network_problem is None and bool(self.stats)

    def describe(self) -> str:
        """One line for a person."""
        if not self.stats:
            return f"{self.source}: crawl failed (exit {self.exit_code}); see {self.log_file}"
        problem = self.network_problem
        if problem:
            return f"{self.source}: could not reach the site ({problem}); see {self.log_file}"
        parts = [f"{self.seen} seen", f"{self.new} new", f"{self.updated} updated"]
        dropped = self.dropped
        if dropped:
            reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(dropped.items()))
            parts.append(f"{sum(dropped.values())} dropped ({reasons})")
        else:
            parts.append("0 dropped")
        parts.append(f"{self.errors} errors")
        line = f"{self.source}: " + ", ".join(parts)
        unreadable = sum(int(v) for k, v in self.stats.items() if k.startswith("newsdesk/date_unreadable/"))
        if unreadable:
            line += f"; {unreadable} unreadable dates"
        layout = [k.rsplit("/", 1)[1] for k in self.stats if k.startswith("newsdesk/layout/")]
        if layout:
            line += f"; layout warnings: {', '.join(sorted(layout))}"
        return line


def _pythonpath() -> str:
    """Make sure the crawl process imports this very copy of newsdesk."""
    spec = importlib.util.find_spec("scraper")
    assert spec is not None and spec.origin is not None
    root = str(Path(spec.origin).parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + existing if existing else "")


def crawl_command(home: Home, source: Source, run_id: str, url: str | None = None,
                  settings: dict[str, str] | None = None) -> list[str]:
    """The ``scrapy crawl`` command line for one run."""
    log_file = home.logs / f"{run_id}.log"
    cmd = [
        sys.executable, "-m", "scrapy", "crawl", source.spider,
        "-a", f"source={source.id}",
        "-s", f"NEWSDESK_HOME={home.root}",
        "-s", f"NEWSDESK_RUN_ID={run_id}",
        "-s", f"LOG_FILE={log_file}",
    ]
    if url:
        # The user named this URL: its host is allowed even if private (scraper.middlewares).
        cmd += ["-a", f"url={url}", "-s", f"NEWSDESK_ALLOWED_HOSTS={urlsplit(url).hostname or ''}"]
    for name, value in (settings or {}).items():
        cmd += ["-s", f"{name}={value}"]
    return cmd


def run_crawl(home: Home, source: Source, url: str | None = None,
              settings: dict[str, str] | None = None, timeout: float | None = None) -> CrawlOutcome:
    """Crawl one source in a subprocess and return what it reported."""
    home.ensure(home.root, home.logs, home.runs, home.outbox)
    run_id = new_run_id(source.id)
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="scraper.settings", PYTHONPATH=_pythonpath())
    log_file = home.logs / f"{run_id}.log"
    try:
        proc = subprocess.run(
            crawl_command(home, source, run_id, url, settings), env=env, cwd=home.root,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            timeout=timeout, check=False,
        )
        exit_code = proc.returncode
        if proc.stderr:
            with open(log_file, "ab") as log:
                log.write(proc.stderr)
    except subprocess.TimeoutExpired:
        exit_code = -9
    outcome = CrawlOutcome(source=source.id, run_id=run_id, exit_code=exit_code, log_file=log_file)
    report = home.runs / f"{run_id}.json"
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        outcome.stats = data.get("stats", {})
        outcome.finish_reason = data.get("finish_reason", "")
    return outcome


def run_crawls(home: Home, sources: list[Source], url: str | None = None,
               settings: dict[str, str] | None = None, parallel: int = 2) -> list[CrawlOutcome]:
    """Crawl several sources, ``parallel`` at a time; outcomes in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(run_crawl, home, s, url, settings) for s in sources]
        return [f.result() for f in futures]
