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

Bounds: a sitemap URL is fetched once a run (an index listing itself, or two
indexes listing each other, is counted as ``sitemap/repeated``); indexes nest
at most ``MAX_DEPTH`` deep and a run fetches at most ``MAX_SITEMAPS`` sitemaps;
a sitemap's entries past ``MAX_ENTRIES`` (the protocol's 50,000) are skipped
(``sitemap/over_limit``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from parsel import Selector
from scrapy.http import Response

from scraper.dates import parse_printed
from newsdesk.core.record import NewsItem
from scraper.keys import canonical_url
from scraper.spiders import NewsSpider
from scraper.sources import SourceConfigError

_WINDOW = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_SINCE = "2d"
#: How deep sitemap indexes may nest below a start URL (an index of indexes of sitemaps is 2).
MAX_DEPTH = 3
#: Sitemaps fetched in one run, start URLs included.
MAX_SITEMAPS = 1000
#: Entries read from one sitemap: the sitemap protocol's own limit.
MAX_ENTRIES = 50_000
_DEPTH = "newsdesk_sitemap_depth"


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
        self.sitemaps: set[str] = set()  # canonical URLs of the sitemaps requested this run

    def cutoff(self) -> datetime | None:
        """Entries dated before this are skipped."""
        return datetime.now(timezone.utc) - self.window if self.window else None

    def recent(self, printed: str | None) -> bool:
        """Inside the window (always, without one); undated entries are not."""
        cutoff = self.cutoff()
        if cutoff is None:
            return True
        try:  # the sitemap protocol's W3C datetimes, read without the general date parser
            stamp = datetime.fromisoformat(printed.strip()) if printed else None
        except ValueError:
            stamp = None
        if stamp is not None and stamp.tzinfo is not None:
            return stamp >= cutoff
        parsed = parse_printed(printed, self.source.timezone)
        return parsed is not None and parsed.value >= cutoff

    def page_request(self, url: str, callback: Any, **kwargs: Any) -> Any:
        """A sitemap request, remembered so that no sitemap is requested twice in a run."""
        self.sitemaps.add(_key(url))
        return super().page_request(url, callback, **kwargs)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if self.not_modified(response):
            return
        body = self.unpacked(response.body, response.url)
        if body is None:
            return
        readable, root = self.read_xml(body, response.url)
        if not readable:
            return
        kind = None
        if root is not None:
            selector = Selector(root=root, type="xml")
            selector.remove_namespaces()
            kind = selector.xpath("name(/*)").get()
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
        """Follow the index's child sitemaps that match ``sitemap_allow`` and the window, each once a run."""
        depth = int(response.request.meta.get(_DEPTH, 0) if response.request else 0) + 1
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
                self.logger.info("sitemap skipped: last changed %s, before the window (options.since = %s, "
                                 "since %s): %s", lastmod.strip(), self.option("since", DEFAULT_SINCE),
                                 f"{self.cutoff():%Y-%m-%d %H:%M}Z", url)
                continue
            if _key(url) in self.sitemaps:
                self.count("sitemap/repeated")
                continue
            if depth > MAX_DEPTH or len(self.sitemaps) >= MAX_SITEMAPS:
                self.count("sitemap/over_limit")
                continue
            self.count("sitemap/sitemaps")
            request = self.page_request(url, self.parse)
            request.meta[_DEPTH] = depth
            yield request

    def parse_urlset(self, selector: Selector, response: Response) -> Iterator[Any]:
        """One record per ``<url>`` inside the window, for the first ``MAX_ENTRIES`` entries."""
        over = int(float(selector.xpath("count(/urlset/url)").get() or 0)) - MAX_ENTRIES
        if over > 0:
            self.count("sitemap/over_limit", over)
            self.logger.warning("%d entries past the first %d skipped: %s", over, MAX_ENTRIES, response.url)
        for entry in selector.xpath(f"/urlset/url[position() <= {MAX_ENTRIES}]"):
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


def _key(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url
