"""The long-running scheduler: one job per enabled source (APScheduler 3.x).

Each job crawls its source in a fresh subprocess (Twisted's reactor cannot
restart) under the source's lock, records the run, checks its health and then
ingests.  It only schedules: crawling is ``newsdesk.ops.crawl``, indexing is
``index.ingest``.  Run it as ``newsdesk schedule`` or, from a checkout,
``python scheduler.py [--home DIR] [-s NAME=VALUE]`` (scheduler.py, the entry point).

Job settings, and why:

- ``max_instances=1``: a source never overlaps itself in this process (the lock
  file covers other processes);
- ``coalesce=True``: runs missed while the machine slept or the process was
  stopped become one run, not a burst;
- ``misfire_grace_time`` = one interval (at least 30 s): a run that starts late
  (all workers busy, the machine was suspended) still runs; APScheduler's
  1 s default would drop it with only a log line.  Past one interval the next
  run is already due, and coalescing makes it one;
- jitter up to ``[schedule] jitter`` seconds (capped at a tenth of the
  interval): sources on the same cron minute do not all hit the network at once.

A run that comes due while the source's previous run is still going is not
started (``max_instances=1``); it is recorded in the run history as
``skipped`` with the message "still running", so ``newsdesk runs`` shows it.
"""

from __future__ import annotations

import logging
import logging.handlers
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from newsdesk.ops.alerts import after_ingest
from newsdesk.ops.captures import prune_captures
from newsdesk.ops.config import Config, load_config
from newsdesk.ops.crawl import CrawlOutcome, StopRequest, run_crawl, settle_orphans
from newsdesk.core.errors import NewsdeskError
from newsdesk.ops.health import check_stale, deliver
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock, LockBusy
from newsdesk.core.runid import new_run_id
from newsdesk.ops.runs import RunHistory, prune, utcnow
from newsdesk.ops.schedules import Plan, plan_for
from scraper.sources import Source, load_sources

logger = logging.getLogger("newsdesk.scheduler")

#: How often the scheduler prunes old runs/logs and looks for sources that stopped running.
HOUSEKEEPING_EVERY = timedelta(minutes=10)

#: The run history's message for a run not started because the previous one still runs.
STILL_RUNNING = "still running (the previous run of this source had not finished)"

#: How long the main thread sleeps between looks at the stop request (see :func:`_serve`).
WAKE_EVERY = 0.5


class SchedulerBusy(NewsdeskError):
    """Another scheduler already runs on this home."""


def scheduler_lock_path(home: Home) -> Path:
    """The lock a running scheduler holds for its whole life."""
    return home.lock("scheduler")


def plans(home: Home, config: Config, now: datetime | None = None) -> dict[str, tuple[Source, Plan]]:
    """Every enabled source with its schedule plan (raises on a bad schedule)."""
    zone = config.schedule_timezone or None
    origin = str(home.sources_file) if home.sources_file.exists() else "(shipped) scraper/sources.toml"
    return {source.id: (source, plan_for(source, zone, config.jitter, now, origin))
            for source in load_sources(home.sources_file).values() if source.enabled}


def needs_catch_up(history: RunHistory, source_id: str, interval: timedelta, now: datetime) -> bool:
    """True if the source's last successful run started more than one interval ago (or never)."""
    last_ok = history.last(source_id, status="ok")
    return last_ok is None or now - last_ok.started > interval


