"""Sources: what to crawl, with which spider, in which timezone, how often.

The package ships ``sources.toml``; a user's ``<home>/sources.toml`` overrides
it key by key (a user file that only says ``enabled = false`` under a source
changes just that).  Errors name the file and the key.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from newsdesk.errors import NewsdeskError
from scraper.dates import UnknownZoneError, get_zone

logger = logging.getLogger(__name__)

SHIPPED = "sources.toml"
_KNOWN_KEYS = {
    "spider", "name", "urls", "timezone", "schedule", "enabled", "language",
    "dayfirst", "options",
}


class SourceConfigError(NewsdeskError):
    """A sources file cannot be read or names something invalid."""


#: Options every spider understands (scraper/spiders/__init__.py), and each spider's own.
_COMMON_OPTIONS: dict[str, type | tuple[type, ...]] = {"follow": bool, "dates_from": str, "article_selectors": dict}
_SPIDER_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "feed": {"extra_fields": list, "updated_field": str},
    "sitemap": {"since": str, "sitemap_allow": str, "allow": str, "deny": str},
    "list": {"item": str, "headline": str, "link": str, "byline": str, "time": str, "summary": str,
             "section": str, "time_format": (str, list)},
    "jpost_breaking": {"article_body": (str, list)},
}
_PATTERN_OPTIONS = ("sitemap_allow", "allow", "deny")

#: What kind of source each spider reads (for `newsdesk sources`).
SPIDER_KINDS = {"feed": "feed", "sitemap": "sitemap", "list": "list", "jpost_breaking": "list"}


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
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
    spider = table.get("spider")
    if not isinstance(spider, str) or not spider:
        raise SourceConfigError(f"{where}: 'spider' is required (a spider name, see `scrapy list`)")
    urls = table.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise SourceConfigError(f"{where}: 'urls' must be a list of http(s) URLs")
    zone = table.get("timezone", "UTC")
    try:
        get_zone(zone)
    except (UnknownZoneError, TypeError):
        raise SourceConfigError(f"{where}: 'timezone' {zone!r} is not an IANA zone name") from None
    for key, kind in (("enabled", bool), ("dayfirst", bool), ("schedule", str), ("name", str),
                      ("options", dict)):
        if key in table and not isinstance(table[key], kind):
            raise SourceConfigError(f"{where}: {key!r} must be a {kind.__name__}")
    _check_options(spider, table.get("options", {}), where)
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
    )


def _check_options(spider: str, options: dict[str, Any], where: str) -> None:
    """Unknown or mistyped options of a known spider are errors naming the key."""
    if spider not in _SPIDER_OPTIONS:
        return  # a user's own spider: its options are its business
    known = {**_COMMON_OPTIONS, **_SPIDER_OPTIONS[spider]}
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
    if options.get("dates_from", "article") not in ("article", "listing"):
        raise SourceConfigError(f"{where}: option 'dates_from' must be \"article\" or \"listing\"")
    if spider == "list" and not options.get("item"):
        raise SourceConfigError(f"{where}: spider 'list' needs options.item, a selector for each entry")


def load_sources(user_file: Path | None = None) -> dict[str, Source]:
    """The shipped sources overridden by ``user_file`` (if it exists), by id, in file order."""
    shipped_text = resources.files("scraper").joinpath(SHIPPED).read_text(encoding="utf-8")
    config = _read_toml(shipped_text, f"(shipped) scraper/{SHIPPED}")
    origin = f"(shipped) scraper/{SHIPPED}"
    if user_file is not None and user_file.exists():
        try:
            user_text = user_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceConfigError(f"{user_file}: cannot read: {exc}") from None
        user = _read_toml(user_text, str(user_file))
        if set(user) - {"sources"}:
            extra = sorted(set(user) - {"sources"})[0]
            raise SourceConfigError(f"{user_file}: unknown top-level key {extra!r} (expected [sources.<id>])")
        config = _merge(config, user)
        origin = str(user_file)
    tables = config.get("sources", {})
    if not isinstance(tables, dict):
        raise SourceConfigError(f"{origin}: 'sources' must be a table of [sources.<id>]")
    return {source_id: _build(source_id, table, origin) for source_id, table in tables.items()}


def get_source(source_id: str, user_file: Path | None = None) -> Source:
    """One source by id; SourceConfigError naming the known ids if absent."""
    sources = load_sources(user_file)
    try:
        return sources[source_id]
    except KeyError:
        known = ", ".join(sources) or "none"
        raise SourceConfigError(f"unknown source {source_id!r} (known: {known})") from None
