"""Sources: what to crawl, with which spider, in which timezone, how often.

The package ships ``sources.toml``; a user's ``<home>/sources.toml`` overrides
it key by key (a user file that only says ``enabled = false`` under a source
changes just that).  Every key is checked as the file is read (the spider
exists, the URLs are URLs, the zone is a zone name, the schedule parses and is
at most a year, each option is one the spider takes, with its type); a mistake
is one line naming the file, its line, the source and the key.
"""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.timeparse import UnknownZone, zone_by_name
from scraper import selector

logger = logging.getLogger(__name__)

SHIPPED = "sources.toml"
_KNOWN_KEYS = {
    "spider", "name", "urls", "timezone", "schedule", "enabled", "language",
    "dayfirst", "options", "capture",
}


class SourceConfigError(NewsdeskError):
    """A sources file cannot be read or names something invalid."""

    def __init__(self, message: str, hint: str = "", source_id: str | None = None, key: str | None = None) -> None:
        super().__init__(message, hint)
        self.source_id = source_id
        self.key = key


class UnknownSource(SourceConfigError):
    """A source id that is not configured: a usage mistake (exit 2), with the nearest known ids."""

    exit_code = 2


def unknown_source(source_id: str, known: list[str]) -> UnknownSource:
    """The error for ``source_id``: "did you mean …" when a known id is close, else the known ids."""
    close = difflib.get_close_matches(source_id, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "? (`newsdesk sources` lists them)"
    else:
        hint = f"known sources: {', '.join(known) or 'none'} (`newsdesk sources`)"
    return UnknownSource(f"unknown source {source_id!r}", hint, source_id=source_id)


def check_source_ids(source_ids: list[str] | tuple[str, ...], sources: dict[str, Source]) -> None:
    """UnknownSource for the first of ``source_ids`` that ``sources`` does not hold."""
    for source_id in source_ids:
        if source_id not in sources:
            raise unknown_source(source_id, list(sources))


_HEADER = re.compile(r'^\s*\[\s*sources\s*\.\s*"?([^"\]]+?)"?\s*\]')


def line_of(text: str, source_id: str | None, key: str | None) -> int | None:
    """The line (1-based) where ``key`` is set in ``[sources.<source_id>]`` (or the table's header)."""
    section: str | None = None
    header_line = None
    key_pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=') if key else None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip()
            if section == source_id and header_line is None:
                header_line = number
            continue
        if line.lstrip().startswith("["):
            section = "?"
            continue
        if key_pattern and key_pattern.match(line) and section == source_id:
            return number
    return header_line


#: Options every spider understands (scraper/spiders/__init__.py), and each spider's own.
_COMMON_OPTIONS: dict[str, type | tuple[type, ...]] = {"follow": bool, "dates_from": str, "article_selectors": dict,
                                                      "allow_private": bool}
_SPIDER_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "feed": {"extra_fields": list, "updated_field": str},
    "sitemap": {"since": str, "sitemap_allow": str, "allow": str, "deny": str},
    "list": {"item": str, "headline": str, "link": str, "byline": str, "time": str, "summary": str,
             "section": str, "time_format": (str, list)},
    "jpost_breaking": {"article_body": (str, list)},
}
_PATTERN_OPTIONS = ("sitemap_allow", "allow", "deny")
#: Options whose value is a selector (scraper.selector), or a list of them.
_SELECTOR_OPTIONS = ("item", "headline", "link", "byline", "time", "summary", "section", "article_body")
#: The fields ``article_selectors`` may name (what scraper.extract reads from them).
ARTICLE_SELECTOR_KEYS = ("title", "author", "date", "body", "summary", "section")

#: What kind of source each spider reads (for `newsdesk sources`); also the spiders there are.
SPIDER_KINDS = {"feed": "feed", "sitemap": "sitemap", "list": "list", "jpost_breaking": "list"}

_EVERY = re.compile(r"^\s*every\s+(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
}
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_CRON_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MAX_EVERY = timedelta(days=366)  # the longest ``every`` interval: a longer one is a typo


class ScheduleError(SourceConfigError):
    """A source's schedule cannot be read."""


@dataclass(frozen=True)
class Schedule:
    """A schedule as read: a fixed interval (``every 10m``), or cron fields as APScheduler 3.x takes them."""

    every: timedelta | None = None
    cron: dict[str, str] = field(default_factory=dict)