class Runner:
    """What a job does: crawl one source, then ingest; counts what is running for a clean stop."""

    def __init__(self, home: Home, config: Config, settings: dict[str, str] | None = None,
                 stop: StopRequest | None = None) -> None:
        self.home = home
        self.config = config
        self.settings = {**config.crawl_settings, **(settings or {})}
        self.stop = stop or StopRequest(config.stop_timeout, config.kill_timeout)
        self.catch_up: set[str] = set()
        self.active = 0
        self.idle = threading.Condition()

    def run(self, source: Source) -> CrawlOutcome | None:
        """One scheduled run: crawl the source, then ingest what it produced."""
        if self.stop.requested:
            return None
        trigger = "catch-up" if source.id in self.catch_up else "scheduled"
        self.catch_up.discard(source.id)
        with self.idle:
            self.active += 1
        try:
            outcome = run_crawl(self.home, source, settings=self.settings, timeout=self.config.crawl_timeout,
                                trigger=trigger, stop=self.stop, config=self.config)
            if outcome.skipped:
                logger.info("%s", outcome.describe())
                return outcome
            (logger.info if outcome.status in ("ok", "stopped") else logger.warning)("%s", outcome.describe())
            self.ingest()
            return outcome
        finally:
            with self.idle:
                self.active -= 1
                self.idle.notify_all()

    def ingest(self) -> None:
        """Index what is in the outbox; a busy index is left for the next run."""
        from index.ingest import ingest

        try:
            result = ingest(self.home)
        except NewsdeskError as exc:
            logger.warning("ingest deferred to the next run: %s", exc)
            return
        if result.files:
            logger.info("ingest: %d records from %d files", result.records, result.files)
        after_ingest(self.home)  # saved-search alerts, and retries of failed deliveries

    def housekeeping(self, schedule: dict[str, tuple[Source, Plan]]) -> None:
        """Settle runs whose process died, prune old history and logs, alert on sources that stopped running."""
        settle_orphans(self.home)
        history = RunHistory(self.home)
        keep = {run.run_id for run in history.running()}
        prune(self.home, self.config.keep_days, self.config.max_log_bytes, keep=keep)
        prune_captures(self.home, self.config.capture_keep_days, self.config.capture_max_bytes)
        now = utcnow()
        for source_id, (_, plan) in schedule.items():
            last = history.last(source_id)
            alert = check_stale(source_id, last, plan.interval, self.config, now)
            if alert is None or last is None:
                continue
            already = [a for a in history.alerts(source_id, since=last.started) if a.kind == "stale"]
            if not already:
                deliver(self.home, self.config, [alert])

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs (True) or ``timeout`` passes (False)."""
        with self.idle:
            return self.idle.wait_for(lambda: self.active == 0, timeout=timeout)


def build_scheduler(home: Home, kind: type[BaseScheduler] = BackgroundScheduler, *,
                    config: Config | None = None, runner: Runner | None = None,
                    now: datetime | None = None) -> BaseScheduler:
    """A scheduler (of class ``kind``) with one job per enabled source, plus housekeeping.

    Sources whose last successful run is older than one interval are due at once (catch-up).
    """
    config = config or load_config(home.config_file)
    runner = runner or Runner(home, config)
    now = now or utcnow()
    schedule = plans(home, config, now)
    history = RunHistory(home)
    scheduler = kind(
        executors={"default": ThreadPoolExecutor(config.max_parallel + 1)},
        job_defaults={"max_instances": 1, "coalesce": True},
        timezone=timezone.utc,
    )
    for source_id, (source, plan) in schedule.items():
        extra: dict[str, Any] = {}
        if config.catch_up and needs_catch_up(history, source_id, plan.interval, now):
            runner.catch_up.add(source_id)
            extra["next_run_time"] = now
        scheduler.add_job(runner.run, plan.trigger, args=(source,), id=source_id, name=f"crawl {source_id}",
                          misfire_grace_time=plan.misfire_grace_time, **extra)
    scheduler.add_listener(lambda event: record_overlap(history, event), EVENT_JOB_MAX_INSTANCES)
    scheduler.add_job(runner.housekeeping, IntervalTrigger(seconds=HOUSEKEEPING_EVERY.total_seconds()),
                      args=(schedule,), id="_housekeeping", name="housekeeping", next_run_time=now,
                      misfire_grace_time=int(HOUSEKEEPING_EVERY.total_seconds()))
    return scheduler


def schedule_lines(scheduler: BaseScheduler, catch_up: set[str], now: datetime | None = None) -> list[str]:
    """One line per source job: its schedule as written (cron or 'every 10m'), zone and next run time.

    ``scheduled jpost-breaking: '*/10 * * * *' (Asia/Jerusalem), next 2024-10-24 19:10 IDT``
    (a pending job has no next_run_time before the scheduler starts: it comes from the trigger).
    """
    now = now or utcnow()
    lines = []
    for job in scheduler.get_jobs():
        if job.id.startswith("_"):
            continue
        source = job.args[0] if job.args else None
        written = getattr(source, "schedule", "") or str(job.trigger)
        zone = getattr(job.trigger, "timezone", None)
        if job.id in catch_up:
            due = "now (catch-up)"
        else:
            moment = job.trigger.get_next_fire_time(None, now)
            due = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "never"
        lines.append(f"scheduled {job.id}: {written!r} ({zone}), next {due}")
    return lines


def record_overlap(history: RunHistory, event: JobSubmissionEvent) -> None:
    """APScheduler did not start a source's run because its previous one still runs: record the skip."""
    if event.job_id.startswith("_"):
        return
    logger.info("%s: skipped: %s", event.job_id, STILL_RUNNING)
    history.skipped(new_run_id(event.job_id), event.job_id, "scheduled", STILL_RUNNING)


