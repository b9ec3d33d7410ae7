"""Article pages → title, authors, dates, body: what a spider keeps from a followed link.

Each field is taken from the first kind of evidence that has it:

1. JSON-LD (``NewsArticle``, ``Article``, ``ReportageNewsArticle``, ``BlogPosting`` …,
   also inside ``@graph``, lists and ``mainEntity``);
2. meta tags (OpenGraph, ``article:published_time``, ``itemprop``, Dublin Core,
   parsely, sailthru, plain ``author``/``description``);
3. the source's own selectors (``selectors`` below);
4. generic rules: the printed byline (class "byline", ``rel``/``itemprop`` author),
   ``<time>`` elements, the ``<title>`` without the site's name, and trafilatura's
   main text (precision mode).

The body is the exception to "first found wins": JSON-LD ``articleBody`` is a
teaser on many sites, so it is used only when it is at least half as long as the
page's main text (from the selectors, else trafilatura); otherwise the page text is.

Selectors: a dict whose keys are ``title``, ``author``, ``date``, ``body`` (also
``summary``, ``section``) and whose values are CSS selectors, or XPath
expressions when they start with ``/``, ``./`` or ``(``.  The text of every
matched element is used (all of them joined for ``author`` and ``body``); for
``date`` a ``datetime`` or ``content`` attribute wins over the text.  Parsel's
``::text`` and ``::attr(name)`` pseudo-elements work in CSS too.

Dates come back raw (``published_raw``): ``scraper.dates.parse_printed`` reads them,
a zone-less one in the source's zone.  Authors are cleaned person names
(``scraper.bylines``); a wire agency or desk in a byline goes to ``agency``, and
``credits`` lists everyone credited (people, then agencies and organisations as printed).
"""

from __future__ import annotations

import functools
from html import unescape
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate
from typing import Any

from lxml import etree
from parsel import Selector

from scraper.bylines import parse_byline
from scraper.dates import names_its_zone, parse_printed
from scraper.text import clean_block, clean_line, decode_html
from scraper.titles import TitleContext, clean_title, fold, h1_texts, squash

logger = logging.getLogger(__name__)

#: schema.org types that describe the article itself.
ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle",
    "askpublicnewsarticle", "blogposting", "liveblogposting", "socialmediaposting",
    "scholarlyarticle", "techarticle", "report", "satiricalarticle", "advertisercontentarticle",
})
_XPATH_START = ("/", "./", "(")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
#: JSON-LD nested deeper than this is not read: real blocks nest a few levels, and a hostile
#: one nesting 60,000 would exhaust the stack of the JSON parser and of the walk over it.
MAX_JSONLD_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_JSON_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_JSON_COMMENTS = re.compile(r"^\s*(?://[^\n]*\n|/\*.*?\*/|<!--|-->|<!\[CDATA\[|\]\]>)", re.DOTALL)
#: JSON-LD articleBody shorter than this share of the page's main text is a teaser.
_TEASER_RATIO = 0.5
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_URLISH = re.compile(r"^(?:https?:)?//|^www\.", re.IGNORECASE)


