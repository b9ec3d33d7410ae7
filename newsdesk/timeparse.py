"""Dates a user types (``--since``/``--until``): ISO forms or anything dateutil reads."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

from dateutil import parser as dateparser
from dateutil import tz

from newsdesk.errors import NewsdeskError

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$")


class DateInputError(NewsdeskError):
    """A date on the command line that cannot be read."""

    exit_code = 2


def user_zone(name: str | None) -> tzinfo:
    """The zone a user's dates are read in: ``name``, or the machine's local zone."""
    if not name:
        return tz.tzlocal()
    zone = tz.gettz(name)
    if zone is None:
        raise DateInputError(f"unknown timezone {name!r}", "use an IANA name such as Europe/London or UTC")
    return zone


def parse_user_time(text: str, zone: tzinfo, *, end: bool = False, option: str = "date") -> datetime:
    """An aware datetime; a bare day means its start (or, with ``end``, its last instant)."""
    try:
        value = dateparser.parse(text, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError) as exc:
        raise DateInputError(f"cannot read {option} {text!r}: {exc}",
                             "use a date like 2024-10-24 or 2024-10-24T19:00") from None
    day_only = _DATE_ONLY.match(text) is not None or (value.time() == time(0) and ":" not in text)
    if day_only and end:
        value = value + timedelta(days=1) - timedelta(microseconds=1)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value
