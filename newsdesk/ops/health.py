"""Health checks on a source's runs, and the alerts they raise.

Evaluated after every run (and, for "not run lately", by the scheduler's
housekeeping and by ``newsdesk status``).  Each check compares the run with the
source's recent finished runs:

- ``zero_items``: no items from a source that usually yields some (a layout change);
- ``layout``: items seen but (nearly) all dropped, or far fewer kept than usual;
  the message names the top drop reason;
- ``article_failures``: a real share of the run's article pages could not be fetched;
- ``coverage``: published / authors / body filled in far less often than usual,
  judged only on the items whose pages the run read;
- ``unreadable_dates``: many printed dates that could not be read, or lie in the future;
- ``failed_runs``: the last N runs all failed;
- ``stale``: not run for ``stale_intervals`` intervals.

An alert fires once per problem: when a check first fails it is logged at
WARNING, stored in the run history (``newsdesk status`` shows it), and sent by
``newsdesk.ops.alerts`` (the channels of ``[alerts] urls`` and ``alert_command``);
later runs with the same problem stay quiet until a run passes the check
again: the problem cleared, a ``recovered`` notice is sent, and it can fire again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

from newsdesk.ops.alerts import notify_health
from newsdesk.ops.config import Config
from newsdesk.core.home import Home
from newsdesk.ops.runs import NEUTRAL, AlertRecord, RunHistory, RunRecord, utcnow
from newsdesk.core.tally import Tally, future_dates
from newsdesk.core.tally import unreadable_dates as _unreadable

logger = logging.getLogger(__name__)

COVERAGE_FIELDS = ("published", "authors", "body")
#: A run with fewer items than this is too small to judge field coverage.
MIN_ITEMS_FOR_COVERAGE = 5
#: Averages below this are not "usual" enough to alert on a drop.
MIN_USUAL_COVERAGE = 0.2
#: Fewer unreadable dates than this never alert, whatever the fraction.
MIN_UNREADABLE = 2
#: Article pages that failed alert when they are at least this share of the run's followed articles.
ARTICLE_FAILURE_SHARE = 0.2
#: A run is judged for layout only with at least this many items (not counting duplicates).
MIN_ITEMS_FOR_LAYOUT = 3
#: "Nearly all dropped": fewer than this share of the items seen was kept.
KEPT_SHARE = 0.1
#: "Far below usual": fewer kept than this share of the usual number (when the usual is MIN_USUAL_KEPT or more).
KEPT_RATIO = 0.25
MIN_USUAL_KEPT = 5
#: The checks a failed run is judged by (the others need a run that fetched its pages).
JUDGED_WHEN_FAILED = frozenset({"failed_runs"})


def _coverage(run: RunRecord, name: str) -> float | None:
    items = int(run.stats.get("newsdesk/coverage/items", 0) or 0)
    if items < MIN_ITEMS_FOR_COVERAGE:
        return None
    return int(run.stats.get(f"newsdesk/coverage/{name}", 0) or 0) / items


def unreadable_dates(run: RunRecord) -> int:
    """How many printed dates the run could not read, or read as a time in the future."""
    return _unreadable(run.stats) + future_dates(run.stats)


def retried(run: RunRecord) -> int:
    """Items of earlier runs whose failed article pages this run fetched again."""
    return int(run.stats.get("newsdesk/article_retried", 0) or 0)


def listed(run: RunRecord) -> int:
    """Items the run's own start pages listed (not counting retries of earlier runs' articles)."""
    return max(0, run.seen - retried(run))


def failed_streak(runs: list[RunRecord]) -> int:
    """How many of the newest finished runs failed in a row (stopped and skipped runs are neither)."""
    streak = 0
    for run in runs:
        if run.status in NEUTRAL:
            continue
        if not run.failed:
            break
        streak += 1
    return streak


def _alert(run: RunRecord, kind: str, message: str, **details: Any) -> AlertRecord:
    return AlertRecord(at=run.ended or utcnow(), source=run.source, kind=kind,
                       message=f"{run.source}: {message}", run_id=run.run_id, details=details)


def problem_key(alert: AlertRecord) -> str:
    """What an alert is about, so the same problem alerts once: its kind (and field, for coverage)."""
    field = alert.details.get("field")
    return f"{alert.kind}:{field}" if field else alert.kind


def check_run(run: RunRecord, earlier: list[RunRecord], config: Config) -> list[AlertRecord]:
    """The problems a finished ``run`` shows, judged against ``earlier`` finished runs (newest first)."""
    health = config.data["health"]
    window = max(1, int(health["window"]))
    alerts: list[AlertRecord] = []

    streak = failed_streak([run, *earlier])
    limit = max(1, int(health["failed_runs"]))
    if streak >= limit:
        alerts.append(_alert(run, "failed_runs", f"{streak} failed runs in a row (last: {run.status}"
                             f"{', ' + run.message if run.message else ''})", streak=streak))
    if run.status != "ok":
        return alerts

    usual = [r for r in earlier if r.status == "ok"][:window]
    usual_seen = [listed(r) for r in usual]
    unchanged = int(run.stats.get("newsdesk/not_modified", 0) or 0) > 0  # a 304: nothing new, not broken
    if listed(run) == 0 and not unchanged and usual_seen and mean(usual_seen) >= 1:
        layout = sorted(k.rsplit("/", 1)[1] for k in run.stats if k.startswith("newsdesk/layout/"))
        hint = f"; layout warnings: {', '.join(layout)}" if layout else ""
        alerts.append(_alert(run, "zero_items",
                             f"no items (usually {mean(usual_seen):.0f}): did the page layout change?{hint}",
                             usual=round(mean(usual_seen), 1), layout=layout, log_file=run.log_file))
    if listed(run) and not unchanged:
        layout_alert = _check_layout(run, usual)
        if layout_alert is not None:
            alerts.append(layout_alert)

    followed = int(run.stats.get("newsdesk/articles_followed", 0) or 0) - int(
        run.stats.get("newsdesk/robots_disallowed", 0) or 0)  # not fetched by choice
    failed = int(run.stats.get("newsdesk/article_failed", 0) or 0)
    if failed and failed >= ARTICLE_FAILURE_SHARE * followed:
        alerts.append(_alert(run, "article_failures", f"{failed} of {followed} article pages could not be "
                             f"fetched; see {run.log_file}", failed=failed, followed=followed))

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
        future = future_dates(run.stats)
        what = f" ({future} in the future)" if future else ""
        alerts.append(_alert(run, "unreadable_dates", f"{unreadable} dates could not be read{what} "
                             f"(of {run.seen} items)", unreadable=unreadable, future=future, seen=run.seen))
    return alerts


def _check_layout(run: RunRecord, usual: list[RunRecord]) -> AlertRecord | None:
    """Items were seen, but (nearly) all dropped, or far fewer kept than usual: name the top drop reason."""
    tally = Tally.of(run.stats)
    reasons = {r: n for r, n in tally.dropped.items() if r != "duplicate_in_run"}
    kept = max(0, tally.kept - retried(run))
    judged = kept + sum(reasons.values())
    top = max(reasons.items(), key=lambda pair: pair[1]) if reasons else None
    because = f" (mostly {top[0].replace('_', ' ')}: {top[1]})" if top else ""
    details = {"kept": kept, "seen": judged, "top_reason": top[0] if top else None, "log_file": run.log_file}
    if judged >= MIN_ITEMS_FOR_LAYOUT and kept < KEPT_SHARE * judged:
        return _alert(run, "layout", f"{judged - kept} of {judged} items dropped{because}: "
                      "did the page layout change?", **details)
    usual_kept = [max(0, Tally.of(r.stats).kept - retried(r)) for r in usual]
    if usual_kept and mean(usual_kept) >= MIN_USUAL_KEPT and kept < KEPT_RATIO * mean(usual_kept):
        return _alert(run, "layout", f"only {kept} items kept (usually {mean(usual_kept):.0f}){because}: "
                      "did the page layout change?", usual=round(mean(usual_kept), 1), **details)
    return None


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
    """After a run: check it against the source's recent runs; deliver new problems and recoveries.

    Returns the new problems (a recovery is sent, but is not a problem to print).
    """
    history = RunHistory(home)
    run = history.get(run_id)
    if run is None or run.status == "running" or run.status in NEUTRAL:
        return []
    window = max(1, int(config.data["health"]["window"]))
    limit = max(window, int(config.data["health"]["failed_runs"]))
    earlier = history.runs(run.source, limit=limit * 3, finished=True, before=run_id)
    found = {problem_key(a): a for a in check_run(run, earlier, config)}
    known = history.open_problems(run.source)
    fresh = [alert for key, alert in found.items() if key not in known]
    for key, alert in found.items():
        if key not in known:
            history.open_problem(run.source, key, alert)
    recovered = []
    for key in sorted(known - set(found)):
        if run.status == "ok" or key.split(":", 1)[0] in JUDGED_WHEN_FAILED:
            history.clear_problem(run.source, key)
            recovered.append(_alert(run, "recovered", f"recovered: {key.replace(':', ' ')}", problem=key))
    deliver(home, config, fresh + recovered)
    return fresh


def deliver(home: Home, config: Config, alerts: list[AlertRecord]) -> None:
    """Log each alert at WARNING, store it, and send it (``newsdesk.ops.alerts``)."""
    if not alerts:
        return
    history = RunHistory(home)
    for alert in alerts:
        logger.warning("%s", alert.message)
        history.add_alert(alert)
    notify_health(home, config, alerts)
