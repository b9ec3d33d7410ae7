"""Turn dates as printed on pages and in feeds into aware UTC datetimes.

Rules (DESIGN invariant 2):

* a time printed without a zone is read in the source's zone (DST aware);
* a time that names its zone or offset ("GMT", "+0300", "Z") keeps it;
* a wall-clock time that does not exist (the hour skipped when DST starts) is
  moved forward past the gap; one that happens twice (the hour repeated when
  DST ends) is read as the first of the two;
* a text that is not a complete date (no day, no year, garbage) is ``None``,
  never "now".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateparser
from dateutil import parser as dateutil_parser
from dateutil import tz

#: Labels sites print in front of a date.
_LABEL = re.compile(
    r"^\s*(?:last\s+)?(?:updated|published|posted|modified|date|first\s+published|"
    r"publicado|actualizado|veröffentlicht|aktualisiert|mis\s+à\s+jour|publié)"
    r"\s*(?:on|at|:|-)?\s*",
    re.IGNORECASE,
)
#: "GMT+1", "UTC-05:00": an offset written after a zone name (dateutil would read the
#: POSIX way, GMT+1 as one hour *behind*; pages mean ahead).
_NAMED_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d\d))?\b")
_RELATIVE = re.compile(
    r"^\s*(\d+)\s*(second|sec|minute|min|hour|hr|day|week)s?\s+ago\s*$", re.IGNORECASE
)
_RELATIVE_UNITS = {
    "second": "seconds", "sec": "seconds", "minute": "minutes", "min": "minutes",
    "hour": "hours", "hr": "hours", "day": "days", "week": "weeks",
}
#: Zone abbreviations that are unambiguous enough to honour when printed.
_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0,
    "EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
    "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
    "CET": 3600, "CEST": 2 * 3600, "BST": 3600, "IDT": 3 * 3600,
}
# Two defaults far apart: a component the text leaves out takes each default's
# value, so the two parses differ and the date is known to be incomplete.
_DEFAULT_A = datetime(1904, 1, 1, 0, 0)
_DEFAULT_B = datetime(1905, 2, 2, 0, 0)


#: Month names feeds print in other languages (RFC 822 dates from non-English CMSs:
#: "Seg, 24 Set 2018 19:42:40 -0300"), tried when the English reading fails.
_MONTHS_ELSEWHERE = (
    ("jan", "january", "ene", "enero", "janeiro", "janv", "janvier", "januar", "gen", "gennaio"),
    ("feb", "february", "fev", "fevereiro", "febrero", "févr", "fevr", "février", "februar", "febbraio"),
    ("mar", "march", "marzo", "março", "marco", "mars", "mär", "mrz", "märz"),
    ("apr", "april", "abr", "abril", "avr", "avril", "aprile"),
    ("may", "mai", "maio", "mayo", "mag", "maggio"),
    ("jun", "june", "junho", "junio", "juin", "juni", "giu", "giugno"),
    ("jul", "july", "julho", "julio", "juil", "juillet", "juli", "lug", "luglio"),
    ("aug", "august", "ago", "agosto", "août", "aout"),
    ("sep", "sept", "september", "set", "setembro", "septiembre", "septembre", "settembre"),
    ("oct", "october", "out", "outubro", "octubre", "octobre", "okt", "oktober", "ott", "ottobre"),
    ("nov", "november", "novembro", "noviembre", "novembre"),
    ("dec", "december", "dez", "dezembro", "dic", "diciembre", "déc", "décembre", "dezember", "dicembre"),
)
#: A leading weekday name with a comma ("Seg,", "Mié,", "Do.,") in any language.
_LEADING_WEEKDAY = re.compile(r"^[^\W\d_]{2,12}\.?,\s*")


class _ManyLanguages(dateutil_parser.parserinfo):
    """dateutil's parser info with month names in several languages."""

    MONTHS = list(_MONTHS_ELSEWHERE)


_MANY_LANGUAGES = _ManyLanguages()


@dataclass(frozen=True)
class ParsedDate:
    """An instant read from printed text, and the zone used to read it."""

    value: datetime  # aware, UTC
    zone: str  # IANA name of the source zone, or the printed zone/offset


class UnknownZoneError(ValueError):
    """A source names a timezone that does not exist."""


@lru_cache(maxsize=64)
def get_zone(name: str) -> tzinfo:
    """The tzinfo for an IANA zone name; raises UnknownZoneError for unknown names."""
    zone = tz.gettz(name)
    if zone is None:
        raise UnknownZoneError(f"unknown timezone {name!r}")
    return zone


