"""Run crawls: one ``scrapy crawl`` subprocess per source, under a per-source lock, recorded.

Twisted's reactor cannot restart, so every crawl gets a fresh process.  Before
it starts, the crawl takes ``<home>/locks/crawl-<source>.lock`` (an ``flock``
the child process inherits, so the kernel releases it only when the crawl
itself ends, even if whoever started it died): the scheduler, a cron one-shot
and a person's ``newsdesk crawl`` never crawl one source at once; the loser
skips.  Every run is recorded in the run history (:mod:`newsdesk.ops.runs`) and
checked for health (:mod:`newsdesk.ops.health`).  The crawl's log goes to
``<home>/logs/<run-id>.log``; what a person needs to know comes back as a
:class:`CrawlOutcome` built from the run report the crawl leaves behind.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from newsdesk.ops.captures import prune_captures
from newsdesk.ops.config import Config, load_config
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock, LockBusy, is_locked
from newsdesk.core.runid import new_run_id
from newsdesk.ops.runs import RunHistory, pid_alive, prune, utcnow
from newsdesk.core.tally import NETWORK_ERRORS, Tally, counted, future_dates, stat, unreadable_dates
from newsdesk.core.words import plural
from scraper.sources import Source

logger = logging.getLogger(__name__)

#: Seconds between a forced stop (second SIGTERM) and SIGKILL.
FORCE_GRACE = 2.0

#: What a start page's failure is called when it is the network's fault (the run is "unreachable").
_NETWORK_WORDS = frozenset(NETWORK_ERRORS.values())


@dataclass
class CrawlOutcome:
    """What one crawl of one source did."""

    source: str
    run_id: str
    exit_code: int
    log_file: Path
    stats: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = ""
    skipped: str = ""  # why the crawl did not run (another one holds the source's lock)
    stopped: bool = False  # we told it to stop (shutdown)
    timed_out: bool = False
    alerts: list[str] = field(default_factory=list)
    unresolved: str = ""  # not crawled: no start page's host resolves, while the network looks down

    def stat(self, name: str) -> int:
        return stat(self.stats, name)

    @property
    def tally(self) -> Tally:
        return Tally.of(self.stats)

    @property
    def new(self) -> int:
        return self.tally.new

    @property
    def updated(self) -> int:
        return self.tally.updated

    @property
    def unchanged(self) -> int:
        return self.tally.unchanged

    @property
    def dropped(self) -> dict[str, int]:
        """Items dropped, by reason (unchanged ones are not dropped: see :attr:`unchanged`)."""
        return self.tally.dropped

    @property
    def seen(self) -> int:
        return self.tally.seen

    @property
    def http_errors(self) -> int:
        """HTTP responses of 4xx/5xx plus downloads that failed outright (robots.txt not counted)."""
        def bad(prefix: str) -> int:
            return sum(n for code, n in counted(self.stats, prefix).items() if code[:1] in ("4", "5"))

        robots = bad("robotstxt/response_status_count/") + self.stat("robotstxt/exception_count")
        return max(0, bad("downloader/response_status_count/") + self.stat("downloader/exception_count") - robots)

    @property
    def page_failure(self) -> str | None:
        """Why a start page (list page, feed, sitemap) could not be fetched, or None if every one was."""
        failed = self.stat("newsdesk/page_failed")
        if not failed:
            return None
        cause = str(self.stats.get("newsdesk/page_failed_cause") or "not fetched")
        return cause + (f" (and {failed - 1} more start pages)" if failed > 1 else "")

    @property
    def status(self) -> str:
        """The run history's word for how it ended."""
        if self.skipped:
            return "skipped"
        if self.timed_out:
            return "timeout"
        if self.stopped:
            return "stopped"
        if self.unresolved:
            return "unreachable"
        if not self.stats:
            return "failed"
        page = self.page_failure
        if page is not None and page.split(":", 1)[0] not in _NETWORK_WORDS:
            return "failed"
        if self.network_problem or page is not None:
            return "unreachable"
        if self.stat("newsdesk/tally_mismatch"):
            return "failed"
        return "ok" if self.exit_code == 0 else "failed"

    @property
    def network_problem(self) -> str | None:
        """One line when nothing could be downloaded: why, in plain words."""
        if self.unresolved:
            return NETWORK_ERRORS["DNSLookupError"]
        if self.stat("downloader/response_count") > 0:
            return None
        kinds = [k.rsplit(".", 1)[-1] for k in counted(self.stats, "downloader/exception_type_count/")]
        if not kinds:
            return None
        return ", ".join(sorted({NETWORK_ERRORS.get(kind, kind) for kind in kinds}))

    @property
    def errors(self) -> int:
        """Pages that failed (start pages and articles; not links robots.txt disallows), ERROR log lines."""
        return (self.stat("newsdesk/article_failed") + self.stat("newsdesk/page_failed")
                + self.stat("log_count/ERROR") + (1 if self.exit_code else 0))

    @property
    def ok(self) -> bool:
        """Nothing went wrong (a skipped run is not a failure; a stopped one is not either)."""
        return self.status in ("ok", "skipped", "stopped")

    @property
    def problem(self) -> bool:
        """Worth telling under ``--quiet``: the run failed or raised an alert."""
        return not self.ok or bool(self.alerts)

    def describe(self) -> str:
        """One line for a person."""
        if self.skipped:
            return f"{self.source}: skipped: {self.skipped}"
        if self.unresolved:
            return f"{self.source}: could not reach the site ({self.unresolved}; not crawled); see {self.log_file}"
        if self.timed_out:
            return f"{self.source}: stopped after the crawl timeout; see {self.log_file}"
        if self.stopped and not self.stats:
            return (f"{self.source}: stopped on request before the crawl could report; "
                    f"the records it wrote are kept; see {self.log_file}")
        if not self.stats:
            return f"{self.source}: crawl failed (exit {self.exit_code}); see {self.log_file}"
        problem = self.network_problem
        if problem and self.status == "unreachable":
            return f"{self.source}: could not reach the site ({problem}); see {self.log_file}"
        line = f"{self.source}: " + self.tally.describe() + f", {plural(self.errors, 'error')}"
        causes = [(self.stat("newsdesk/page_failed"), "start page", ""),
                  (self.stat("newsdesk/article_failed"), "article page", " not fetched"),
                  (self.stat("log_count/ERROR"), "error", " logged")]
        if any(n for n, _, _ in causes) and self.errors:
            line += " (" + ", ".join(plural(n, what) + after for n, what, after in causes if n) + ")"
        page = self.page_failure
        if page is not None:
            line = f"{self.source}: failed: start page {page}; " + line.split(": ", 1)[1]
        if self.stopped:
            line += "; stopped early on request"
        notes = [(self.stat("newsdesk/robots_disallowed"), "skipped by robots.txt"),
                 (self.stat("newsdesk/article_given_up"), "article pages given up after retries"),
                 (unreadable_dates(self.stats), "unreadable dates"),
                 (future_dates(self.stats), "dates in the future"),
                 (self.stat("newsdesk/sitemap/old_sitemaps"),
                  "sitemaps skipped: last changed before the time window (options.since)"),
                 # Entries outside the window are the usual case; said only when they are why nothing came.
                 (0 if self.seen else self.stat("newsdesk/sitemap/outside_window"),
                  "sitemap entries skipped: undated or before the time window (options.since)")]
        for count, what in notes:
            if count:
                line += f"; {count} {what}"
        layout = sorted(counted(self.stats, "newsdesk/layout/"))
        if layout:
            line += f"; layout warnings: {', '.join(layout)}"
        if self.stat("newsdesk/tally_mismatch"):
            line += "; its numbers do not add up (a bug: see the log)"
        if not self.ok or page is not None:
            line += f"; see {self.log_file}"
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


class StopRequest:
    """Shared by a scheduler and its running crawls: set on SIGTERM/SIGINT.

    A crawl that is running when it is set may finish for ``grace`` seconds, is
    then sent SIGTERM (Scrapy closes the spider: the outbox file is completed),
    and after ``kill_after`` more seconds forced (see :func:`_wait`).  ``now()``
    skips the grace and most of the wait.
    """

    def __init__(self, grace: float = 60.0, kill_after: float = 15.0) -> None:
        self.event = threading.Event()
        self.urgent = threading.Event()
        self.grace = grace
        self.kill_after = kill_after
        self.at: float | None = None

    def set(self) -> None:
        if self.at is None:
            self.at = time.monotonic()
        self.event.set()

    def now(self) -> None:
        self.set()
        self.urgent.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def terminate_at(self) -> float | None:
        """When a running crawl should be told to stop (monotonic), or None if not yet asked."""
        if self.at is None:
            return None
        return self.at if self.urgent.is_set() else self.at + self.grace


def source_lock_path(home: Home, source_id: str) -> Path:
    """The lock a crawl of ``source_id`` holds while it runs."""
    return home.lock(f"crawl-{source_id}")


def lock_holder(path: Path) -> str:
    """What the lock file says about the crawl holding it, for the skip message.

    The file holds ``<crawl pid> <run id> <pid of whoever started it> <start time>``.
    When that starter is gone (``newsdesk crawl`` killed, say with ``kill -9``), its
    crawl process runs on and finishes by itself: an earlier run still finishing.
    """
    try:
        text = path.read_text(encoding="utf-8").split()
    except OSError:
        return "another crawl is running"
    if len(text) >= 4:
        pid, run_id, starter, started = text[:4]
        if starter.isdigit() and not pid_alive(int(starter)):
            return (f"an earlier run is still finishing (run {run_id}, pid {pid}, started at {started}); "
                    "the command that started it has ended, and what it writes is ingested by a later run")
        return f"another crawl is running (run {run_id}, pid {pid}, started at {started})"
    if len(text) >= 2:
        return f"another crawl is running (run {text[1]}, pid {text[0]})"
    return f"another crawl is running (pid {text[0]})" if text else "another crawl is running"


