"""Spiders, one module per kind of source; all built on :class:`NewsSpider`.

The base class holds what every kind shares:

* binding to one configured source (``-a source=<id>``, optional ``-a url=``);
* conditional GET for feeds and sitemaps (``ETag`` / ``Last-Modified`` kept
  per URL in ``<home>/state/crawl.sqlite``; a 304 is a quiet, successful run);
* following an item's link to its article page (:meth:`NewsSpider.follow`)
  and completing the record from :func:`scraper.extract.extract_article`
  (:meth:`NewsSpider.parse_article`), keeping the listed record when the page
  cannot be fetched;
* incremental crawling: an article whose key is already in the dedupe store
  and whose listing did not change is not fetched again, unless the crawl
  runs with ``NEWSDESK_REFRESH`` (``newsdesk crawl --refresh``);
* an article page that failed is kept in the crawl state and fetched again by
  the next runs (even when the start page answers 304), at most
  ``ARTICLE_ATTEMPTS`` times in all, then given up and counted;
* accounting (:mod:`newsdesk.core.tally`): every article request carries its
  listed item and is counted when sent and when its item comes back, so an
  item can not vanish unseen.  Article requests bypass Scrapy's duplicate
  filter, which drops a request silently (two links that redirect to one URL,
  a redirect loop A→B→A): the spider dedupes by item key itself, and
  redirects are bounded by ``REDIRECT_MAX_TIMES``, which calls the errback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, UsageError
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from newsdesk.core.tally import NETWORK_ERRORS
from scraper.crawlstate import CrawlState
from newsdesk.core.record import NewsItem, adapt
from scraper.keys import canonical_url, fingerprint
from scraper.listing import KnownListing, RepeatedListing
from scraper.outcomes import ItemOutcomes
from scraper.seen import SeenStore
from scraper.settings import home_of
from scraper.sources import Source, SourceConfigError, get_source
from scraper.xmlsafety import HostileXML, TooLarge, inflate, parse_xml

logger = logging.getLogger(__name__)

#: How each field an article page gives (``scraper.extract.ExtractedArticle``'s fields that a
#: NewsItem has too) completes the listed record; :func:`merge_article` is one loop over it.
#: ``article``: the article's value replaces the listed one; ``listing``: the listed value stays,
#: the article only fills a gap; ``date``: as ``article`` unless the source says ``dates_from =
#: "listing"``, the replaced value kept in ``extra``; ``credit``: authors and byline replace the
#: listed byline together; ``union``: lists merged.
MERGE_RULES = {
    "title": "article", "body": "article", "language": "article", "section": "article", "agency": "article",
    "summary": "listing",
    "published_raw": "date", "updated_raw": "date",
    "authors": "credit", "byline": "credit",
    "tags": "union",
}
#: Article pages not fetched are logged one by one up to this many a run, then only counted (the
#: run's summary line counts them as errors; Scrapy's DEBUG log has a line for every response).
LOGGED_FAILURES = 5
#: Request meta naming the spider method that reads an article page (see :meth:`NewsSpider.article_page`).
ARTICLE_CALLBACK = "newsdesk_article_callback"
#: An article page that keeps failing is fetched at most this many times (over several runs), then given up.
ARTICLE_ATTEMPTS = 3


def failure_cause(failure: Failure) -> str:
    """Why a request failed, in plain words: ``HTTP 404``, ``timed out``, ``disallowed by robots.txt``."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if "robots.txt" in message:
            return "disallowed by robots.txt"
        if "redirections" in message:
            return "too many redirects (a redirect loop?)"
        request = getattr(failure, "request", None)
        if request is not None:
            message = message.replace(f": {request.url}", "")  # the guards name the URL; the line already does
        return f"request refused by a guard ({message})" if "guard" in message else message or "refused"
    name = type(exc).__name__
    return NETWORK_ERRORS.get(name) or failure.getErrorMessage() or name


def is_robots_refusal(failure: Failure) -> bool:
    """The request was not sent because robots.txt disallows it."""
    return failure.check(IgnoreRequest) is not None and "robots.txt" in str(failure.value)


def listing_fingerprint(item: NewsItem) -> str:
    """A hash of how an item was listed: headline, summary, byline and printed times."""
    return fingerprint(item.title, item.summary, item.byline, item.published_raw, item.updated_raw)


def merge_article(item: NewsItem, article: Any, *, dates_from: str = "article") -> None:
    """Complete ``item`` (as listed) from an extracted article, in place, field by field as ``MERGE_RULES`` say.

    Article values win for title, authors, body, language, section, agency and
    (unless ``dates_from="listing"``) the printed dates; the listing's summary
    wins; tags are the union.  A listed value the article replaces is kept in
    ``extra`` (``listed_title``, ``listed_published_raw``) when it differs.
    """
    for name, rule in MERGE_RULES.items():
        value = getattr(article, name, None)
        old = getattr(item, name)
        if rule == "article":
            if value and str(value).strip():
                if name == "title" and old and old.strip() != str(value).strip():
                    item.extra["listed_title"] = old
                setattr(item, name, value)
        elif rule == "listing":
            if not old and value:
                setattr(item, name, value)
        elif rule == "date":
            if not value or not str(value).strip():
                continue
            if not old:
                setattr(item, name, value)
            elif dates_from != "listing" and old.strip() != str(value).strip():
                item.extra[f"listed_{name}"] = old
                setattr(item, name, value)
        elif rule == "union":
            for entry in value or []:
                if entry and entry not in old:
                    old.append(entry)
        elif name == "authors":  # rule "credit": authors and byline in one step
            authors = [a for a in (value or []) if a and a.strip()]
            byline = getattr(article, "byline", None)
            if authors or (byline and byline.strip()):
                if item.byline:  # the article's credit replaces the listed byline
                    item.extra.setdefault("listed_byline", item.byline)
                item.byline = byline if byline and byline.strip() else None
                item.authors = list(authors)


class NewsSpider(scrapy.Spider):
    """A spider bound to one configured source (``-a source=<id>``, optional ``-a url=<URL>``)."""

    source: Source
    #: Send If-None-Match / If-Modified-Since for start pages (feeds, sitemaps).
    conditional = False
    #: ``strptime`` formats this spider's pages print times in, tried before python-dateutil's
    #: guessing (a source's ``time_format`` option replaces them).
    time_formats: tuple[str, ...] = ()

    def __init__(self, source: Source, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.start_urls = [url] if url else list(source.urls)
        self.refresh = False
        self.seen: SeenStore | None = None  # opened only in a real crawl, not by `newsdesk parse`
        self.state: CrawlState | None = None
        self._listed: dict[str, str] = {}  # key → listing fingerprint, for items followed this run
        self._handled: dict[str, str] = {}  # listing marks to write once their records were handled
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._failed_articles = 0
        self._followed: set[str] = set()  # keys followed this run (article requested, or known)
        self._retries_sent = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        source = kwargs.pop("source", None)
        if source is None:
            raise UsageError(f"spider {cls.name} needs a source: scrapy crawl {cls.name} -a source=<id>")
        if isinstance(source, str):
            home = home_of(crawler.settings)
            try:
                source = get_source(source, home.sources_file)
            except SourceConfigError as exc:
                raise UsageError(str(exc)) from None
        try:
            spider = super().from_crawler(crawler, *args, source=source, **kwargs)
        except SourceConfigError as exc:
            raise UsageError(f"source {source.id}: {exc}") from None
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.closed_state, signal=signals.spider_closed)
        crawler.signals.connect(spider.retry_pending, signal=signals.spider_idle)
        outcomes = ItemOutcomes.of(crawler)
        outcomes.listen(spider.item_handled, dropped=True)
        outcomes.on_written(spider.item_handled)
        return spider  # type: ignore[return-value]

    # --- options -------------------------------------------------------------------

    def option(self, name: str, default: Any = None) -> Any:
        """A key of the source's ``options`` table."""
        return self.source.options.get(name, default)

    @property
    def follow_articles(self) -> bool:
        """Whether item links are followed to their article pages (option ``follow``)."""
        return bool(self.option("follow", True))

    # --- lifecycle -----------------------------------------------------------------

    def opened(self, spider: scrapy.Spider) -> None:
        """A real crawl starts: open the dedupe store (read) and the crawl state."""
        if spider is not self:
            return
        home = home_of(self.crawler.settings)
        self.refresh = self.crawler.settings.getbool("NEWSDESK_REFRESH")
        self.seen = SeenStore.open(home.state / "seen.sqlite")
        self.state = CrawlState(home.state / "crawl.sqlite")

    def closed_state(self, spider: scrapy.Spider, reason: str) -> None:
        """Save listing marks; save feed validators only if the run finished cleanly."""
        if spider is not self:
            return
        if self._failed_articles > LOGGED_FAILURES:
            self.logger.info("%d article pages not fetched in all; their records were kept as listed",
                             self._failed_articles)
        if self.state is None:
            return
        self.state.mark_listings(self._handled)
        self._handled.clear()
        if reason == "finished":
            for url, (etag, modified) in self._validators.items():
                self.state.set_validators(url, etag, modified)
        self.state.close()
        if self.seen is not None:
            self.seen.close()
        self.state = self.seen = None

    def item_handled(self, item: Any, response: Response | None = None) -> None:
        """A record reached the outbox or was dropped on purpose: its listing counts as seen."""
        if self.state is None:
            return
        key = adapt(item).get("key")
        if key and key in self._listed:
            self._handled[key] = self._listed.pop(key)
            if len(self._handled) >= 200:
                self.state.mark_listings(self._handled)
                self._handled.clear()

    # --- start pages ---------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_urls:
            yield self.page_request(url, self.parse)

    def page_request(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> scrapy.Request:
        """A request for a list page, feed or sitemap: always fetched, conditional if the kind says so."""
        headers: dict[str, str] = {}
        meta: dict[str, Any] = {}
        if self.conditional:
            meta["handle_httpstatus_list"] = [304]
            if self.state is not None and not self.refresh:
                etag, modified = self.state.validators(url)
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
        return scrapy.Request(url, callback=callback, errback=self.page_failed, dont_filter=True,
                              headers=headers, meta=meta, **kwargs)

    def unpacked(self, body: bytes, url: str) -> bytes | None:
        """The body, gunzipped if it is gzip data; None (a counted drop, logged) past DOWNLOAD_MAXSIZE."""
        try:
            return inflate(body, self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        except TooLarge as exc:
            self.count("dropped/too_big")
            self.logger.warning("refused %s: %s", url, exc)
            return None

    def read_xml(self, body: bytes, url: str) -> tuple[bool, Any]:
        """(True, the lxml root or None if not XML); (False, None), a counted drop, if it declares a DTD."""
        try:
            return True, parse_xml(body)
        except HostileXML as exc:
            self.count("dropped/hostile_xml")
            self.logger.warning("refused %s: %s", url, exc)
            return False, None

    def not_modified(self, response: Response) -> bool:
        """True for a 304 (counted, quiet); otherwise remember the answer's validators."""
        if response.status == 304:
            self.count("not_modified")
            self.logger.info("not modified since the last run: %s", response.url)
            return True
        if self.conditional:
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
            self._validators[response.request.url if response.request else response.url] = (
                etag.decode("latin-1") if etag else None,
                modified.decode("latin-1") if modified else None,
            )
        return False

    def page_failed(self, failure: Failure) -> None:
        """A start page could not be fetched (the run failed): count it and say why, in one line."""
        request = failure.request  # type: ignore[attr-defined]
        url = (request.meta.get("redirect_urls") or [request.url])[0]  # the start page, not the last hop
        cause = failure_cause(failure)
        self.count("page_failed")
        assert self.crawler.stats is not None
        if not self.crawler.stats.get_value("newsdesk/page_failed_cause"):
            self.crawler.stats.set_value("newsdesk/page_failed_cause", f"{cause}: {url}")
        self.logger.warning("page not fetched (%s): %s", cause, url)

    # --- articles ------------------------------------------------------------------

    def is_known(self, key: str, listed: str) -> bool:
        """The key is archived and was listed the same way last time."""
        if self.refresh or self.seen is None or self.state is None:
            return False
        # kept: the dedupe pipeline asks again when the item arrives
        return self.seen.get(key, keep=True) is not None and self.state.listing(key) == listed

    def follow(self, item: NewsItem, callback: Callable[..., Any] | None = None) -> Iterator[Any]:
        """Yield a request for the item's article page, or the item itself when no fetch is due.

        A known, unchanged item yields a :class:`KnownListing` (dropped by the
        dedupe pipeline as unchanged) so the run still counts it as seen.
        """
        if not item.url or not self.follow_articles or not item.url.startswith(("http://", "https://")):
            yield item  # nothing to fetch (a link-less item, or a link validate will refuse)
            return
        try:
            key = canonical_url(item.url)
        except ValueError:
            yield item  # validate drops it with the reason
            return
        if key in self._followed:  # listed twice this run: the first listing stands for both
            yield RepeatedListing(**asdict(item))
            return
        self._followed.add(key)
        listed = listing_fingerprint(item)
        self._listed[key] = listed
        if self.is_known(key, listed):
            self.count("article_known")
            yield KnownListing(**asdict(item))
            return
        yield self.article_request(key, item, callback)

    def article_request(self, key: str, item: NewsItem, callback: Callable[..., Any] | None = None) -> scrapy.Request:
        """The request for ``item``'s article page, counted until its item comes back (see :mod:`newsdesk.core.tally`)."""
        self._followed.add(key)
        self.count("articles_followed")
        name = getattr(callback, "__name__", "parse_article")
        # dont_filter: the duplicate filter would drop a redirect hop silently (no errback); keys dedupe instead.
        return scrapy.Request(item.url, callback=self.article_page, errback=self.article_failed,
                              cb_kwargs={"item": item}, meta={ARTICLE_CALLBACK: name}, dont_filter=True)

    def article_page(self, response: Response, item: NewsItem) -> Iterator[Any]:
        """Run the article callback the item was followed with; then its article step is over (counted).

        A callback that raises leaves the item uncounted: the run's tally shows it as ``unfinished``.
        """
        callback = getattr(self, response.meta.get(ARTICLE_CALLBACK) or "parse_article")
        yield from callback(response, item=item)
        self.article_done(item, fetched=True)

    def article_done(self, item: NewsItem, *, fetched: bool) -> NewsItem:
        """The article step is over for ``item``: count it; a fetched page leaves the retry list."""
        self.count("articles_done")
        if fetched and self.state is not None and item.url:
            try:
                self.state.drop_pending(self.source.id, canonical_url(item.url))
            except ValueError:
                pass
        return item

    def retry_pending(self, spider: scrapy.Spider) -> None:
        """When the run has nothing left to do: fetch again the article pages that failed before."""
        if spider is not self or self._retries_sent or self.state is None or not self.follow_articles:
            return
        self._retries_sent = True
        sent = 0
        for key, data in self.state.pending(self.source.id):
            if key in self._followed:
                continue  # listed again this run, and fetched with it
            try:
                item = NewsItem.from_dict(json.loads(data))
            except (ValueError, TypeError) as exc:
                self.logger.info("pending article %s unreadable (%s); forgotten", key, exc)
                self.state.drop_pending(self.source.id, key)
                continue
            self._listed[key] = listing_fingerprint(item)
            self.count("article_retried")
            self.crawler.engine.crawl(self.article_request(key, item))  # type: ignore[union-attr]
            sent += 1
        if sent:
            self.logger.info("fetching %d article pages again that failed in earlier runs", sent)
            raise DontCloseSpider

    def parse_article(self, response: Response, item: NewsItem) -> Iterator[NewsItem]:
        """Complete a listed record from its article page (JSON-LD, meta tags, selectors, text)."""
        from scraper.extract import extract_article

        if not isinstance(response, scrapy.http.TextResponse):
            self.count("article_unreadable")
            self.logger.info("article is not text (%s): %s", response.headers.get("Content-Type"), response.url)
            yield item
            return
        try:
            # The text as the charset check left it: decoded once, never again from the bytes.
            article = extract_article(response.text, response.url, self.option("article_selectors"))
        except Exception as exc:  # noqa: BLE001 (any page may break a parser: the listed record stays)
            self.count("article_unreadable")
            self.count(f"article_unreadable/{type(exc).__name__}")
            self.logger.warning("article not readable (%s: %.200s): %s", type(exc).__name__, exc, response.url)
            yield item
            return
        merge_article(item, article, dates_from=self.option("dates_from", "article"))
        yield item

    def article_failed(self, failure: Failure) -> Iterator[NewsItem]:
        """The article page could not be fetched: keep the listed record, count the failure, retry it later.

        A link robots.txt disallows is counted apart (not an error) and not retried.
        """
        request = failure.request  # type: ignore[attr-defined]
        item = request.cb_kwargs["item"]
        if is_robots_refusal(failure):
            self.count("robots_disallowed")
            yield self.article_done(item, fetched=False)
            return
        self.count("article_failed")
        self._failed_articles += 1
        failed = self._failed_articles
        cause = failure_cause(failure)
        if failed <= LOGGED_FAILURES:
            self.logger.info("article not fetched (%s): %s", cause, request.url)
            if failed == LOGGED_FAILURES:
                self.logger.info("further article pages not fetched are only counted (Scrapy's DEBUG log names each)")
        try:
            key = canonical_url(item.url)
        except (ValueError, TypeError):
            key = None
        if key is not None and self.state is not None:
            attempts = self.state.add_pending(self.source.id, key, item.to_json())
            if attempts >= ARTICLE_ATTEMPTS:
                self.state.drop_pending(self.source.id, key)
                self.count("article_given_up")
                self.logger.info("article given up after %d attempts (%s): %s", attempts, cause, request.url)
            else:
                self._listed.pop(key, None)  # not marked: the next run tries again
        yield self.article_done(item, fetched=False)

    def count(self, key: str, n: int = 1) -> None:
        """Add to a ``newsdesk/...`` stat."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsdesk/{key}", n)