@dataclass
class ExtractedArticle:
    """What an article page says about itself; every field may be missing."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)  # cleaned person names
    published_raw: str | None = None  # as found; zone-less ones are read in the source's zone
    updated_raw: str | None = None
    body: str | None = None  # plain text, paragraphs separated by "\n"
    summary: str | None = None
    language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    agency: str | None = None  # wire agency or desk from the byline (scraper/bylines.py)
    byline: str | None = None  # the author text as found, before cleaning
    #: Everyone credited, in order: people (as in ``authors``), then agencies, desks and
    #: organisations named as authors, as printed ("The Associated Press").
    credits: list[str] = field(default_factory=list)


# --- parsing ---------------------------------------------------------------------------

def _to_text(html: str | bytes) -> str:
    """Page text (bytes decoded by ``scraper.text.decode_html``) without an XML declaration."""
    if isinstance(html, bytes):
        html = decode_html(html)
    return _XML_DECLARATION.sub("", html, count=1)


def _selector(text: str) -> Selector:
    return Selector(text=text or "<html></html>", type="html")


# --- JSON-LD ---------------------------------------------------------------------------

def _load_json(raw: str) -> Any:
    """Parse one JSON-LD block, tolerating comments, CDATA and raw control characters."""
    text = raw.strip()
    while True:
        stripped = _JSON_COMMENTS.sub("", text, count=1).strip()
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"(?:\]\]>|-->)\s*$", "", text).strip().rstrip(";")
    if _json_depth(text) > MAX_JSONLD_DEPTH:
        logger.debug("JSON-LD block nested deeper than %d levels: not read", MAX_JSONLD_DEPTH)
        return None
    try:
        return json.loads(text, strict=False)
    except ValueError:
        # Some sites put two objects side by side, or leave a trailing comma.
        repaired = re.sub(r",\s*([}\]])", r"\1", re.sub(r"}\s*{", "},{", text))
        try:
            return json.loads("[" + repaired + "]", strict=False)
        except ValueError:
            logger.debug("unreadable JSON-LD block: %.80s", text)
            return None


def _json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings not counted)."""
    steps = map(_JSON_STEP.__getitem__, _JSON_BRACKET.findall(_JSON_STRING.sub("", text)))
    return max(accumulate(steps), default=0)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside a JSON-LD value (lists, @graph, mainEntity …)."""
    if isinstance(node, list):
        for child in node:
            yield from _walk(child)
    elif isinstance(node, dict):
        yield node
        # Not itemListElement: article lists are related links, not this page.
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "hasPart"):
            if isinstance(node.get(key), (list, dict)):
                yield from _walk(node[key])


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type") or node.get("type") or []
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1].casefold() for k in kinds if isinstance(k, str)}


def _url_key(url: Any) -> str | None:
    """A URL without scheme, www., query, fragment and trailing slash, for comparing."""
    if isinstance(url, dict):
        url = url.get("@id") or url.get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    key = re.sub(r"^(?:https?:)?//(?:www\.)?", "", url.strip().casefold())
    return re.split(r"[?#]", key, maxsplit=1)[0].rstrip("/") or None


def _jsonld_articles(sel: Selector, urls: set[str] | None = None) -> list[dict[str, Any]]:
    """The article objects in a page's JSON-LD, best first.

    :param urls: keys (``_url_key``) of the page's own URLs: an article naming one of
        them comes first, then the one with most fields, then page order.
    """
    found: list[dict[str, Any]] = []
    for raw in sel.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]/text()').getall():
        data = _load_json(raw)
        if data is None:
            continue
        for node in _walk(data):
            if _types(node) & ARTICLE_TYPES and node not in found:
                found.append(node)

    def weight(node: dict[str, Any]) -> tuple[bool, int]:
        own = bool(urls) and any(_url_key(node.get(key)) in (urls or set())
                                 for key in ("url", "@id", "mainEntityOfPage"))
        return own, sum(1 for key in ("headline", "author", "datePublished", "articleBody") if node.get(key))

    return sorted(found, key=weight, reverse=True)


def _ld_text(value: Any) -> str | None:
    """A JSON-LD value as one line of text (first of a list; @value / name of an object)."""
    if isinstance(value, list):
        for item in value:
            text = _ld_text(item)
            if text:
                return text
        return None
    if isinstance(value, dict):
        return _ld_text(value.get("@value") or value.get("name"))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = clean_line(str(value))
        if text and _ENTITY.search(text):  # escaped twice by the CMS ("&amp;#8217;")
            text = clean_line(unescape(text))
        return text
    return None


_ORGANIZATION_TYPES = frozenset({"organization", "newsmediaorganization", "corporation", "ngo"})


def _ld_names(value: Any) -> list[tuple[str, bool]]:
    """Author names from a JSON-LD author value (string, object, list), each with "is an organisation"."""
    if isinstance(value, list):
        return [name for item in value for name in _ld_names(item)]
    if isinstance(value, dict):
        name = value.get("name")
        is_org = bool(_types(value) & _ORGANIZATION_TYPES)
        if isinstance(name, list):
            return [(n, is_org) for n, _ in _ld_names(name)]
        if not name and (value.get("givenName") or value.get("familyName")):
            name = f"{value.get('givenName', '')} {value.get('familyName', '')}"
        text = clean_line(name) if isinstance(name, str) else None
        return [(text, is_org)] if text and not _URLISH.match(text) else []
    if isinstance(value, str):
        text = clean_line(value)
        return [(text, False)] if text and not _URLISH.match(text) else []
    return []


def _ld_list(value: Any) -> list[str]:
    """Keywords/sections: a list, or a comma-separated string."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _ld_text(item)
        if not text:
            continue
        for part in text.split(",") if isinstance(item, str) else [text]:
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


