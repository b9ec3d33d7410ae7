"""A source's ``schedule`` as an APScheduler 3.x trigger: 5-field cron or ``every 10m``.

Also the numbers the scheduler derives from a schedule: its interval (for the
misfire grace time, catch-up and "not run for 3 intervals"), its jitter, and
its next run time (for ``newsdesk status``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scraper.sources import Source, SourceConfigError

logger = logging.getLogger(__name__)

_EVERY = re.compile(r"^\s*every\s+(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
}
_CRON_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: Shortest misfire grace time, however short the interval.
MIN_GRACE = 30.0


class ScheduleError(SourceConfigError):
    """A source's schedule cannot be read."""


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


def _cron_days(field: str) -> str:
    """Crontab's day-of-week numbers (0 or 7 = Sunday) as names APScheduler 3.x reads right.

    APScheduler 3.x counts 0 as Monday; names are unambiguous, so numbers become names.
    """
    out: list[str] = []
    for part in field.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else None
        if step_text and step is None:
            raise ValueError(f"bad step {step_text!r} in day-of-week field")
        if body == "*" and step is None:
            out.append("*")
            continue
        if body == "*":
            numbers: list[int] = list(range(0, 7))
        elif re.fullmatch(r"\d+", body):
            numbers = [int(body)] if step is None else list(range(int(body), 7))
        elif re.fullmatch(r"\d+-\d+", body):
            low, high = (int(x) for x in body.split("-"))
            if low > high:
                raise ValueError(f"bad day-of-week range {body!r}")
            numbers = list(range(low, high + 1))
        else:  # names (mon-fri) mean the same in both worlds
            out.append(part)
            continue
        if any(n > 7 for n in numbers):
            raise ValueError(f"day of week {max(numbers)} is out of range 0-7")
        chosen = numbers[::step] if step else numbers
        out.extend(_CRON_DAYS[n % 7] for n in chosen)
    unique = list(dict.fromkeys(out))
    return "*" if "*" in unique else ",".join(unique)


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
    where = f"{origin + ': ' if origin else ''}[sources.{source.id}] schedule {source.schedule!r}"
    every = _EVERY.match(source.schedule)
    now = now or datetime.now(timezone.utc)
    trigger: BaseTrigger
    if every:
        amount, unit = int(every.group(1)), every.group(2).lower()
        if unit not in _UNITS or amount <= 0:
            raise ScheduleError(f"{where}: say 'every <number><s|m|h|d>'", "e.g. 'every 10m' or 'every 2h'")
        interval = timedelta(**{_UNITS[unit]: amount})
        capped = min(jitter, interval.total_seconds() / 10)
        trigger = IntervalTrigger(seconds=int(interval.total_seconds()), timezone=zone, jitter=capped or None)
        return Plan(source.id, trigger, interval, capped, zone)
    fields = source.schedule.split()
    if len(fields) != 5:
        raise ScheduleError(f"{where}: expected 5 cron fields or 'every <n><unit>'",
                            "e.g. '*/10 * * * *' or 'every 10m'")
    try:
        minute, hour, day, month, dow = fields
        plain = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_days(dow),
                            timezone=zone)
    except ValueError as exc:
        raise ScheduleError(f"{where}: {exc}", "use 5 cron fields, e.g. '*/10 * * * *', or 'every 10m'") from None
    interval = _interval(plain, zone, now)
    capped = min(jitter, interval.total_seconds() / 10)
    trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_days(dow),
                          timezone=zone, jitter=capped or None)
    return Plan(source.id, trigger, interval, capped, zone)