def _log_to_file(home: Home) -> None:
    handler = logging.handlers.RotatingFileHandler(home.logs / "scheduler.log", maxBytes=5 * 1024 * 1024,
                                                   backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def run(home_dir: Path | str | None = None, settings: dict[str, str] | None = None,
        redis_url: str | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 after a clean stop).

    With ``redis_url``, runs are queued in Redis for `newsdesk worker` processes (RedisRunner, below).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "Running job …" every run is noise
    home = Home.resolve(Path(home_dir) if home_dir else None)
    home.ensure(home.root, home.logs, home.locks)
    lock = FileLock(scheduler_lock_path(home))
    try:
        lock.acquire()
    except LockBusy:
        pid = scheduler_lock_path(home).read_text().strip() or "?"
        raise SchedulerBusy(f"a scheduler is already running on {home.root} (pid {pid})",
                            "stop it first, or use another --home") from None
    try:
        _log_to_file(home)
        config = load_config(home.config_file)
        runner = RedisRunner(home, config, redis_url, settings) if redis_url else Runner(home, config, settings)
        settle_orphans(home)
        scheduler = build_scheduler(home, config=config, runner=runner)
        if redis_url:
            scheduler.add_job(runner.settle, IntervalTrigger(seconds=SETTLE_EVERY), id="_redis_settle",
                              name="settle Redis runs", misfire_grace_time=int(SETTLE_EVERY))
        return _serve(scheduler, runner, config)
    finally:
        lock.release()


def _serve(scheduler: BaseScheduler, runner: Runner, config: Config) -> int:
    """Start ``scheduler`` (a background one) and wait in the main thread for a signal, then for the runs.

    The handler only records the signal: Python runs it in the main thread, and
    a signal the kernel hands to another thread waits until the main thread
    wakes, so the main thread waits in short slices and does the stopping itself.
    """
    stop = runner.stop
    received: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if stop.requested:
            stop.now()
        else:
            stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for line in schedule_lines(scheduler, runner.catch_up):
            logger.info("%s", line)
        if not stop.requested:
            scheduler.start()
        while not stop.event.wait(WAKE_EVERY):
            pass
        logger.info("%s: no new runs; a running crawl may finish for up to %g s",
                    received[0] if received else "stop", config.stop_timeout)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        # Bounded: a crawl gets stop_timeout + kill_timeout, then ingest its own bounded wait.
        deadline = time.monotonic() + config.stop_timeout + config.kill_timeout + 150
        told = False
        while not runner.wait_idle(WAKE_EVERY):
            if stop.urgent.is_set() and not told:
                logger.warning("%s again: stopping running crawls now", received[-1] if received else "stop")
                told = True
            if time.monotonic() > deadline:
                logger.error("a run did not finish in time; exiting anyway")
                return 1
        logger.info("scheduler stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- runs queued in Redis ---------------------------------------------------------------
#
# The scheduler's job when crawls run on Redis workers: queue a source's run instead of crawling it here.
#
# ``newsdesk schedule --redis URL`` uses :class:`RedisRunner` in place of the
# local runner: each due source gets its start requests pushed to Redis under a
# per-source lock with expiry (one run per source at a time, across every
# scheduler); every few seconds the runner releases the locks of runs whose
# requests are all done and puts back the claims of dead workers.

SETTLE_EVERY = 5.0  # seconds between checks for finished runs and dead workers


class RedisRunner(Runner):
    """Queues runs in Redis; the crawling is done by `newsdesk worker` processes."""

    def __init__(self, home: Home, config: Config, redis_url: str, settings: dict[str, str] | None = None) -> None:
        from scraper.distributed import Keys, redis_client

        super().__init__(home, config, settings)
        self.server = redis_client(redis_url)
        self.keys = Keys()
        self.lock_ttl = int(config.crawl_timeout or 3600)
        self.tokens: dict[str, str] = {}

    def run(self, source: Source) -> Any:
        """Queue one run of ``source`` unless its previous run is still going."""
        from scraper.distributed import push_run

        if self.stop.requested:
            return None
        self.catch_up.discard(source.id)
        self.settle()
        token = push_run(self.server, source, self.keys, lock_ttl=self.lock_ttl)
        if token is None:
            logger.info("%s: the previous run is still going (Redis lock held); skipped", source.id)
            return None
        self.tokens[source.id] = token
        return None

    def settle(self) -> None:
        """Put back dead workers' claims; release the locks of runs that have finished."""
        from scraper.distributed import reap, release_lock, run_finished

        try:
            reap(self.server, self.keys)
            for source_id, token in list(self.tokens.items()):
                if run_finished(self.server, source_id, self.keys):
                    release_lock(self.server, source_id, token, self.keys)
                    del self.tokens[source_id]
                    logger.info("run of %s finished", source_id)
        except Exception as exc:  # noqa: BLE001 (Redis briefly away: settle next time)
            logger.warning("could not check runs in Redis: %s", exc)

    def ingest(self) -> None:
        """Workers deliver their own records; nothing to index here."""
