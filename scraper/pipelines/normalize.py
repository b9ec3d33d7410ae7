"""Normalize: clean text, split bylines, derive the key, read dates in the source's zone."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from scrapy.crawler import Crawler

from scraper.bylines import parse_byline
from scraper.dates import parse_printed
from newsdesk.core.record import adapt
from scraper.keys import canonical_url, fingerprint, linkless_key
from scraper.sources import Source
from scraper.text import clean_block, clean_line

logger = logging.getLogger(__name__)

#: A date more than this far past the fetch time is a page's mistake (or a trap), not news.
FUTURE_SLACK = timedelta(days=2)
EARLIEST = datetime(1800, 1, 1, tzinfo=timezone.utc)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # a spider handed over a naive datetime: refuse to guess
        raise ValueError("naive datetime")
    return value.astimezone(timezone.utc)


class NormalizePipeline:
    """Turn the raw strings a spider selected into a clean, keyed record."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler)

    @property
    def source(self) -> Source:
        return self.crawler.spider.source  # type: ignore[union-attr]

    def process_item(self, item: Any) -> Any:
        adapter = adapt(item)
        source = self.source
        adapter["source"] = adapter.get("source") or source.id
        adapter["fetched_at"] = adapter.get("fetched_at") or datetime.now(timezone.utc)
        if not adapter.get("language") and source.language:
            adapter["language"] = source.language

        adapter["title"] = clean_line(adapter.get("title"))
        adapter["summary"] = clean_block(adapter.get("summary"))
        adapter["body"] = clean_block(adapter.get("body"))
        adapter["section"] = clean_line(adapter.get("section"))
        self._people(adapter)
        adapter["tags"] = _unique(clean_line(t) for t in adapter.get("tags") or [])

        url = clean_line(adapter.get("url"))
        adapter["url"] = url
        if url:
            adapter["key"] = canonical_url(url)
        elif adapter.get("title"):
            adapter["key"] = linkless_key(adapter["source"], adapter["title"], adapter.get("published_raw"))

        self._date(adapter, "published", source)
        self._date(adapter, "updated", source)
        adapter["fingerprint"] = fingerprint(adapter.get("title"), adapter.get("summary"), adapter.get("body"))
        return item

    def _people(self, adapter: Any) -> None:
        """byline → authors + agency; author strings from pages get the same cleaning."""
        byline = clean_line(adapter.get("byline"))
        adapter["byline"] = byline
        authors: list[str] = []
        agency = adapter.get("agency")
        for text in [byline, *(adapter.get("authors") or [])]:
            parsed = parse_byline(clean_line(text))
            authors.extend(a for a in parsed.authors if a not in authors)
            agency = agency or parsed.agency
        adapter["authors"] = authors
        adapter["agency"] = agency

    def _date(self, adapter: Any, name: str, source: Source) -> None:
        raw_name = f"{name}_raw"
        raw = clean_line(adapter.get(raw_name))
        adapter[raw_name] = raw
        value = adapter.get(name)
        if isinstance(value, datetime):
            adapter[name] = self._plausible(adapter, name, _utc(value))
            return
        if raw is None:
            adapter[name] = None
            return
        formats = source.options.get("time_format") or getattr(self.crawler.spider, "time_formats", ())
        parsed = parse_printed(raw, source.timezone, dayfirst=source.dayfirst, now=adapter["fetched_at"],
                               formats=(formats,) if isinstance(formats, str) else tuple(formats))
        if parsed is None:
            adapter[name] = None
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"newsdesk/date_unreadable/{name}")
            logger.info("unreadable %s date %r on %s", name, raw, adapter.get("url"))
            return
        adapter[name] = self._plausible(adapter, name, parsed.value)
        if adapter[name] is None:
            return
        if name == "published":
            adapter["published_tz"] = parsed.zone


    def _plausible(self, adapter: Any, name: str, value: datetime) -> datetime | None:
        """The date, or None (counted) if it lies in the future or before any news archive."""
        fetched = adapter.get("fetched_at")
        if not isinstance(fetched, datetime) or fetched.tzinfo is None:
            fetched = datetime.now(timezone.utc)
        if EARLIEST <= value <= fetched + FUTURE_SLACK:
            return value
        assert self.crawler.stats is not None
        kind = "future" if value > fetched else "implausible"  # the run's summary counts both
        self.crawler.stats.inc_value(f"newsdesk/date_{kind}/{name}")
        logger.info("%s %s date %s on %s (kept only as printed)", kind, name, value, adapter.get("url"))
        return None


def _unique(values: Any) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen
