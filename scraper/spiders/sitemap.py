"""News sitemaps: a sitemap index → its sitemaps → one ``sitemap`` record per ``<url>``.

A Google News entry carries ``news:publication`` (name, language),
``news:publication_date`` and ``news:title``; a plain sitemap entry only
``lastmod``, so its record gets a title from the article page it links to.
A ``since`` window keeps a big sitemap from flooding the archive: entries
(and child sitemaps) dated before it are skipped, and so are undated entries.

Source options:

* ``since``: the window, ``"48h"``, ``"2d"``, ``"90m"`` (default ``"2d"``;
  ``""`` keeps everything);
* ``sitemap_allow``: a regular expression child-sitemap URLs must match;
* ``allow`` / ``deny``: regular expressions on entry URLs (e.g. one
  language's paths in a multi-language sitemap);
* ``follow``, ``dates_from``, ``article_selectors``: see :class:`NewsSpider`.

Sitemaps are fetched with conditional GET; a 304 skips that sitemap quietly.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from parsel import Selector
from scrapy.http import Response

from scraper.dates import parse_printed
from scraper.items import NewsItem
from scraper.spiders import NewsSpider
from scraper.sources import SourceConfigError

_WINDOW = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_SINCE = "2d"
#: Do not inflate a compressed body past this (a decompression bomb).
MAX_INFLATED = 64 * 1024 * 1024


def decompressed(body: bytes) -> bytes:
    """The body, gunzipped if it is gzip data (``.xml.gz`` files, servers that gzip unasked)."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, MAX_INFLATED)
    except (zlib.error, gzip.BadGzipFile):
        return body
    return data


def window(text: str | None) -> timedelta | None:
    """``"48h"`` → 48 hours; empty → no window; SourceConfigError for anything else."""
    if text is None or str(text).strip() == "":
        return None
    match = _WINDOW.match(str(text))
    if not match:
        raise SourceConfigError(f"options.since {text!r} is not a window like '48h', '2d' or '90m'")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


class SitemapSpider(NewsSpider):
    """Yields one ``sitemap`` record per recent entry, completed from its article page."""

    name = "sitemap"
    conditional = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window = window(self.option("since", DEFAULT_SINCE))
        self.sitemap_allow = re.compile(self.option("sitemap_allow")) if self.option("sitemap_allow") else None
        self.allow = re.compile(self.option("allow")) if self.option("allow") else None
        self.deny = re.compile(self.option("deny")) if self.option("deny") else None

    def cutoff(self) -> datetime | None:
        """Entries dated before this are skipped."""
        return datetime.now(timezone.utc) - self.window if self.window else None

    def recent(self, printed: str | None) -> bool:
        """Inside the window (always, without one); undated entries are not."""
        cutoff = self.cutoff()
        if cutoff is None:
            return True
        parsed = parse_printed(printed, self.source.timezone)
        return parsed is not None and parsed.value >= cutoff

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        body = decompressed(response.body)
        if self.not_modified(response) or self.hostile_xml(body, response.url):
            return
        selector = Selector(body=body, type="xml")
        selector.remove_namespaces()
        root = selector.xpath("/*")
        kind = root.xpath("name()").get() if root else None
        if kind == "sitemapindex":
            # An index can stay byte-identical while its children change: fetch it in full every run.
            self._validators.pop(response.request.url if response.request else response.url, None)
            yield from self.parse_index(selector, response)
        elif kind == "urlset":
            yield from self.parse_urlset(selector, response)
        else:
            self.count("layout/not_a_sitemap")
            self.logger.warning("not a sitemap (root %r): %s", kind, response.url)

    def parse_index(self, selector: Selector, response: Response) -> Iterator[Any]:
        """Follow the index's child sitemaps that match ``sitemap_allow`` and the window."""
        for entry in selector.xpath("/sitemapindex/sitemap"):
            loc = (entry.xpath("loc/text()").get() or "").strip()
            if not loc:
                continue
            url = response.urljoin(loc)
            if self.sitemap_allow and not self.sitemap_allow.search(url):
                continue
            lastmod = entry.xpath("lastmod/text()").get()
            if lastmod and not self.recent(lastmod):
                self.count("sitemap/old_sitemaps")
                continue
            self.count("sitemap/sitemaps")
            yield self.page_request(url, self.parse)

    def parse_urlset(self, selector: Selector, response: Response) -> Iterator[Any]:
        """One record per ``<url>`` inside the window."""
        for entry in selector.xpath("/urlset/url"):
            loc = (entry.xpath("loc/text()").get() or "").strip()
            if not loc:
                continue
            url = response.urljoin(loc)
            if (self.allow and not self.allow.search(url)) or (self.deny and self.deny.search(url)):
                self.count("sitemap/filtered")
                continue
            news = entry.xpath("news")
            published = news.xpath("publication_date/text()").get()
            lastmod = entry.xpath("lastmod/text()").get()
            if not self.recent(published or lastmod):
                self.count("sitemap/outside_window")
                continue
            keywords = news.xpath("keywords/text()").get() or ""
            publication = news.xpath("publication/name/text()").get()
            item = NewsItem(
                kind="sitemap",
                url=url,
                title=news.xpath("title/text()").get(),
                published_raw=published,
                updated_raw=lastmod,  # a plain sitemap's only date: the page's last change
                language=news.xpath("publication/language/text()").get(),
                tags=[k.strip() for k in keywords.split(",") if k.strip()],
                extra={"publication": publication.strip()} if publication and publication.strip() else {},
            )
            self.count("sitemap/entries")
            yield from self.follow(item)
