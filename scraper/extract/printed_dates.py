"""Printed dates: ``<time>`` elements, "Published …" / "Updated …" labels, and completing a date from them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from parsel import Selector

from scraper.dates import names_its_zone, parse_printed
from scraper.text import clean_line


#: Where a page prints its publication time, most specific first.
_TIME_XPATHS = (
    "//time[@pubdate]",
    '//*[contains(translate(@class, "PUBLISHED", "published"), "publish")]/descendant-or-self::time',
    "//article//time", "//main//time", "//time",
)


_UPDATE_CLASS = ('ancestor-or-self::*[position() <= 3][contains(translate(@class, "UPDATEMODIF", "updatemodif"), "updat")'
                 ' or contains(translate(@class, "UPDATEMODIF", "updatemodif"), "modif")]')


def _time_value(node: Selector) -> str | None:
    """A <time>'s datetime attribute, else its text up to an "Updated" label printed inside it."""
    value = node.attrib.get("datetime") or clean_line(" ".join(node.xpath(".//text()").getall()))
    if value:
        value = re.split(rf"\s(?:{_UPDATED_LABEL})\b", value, maxsplit=1, flags=re.IGNORECASE)[0]
    return value.strip() if value and value.strip() else None


def _is_update_time(node: Selector) -> bool:
    """A <time> printed as the update time: its class, or a label ("Updated") just before it."""
    if node.xpath(_UPDATE_CLASS):
        return True
    before = clean_line(" ".join(node.xpath("preceding-sibling::text()[1] | ../preceding-sibling::*[1]//text()"
                                            " | ../text()[following-sibling::*[1][self::time]]").getall()))
    return bool(before and re.search(rf"(?:{_UPDATED_LABEL})\W*$", before, re.IGNORECASE))


def _printed_times(sel: Selector) -> tuple[list[str], list[str]]:
    """The page's printed <time>s, in the article before the masthead: publication times, update times."""
    published: list[str] = []
    updated: list[str] = []
    seen: set[str] = set()
    for xpath in _TIME_XPATHS:
        for node in sel.xpath(xpath):
            value = _time_value(node)
            if value and value not in seen:
                seen.add(value)
                (updated if _is_update_time(node) else published).append(value)
    return published, updated


#: Labels printed before a publication or an update time, in several languages.
_PUBLISHED_LABEL = (r"(?:first\s+)?published|posted|publicado|publicada|publié|publiée|veröffentlicht|pubblicato|"
                    r"gepubliceerd|publicerad|opublikowano|publikováno|公開|発行|发布")
_UPDATED_LABEL = (r"(?:last\s+)?updated|(?:last\s+)?modified|actualizado|actualizada|atualizado|mis\s+à\s+jour|"
                  r"aktualisiert|aggiornato|bijgewerkt|uppdaterad|zaktualizowano|aktualizováno|更新")
_DATE_LABEL = re.compile(rf"^\s*(?:(?P<published>{_PUBLISHED_LABEL})|(?P<updated>{_UPDATED_LABEL}))\b\s*"
                         r"(?:on|at|am|le|el|em|:|-)?\s*(?P<rest>.*)$", re.IGNORECASE)
_HAS_TIME = re.compile(r"\d:\d\d")
_OFFSET = re.compile(r"(?:[T\s]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(Z|[+-]\d\d:?\d\d)\s*$")


@dataclass
class _PrintedDates:
    """Dates the page prints with a label outside any metadata ("Last updated: 30 November 2026, 18:20")."""

    published: str | None = None
    updated: str | None = None


def _labelled_dates(sel: Selector) -> _PrintedDates:
    """"Published …" / "Updated …" (several languages) printed in the page's text, each read once."""
    found = _PrintedDates()
    texts = [" ".join(t.split()) for t in sel.xpath("//body//text()[normalize-space()][not(ancestor::script or "
                                                        "ancestor::style or ancestor::noscript)]").getall()[:5000]]
    for i, text in enumerate(texts):
        match = _DATE_LABEL.match(text) if len(text) <= 120 else None
        if not match:
            continue
        printed = match.group("rest").strip(" ,|·")
        best = printed if parse_printed(printed, "UTC") else None
        for more in texts[i + 1:i + 4]:  # "<span>Published</span> <time>30 Nov 2026</time> <span>18:20</span>"
            if (best and _HAS_TIME.search(best)) or len(printed) > 60 or _DATE_LABEL.match(more):
                break
            printed = f"{printed} {more}".strip(" ,|·")
            if parse_printed(printed, "UTC"):
                best = printed
        kind = "published" if match.group("published") else "updated"
        if best and getattr(found, kind) is None:
            setattr(found, kind, best)
    return found


def _with_time_of_day(day: str | None, candidates: Iterable[str | None]) -> str | None:
    """A day-only date completed by a time the page prints for the same day elsewhere."""
    if not day or _HAS_TIME.search(day):
        return day
    first = parse_printed(day, "UTC")
    if first is None:
        return day
    for candidate in candidates:
        if not candidate or not _HAS_TIME.search(candidate):
            continue
        printed = parse_printed(candidate, "UTC")
        if printed is not None and _printed_day(candidate) == first.value.date():
            return candidate
    return day


def _printed_day(text: str) -> date | None:
    """The calendar day as printed (not moved by the offset)."""
    parsed = parse_printed(_OFFSET.sub("", text.strip()), "UTC")
    return parsed.value.date() if parsed else None


def _with_page_offset(raw: str | None, others: Iterable[str | None]) -> str | None:
    """A zone-less time given the offset the page prints on its other times of the same day.

    ``2024-05-14T10:00:00`` on a page whose modified time is ``2024-05-14T12:30:00-04:00``
    is read as -04:00: the site's own zone, not UTC.  Without such evidence the raw
    value is kept, to be read in the source's zone.
    """
    if not raw or not _HAS_TIME.search(raw) or names_its_zone(raw):
        return raw
    day, naive = _printed_day(raw), parse_printed(raw, "UTC")
    if day is None or naive is None:
        return raw
    for other in others:
        match = _OFFSET.search(other or "")
        other_day = _printed_day(other) if match and other else None
        if match is None or other_day is None or abs((other_day - day).days) > 1:
            continue
        offset = "+00:00" if match.group(1) == "Z" else match.group(1)
        if ":" not in offset:
            offset = offset[:3] + ":" + offset[3:]
        return naive.value.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return raw


def _same_day(printed: str, day: str) -> bool:
    """Whether a printed time falls within a day of an ISO day (zones shift days by one)."""
    parsed = parse_printed(printed, "UTC")
    try:
        return parsed is not None and abs((parsed.value.date() - date.fromisoformat(day[:10])).days) <= 1
    except ValueError:
        return False


def _without_date_lines(body: str | None) -> str | None:
    """The body without a "Published …" / "Updated …" line among its first lines."""
    if not body or "\n" not in body:
        return body
    lines = body.split("\n")
    kept = [line for i, line in enumerate(lines)
            if i >= 3 or not ((match := _DATE_LABEL.match(line)) and len(line) <= 120
                              and parse_printed(match.group("rest"), "UTC"))]
    return "\n".join(kept) if kept else body
