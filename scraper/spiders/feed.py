"""Feeds: RSS 0.9x/1.0 (RDF)/2.0 and Atom through feedparser, JSON Feed through ``json``.

One ``feed`` record per entry: title, link, summary, author as printed,
published/updated as printed (RFC 822 or ISO 8601; the normalize pipeline
reads a zone-less one in the source's zone), categories as tags, full text
(``content:encoded``, Atom ``content``, JSON Feed ``content_html``) as body,
and the custom fields the source names in ``options.extra_fields`` in
``extra``.  The same link twice in one feed yields one record.  Each entry's
link is followed to its article page unless ``options.follow = false``.

Source options:

* ``extra_fields``: element names to keep, e.g. JPost's un-namespaced
  ``["itemID", "isPremium", "Photographer"]`` (feedparser lower-cases names;
  a JSON Feed names keys of the item or of its ``_``-extensions);
* ``updated_field``: a custom element holding the update time (JPost's
  ``UpdateDate``) when the feed has no standard one;
* ``follow``, ``dates_from``, ``article_selectors``: see :class:`NewsSpider`.

Every field newsdesk reads is type-checked (a JSON Feed's against the types
jsonfeed.org 1.1 gives it; every kind's record against ``NewsItem``'s): an
entry with a field of the wrong type (``"url": 12345``, ``"tags": "x"``) is
dropped and counted (``newsdesk/dropped/bad_feed_item``), and the entries
around it are read as usual.

Feeds are fetched with conditional GET; a 304 ends the run quietly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import feedparser
from scrapy.http import Response

from newsdesk.core.record import NewsItem
from scraper.spiders import NewsSpider

JSON_FEED_VERSION = "https://jsonfeed.org/version/"
#: Feed entries dropped for a bad field are logged by name up to this many a feed, then only counted.
LOGGED_BAD_ENTRIES = 3
_SCALAR = (str, int, float)
#: The JSON Feed item fields read here, and the JSON types jsonfeed.org 1.1 allows them
#: (an ``id`` "presented as a number … must be coerced to a string").
_JSON_ITEM_TYPES: dict[str, tuple[type, ...]] = {
    "id": _SCALAR, "url": (str,), "external_url": (str,), "title": (str,), "summary": (str,),
    "content_html": (str,), "content_text": (str,), "date_published": (str,), "date_modified": (str,),
    "language": (str,), "tags": (list,), "author": (dict,), "authors": (list,),
}
#: Record fields a feed fills with one text each.
_TEXT_FIELDS = ("url", "title", "summary", "body", "byline", "published_raw", "updated_raw", "language")


class FeedRead(NamedTuple):
    """What a feed yielded: records (raw values), why it is not a feed at all, why entries were dropped."""

    items: list[NewsItem]
    problem: str | None = None
    bad: tuple[str, ...] = ()


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _json_item_problem(entry: Any) -> str | None:
    """Why a JSON Feed item cannot be read (a field of the wrong type), or None."""
    if not isinstance(entry, dict):
        return f"item is {_json_type(entry)}, not an object"
    for name, types in _JSON_ITEM_TYPES.items():
        value = entry.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            return f"{name} is {_json_type(value)}"
    if any(not isinstance(t, str) for t in entry.get("tags") or []):
        return "tags holds a non-string"
    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    for author in authors:
        if not isinstance(author, dict) or not isinstance(author.get("name", ""), str):
            return "an author is not an object with a string name"
    return None


def _item_problem(item: NewsItem) -> str | None:
    """Why a feed's record has a field of the wrong type for ``NewsItem``, or None."""
    for name in _TEXT_FIELDS:
        value = getattr(item, name)
        if value is not None and not isinstance(value, str):
            return f"{name} is {_json_type(value)}"
    for name in ("authors", "tags"):
        if any(not isinstance(v, str) for v in getattr(item, name)):
            return f"{name} holds a non-string"
    return None


#: Keys holding the text of an element feedparser turned into a dict (a tag's ``term`` …).
_TEXT_KEYS = ("term", "value", "name", "href", "label")


def _text(value: Any) -> str | None:
    """An element's value as text: feedparser's dicts and lists read back, never a Python repr.

    An element feedparser knows by its lower-cased name (JPost's ``<Tags>`` is its
    ``tags``, split on commas into ``{"term": …}`` dicts) comes back as printed.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        found = next((value[key] for key in _TEXT_KEYS if value.get(key)), None)
        return _text(found) if found is not None else (json.dumps(value, ensure_ascii=False) if value else None)
    if isinstance(value, (list, tuple)):
        parts = [text for text in (_text(v) for v in value) if text]
        value = ("," if value and all(isinstance(v, dict) for v in value) else ", ").join(parts)
    value = str(value)
    return value if value.strip() else None


def _checked(items: list[NewsItem], bad: list[str]) -> list[NewsItem]:
    """The records whose fields have the right types; the others' reasons go to ``bad``."""
    kept = []
    for item in items:
        problem = _item_problem(item)
        if problem:
            bad.append(f"{problem}: {item.url if isinstance(item.url, str) else '(no link)'}")
        else:
            kept.append(item)
    return kept