def _stamp_lock(lock: FileLock, pid: int, run_id: str) -> None:
    assert lock.fd is not None
    started = utcnow().isoformat(timespec="seconds")
    os.ftruncate(lock.fd, 0)
    os.pwrite(lock.fd, f"{pid} {run_id} {os.getpid()} {started}\n".encode(), 0)


def _summary_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The stats kept in the run history: ours, item counts, and the finish reason."""
    keep = ("item_scraped_count", "item_dropped_count", "downloader/response_count", "log_count/ERROR",
            "log_count/WARNING", "elapsed_time_seconds")
    return {k: v for k, v in stats.items() if k.startswith("newsdesk/") or k in keep}


def _wait(proc: subprocess.Popen[bytes], outcome: CrawlOutcome, stop: StopRequest | None,
          timeout: float | None, kill_after: float) -> int:
    """Wait for the crawl; stop it cleanly on shutdown or timeout, force it if it will not stop.

    SIGTERM makes Scrapy close the spider (in-flight downloads finish, the outbox
    file is completed); after ``kill_after`` seconds a second SIGTERM forces it,
    and ``FORCE_GRACE`` seconds later SIGKILL.  Records already written survive all three.
    """
    started = time.monotonic()
    signals_sent: list[float] = []
    while True:
        try:
            return proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass
        moment = time.monotonic()
        if not signals_sent:
            stop_at = stop.terminate_at() if stop is not None else None
            if stop_at is not None and moment >= stop_at:
                outcome.stopped = True
                logger.warning("%s: stopping the crawl (shutdown)", outcome.source)
            elif timeout and moment - started >= timeout:
                outcome.timed_out = True
                logger.warning("%s: crawl ran over %.0f s; stopping it", outcome.source, timeout)
            else:
                continue
            proc.send_signal(signal.SIGTERM)
            signals_sent.append(moment)
        elif len(signals_sent) == 1 and (moment - signals_sent[0] >= kill_after or (
                stop is not None and stop.urgent.is_set() and moment - signals_sent[0] >= 1.0)):
            logger.warning("%s: crawl still closing after %.0f s; forcing it", outcome.source, kill_after)
            proc.send_signal(signal.SIGTERM)  # Scrapy: "Send again to force"
            signals_sent.append(moment)
        elif len(signals_sent) == 2 and moment - signals_sent[1] >= FORCE_GRACE:
            logger.warning("%s: crawl did not stop; killing it", outcome.source)
            proc.kill()
            return proc.wait()


def run_crawl(home: Home, source: Source, url: str | None = None,
              settings: dict[str, str] | None = None, timeout: float | None = None, *,
              trigger: str = "manual", stop: StopRequest | None = None,
              config: Config | None = None) -> CrawlOutcome:
    """Crawl one source in a subprocess under its lock, record the run, check its health.

    :param trigger: what started it, for the history (manual, scheduled, catch-up).
    :param stop: a scheduler's shutdown request, which a running crawl obeys.
    """
    home.ensure(home.root, home.logs, home.runs, home.outbox, home.locks)
    config = config or load_config(home.config_file)
    lock = FileLock(source_lock_path(home, source.id))
    try:
        lock.acquire()
    except LockBusy:
        why = lock_holder(lock.path)
        logger.info("%s: skipped: %s", source.id, why)
        run_id = new_run_id(source.id)
        RunHistory(home).skipped(run_id, source.id, trigger, why)
        return CrawlOutcome(source=source.id, run_id=run_id, exit_code=0, log_file=Path(), skipped=why)
    try:
        return _locked_crawl(home, source, lock, url, settings, timeout, trigger, stop, config)
    finally:
        lock.release()


def _locked_crawl(home: Home, source: Source, lock: FileLock, url: str | None,
                  settings: dict[str, str] | None, timeout: float | None, trigger: str,
                  stop: StopRequest | None, config: Config) -> CrawlOutcome:
    run_id = new_run_id(source.id)
    log_file = home.logs / f"{run_id}.log"
    outcome = CrawlOutcome(source=source.id, run_id=run_id, exit_code=0, log_file=log_file)
    history = RunHistory(home)
    history.start(run_id, source.id, trigger, log_file)
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="scraper.settings", PYTHONPATH=_pythonpath())
    assert lock.fd is not None
    try:
        with open(log_file, "ab") as log:
            # The child inherits the lock (pass_fds): the source stays locked while the crawl
            # lives, even if we die.  Its own session: a terminal's Ctrl-C reaches only us,
            # and we decide when the crawl stops.
            proc = subprocess.Popen(
                crawl_command(home, source, run_id, url, settings), env=env, cwd=home.root,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=(lock.fd,), start_new_session=True,
            )
        _stamp_lock(lock, proc.pid, run_id)
        history.set_pid(run_id, proc.pid)
        kill_after = stop.kill_after if stop is not None else config.kill_timeout
        outcome.exit_code = _wait(proc, outcome, stop, timeout, kill_after)
    except OSError as exc:
        outcome.exit_code = -1
        logger.error("%s: cannot start the crawl: %s", source.id, exc)
    _read_report(home, outcome)
    record(history, outcome)
    from newsdesk.ops.health import evaluate_run

    outcome.alerts = [a.message for a in evaluate_run(home, config, run_id)]
    return outcome


def _read_report(home: Home, outcome: CrawlOutcome) -> None:
    report = home.runs / f"{outcome.run_id}.json"
    if report.exists():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("%s: unreadable run report %s: %s", outcome.source, report, exc)
            return
        outcome.stats = data.get("stats", {})
        outcome.finish_reason = data.get("finish_reason", "")


def record(history: RunHistory, outcome: CrawlOutcome, status: str | None = None,
           ended: datetime | None = None) -> None:
    """Complete the outcome's row in the run history."""
    status = status or outcome.status
    message = "" if status == "ok" else outcome.describe().split(": ", 1)[-1]
    history.finish(outcome.run_id, status, seen=outcome.seen, new=outcome.new, updated=outcome.updated,
                   unchanged=outcome.unchanged, dropped=sum(outcome.dropped.values()),
                   http_errors=outcome.http_errors,
                   exit_code=outcome.exit_code, message=message,
                   stats={**_summary_stats(outcome.stats), "finish_reason": outcome.finish_reason},
                   ended=ended)


