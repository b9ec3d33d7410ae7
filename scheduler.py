"""The long-running scheduler: one cron job per enabled source (APScheduler 3.x).

Each job crawls its source in a fresh subprocess (Twisted's reactor cannot
restart) and then ingests.  It only schedules: crawling is ``newsdesk.crawl``,
indexing is ``index.ingest``.  Run it as ``newsdesk schedule`` or, from a
checkout, ``python scheduler.py``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from newsdesk.crawl import run_crawl
from newsdesk.errors import NewsdeskError
from newsdesk.home import Home
from scraper.sources import Source, SourceConfigError, load_sources

logger = logging.getLogger("newsdesk.scheduler")


def crawl_and_ingest(home: Home, source: Source) -> None:
    """One scheduled run: crawl the source, then ingest what it produced."""
    from index.ingest import ingest

    outcome = run_crawl(home, source)
    log = logger.info if outcome.ok else logger.warning
    log("%s", outcome.describe())
    try:
        result = ingest(home)
    except NewsdeskError as exc:  # busy index: the next run ingests this run's file too
        logger.warning("ingest after %s deferred: %s", source.id, exc)
        return
    logger.info("ingest: %d records from %d files", result.records, result.files)


def trigger_for(source: Source) -> CronTrigger:
    """The cron trigger of a source's ``schedule``, in the source's zone."""
    try:
        return CronTrigger.from_crontab(source.schedule, timezone=source.timezone)
    except ValueError as exc:
        raise SourceConfigError(f"[sources.{source.id}] schedule {source.schedule!r}: {exc}",
                                "use 5 cron fields, e.g. '*/10 * * * *'") from None


def build_scheduler(home: Home, kind: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """A scheduler (of class ``kind``) with one job per enabled source."""
    scheduler = kind(job_defaults={"max_instances": 1, "coalesce": True})
    for source in load_sources(home.sources_file).values():
        if not source.enabled:
            continue
        scheduler.add_job(crawl_and_ingest, trigger_for(source), args=(home, source), id=source.id,
                          name=f"crawl {source.id}", misfire_grace_time=300)
    return scheduler


def main(home_dir: str | None = None) -> int:
    """Run until interrupted; returns an exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        home = Home.resolve(Path(home_dir) if home_dir else None)
        home.ensure()
        scheduler = build_scheduler(home)
    except NewsdeskError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for job in scheduler.get_jobs():
        logger.info("scheduled %s (%s)", job.id, job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