def _cron_days(field_text: str) -> str:
    """Crontab's day-of-week numbers (0 or 7 = Sunday) as names APScheduler 3.x reads right.

    APScheduler 3.x counts 0 as Monday; names are unambiguous, so numbers become names.
    """
    out: list[str] = []
    for part in field_text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else None
        if step_text and not step:
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


def parse_schedule(text: str, where: str, source_id: str | None = None) -> Schedule:
    """A source's ``schedule``: 5-field cron or ``every <n><unit>`` (at most ``MAX_EVERY``).

    :param where: the file and source, e.g. ``sources.toml: [sources.x]``, named in a ScheduleError.
    """
    where = f"{where} schedule {text!r}"
    every = _EVERY.match(text)
    if every:
        amount, unit = int(every.group(1)), every.group(2).lower()
        if unit not in _UNITS or amount <= 0:
            raise ScheduleError(f"{where}: say 'every <number><s|m|h|d>'", "e.g. 'every 10m' or 'every 2h'",
                                source_id, "schedule")
        if amount * _UNIT_SECONDS[_UNITS[unit]] > MAX_EVERY.total_seconds():
            raise ScheduleError(f"{where}: longer than {MAX_EVERY.days} days", "e.g. 'every 10m' or 'every 2h'",
                                source_id, "schedule")
        return Schedule(every=timedelta(**{_UNITS[unit]: amount}))
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"{where}: expected 5 cron fields or 'every <n><unit>'",
                            "e.g. '*/10 * * * *' or 'every 10m'", source_id, "schedule")
    try:
        minute, hour, day, month, dow = fields
        cron = {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _cron_days(dow)}
        CronTrigger(**cron, timezone=timezone.utc)  # what APScheduler refuses (minute 61, a step of 0)
    except ValueError as exc:
        raise ScheduleError(f"{where}: {exc}", "use 5 cron fields, e.g. '*/10 * * * *', or 'every 10m'",
                            source_id, "schedule") from None
    return Schedule(cron=cron)


@dataclass(frozen=True)
class Source:
    """One configured source."""

    id: str
    spider: str
    urls: tuple[str, ...]
    timezone: str = "UTC"
    schedule: str = "*/15 * * * *"
    enabled: bool = True
    name: str = ""
    language: str | None = None
    dayfirst: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    capture: bool = True  # keep fetched pages in the run's WARC file (scraper.capture)

    @property
    def kind(self) -> str:
        """feed, sitemap or list (a spider of another kind: its name)."""
        return SPIDER_KINDS.get(self.spider, self.spider)


def _read_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourceConfigError(f"{origin}: invalid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(source_id: str, table: dict[str, Any], origin: str) -> Source:
    where = f"{origin}: [sources.{source_id}]"
    if not isinstance(table, dict):
        raise SourceConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise SourceConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN_KEYS))})",
            source_id=source_id, key=unknown[0],
        )
    spider = table.get("spider")
    if not isinstance(spider, str) or not spider:
        raise SourceConfigError(f"{where}: 'spider' is required (a spider name, see `scrapy list`)",
                                source_id=source_id, key="spider")
    if spider not in SPIDER_KINDS:
        raise SourceConfigError(f"{where}: unknown spider {spider!r} (known: {', '.join(sorted(SPIDER_KINDS))})",
                                source_id=source_id, key="spider")
    urls = table.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if (not isinstance(urls, list) or not urls
            or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls)):
        raise SourceConfigError(f"{where}: 'urls' must be a list of http(s) URLs", source_id=source_id, key="urls")
    zone = table.get("timezone", "UTC")
    try:
        zone_by_name(zone)
    except UnknownZone:
        raise SourceConfigError(f"{where}: 'timezone' {zone!r} is not an IANA zone name", "e.g. Europe/London or UTC",
                                source_id=source_id, key="timezone") from None
    for key, kind in (("enabled", bool), ("dayfirst", bool), ("schedule", str), ("name", str),
                      ("options", dict), ("language", str), ("capture", bool)):
        if key in table and not isinstance(table[key], kind):
            raise SourceConfigError(f"{where}: {key!r} must be a {kind.__name__}", source_id=source_id, key=key)
    parse_schedule(table.get("schedule", Source.schedule), where, source_id)
    try:
        _check_options(spider, table.get("options", {}), where)
    except SourceConfigError as exc:  # named with its source and key, for the line number
        raise SourceConfigError(str(exc), exc.hint, source_id, "options") from None
    return Source(
        id=source_id,
        spider=spider,
        urls=tuple(urls),
        timezone=zone,
        schedule=table.get("schedule", Source.schedule),
        enabled=table.get("enabled", True),
        name=table.get("name", source_id),
        language=table.get("language"),
        dayfirst=table.get("dayfirst", False),
        options=dict(table.get("options", {})),
        capture=table.get("capture", True),
    )