# --- meta tags -------------------------------------------------------------------------

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


# --- selectors -------------------------------------------------------------------------

def _select(sel: Selector, query: str) -> list[Selector]:
    """Apply one configured selector: XPath if it starts with / ./ or (, else CSS."""
    query = query.strip()
    return sel.xpath(query) if query.startswith(_XPATH_START) else sel.css(query)


def _node_text(node: Selector, *, block: bool = False) -> str | None:
    root = node.root
    if isinstance(root, str):
        return clean_block(root) if block else clean_line(root)
    if block:
        return clean_block(node.get())
    return clean_line(" ".join(node.xpath(".//text()").getall()))


def _by_selector(sel: Selector, selectors: dict[str, str], name: str) -> list[Selector]:
    query = selectors.get(name)
    if not query:
        return []
    try:
        return list(_select(sel, query))
    except (ValueError, etree.XPathError) as exc:
        logger.warning("selector %s=%r is not valid CSS/XPath: %s", name, query, exc)
        return []


# --- generic fallbacks -----------------------------------------------------------------

def _generic(text: str, url: str | None) -> dict[str, Any]:
    """trafilatura's reading of the page (body and metadata); {} if it finds nothing."""
    if not _has_markup(text):
        return {}
    import trafilatura  # lazy: only pages that need it pay the import

    try:
        doc = trafilatura.bare_extraction(
            text, url=url, with_metadata=True, include_comments=False, include_tables=False,
            favor_precision=True, deduplicate=False,
        )
    except Exception as exc:  # trafilatura can fail on odd markup; the other layers still count
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return {}
    if doc is None:
        return {}
    return doc if isinstance(doc, dict) else doc.as_dict()


def _has_markup(text: str) -> bool:
    """Whether a page has any markup or words at all (trafilatura logs errors on empty trees)."""
    return bool(re.search(r"<(?:html|body|head|p|div|article|main|h1|title)\b", text, re.IGNORECASE))


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