def settle_orphans(home: Home) -> list[str]:
    """Runs left ``running`` by a process that died: complete them from their run report, or mark them interrupted.

    A run whose source lock is still held is really running (an orphaned crawl
    finishing on its own) and is left alone.  Returns the run ids settled.
    """
    if not home.runs_db.exists():
        return []
    history = RunHistory(home)
    settled = []
    for run in history.running():
        if is_locked(source_lock_path(home, run.source)):
            continue
        outcome = CrawlOutcome(source=run.source, run_id=run.run_id, exit_code=-9,
                               log_file=Path(run.log_file or ""))
        _read_report(home, outcome)
        if outcome.stats:  # the crawl finished; whoever waited for it did not
            outcome.exit_code = 0 if outcome.finish_reason == "finished" else 1
            status = outcome.status
            record(history, outcome, ended=_finish_time(outcome.stats))
        else:
            status = "interrupted"
            history.finish(run.run_id, status, message="the process running it died (killed, or the machine stopped)")
        logger.warning("%s: run %s was left unfinished; recorded as %s", run.source, run.run_id, status)
        settled.append(run.run_id)
    return settled


def _finish_time(stats: dict[str, Any]) -> datetime | None:
    try:
        ended = datetime.fromisoformat(str(stats.get("finish_time")))
    except ValueError:
        return None
    return ended if ended.tzinfo else ended.replace(tzinfo=timezone.utc)


@contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """While crawls run: SIGINT/SIGTERM stop them cleanly (a second one forces them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.requested:
            stop.now()
        else:
            logger.warning("%s: stopping the running crawls (again to force)", signal.Signals(signum).name)
            stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def unresolved_hosts(source: Source, resolver: str = "") -> str:
    """Why none of ``source``'s start hosts resolves ("DNS lookup failed for a, b"), or "" if one does.

    :param resolver: a dotted path to a function host → addresses that raises
        ``socket.gaierror`` (the crawl's NEWSDESK_RESOLVER); default the system's.
    Anything but a plain "does not resolve" (a guard, a bad URL) counts as resolving: the crawl decides.
    """
    import importlib
    import socket

    if resolver:
        module, _, name = resolver.rpartition(".")
        resolve = getattr(importlib.import_module(module), name)
    else:
        def resolve(host: str) -> Any:
            return socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    hosts = list(dict.fromkeys(urlsplit(u).hostname or "" for u in source.urls))
    if not hosts or "" in hosts:
        return ""
    for host in hosts:
        try:
            resolve(host)
            return ""
        except socket.gaierror:
            continue
        except Exception:  # noqa: BLE001  (not a DNS answer: let the crawl find out)
            return ""
    return f"DNS lookup failed for {', '.join(hosts)}"


def _not_crawled(home: Home, source: Source, why: str, trigger: str, config: Config) -> CrawlOutcome:
    """Record a run of a source whose hosts do not resolve, without starting a crawl."""
    run_id = new_run_id(source.id)
    home.ensure(home.root, home.logs)
    log_file = home.logs / f"{run_id}.log"
    log_file.write_text(f"{utcnow().isoformat()} not crawled: {why}; the crawls before it could not "
                        "resolve their hosts either (the machine seems offline)\n", encoding="utf-8")
    outcome = CrawlOutcome(source=source.id, run_id=run_id, exit_code=1, log_file=log_file, unresolved=why)
    history = RunHistory(home)
    history.start(run_id, source.id, trigger, log_file)
    record(history, outcome)
    from newsdesk.ops.health import evaluate_run

    outcome.alerts = [a.message for a in evaluate_run(home, config, run_id)]
    return outcome


def run_crawls(home: Home, sources: list[Source], url: str | None = None,
               settings: dict[str, str] | None = None, parallel: int = 2, *,
               trigger: str = "manual", config: Config | None = None,
               stop: StopRequest | None = None, progress: Any = None) -> list[CrawlOutcome]:
    """Crawl several sources, ``parallel`` at a time; outcomes in the order given.

    :param progress: told ``started(source_id)`` and ``ended(outcome)`` around each crawl
        (:class:`newsdesk.cli.progress.CrawlProgress`: the live lines on a terminal).

    On SIGINT/SIGTERM (``stop``) no further source starts and the running ones
    are stopped cleanly (a second signal forces them); the sources that never
    started have no outcome.

    Offline: once a crawl has ended because its host did not resolve (and none
    has reached its site), a source none of whose hosts resolves either is
    recorded as unreachable without starting Scrapy for it (a process start
    costs seconds; a failed lookup, milliseconds).
    """
    config = config or load_config(home.config_file)
    merged = {**config.crawl_settings, **(settings or {})}
    settle_orphans(home)
    # Crawls run in their own sessions, so Ctrl-C reaches only us: pass it on as a clean stop.
    stop = stop or StopRequest(grace=0.0, kill_after=config.kill_timeout)

    dns_down: list[bool] = []  # one entry per ended crawl: True when its host did not resolve

    def one(source: Source) -> CrawlOutcome | None:
        if stop.requested:  # asked to stop before this source's turn: it does not start
            return None
        if progress is not None:
            progress.started(source.id)
        why = ""
        if url is None and dns_down and all(dns_down):
            why = unresolved_hosts(source, str(merged.get("NEWSDESK_RESOLVER") or ""))
        if why:
            outcome = _not_crawled(home, source, why, trigger, config)
        else:
            outcome = run_crawl(home, source, url, merged, config.crawl_timeout, trigger=trigger, stop=stop,
                                config=config)
        dns_down.append(isinstance(outcome, CrawlOutcome) and outcome.status == "unreachable"
                        and outcome.network_problem == NETWORK_ERRORS["DNSLookupError"])
        if progress is not None:
            progress.ended(outcome)
        return outcome

    with _stop_on_signals(stop):
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            futures = [pool.submit(one, s) for s in sources]
            # In slices: Python runs a signal handler only when the main thread wakes (see _stop_on_signals).
            while wait(futures, timeout=0.5).not_done:
                pass
            outcomes = [o for o in (f.result() for f in futures) if o is not None]
    keep = {run.run_id for run in RunHistory(home).running()}
    prune(home, config.keep_days, config.max_log_bytes, keep=keep)
    prune_captures(home, config.capture_keep_days, config.capture_max_bytes)
    return outcomes