@lru_cache(maxsize=64)
def _wall_clock_zone(name: str) -> tzinfo:
    """The zone printed times are read in: the standard library's when it knows the name.

    ``zoneinfo`` gives the same offsets as python-dateutil (checked minute by
    minute around every transition of 2000–2030 in nine zones, and on random
    times since 1850) in a third of the time.
    """
    zone = get_zone(name)  # unknown names are an error either way
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return zone


_DAY = timedelta(days=1)


def _localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to a wall-clock time: gaps move forward, repeats take the first.

    As dateutil's ``resolve_imaginary``: a time that does not survive the round
    trip through UTC lies in a gap, and moves forward by the gap's length.
    """
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == naive:
        return aware
    after = (naive + _DAY).replace(tzinfo=zone).utcoffset()
    before = (naive - _DAY).replace(tzinfo=zone).utcoffset()
    assert after is not None and before is not None
    return aware + (after - before)


def _tzinfos(name: str | None, offset: int | None) -> tzinfo | int | None:
    """Printed offsets are kept; known abbreviations mapped; unknown ones ignored."""
    if offset is not None:
        return offset
    if name and name.upper() in _ABBREVIATIONS:
        return _ABBREVIATIONS[name.upper()]
    return None  # unknown abbreviation: the source zone applies


def _zone_label(value: datetime) -> str:
    offset = value.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_printed(
    text: str | None,
    zone_name: str,
    *,
    dayfirst: bool = False,
    now: datetime | None = None,
    formats: tuple[str, ...] = (),
) -> ParsedDate | None:
    """Read a printed date; ``None`` if it is not a complete, readable date.

    :param zone_name: the source's IANA zone, used when the text names none.
    :param dayfirst: read "03/04/2024" as 3 April (the source's convention).
    :param now: the fetch time, for relative forms such as "5 minutes ago".
    :param formats: ``strptime`` formats the source prints, tried before guessing.
    """
    if not text:
        return None
    cleaned = _NAMED_OFFSET.sub(_offset_text, _LABEL.sub("", " ".join(text.split())))
    if not cleaned:
        return None
    zone = _wall_clock_zone(zone_name)
    for fmt in formats:
        try:
            exact = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return _instant(exact, zone, zone_name)

    relative = _RELATIVE.match(cleaned)
    if relative:
        if now is None:
            return None
        amount, unit = int(relative.group(1)), _RELATIVE_UNITS[relative.group(2).lower()]
        instant = now - timedelta(**{unit: amount})
        return ParsedDate(instant.astimezone(timezone.utc), zone_name)

    try:
        first = dateparser.parse(cleaned, default=_DEFAULT_A, dayfirst=dayfirst, tzinfos=_tzinfos)
        second = dateparser.parse(cleaned, default=_DEFAULT_B, dayfirst=dayfirst, tzinfos=_tzinfos)
    except (ValueError, OverflowError, TypeError, LookupError):
        other = _LEADING_WEEKDAY.sub("", cleaned)
        try:
            first = dateparser.parse(other, _MANY_LANGUAGES, default=_DEFAULT_A, dayfirst=dayfirst,
                                     tzinfos=_tzinfos)
            second = dateparser.parse(other, _MANY_LANGUAGES, default=_DEFAULT_B, dayfirst=dayfirst,
                                      tzinfos=_tzinfos)
        except (ValueError, OverflowError, TypeError, LookupError):
            return None
    # A missing component makes the two parses differ.  Only the date parts
    # matter: a date printed without a time is midnight, which is honest.
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    return _instant(first, zone, zone_name)


def _offset_text(match: re.Match[str]) -> str:
    return f"{match.group(1)}{int(match.group(2)):02d}:{match.group(3) or '00'}"


def names_its_zone(text: str | None) -> bool:
    """Whether a printed date gives its own zone or offset ("…+02:00", "… GMT", "… EST").

    Read in two zones 14 hours apart, such a date is the same instant.
    """
    far_west, far_east = parse_printed(text, "Etc/GMT+12"), parse_printed(text, "Etc/GMT-14")
    return far_west is not None and far_east is not None and far_west.value == far_east.value


def _instant(printed: datetime, zone: tzinfo, zone_name: str) -> ParsedDate | None:
    """A date read from the page: its own zone or offset if it printed one, else the source's."""
    try:
        if printed.tzinfo is not None:
            return ParsedDate(printed.astimezone(timezone.utc), _zone_label(printed))
        return ParsedDate(_localize(printed, zone).astimezone(timezone.utc), zone_name)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed past the calendar by the offset
        return None
