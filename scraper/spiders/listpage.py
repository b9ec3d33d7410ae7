"""Config-defined list pages: a source names the selectors, no new spider is written.

A source with ``spider = "list"`` gives, under ``options``:

* ``item`` (required): selects each entry of the list;
* ``headline``, ``link``, ``byline``, ``time``, ``summary``, ``section``:
  each relative to the entry.  ``link`` defaults to ``a::attr(href)`` and
  ``headline`` to the text of the first link;
* ``time_format``: the ``strptime`` format(s) the page prints (tried before
  guessing; the time is read in the source's ``timezone`` unless it names a
  zone); ``dayfirst`` at the source level settles "03/04" otherwise;
* ``follow``, ``dates_from``, ``article_selectors``: see :class:`NewsSpider`.

A selector is CSS unless it starts with ``/``, ``./``, ``(`` or ``xpath:``
(:mod:`scraper.selector`, the same syntax as ``article_selectors``).
A selector that picks an element yields its text; one that picks an
attribute (``::attr(href)``, ``@datetime``) or text yields that value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Response

from newsdesk.core.record import NewsItem
from scraper.selector import select
from scraper.sources import SourceConfigError
from scraper.spiders import NewsSpider

FIELDS = ("headline", "link", "byline", "time", "summary", "section")


def first_text(scope: Selector, expression: str | None) -> str | None:
    """The first match as text: an attribute or text node as is, an element's full text."""
    if not expression:
        return None
    for match in select(scope, expression):
        value = match.root if isinstance(match.root, str) else match.xpath("string()").get()
        if value and value.strip():
            return value
    return None


class ListPageSpider(NewsSpider):
    """Yields one ``breaking`` record per list entry, completed from its article page."""

    name = "list"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.selectors: dict[str, str] = {}
        if not isinstance(self.option("item"), str) or not self.option("item").strip():
            raise SourceConfigError("spider 'list' needs options.item, a CSS or XPath selector for each entry")
        for name in ("item", *FIELDS):
            value = self.option(name)
            if value is not None and not isinstance(value, str):
                raise SourceConfigError(f"options.{name} must be a selector string")
            if value:
                self.selectors[name] = value
        self.selectors.setdefault("link", "a::attr(href)")

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        entries = select(response.selector, self.selectors["item"])  # type: ignore[attr-defined]
        self.count("list_items", len(entries))
        if not entries:
            self.count("layout/no_items")
            self.logger.warning("layout: %r matched nothing on %s (did the page change?)",
                                self.selectors["item"], response.url)
        for entry in entries:
            link = first_text(entry, self.selectors["link"])
            headline = first_text(entry, self.selectors.get("headline") or "a")
            item = NewsItem(
                kind="breaking",
                url=response.urljoin(link.strip()) if link else None,
                title=headline,
                byline=first_text(entry, self.selectors.get("byline")),
                published_raw=first_text(entry, self.selectors.get("time")),
                summary=first_text(entry, self.selectors.get("summary")),
                section=first_text(entry, self.selectors.get("section")),
            )
            if item.url is None:
                self.count("layout/item_without_link")
            yield from self.follow(item)
