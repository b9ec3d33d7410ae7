"""The Jerusalem Post's breaking-news page: a lead article, then a list of short items.

List item: ``div.breaking-news-link-container > a[href][title]``; the headline
is in ``span.breaking-news-ticker-date`` (despite the name), and
``ul.breaking-news-reporter-date`` holds the byline ``li`` and the time ``li``
("10/24/2024 07:13 PM", Israel time).  Each item's article page is followed
for title, authors, printed date and body, and merged into the same record.
The article's ``itemprop=datePublished`` is Israel clock time labelled as UTC:
it is never used; the printed date, read in Asia/Jerusalem, is.  That trap,
the lead item printed on the list page itself and the paragraph markup are why
this source keeps its own spider rather than a ``list`` config: the generic
extractor would believe the mislabelled date.  A known article is not fetched
again (``NewsSpider.follow``).
A source may name other body selectors: ``options.article_body = ["div.x"]`` (CSS, or XPath as
everywhere: :mod:`scraper.selector`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from newsdesk.core.record import NewsItem
from scraper.selector import select
from scraper.spiders import NewsSpider

LIST_ITEM = "div.breaking-news-link-container > a[href][title]"
ARTICLE_BODY = ("div.article-inner-content-breaking-news", "div.article-inner-content")
# Visible text only: a <script> inside a headline must not become the headline.
VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
# Paragraphs are split by <div class="fake-br-for-article-body">; premium teasers are dropped.
BODY_PARTS = "./node()[not(self::div[contains(concat(' ', normalize-space(@class), ' '), ' hide-for-premium ')])]"


class JPostBreakingSpider(NewsSpider):
    """Yields one ``breaking`` record per list item, completed from its article page."""

    name = "jpost_breaking"
    time_formats = ("%m/%d/%Y %I:%M %p",)  # "10/24/2024 07:13 PM": strptime, much faster than guessing

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        lead = self.lead_item(response)
        if lead is not None:
            yield lead
        links = response.css(LIST_ITEM)
        self.count("list_items", len(links))
        if not links and lead is None:
            self.count("layout/no_items")
            self.logger.warning("layout: %r matched nothing on %s (did the page change?)", LIST_ITEM, response.url)
        for link in links:
            reporter_date = link.css("ul.breaking-news-reporter-date > li")
            item = NewsItem(
                kind="breaking",
                url=response.urljoin(link.attrib["href"]),
                title="".join(link.css("span.breaking-news-ticker-date").xpath(VISIBLE_TEXT).getall())
                or link.attrib.get("title"),
                byline=reporter_date[0].xpath("string()").get() if reporter_date else None,
                published_raw=reporter_date[1].xpath("string()").get() if len(reporter_date) > 1 else None,
            )
            yield from self.follow(item)

    def lead_item(self, response: Response) -> NewsItem | None:
        """The lead article printed at the top of the list page, if there is one."""
        title = "".join(response.css("h1.article-title").xpath(VISIBLE_TEXT).getall())
        if not title.strip():
            return None
        href = response.css("h1.article-title a::attr(href)").get()
        item = NewsItem(kind="breaking", url=response.urljoin(href) if href else None, title=title)
        self.fill_from_article(response, item)
        return item

    def parse_article(self, response: Response, item: NewsItem) -> Iterator[NewsItem]:
        self.fill_from_article(response, item)
        yield item

    def fill_from_article(self, response: Response, item: NewsItem) -> None:
        """Select the article page's fields into ``item`` (raw; the pipelines clean)."""
        title = "".join(response.css("h1.article-title").xpath(VISIBLE_TEXT).getall())
        if title.strip():
            item.title = title
        else:
            self.count("layout/article_no_title")
        item.authors = response.css("div.author span.article-reporter").xpath("string()").getall()
        if not item.byline and item.authors:
            item.byline = " and ".join(a.strip() for a in item.authors)
        printed = response.css("div.article-subline-name").xpath("string()").get()
        if printed and printed.strip():
            if printed.strip().lower().startswith("updated"):
                item.updated_raw = printed
            else:
                if item.published_raw:
                    item.extra["listed_raw"] = item.published_raw
                item.published_raw = printed
        else:
            self.count("layout/article_no_date")
        for selector in self.body_selectors:
            body = select(response.selector, selector)
            if body:
                item.body = "".join(body[0].xpath(BODY_PARTS).getall())
                break
        else:
            self.count("layout/article_no_body")
            self.logger.warning("layout: no article body (%s) on %s", " / ".join(self.body_selectors), response.url)

    @property
    def body_selectors(self) -> tuple[str, ...]:
        """Selectors for the article body (:mod:`scraper.selector`): ``options.article_body``, else ours."""
        value = self.source.options.get("article_body", ARTICLE_BODY)
        return (value,) if isinstance(value, str) else tuple(value)
