"""``newsdesk runs``, ``newsdesk status`` and ``newsdesk schedule``: the scheduler and its history.

Thin over :mod:`newsdesk.runs` (the history), :mod:`newsdesk.health` (the
checks) and ``scheduler`` (the long-running process).  Nothing heavy is
imported at module level: the CLI registers these commands at start-up.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from newsdesk.cliutils import check_sources, home_option, resolve_home, settings_option

logger = logging.getLogger(__name__)


def _when(moment: datetime | None) -> str:
    """A time in this machine's zone, for tables."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@click.command()
@click.option("--source", "source_id", metavar="SOURCE", help="Only this source's runs.")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True, help="Newest runs shown.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of runs.")
@home_option
def runs(source_id: str | None, limit: int, as_json: bool, home: Path | None) -> None:
    """Show the run history: every crawl, newest first, with its counts and log file.

    Runs are recorded whoever started them: the scheduler, cron's `newsdesk crawl`, or you.
    Status is ok, failed, unreachable, timeout, stopped (at shutdown), interrupted
    (its process died), skipped (an earlier run of the source was still running) or running.

    Example:

        newsdesk runs --source jpost-breaking --limit 5 --json
    """
    from newsdesk.crawl import settle_orphans
    from newsdesk.runs import RunHistory

    where = resolve_home(home)
    check_sources(where, [source_id] if source_id else [])
    if not where.runs_db.exists():
        if as_json:
            click.echo("[]")
        else:
            click.echo("no runs yet (run `newsdesk crawl` or `newsdesk schedule`)", err=True)
        return
    settle_orphans(where)
    rows = RunHistory(where).runs(source_id, limit=limit)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no runs{f' of {source_id}' if source_id else ''} yet", err=True)
        return
    click.echo(f"{'STARTED':<19}  {'SOURCE':<18} {'TRIGGER':<9} {'STATUS':<11} {'SECS':>6} {'SEEN':>5} "
               f"{'NEW':>4} {'UPD':>4} {'SAME':>5} {'DROP':>5} {'HTTPERR':>7} {'EXIT':>4}  LOG")
    for r in rows:
        secs = f"{r.duration:.1f}" if r.duration is not None else "-"
        code = "-" if r.exit_code is None else str(r.exit_code)
        click.echo(f"{_when(r.started):<19}  {r.source:<18} {r.trigger:<9} {r.status:<11} {secs:>6} {r.seen:>5} "
                   f"{r.new:>4} {r.updated:>4} {r.unchanged:>5} {r.dropped:>5} {r.http_errors:>7} {code:>4}  "
                   f"{r.log_file or r.message}")