def _check_options(spider: str, options: dict[str, Any], where: str) -> None:
    """Unknown or mistyped options of a spider are errors naming the key (the one check of ``options``)."""
    known = {**_COMMON_OPTIONS, **_SPIDER_OPTIONS.get(spider, {})}
    for key, value in options.items():
        if key not in known:
            raise SourceConfigError(
                f"{where}: unknown option {key!r} for spider {spider!r} (known: {', '.join(sorted(known))})")
        kind = known[key]
        if not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
            raise SourceConfigError(f"{where}: option {key!r} must be a {names}")
        if key in _PATTERN_OPTIONS and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                raise SourceConfigError(f"{where}: option {key!r} is not a regular expression: {exc}") from None
    _check_selectors(options, where)
    if options.get("dates_from", "article") not in ("article", "listing"):
        raise SourceConfigError(f"{where}: option 'dates_from' must be \"article\" or \"listing\"")
    if spider == "list" and not options.get("item"):
        raise SourceConfigError(f"{where}: spider 'list' needs options.item, a selector for each entry")


def _check_selectors(options: dict[str, Any], where: str) -> None:
    """Every selector an option holds is one parsel can run: else one line naming the option."""
    named: list[tuple[str, Any]] = []
    for key in _SELECTOR_OPTIONS:
        value = options.get(key)
        if isinstance(value, list):
            named.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif value is not None:
            named.append((key, value))
    for field_name, value in options.get("article_selectors", {}).items():
        if field_name not in ARTICLE_SELECTOR_KEYS:
            raise SourceConfigError(f"{where}: option 'article_selectors' has no field {field_name!r} "
                                    f"(known: {', '.join(ARTICLE_SELECTOR_KEYS)})")
        named.append((f"article_selectors.{field_name}", value))
    for name, value in named:
        problem = selector.check(value)
        if problem:
            raise SourceConfigError(f"{where}: option {name!r} {problem}")


def load_sources(user_file: Path | None = None) -> dict[str, Source]:
    """The shipped sources overridden by ``user_file`` (if it exists), by id, in file order."""
    shipped_text = resources.files("scraper").joinpath(SHIPPED).read_text(encoding="utf-8")
    config = _read_toml(shipped_text, f"(shipped) scraper/{SHIPPED}")
    origin = f"(shipped) scraper/{SHIPPED}"
    user_text: str | None = None
    if user_file is not None and user_file.exists():
        try:
            user_text = user_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceConfigError(f"{user_file}: cannot read: {exc}") from None
        user = _read_toml(user_text, str(user_file))
        if set(user) - {"sources"}:
            extra = sorted(set(user) - {"sources"})[0]
            number = line_of(user_text, None, extra)
            at = f", line {number}" if number else ""
            raise SourceConfigError(f"{user_file}{at}: unknown top-level key {extra!r} (expected [sources.<id>])")
        config = _merge(config, user)
        origin = str(user_file)
    tables = config.get("sources", {})
    if not isinstance(tables, dict):
        raise SourceConfigError(f"{origin}: 'sources' must be a table of [sources.<id>]")
    try:
        return {source_id: _build(source_id, table, origin) for source_id, table in tables.items()}
    except SourceConfigError as exc:
        if user_text is None or exc.source_id is None:
            raise
        number = line_of(user_text, exc.source_id, exc.key)
        if number is None:  # the shipped file set it
            raise
        message = str(exc).replace(f"{origin}: ", f"{origin}, line {number}: ", 1)
        raise type(exc)(message, exc.hint, exc.source_id, exc.key) from None


def get_source(source_id: str, user_file: Path | None = None) -> Source:
    """One source by id; UnknownSource (with "did you mean …") if absent."""
    sources = load_sources(user_file)
    check_source_ids([source_id], sources)
    return sources[source_id]
