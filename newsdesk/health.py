"""Health checks on a source's runs, and the alerts they raise.

Evaluated after every run (and, for "not run lately", by the scheduler's
housekeeping and by ``newsdesk status``).  Each check compares the run with the
source's recent finished runs:

- ``zero_items``: no items from a source that usually yields some (a layout change);
- ``coverage``: published / authors / body filled in far less often than usual;
- ``unreadable_dates``: many printed dates that could not be read;
- ``failed_runs``: the last N runs all failed;
- ``stale``: not run for ``stale_intervals`` intervals.

An alert is logged at WARNING, stored in the run history (``newsdesk status``
shows it), and sent by ``newsdesk.alerts`` (the channels of ``[alerts] urls``
and ``alert_command``, with the saved searches' delivery log and retries).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

from newsdesk.alerts import notify_health
from newsdesk.config import Config
from newsdesk.home import Home
from newsdesk.runs import AlertRecord, RunHistory, RunRecord, utcnow

logger = logging.getLogger(__name__)

COVERAGE_FIELDS = ("published", "authors", "body")
#: A run with fewer items than this is too small to judge field coverage.
MIN_ITEMS_FOR_COVERAGE = 5
#: Averages below this are not "usual" enough to alert on a drop.
MIN_USUAL_COVERAGE = 0.2
#: Fewer unreadable dates than this never alert, whatever the fraction.
MIN_UNREADABLE = 2


def _coverage(run: RunRecord, name: str) -> float | None:
    items = int(run.stats.get("newsdesk/coverage/items", 0) or 0)
    if items < MIN_ITEMS_FOR_COVERAGE:
        return None
    return int(run.stats.get(f"newsdesk/coverage/{name}", 0) or 0) / items


def unreadable_dates(run: RunRecord) -> int:
    """How many printed dates the run could not read."""
    prefix = "newsdesk/date_unreadable/"
    return sum(int(v or 0) for k, v in run.stats.items() if k.startswith(prefix))


def failed_streak(runs: list[RunRecord]) -> int:
    """How many of the newest finished runs failed in a row (stopped runs are neither)."""
    streak = 0
    for run in runs:
        if run.status == "stopped":
            continue
        if not run.failed:
            break
        streak += 1
    return streak


def _alert(run: RunRecord, kind: str, message: str, **details: Any) -> AlertRecord:
    return AlertRecord(at=run.ended or utcnow(), source=run.source, kind=kind,
                       message=f"{run.source}: {message}", run_id=run.run_id, details=details)


def check_run(run: RunRecord, earlier: list[RunRecord], config: Config, repeat: bool = False) -> list[AlertRecord]:
    """Alerts a finished ``run`` raises, judged against ``earlier`` finished runs (newest first).

    :param repeat: report a failing streak at every run past N (for ``status``), not only
        at every Nth failure (what is sent, so a dead site does not alert every ten minutes).
    """
    health = config.data["health"]
    window = max(1, int(health["window"]))
    alerts: list[AlertRecord] = []

    streak = failed_streak([run, *earlier])
    limit = max(1, int(health["failed_runs"]))
    if streak >= limit and (repeat or streak % limit == 0):
        alerts.append(_alert(run, "failed_runs", f"{streak} failed runs in a row (last: {run.status}"
                             f"{', ' + run.message if run.message else ''})", streak=streak))
    if run.status != "ok":
        return alerts

    usual = [r for r in earlier if r.status == "ok"][:window]
    usual_seen = [r.seen for r in usual]
    unchanged = int(run.stats.get("newsdesk/not_modified", 0) or 0) > 0  # a 304: nothing new, not broken
    if run.seen == 0 and not unchanged and usual_seen and mean(usual_seen) >= 1:
        layout = sorted(k.rsplit("/", 1)[1] for k in run.stats if k.startswith("newsdesk/layout/"))
        hint = f"; layout warnings: {', '.join(layout)}" if layout else ""
        alerts.append(_alert(run, "zero_items",
                             f"no items (usually {mean(usual_seen):.0f}): did the page layout change?{hint}",
                             usual=round(mean(usual_seen), 1), layout=layout, log_file=run.log_file))

    ratio = float(health["coverage_ratio"])
    for name in COVERAGE_FIELDS:
        now = _coverage(run, name)
        before = [c for c in (_coverage(r, name) for r in usual) if c is not None]
        if now is None or not before:
            continue
        average = mean(before)
        if average >= MIN_USUAL_COVERAGE and now < ratio * average:
            alerts.append(_alert(run, "coverage", f"{name} found in {now:.0%} of items (usually {average:.0%})",
                                 field=name, coverage=round(now, 3), usual=round(average, 3)))

    unreadable = unreadable_dates(run)
    threshold = float(health["unreadable_dates"])
    if unreadable >= MIN_UNREADABLE and unreadable > threshold * max(run.seen, 1):
        alerts.append(_alert(run, "unreadable_dates", f"{unreadable} dates could not be read "
                             f"(of {run.seen} items)", unreadable=unreadable, seen=run.seen))
    return alerts


def check_stale(source: str, last: RunRecord | None, interval: timedelta, config: Config,
                now: datetime | None = None) -> AlertRecord | None:
    """An alert if ``source`` has not started a run for ``stale_intervals`` intervals."""
    if last is None:
        return None
    now = now or utcnow()
    intervals = float(config.data["health"]["stale_intervals"])
    limit = interval * intervals
    if intervals <= 0 or now - last.started <= limit:
        return None
    ago = now - last.started
    return AlertRecord(at=now, source=source, kind="stale",
                       message=f"{source}: not run for {_span(ago)} (more than {intervals:g} intervals of {_span(interval)})",
                       run_id=last.run_id, details={"last_started": last.started.isoformat(),
                                                    "interval_seconds": interval.total_seconds()})


def _span(delta: timedelta) -> str:
    """A duration for people: ``3h20m``, ``45m``, ``12s``."""
    days, rest = divmod(int(delta.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts[:2]) or "0s"


def evaluate_run(home: Home, config: Config, run_id: str) -> list[AlertRecord]:
    """After a run: check it against the source's recent runs and deliver what it raises."""
    history = RunHistory(home)
    run = history.get(run_id)
    if run is None or run.status == "running":
        return []
    window = max(1, int(config.data["health"]["window"]))
    limit = max(window, int(config.data["health"]["failed_runs"]))
    earlier = history.runs(run.source, limit=limit * 3, finished=True, before=run_id)
    alerts = check_run(run, earlier, config)
    deliver(home, config, alerts)
    return alerts


def deliver(home: Home, config: Config, alerts: list[AlertRecord]) -> None:
    """Log each alert at WARNING, store it, and send it (``newsdesk.alerts``)."""
    if not alerts:
        return
    history = RunHistory(home)
    for alert in alerts:
        logger.warning("%s", alert.message)
        history.add_alert(alert)
    notify_health(home, config, alerts)
