"""One parsed page and its evidence, each read once: JSON-LD articles, meta tags, selectors, printed dates."""

from __future__ import annotations

import functools
from typing import Any

from parsel import Selector

from scraper.extract.fallbacks import _generic, _main_text
from scraper.extract.jsonld import _jsonld_articles, _ld_list, _ld_text, _url_key
from scraper.extract.metas import _first, _metas
from scraper.extract.parsing import _selector, _to_text
from scraper.extract.printed_dates import _labelled_dates, _PrintedDates, _printed_times
from scraper.extract.selected import _by_selector, _node_text
from scraper.titles import TitleContext, fold, plain_letters

_BREADCRUMB_XPATH = '//*[contains(translate(@class, "BREADCRUMB", "breadcrumb"), "breadcrumb")]//a//text()'


class _Page:
    """One parsed page and its evidence: JSON-LD articles, meta tags, the source's selectors."""

    def __init__(self, html: str | bytes, url: str | None, selectors: dict[str, str] | None) -> None:
        self.text = _to_text(html)
        self.sel = _selector(self.text)
        self.url = url
        self.selectors = selectors or {}
        own_urls = {k for k in (_url_key(url), _url_key(self.sel.xpath('//link[@rel="canonical"]/@href').get()),
                                _url_key(self.sel.xpath('//meta[@property="og:url"]/@content').get())) if k}
        self.articles = _jsonld_articles(self.sel, own_urls)
        self.metas = _metas(self.sel)
        self.site_names = {fold(n) for n in [*self.metas.get("og:site_name", []),
                                              *self.metas.get("application-name", []),
                                              _ld_text(self.ld("publisher")) or ""] if n}
        self._generic: dict[str, Any] | None = None
        self._spare_tree: Any = None  # the page's tree kept unread for main_text
        self._title_context: TitleContext | None = None
        #: The page's own section names (metadata, breadcrumbs), folded.
        self.sections = {fold(s) for s in [*self.metas.get("article:section", []), *_ld_list(self.ld("articleSection")),
                                           *self.sel.xpath(_BREADCRUMB_XPATH).getall()] if s.strip()}

    def ld(self, *keys: str) -> Any:
        """The first non-empty value of ``keys`` in the JSON-LD articles, best article first."""
        for node in self.articles:
            for key in keys:
                if node.get(key) not in (None, "", []):
                    return node[key]
        return None

    def meta(self, *names: str) -> str | None:
        return _first(self.metas, *names)

    def selected(self, name: str) -> list[Selector]:
        """What the source's selector ``name`` matches (nothing if it has none)."""
        return _by_selector(self.sel, self.selectors, name)

    def selected_text(self, name: str) -> str | None:
        nodes = self.selected(name)
        return _node_text(nodes[0]) if nodes else None

    def is_site(self, name: str) -> bool:
        """Whether a name is the publication itself: its og:site_name or publisher, or the name its host spells.

        "Seattle Times" on seattletimes.com, "CNN" on cnn.com (letters and digits, accents aside).
        """
        if fold(name) in self.site_names:
            return True
        host = self.title_context.host
        return bool(host) and plain_letters(name) in (host, "the" + host)

    @functools.cached_property
    def labelled(self) -> _PrintedDates:
        """Dates printed with a "Published" / "Updated" label in the text (``_labelled_dates``)."""
        return _labelled_dates(self.sel)

    @functools.cached_property
    def times(self) -> tuple[list[str], list[str]]:
        """The page's printed <time>s: publication times, update times (``_printed_times``)."""
        return _printed_times(self.sel)

    @property
    def title_context(self) -> TitleContext:
        """The page's site names, sections and <h1> headlines, for judging its titles."""
        if self._title_context is None:
            self._title_context = TitleContext(self.sel, self.site_names, self.url, self.sections)
        return self._title_context

    @functools.cached_property
    def main_text(self) -> str | None:
        """trafilatura's precise text with the paragraphs inside the article it left out (``_main_text``)."""
        text = self.generic.get("text")
        spare, self._spare_tree = self._spare_tree, None  # read once
        return _main_text(spare, self.url, text)

    @property
    def generic(self) -> dict[str, Any]:
        """trafilatura's reading of the page, computed once."""
        if self._generic is None:
            self._generic, self._spare_tree = _generic(self.text, self.url)
        return self._generic