def _htmldate(text: str, url: str | None) -> str | None:
    """htmldate's reading of the original publication time ("2024-05-14T16:20:00+0200" or a day)."""
    from htmldate import find_date  # lazy, like trafilatura (which depends on it)

    try:
        found = find_date(text, url=url, original_date=True, extensive_search=True,
                          outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception as exc:  # htmldate can fail on odd markup; the date stays unknown
        logger.debug("htmldate failed on %s: %s", url, exc)
        return None
    if found and found.endswith("T00:00:00"):
        return found[:10]  # midnight without a zone: htmldate found a day only
    return found


def _generic_date(page: _Page) -> str | None:
    """A labelled "Published …" date or a printed <time> if htmldate's day agrees, else htmldate's reading."""
    found = _htmldate(page.text, page.url) if _has_markup(page.text) else None
    labelled = page.labelled.published
    if labelled and (not found or _same_day(labelled, found)):
        return labelled
    printed_at = next(iter(page.times[0]), None)
    if printed_at and (not found or _same_day(printed_at, found)):
        if re.search(r"\d:\d\d", printed_at) or not found or len(found) == 10:
            return printed_at  # it has a time of day, or htmldate has nothing better
    return found or printed_at


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


def _without_headline(body: str | None, title: str | None) -> str | None:
    """The body without the headline repeated at its top (and a kicker line above it)."""
    if not body or not title:
        return body
    lines = body.split("\n")
    for i, line in enumerate(lines[:3]):
        if fold(line) == fold(title):
            above = lines[:i]
            if all(len(x.split()) <= 4 for x in above) and len(lines) > i + 1:
                return "\n".join(lines[i + 1:])
            break
    return body


#: A line that is only a byline: names (capitalized words, initials) joined by separators.
_BYLINE_LINE = re.compile(
    r"(?:(?:by|par|por|von)\s+)?[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,3}"
    r"(?:\s*(?:/|,|&|\band\b|\bund\b|\bet\b|\by\b)\s*[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,3}){0,4}",
    re.IGNORECASE,
)


def _byline_line(line: str) -> list[str]:
    """People named by a line that is only a byline ("By A and B, Reuters", "A / B"), else []."""
    line = line.strip()
    if len(line) > 100 or not _BYLINE_LINE.fullmatch(line):
        return []
    joiners = {"and", "und", "et", "y", "by", "par", "por", "von"}
    words = re.findall(r"[^\W\d_][\w'’-]*", line)
    if not all(w[0].isupper() for w in words if w.casefold() not in joiners):
        return []
    people = parse_byline(line).authors
    if re.match(r"(?:by|par|por|von)\s", line, re.IGNORECASE):
        return people
    # Without "By", only full names joined by "/", "&" or "and" ("A B / C D"; not "Paris, France").
    if re.search(r"/|&|\band\b", line) and len(people) > 1 and all(len(p.split()) >= 2 for p in people):
        return people
    return []


def _body_byline(body: str | None) -> tuple[str | None, str | None]:
    """A byline naming people printed among the body's first lines, and the body without it."""
    if not body or "\n" not in body:
        return None, body
    lines = body.split("\n")
    for i, line in enumerate(lines[:3]):
        if _byline_line(line):
            return line.strip(), "\n".join(lines[:i] + lines[i + 1:])
    return None, body


def _without_credit_lines(body: str | None, credits: list[str]) -> str | None:
    """The body without a first or last line that is only a credited name ("IN-Redaktion")."""
    if not body or not credits or "\n" not in body:
        return body
    names = {fold(c) for c in credits}
    lines = body.split("\n")
    if fold(lines[0]) in names:
        lines = lines[1:]
    if len(lines) > 1 and fold(lines[-1]) in names:
        lines = lines[:-1]
    return "\n".join(lines)


def _paragraphs_like(flat: str, page_text: str | None) -> str:
    """Break a one-line JSON-LD body where the page's own paragraphs start."""
    if "\n" in flat or not page_text or "\n" not in page_text:
        return flat
    cuts = set()
    for paragraph in page_text.split("\n")[1:]:
        start = paragraph.strip()[:40]
        if len(start) >= 20:
            at = flat.find(start)
            if at > 0:
                cuts.add(at)
    if not cuts:
        return flat
    pieces, last = [], 0
    for at in sorted(cuts):
        pieces.append(flat[last:at].strip())
        last = at
    pieces.append(flat[last:].strip())
    return "\n".join(p for p in pieces if p)


def _language_tag(value: str | None) -> str | None:
    """'en_US' (og:locale) → 'en-US'; the first of 'de, en'."""
    if not value:
        return None
    tag = re.split(r"[,;\s]", value.strip())[0].replace("_", "-")
    return tag if re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", tag) else None


# --- assembling ------------------------------------------------------------------------

def _authors(page: _Page, result: ExtractedArticle, names: Iterable[str | tuple[str, bool]]) -> bool:
    """Clean raw author strings into ``authors``, ``agency`` and ``credits``; False if none.

    The publication itself (og:site_name, publisher) and the page's section are never people.
    """
    raw = [(n, False) if isinstance(n, str) else n for n in names if n]
    raw = [(n, is_org) for n, is_org in raw if n]
    if not raw:
        return False
    result.byline = ", ".join(n for n, _ in raw)
    for name, is_org in raw:
        if is_org:  # an organisation named as the author: credited, not a person
            org = _BY_PREFIX.sub("", name)
            if org and org not in result.credits:
                result.credits.append(org)
            parsed_org = parse_byline(org, page.site_names)
            result.agency = result.agency or parsed_org.agency or org
            continue
        byline = parse_byline(name, page.site_names)
        for person in byline.authors:
            if fold(person) in page.sections:  # "Politics" printed where the byline goes
                byline.credits.remove(person)
                continue
            if person not in result.authors:
                result.authors.append(person)
        for credit in byline.credits:
            if credit not in result.credits:
                result.credits.append(credit)
        if byline.agency and result.agency is None:
            result.agency = byline.agency
    # People first, then agencies and organisations.
    result.credits.sort(key=lambda c: c not in result.authors)
    return bool(result.credits)


#: Elements that usually hold the printed byline, most specific first.
_BYLINE_XPATHS = (
    '//*[contains(translate(@class, "BYLINE", "byline"), "byline") or contains(translate(@id, "BYLINE", "byline"), "byline")]',
    '//*[@itemprop="author"][not(self::meta or self::link)]',
    '//a[@rel="author"]',
    '//*[not(self::body or self::html or self::article)][contains(translate(@class, "AUTHOR", "author"), "author")]',
    # A short paragraph or credit line that is only "By …" ("By A and B, Reuters" in p.credit).
    '(//article | //main | //body)[1]//*[self::p or self::div or self::span or self::em or self::strong]'
    '[not(*[self::p or self::div])][string-length(normalize-space()) < 150]'
    '[starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "by ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "par ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "von ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "por ")]',
)
_BY_PREFIX = re.compile(r"^\s*by[:\s]+", re.IGNORECASE)
_BREADCRUMB_XPATH = '//*[contains(translate(@class, "BREADCRUMB", "breadcrumb"), "breadcrumb")]//a//text()'


def _printed_byline(sel: Selector) -> list[str]:
    """The first short element that looks like a byline (class "byline", rel/itemprop author …)."""
    for xpath in _BYLINE_XPATHS:
        for node in sel.xpath(xpath)[:20]:
            if node.root.tag in ("script", "style", "noscript", "template", "meta", "link"):
                continue
            text = clean_line(" ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall()))
            if not text or len(text) > 150:
                continue
            if xpath == _BYLINE_XPATHS[-1]:  # any "By …" line: only if it is names and nothing else
                text = re.split(r",\s+in\s", text, maxsplit=1)[0].strip(" ,;.")  # "By X, in News, Sport"
                if not _byline_line(text):
                    continue
            if parse_byline(text).credits:
                return [text]
    return []


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

    @property
    def generic(self) -> dict[str, Any]:
        """trafilatura's reading of the page, computed once."""
        if self._generic is None:
            self._generic = _generic(self.text, self.url)
        return self._generic


def _title(page: _Page) -> str | None:
    """The headline: JSON-LD, meta titles, the title selector, the <title>, each without decoration.

    Two different headlines (one written for search engines or social media): the
    one the page shows as its <h1> wins (scraper.titles).
    """
    context = page.title_context
    printed = clean_title(clean_line(" ".join(page.sel.xpath("//head/title//text()").getall())), context)
    title = _ld_text(page.ld("headline", "name", "alternativeHeadline"))
    meta_title = page.meta(*_META_TITLE)
    if title and title.endswith(("...", "\u2026")):
        # A headline cut to a length limit: a meta title that goes on from it is whole.
        stem = title.rstrip(".\u2026 ")
        if meta_title and meta_title.startswith(stem) and len(meta_title) > len(stem):
            title = meta_title
    title, meta_title = clean_title(title, context), clean_title(meta_title, context)
    if title and meta_title and squash(title) != squash(meta_title):
        if context.is_heading(meta_title) and not context.is_heading(title):
            title = meta_title
    title = title or meta_title or page.selected_text("title") or printed
    if not title and page.sel.xpath("//head/title"):
        # A <title> that is only the site's name: the page's headline is its <h1>.
        shown = [h for h in h1_texts(page.sel.xpath("//article | //main") or page.sel) if h]
        title = (shown or context.headings or [None])[0]
    return title


def _fill_authors(page: _Page, result: ExtractedArticle) -> None:
    """JSON-LD authors, meta authors, then the author selector or the printed byline."""
    names = [(n, is_org or fold(n) in page.site_names)
             for n, is_org in _ld_names(page.ld("author", "creator"))]
    if not names:
        for key in _META_AUTHOR:
            names = [(v, fold(v) in page.site_names) for v in page.metas.get(key, [])
                     if not _URLISH.match(v) and clean_line(v)]
            if names:
                break
    _authors(page, result, names)
    if not result.authors:
        # Metadata named nobody, or only an organisation: the printed byline may name people.
        printed = [t for t in (_node_text(n) for n in page.selected("author")) if t]
        printed = printed or _printed_byline(page.sel)
        if not result.credits or any(parse_byline(t).authors for t in printed):
            _authors(page, result, printed)


def _selected_date(page: _Page) -> str | None:
    """The date selector's value: a datetime/content attribute before the text."""
    for node in page.selected("date"):
        root = node.root
        value = (root.get("datetime") or root.get("content")) if not isinstance(root, str) else None
        found = clean_line(value) or _node_text(node)
        if found:
            return found
    return None


def _body(page: _Page) -> str | None:
    """JSON-LD articleBody unless it is a teaser; else the body selector's text, else trafilatura's."""
    ld_body = page.ld("articleBody", "text")
    ld_text = clean_block(ld_body) if isinstance(ld_body, str) else None
    parts = [t for t in (_node_text(n, block=True) for n in page.selected("body")) if t]
    page_text = "\n".join(parts) or clean_block(page.generic.get("text"))
    if ld_text and (page_text is None or len(ld_text) >= _TEASER_RATIO * len(page_text)):
        return _paragraphs_like(ld_text, page_text)
    return page_text or ld_text


def _complete_dates(page: _Page, result: ExtractedArticle) -> None:
    """A day-only publication date gets the time printed for it; zone-less times the page's offset.

    The page's other dates are only looked at (lazily) when a date lacks a time or a zone.
    """
    def printed() -> Iterator[str | None]:
        yield page.labelled.published
        yield from page.times[0]
        yield _itemprop(page.sel, "datePublished")
        yield from (v for name in _META_PUBLISHED for v in page.metas.get(name, []))

    def everything() -> Iterator[str | None]:
        yield from (result.updated_raw, result.published_raw)
        yield from (_ld_text(node.get(key)) for node in page.articles for key in ("datePublished", "dateModified"))
        yield from printed()
        yield from (v for name in _META_UPDATED for v in page.metas.get(name, []))
        yield from (page.labelled.updated, *page.times[1])

    result.published_raw = _with_time_of_day(result.published_raw, printed())
    result.published_raw = _with_page_offset(result.published_raw, everything())
    result.updated_raw = _with_page_offset(result.updated_raw, everything())


def _without_date_lines(body: str | None) -> str | None:
    """The body without a "Published …" / "Updated …" line among its first lines."""
    if not body or "\n" not in body:
        return body
    lines = body.split("\n")
    kept = [line for i, line in enumerate(lines)
            if i >= 3 or not ((match := _DATE_LABEL.match(line)) and len(line) <= 120
                              and parse_printed(match.group("rest"), "UTC"))]
    return "\n".join(kept) if kept else body


def extract_article(html: str | bytes, url: str | None = None,
                    selectors: dict[str, str] | None = None) -> ExtractedArticle:
    """Extract an article page's fields: JSON-LD, then meta tags, then selectors, then generic.

    :param html: the page, as text or as bytes (decoded by BOM, <meta charset>, else UTF-8).
    :param url: the page URL, if known (helps the generic extractor).
    :param selectors: the source's own selectors (see the module docstring).
    """
    page = _Page(html, url, selectors)
    sel = page.sel
    result = ExtractedArticle(title=_title(page))
    _fill_authors(page, result)
    result.published_raw = (_ld_text(page.ld("datePublished", "dateCreated", "uploadDate"))
                            or page.meta(*_META_PUBLISHED) or _itemprop(sel, "datePublished")
                            or _selected_date(page))
    result.updated_raw = (_ld_text(page.ld("dateModified")) or page.meta(*_META_UPDATED)
                          or _itemprop(sel, "dateModified") or page.labelled.updated
                          or next(iter(page.times[1]), None))
    result.body = _body(page)
    result.summary = (_ld_text(page.ld("description", "abstract"))
                      or page.meta("og:description", "description", "twitter:description", "dc.description")
                      or page.selected_text("summary"))
    result.language = (_ld_text(page.ld("inLanguage")) or clean_line(sel.xpath("/html/@lang").get())
                       or page.meta("content-language", "og:locale", "dc.language", "language"))
    result.section = (_ld_text(page.ld("articleSection")) or page.meta("article:section", "parsely-section")
                      or page.selected_text("section"))
    result.tags = _ld_list(page.ld("keywords")) or [t for t in page.metas.get("article:tag", []) if t]

    # Generic rules for what the page's metadata and the selectors left out.
    if not (result.title and result.published_raw and result.credits):
        generic = page.generic
        result.title = result.title or clean_line(generic.get("title"))
        if not result.credits and generic.get("author"):
            _authors(page, result, [generic["author"]])
        if not result.published_raw:
            result.published_raw = _generic_date(page)
        result.language = result.language or generic.get("language")
    _complete_dates(page, result)
    result.body = _without_date_lines(_without_headline(result.body, result.title))
    if not result.authors:
        # Some sites print the byline as the first line of the text only.
        line, body = _body_byline(result.body)
        if line:
            _authors(page, result, [line])
            result.body = body
    if result.authors:
        # Once people are known, the publication itself named as author is no credit.
        result.credits = [c for c in result.credits if fold(c) not in page.site_names]
        if result.agency and fold(result.agency) in page.site_names:
            result.agency = None
    result.body = _without_credit_lines(result.body, result.credits)
    result.language = _language_tag(result.language)
    return result
