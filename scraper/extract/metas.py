"""Meta tags (OpenGraph, ``article:*``, ``itemprop``, Dublin Core, parsely, sailthru) and microdata values."""

from __future__ import annotations

from parsel import Selector

from scraper.text import clean_line


def _metas(sel: Selector) -> dict[str, list[str]]:
    """Meta tag values by lower-cased name/property/itemprop, in page order."""
    values: dict[str, list[str]] = {}
    for meta in sel.xpath("//meta"):
        content = meta.attrib.get("content")
        if content is None:
            content = meta.attrib.get("datetime") or meta.attrib.get("value")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.attrib.get(attr)
            if key:
                values.setdefault(key.strip().casefold(), []).append(content.strip())
    return values


def _first(metas: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        for value in metas.get(name, []):
            text = clean_line(value)
            if text:
                return text
    return None


def _itemprop(sel: Selector, prop: str) -> str | None:
    """A microdata value (not a meta tag): datetime/content attribute, else the text."""
    for node in sel.xpath(f'//*[@itemprop="{prop}"][not(self::meta)]'):
        value = node.attrib.get("datetime") or node.attrib.get("content")
        if value is None:
            value = " ".join(node.xpath(".//text()").getall())
        text = clean_line(value)
        if text:
            return text
    return None


_META_TITLE = ("og:title", "twitter:title", "dc.title", "dcterms.title", "parsely-title",
               "sailthru.title", "headline", "title")
_META_PUBLISHED = ("article:published_time", "article:published", "og:article:published_time",
                   "datepublished", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
                   "dcterms.created", "dc.date.created", "parsely-pub-date", "sailthru.date",
                   "pubdate", "publishdate", "publish-date", "publish_date", "date", "article.published",
                   "og:published_time", "cxenseparse:recs:publishtime")
_META_UPDATED = ("article:modified_time", "og:updated_time", "article:modified", "datemodified",
                 "dc.date.modified", "dcterms.modified", "last-modified", "lastmod", "article.updated",
                 "sailthru.lastmodified")
_META_AUTHOR = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author",
                "sailthru.author", "byl", "byline", "cxenseparse:author", "og:article:author")