def source_status(where: Any, config: Any, now: datetime) -> dict[str, Any]:
    """Every source's last run, next run and health, plus whether a scheduler runs."""
    from newsdesk.crawl import settle_orphans
    from newsdesk.health import check_run, check_stale
    from newsdesk.locks import is_locked
    from newsdesk.runs import RunHistory
    from newsdesk.schedules import plan_for
    from newsdesk.scheduling import scheduler_lock_path
    from scraper.sources import load_sources

    has_history = where.runs_db.exists()
    if has_history:
        settle_orphans(where)
    history = RunHistory(where)
    lock = scheduler_lock_path(where)
    running = is_locked(lock)
    pid = lock.read_text().strip() if running else None
    window = max(int(config.data["health"]["window"]), int(config.data["health"]["failed_runs"])) * 3
    rows = []
    origin = str(where.sources_file) if where.sources_file.exists() else "(shipped) scraper/sources.toml"
    for source in load_sources(where.sources_file).values():
        plan = plan_for(source, config.schedule_timezone or None, config.jitter, now, origin)
        finished = history.runs(source.id, limit=window, finished=True) if has_history else []
        finished = [r for r in finished if r.status != "skipped"]  # a skip says nothing of the source's health
        current = [r for r in history.running() if r.source == source.id] if has_history else []
        last = finished[0] if finished else None
        alerts = check_run(last, finished[1:], config) if last else []
        newest = current[-1] if current else last
        stale = check_stale(source.id, newest, plan.interval, config, now) if source.enabled else None
        if stale:
            alerts.append(stale)
        rows.append({
            "source": source.id,
            "enabled": source.enabled,
            "schedule": source.schedule,
            "timezone": plan.zone,
            "interval_seconds": plan.interval.total_seconds(),
            "last_run": last.to_json() if last else None,
            "running": current[-1].to_json() if current else None,
            "next_run": _iso(plan.next_run(now, newest.started if newest else None)) if source.enabled else None,
            "health": ("failed" if last and last.failed else "alert" if alerts
                       else "ok" if last else "unknown"),
            "alerts": [a.to_json() for a in alerts],
        })
    from index.ingest import quarantined_records

    set_aside, files = quarantined_records(where)
    return {"scheduler": {"running": running, "pid": int(pid) if pid and pid.isdigit() else None},
            "sources": rows,
            "quarantine": {"records": set_aside, "files": files, "directory": str(where.quarantine)}}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def status(as_json: bool, home: Path | None) -> None:
    """Show each source's last run, next run and health (alerts), and whether a scheduler runs.

    Health checks: no items from a source that usually yields some, a field (published,
    authors, body) found far less often than usual, many unreadable dates, several failed
    runs in a row, not run for 3 intervals.  Exit code 0 even when there are alerts.

    Example:

        newsdesk status --json
    """
    from newsdesk.config import load_config
    from newsdesk.crawl import config_path
    from newsdesk.runs import utcnow

    where = resolve_home(home)
    config = load_config(config_path(where))
    now = utcnow()
    report = source_status(where, config, now)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    sched = report["scheduler"]
    click.echo(f"scheduler: running (pid {sched['pid']})" if sched["running"]
               else "scheduler: not running (start it with `newsdesk schedule`, or use cron)")
    click.echo(f"{'SOURCE':<18} {'LAST RUN':<19} {'':<8} {'STATUS':<11} {'SEEN':>5} {'NEW':>4}  "
               f"{'NEXT RUN':<19}  HEALTH")
    for row in report["sources"]:
        last = row["last_run"]
        started = datetime.fromisoformat(last["started"]) if last else None
        state = "running" if row["running"] else (last["status"] if last else "never")
        nxt = row["next_run"]
        next_text = _when(datetime.fromisoformat(nxt)) if nxt else ("disabled" if not row["enabled"] else "-")
        if nxt and not sched["running"]:
            next_text += "*"
        health = row["health"] if not row["alerts"] else f"{len(row['alerts'])} alert(s)"
        click.echo(f"{row['source']:<18} {_when(started):<19} {_ago(started, now):<8} {state:<11} "
                   f"{last['seen'] if last else 0:>5} {last['new'] if last else 0:>4}  {next_text:<19}  {health}")
        for alert in row["alerts"]:
            click.echo(f"  ! {alert['kind']}: {alert['message']}")
    held = report["quarantine"]
    if held["records"]:
        click.echo(f"quarantine: {held['records']} records that do not fit the record schema, "
                   f"in {held['files']} files in {held['directory']}")
    if not sched["running"] and any(r["next_run"] for r in report["sources"]):
        click.echo("* by the source's schedule, if a scheduler (or cron) runs it", err=True)


@click.command()
@settings_option("A Scrapy setting for every crawl (repeatable), e.g. -s DOWNLOAD_DELAY=1.")
@click.option("--redis", "redis_url", envvar="NEWSDESK_REDIS", metavar="URL",
              help="Queue runs in this Redis for `newsdesk worker`s instead of crawling here.")
@home_option
def schedule(settings: dict[str, str], redis_url: str | None, home: Path | None) -> None:
    """Run crawls on each enabled source's schedule until stopped (SIGTERM or Ctrl-C).

    Schedules come from sources.toml: 5-field cron ('*/10 * * * *') or 'every 10m',
    in the source's timezone (or [schedule] timezone in <home>/config.toml).  A source
    whose last good run is older than one interval runs at once.  On SIGTERM/SIGINT a
    running crawl may finish (up to [schedule] stop_timeout seconds), is then stopped
    cleanly, what it wrote is indexed, and the exit code is 0.

    Example:

        newsdesk schedule --home /var/lib/newsdesk
    """
    from newsdesk import scheduling

    from newsdesk.commands_scale import resolve_redis

    sys.exit(scheduling.run(resolve_home(home).root, settings, resolve_redis(redis_url, home)))
