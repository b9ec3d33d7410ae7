"""JSON-LD: the article objects of a page (also inside ``@graph``, lists, ``mainEntity``) and their values."""

from __future__ import annotations

from html import unescape
import json
import logging
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from parsel import Selector

from scraper.text import clean_line

logger = logging.getLogger(__name__)

#: schema.org types that describe the article itself.
ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle",
    "askpublicnewsarticle", "blogposting", "liveblogposting", "socialmediaposting",
    "scholarlyarticle", "techarticle", "report", "satiricalarticle", "advertisercontentarticle",
})
#: JSON-LD nested deeper than this is not read: real blocks nest a few levels, and a hostile
#: one nesting 60,000 would exhaust the stack of the JSON parser and of the walk over it.
MAX_JSONLD_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_JSON_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_JSON_COMMENTS = re.compile(r"^\s*(?://[^\n]*\n|/\*.*?\*/|<!--|-->|<!\[CDATA\[|\]\]>)", re.DOTALL)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_URLISH = re.compile(r"^(?:https?:)?//|^www\.", re.IGNORECASE)


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
