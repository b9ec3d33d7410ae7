"""``newsdesk runs``, ``newsdesk status`` and ``newsdesk schedule``: the scheduler and its history.

Thin over :mod:`newsdesk.ops.runs` (the history), :mod:`newsdesk.ops.health` (the
checks) and ``scheduler`` (the long-running process).  Nothing heavy is
imported at module level: the CLI registers these commands at start-up.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from newsdesk.cli.options import check_sources, home_option, resolve_home, settings_option
from newsdesk.core.words import plural

logger = logging.getLogger(__name__)


def _when(moment: datetime | None) -> str:
    """A time in this machine's zone, for tables."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


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
    from newsdesk.ops.crawl import settle_orphans
    from newsdesk.ops.runs import RunHistory

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
    width = max([len(r.source) for r in rows] + [18])  # a long id keeps the columns
    click.echo(f"{'STARTED':<19}  {'SOURCE':<{width}} {'TRIGGER':<9} {'STATUS':<11} {'SECS':>6} {'SEEN':>5} "
               f"{'NEW':>4} {'UPD':>4} {'SAME':>5} {'DROP':>5} {'HTTPERR':>7} {'EXIT':>4}  LOG")
    for r in rows:
        secs = f"{r.duration:.1f}" if r.duration is not None else "-"
        code = "-" if r.exit_code is None else str(r.exit_code)
        click.echo(f"{_when(r.started):<19}  {r.source:<{width}} {r.trigger:<9} {r.status:<11} {secs:>6} {r.seen:>5} "
                   f"{r.new:>4} {r.updated:>4} {r.unchanged:>5} {r.dropped:>5} {r.http_errors:>7} {code:>4}  "
                   f"{r.log_file or r.message}")


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
    from newsdesk.ops.config import load_config
    from newsdesk.ops.runs import utcnow
    from newsdesk.ops.status import source_status

    where = resolve_home(home)
    config = load_config(where.config_file)
    now = utcnow()
    report = source_status(where, config, now)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    sched = report["scheduler"]
    click.echo(f"scheduler: running (pid {sched['pid']})" if sched["running"]
               else "scheduler: not running (start it with `newsdesk schedule`, or use cron)")
    width = max([len(row["source"]) for row in report["sources"]] + [18])  # a long id keeps the columns
    click.echo(f"{'SOURCE':<{width}} {'LAST RUN':<19} {'':<8} {'STATUS':<11} {'SEEN':>5} {'NEW':>4}  "
               f"{'NEXT RUN':<20}  HEALTH")  # 20: a time and its "*"
    for row in report["sources"]:
        last = row["last_run"]
        started = datetime.fromisoformat(last["started"]) if last else None
        state = "running" if row["running"] else (last["status"] if last else "never")
        nxt = row["next_run"]
        next_text = _when(datetime.fromisoformat(nxt)) if nxt else ("disabled" if not row["enabled"] else "-")
        if nxt and not sched["running"]:
            next_text += "*"
        health = row["health"] if not row["alerts"] else f"{len(row['alerts'])} alert(s)"
        click.echo(f"{row['source']:<{width}} {_when(started):<19} {_ago(started, now):<8} {state:<11} "
                   f"{last['seen'] if last else 0:>5} {last['new'] if last else 0:>4}  {next_text:<20}  {health}")
        for alert in row["alerts"]:
            click.echo(f"  ! {alert['kind']}: {alert['message']}")
    held = report["quarantine"]
    if held["records"]:
        click.echo(f"quarantine: {plural(held['records'], 'record')} that do not fit the record schema, "
                   f"in {plural(held['files'], 'file')} in {held['directory']}")
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
    from newsdesk.ops import scheduling

    from newsdesk.cli.scale import resolve_redis

    sys.exit(scheduling.run(resolve_home(home).root, settings, resolve_redis(redis_url, home)))
