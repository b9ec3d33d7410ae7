"""Dates a user types (``--since``/``--until``/``--on``): ISO forms, anything dateutil reads,
and relative forms: ``30m``, ``2h``, ``3d``, ``1w`` (that long before now), ``today``,
``yesterday``.  A date without a zone is read in the user's ``--tz``.

Everything typed is checked before it reaches the zone database or date
arithmetic: a date must fall in ``EARLIEST``..``LATEST`` (years outside it are
typos, and 0001 or 9999 overflow once moved to UTC), and a zone must look like
an IANA name (letters, digits, ``_+-``, up to three parts joined by ``/``: no
path).  Every zone refused gets the same message, so an answer never tells
whether a file of that name exists.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone, tzinfo

from dateutil import parser as dateparser
from dateutil import tz

from newsdesk.core.errors import NewsdeskError

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$")
_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)\s*(ago)?\s*$", re.I)
_YEAR = re.compile(r"\d{4}")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAY_WORDS = {"today": 0, "yesterday": 1}
EARLIEST = datetime(1900, 1, 1)  # the first and last day a user may type (naive: in any zone)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999)
MAX_DATE_TEXT = 64  # characters: a longer date is a paste gone wrong, and is not parsed
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,29}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")
_HINT = "use a date like 2024-10-24 or 2024-10-24T19:00, or 2h, 3d, 1w, today, yesterday"
_RANGE = f"dates run from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
UNKNOWN_ZONE = "unknown timezone"
ZONE_HINT = "use an IANA name such as Europe/London or UTC"


class DateInputError(NewsdeskError):
    """A date on the command line that cannot be read."""

    exit_code = 2


class UnknownZone(NewsdeskError):
    """A zone name that is not in the zone database (or does not look like one)."""

    exit_code = 2


def zone_by_name(name: object) -> tzinfo:
    """The zone called ``name``; UnknownZone, with one message for every bad name, otherwise.

    The name is matched against the pattern of IANA names before the zone database is asked,
    so no path reaches it.
    """
    if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name):
        raise UnknownZone(UNKNOWN_ZONE, ZONE_HINT)
    try:
        zone = tz.gettz(name)
    except (ValueError, OSError):  # a file of the zone directory that is not a zone (leapseconds)
        zone = None
    if zone is None:
        raise UnknownZone(UNKNOWN_ZONE, ZONE_HINT)
    return zone


def user_zone(name: str | None, option: str = "--tz") -> tzinfo:
    """The zone a user's dates are read in: ``name``, or the machine's local zone."""
    if not name:
        return tz.tzlocal()
    try:
        return zone_by_name(name)
    except UnknownZone as exc:
        raise DateInputError(f"{option}: {exc}", exc.hint) from None


def _now(zone: tzinfo) -> datetime:
    return datetime.now(timezone.utc).astimezone(zone)


def _relative(text: str, zone: tzinfo, end: bool) -> datetime | None:
    """``2h``/``3d``/``1w`` before now, or the start (end, with ``end``) of today/yesterday."""
    match = _RELATIVE.match(text)
    if match:
        unit = _UNITS[match.group(2)[0].lower()]
        try:
            return _now(zone) - timedelta(**{unit: int(match.group(1))})
        except OverflowError:  # before the year 1
            return datetime.min.replace(tzinfo=zone)
    word = text.strip().lower()
    if word == "now":
        return _now(zone)
    if word in _DAY_WORDS:
        start = datetime.combine(_now(zone).date() - timedelta(days=_DAY_WORDS[word]), time(0), tzinfo=zone)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    return None


def parse_user_time(text: str, zone: tzinfo, *, end: bool = False, option: str = "date") -> datetime:
    """An aware datetime in ``EARLIEST``..``LATEST``; a bare day means its start (or, with ``end``, its last instant)."""
    if len(text) > MAX_DATE_TEXT:
        raise DateInputError(f"cannot read {option}: longer than {MAX_DATE_TEXT} characters", _HINT)
    value = _relative(text, zone, end)
    if value is None:
        value = _absolute(text, zone, end, option)
    if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
        raise DateInputError(f"cannot read {option} {text!r}: {_RANGE}", _HINT)
    try:
        value.astimezone(timezone.utc)  # an offset dateutil read (+99:00) that no time can have
    except (ValueError, OverflowError):
        raise DateInputError(f"cannot read {option} {text!r}: not a real UTC offset", _HINT) from None
    return value


def _absolute(text: str, zone: tzinfo, end: bool, option: str) -> datetime:
    if not _YEAR.search(text):  # dateutil would fill in a year (and read "-2h" as 02:00): refuse
        raise DateInputError(f"cannot read {option} {text!r}: no year and not a duration", _HINT)
    try:
        value = dateparser.parse(text, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError) as exc:
        raise DateInputError(f"cannot read {option} {text!r}: {exc}", _HINT) from None
    if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:  # before the day arithmetic below can overflow
        raise DateInputError(f"cannot read {option} {text!r}: {_RANGE}", _HINT)
    day_only = _DATE_ONLY.match(text) is not None or (value.time() == time(0) and ":" not in text)
    if day_only and end:
        value = value + timedelta(days=1) - timedelta(microseconds=1)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def day_range(text: str, zone: tzinfo, option: str = "--on") -> tuple[datetime, datetime]:
    """The first and last instant of one day (``2024-10-24``, ``today``, ``yesterday``) in ``zone``."""
    start = parse_user_time(text, zone, option=option).astimezone(zone)
    first = datetime.combine(start.date(), time(0), tzinfo=zone)
    return first, first + timedelta(days=1) - timedelta(microseconds=1)


def resolve_range(since: str | None, until: str | None, on: str | None,
                  zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """``--since``/``--until``/``--on`` as aware bounds; either end may be open."""
    if on and (since or until):
        raise DateInputError("--on cannot be combined with --since or --until", "use --on alone, or --since/--until")
    if on:
        return day_range(on, zone)
    since_at = parse_user_time(since, zone, option="--since") if since else None
    until_at = parse_user_time(until, zone, end=True, option="--until") if until else None
    return since_at, until_at


def local_time(iso: str | None, zone: tzinfo) -> str:
    """An ISO time shown in ``zone`` to the minute, or a blank of the same width."""
    if not iso:
        return f"{'(no date)':<16}"
    try:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return f"{str(iso)[:16]:<16}"
