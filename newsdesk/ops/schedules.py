"""A source's ``schedule`` as an APScheduler 3.x trigger: 5-field cron or ``every 10m``.

Also the numbers the scheduler derives from a schedule: its interval (for the
misfire grace time, catch-up and "not run for 3 intervals"), its jitter, and
its next run time (for ``newsdesk status``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scraper.sources import ScheduleError, Source, parse_schedule

__all__ = ["Plan", "ScheduleError", "plan_for"]

logger = logging.getLogger(__name__)

#: Shortest misfire grace time, however short the interval.
MIN_GRACE = 30.0


@dataclass(frozen=True)
class Plan:
    """How one source is scheduled."""

    source: str
    trigger: BaseTrigger
    interval: timedelta
    jitter: float
    zone: str

    @property
    def misfire_grace_time(self) -> int:
        """A run late by up to one interval still runs (then coalescing takes over)."""
        return int(max(MIN_GRACE, self.interval.total_seconds()))

    def next_run(self, now: datetime | None = None, last_started: datetime | None = None) -> datetime | None:
        """The next time the schedule fires after ``now`` (without jitter).

        An interval counts from the last run's start (``last_started``), or is due now.
        """
        now = now or datetime.now(timezone.utc)
        if isinstance(self.trigger, IntervalTrigger):
            if last_started is None:
                return now
            return max(now, last_started + self.interval).astimezone(self.trigger.timezone)
        plain = _without_jitter(self.trigger)
        return plain.get_next_fire_time(None, now + timedelta(microseconds=1))


def _without_jitter(trigger: BaseTrigger) -> BaseTrigger:
    if getattr(trigger, "jitter", None):
        clone = trigger.__class__.__new__(trigger.__class__)
        clone.__setstate__(trigger.__getstate__())
        clone.jitter = None
        return clone
    return trigger


def _interval(trigger: BaseTrigger, zone: Any, now: datetime) -> timedelta:
    """The longest gap between the next few fire times (a weekday-only cron has a weekend)."""
    if isinstance(trigger, IntervalTrigger):
        return trigger.interval  # type: ignore[no-any-return]
    gaps = []
    previous = trigger.get_next_fire_time(None, now)
    for _ in range(8):
        if previous is None:
            break
        following = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
        if following is None:
            break
        gaps.append(following - previous)
        previous = following
    return max(gaps) if gaps else timedelta(days=1)


def plan_for(source: Source, zone: str | None = None, jitter: float = 30.0,
             now: datetime | None = None, origin: str = "") -> Plan:
    """The trigger of ``source``'s schedule in ``zone`` (default: the source's zone).

    Jitter is capped at a tenth of the interval, so a run never slides into the next one.

    :param origin: the sources file, named in errors.
    """
    zone = zone or source.timezone
    schedule = parse_schedule(source.schedule, f"{origin + ': ' if origin else ''}[sources.{source.id}]")
    now = now or datetime.now(timezone.utc)
    trigger: BaseTrigger
    if schedule.every is not None:
        interval = schedule.every
        capped = min(jitter, interval.total_seconds() / 10)
        trigger = IntervalTrigger(seconds=int(interval.total_seconds()), timezone=zone, jitter=capped or None)
        return Plan(source.id, trigger, interval, capped, zone)
    interval = _interval(CronTrigger(**schedule.cron, timezone=zone), zone, now)
    capped = min(jitter, interval.total_seconds() / 10)
    trigger = CronTrigger(**schedule.cron, timezone=zone, jitter=capped or None)
    return Plan(source.id, trigger, interval, capped, zone)