def feedparser_entries(body: bytes, url: str, options: dict[str, Any]) -> FeedRead:
    """Records (raw values) of an RSS/RDF/Atom feed, and an error text if it is not a feed."""
    parsed = feedparser.parse(body, response_headers={"content-location": url},
                              resolve_relative_uris=True, sanitize_html=True)
    if not parsed.entries:
        if parsed.get("bozo"):
            return FeedRead([], f"not a readable feed ({parsed.get('bozo_exception')})")
        if not parsed.get("version"):
            return FeedRead([], "not a feed (no RSS, RDF or Atom root)")
    language = _text(parsed.feed.get("language"))
    extra_fields = [str(n) for n in options.get("extra_fields", [])]
    updated_field = options.get("updated_field")
    items = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link and entry.get("guidislink"):
            link = entry.get("id")
        body_html = None
        for content in entry.get("content", []):
            if content.get("value") and content.get("value") != entry.get("summary"):
                body_html = content["value"]
                break
        names = [a.get("name") for a in entry.get("authors", []) if a.get("name")]
        # dict.get: FeedParserDict.get("updated") silently falls back to "published".
        published = _text(dict.get(entry, "published"))
        updated = _text(dict.get(entry, "updated"))
        if updated_field and not updated:
            updated = _text(entry.get(str(updated_field).lower()))
        if not published and updated:  # RDF dc:date, Atom with only <updated>: the one date given
            published, updated = updated, None
        items.append(NewsItem(
            kind="feed",
            url=link,
            title=entry.get("title"),
            summary=entry.get("summary"),
            body=body_html,
            byline=names[0] if len(names) == 1 else None,
            authors=names if len(names) > 1 else [],
            published_raw=published,
            updated_raw=updated,
            language=_text(entry.get("language")) or language,
            tags=[t.get("term") for t in entry.get("tags", []) if t.get("term")],
            extra={name: _text(entry.get(name.lower())) for name in extra_fields
                   if _text(entry.get(name.lower())) is not None},
        ))
    bad: list[str] = []
    return FeedRead(_checked(items, bad), None, tuple(bad))


def json_feed_entries(body: bytes, options: dict[str, Any]) -> FeedRead:
    """Records (raw values) of a JSON Feed 1.0/1.1, and an error text if it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return FeedRead([], f"not a readable JSON Feed ({type(exc).__name__})")
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(JSON_FEED_VERSION):
        return FeedRead([], "not a JSON Feed (no jsonfeed.org version)")
    entries = data.get("items") or []
    if not isinstance(entries, list):
        return FeedRead([], f"not a readable JSON Feed (items is {_json_type(entries)}, not a list)")
    language = _text(data.get("language")) if isinstance(data.get("language"), str) else None
    extra_fields = [str(n) for n in options.get("extra_fields", [])]
    items = []
    bad: list[str] = []
    for entry in entries:
        problem = _json_item_problem(entry)
        if problem:
            link = entry.get("url") if isinstance(entry, dict) and isinstance(entry.get("url"), str) else None
            bad.append(f"{problem}: {link or '(no link)'}")
            continue
        link = entry.get("url") or entry.get("external_url")
        if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
            link = str(entry["id"])
        names = _json_authors(entry)  # not the feed's: that is usually the publication itself
        summary = entry.get("summary")
        content = entry.get("content_html") or entry.get("content_text")
        published = _text(entry.get("date_published"))
        updated = _text(entry.get("date_modified"))
        if not published and updated:
            published, updated = updated, None
        items.append(NewsItem(
            kind="feed",
            url=link,
            title=entry.get("title"),
            summary=summary,
            body=content if content and content != summary else None,
            byline=names[0] if len(names) == 1 else None,
            authors=names if len(names) > 1 else [],
            published_raw=published,
            updated_raw=updated,
            language=_text(entry.get("language")) or language,
            tags=[t for t in entry.get("tags") or [] if t],
            extra={name: _text(_json_field(entry, name)) for name in extra_fields
                   if _text(_json_field(entry, name)) is not None},
        ))
    return FeedRead(_checked(items, bad), None, tuple(bad))


def _json_authors(obj: dict[str, Any]) -> list[str]:
    authors = obj.get("authors") or ([obj["author"]] if isinstance(obj.get("author"), dict) else [])
    return [a["name"] for a in authors if isinstance(a, dict) and a.get("name")]


def _json_field(entry: dict[str, Any], name: str) -> Any:
    if name in entry:
        return entry[name]
    for key, value in entry.items():  # extensions: "_npr": {"name": ...}
        if key.startswith("_") and isinstance(value, dict) and name in value:
            return value[name]
    return None


def is_json_feed(body: bytes, content_type: str) -> bool:
    """A JSON body (by type or by its first character)."""
    return "json" in content_type.lower() or body.lstrip()[:1] == b"{"


def read_feed(body: bytes, url: str, content_type: str, options: dict[str, Any]) -> FeedRead:
    """Records (raw values) of any supported feed (its body decompressed), and an error text if it is none."""
    if is_json_feed(body, content_type):
        return json_feed_entries(body, options)
    return feedparser_entries(body, url, options)


class FeedSpider(NewsSpider):
    """Yields one ``feed`` record per entry, completed from its article page."""

    name = "feed"
    conditional = True

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if self.not_modified(response):
            return
        body = self.unpacked(response.body, response.url)
        if body is None:
            return
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if not is_json_feed(body, content_type) and not self.read_xml(body, response.url)[0]:
            return
        items, problem, bad = read_feed(body, response.url, content_type, self.source.options)
        if problem:
            self.count("layout/not_a_feed")
            self.logger.warning("%s: %s", problem, response.url)
            return
        if bad:
            self.count("dropped/bad_feed_item", len(bad))
            self.logger.warning("%d feed entries dropped for a field of the wrong type (%s): %s", len(bad),
                                "; ".join(bad[:LOGGED_BAD_ENTRIES]), response.url)
        self.count("feed_entries", len(items))
        for item in items:
            yield from self.follow(item)  # a link listed twice is a counted duplicate (NewsSpider.follow)
