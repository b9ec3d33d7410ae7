"""The web app's inputs and outputs: the search form read from a request, its errors, and the JSON shapes
the API shares with the CLI (``/api/search`` answers what ``newsdesk search --json --facets`` prints)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any
from urllib.parse import urlsplit

from index.search import Filters, SearchResult
from newsdesk.core.errors import NewsdeskError

MAX_URL_QUERY = 4000  # characters of ?query string: the CLI's 1000-character query plus filters
PAGE_LIMIT = 20
MAX_SAVED_MATCHES = 50  # new matches shown per saved search
AUTO_HOURLY_DAYS = 3  # a timeline spanning at most this many days is drawn per hour
AUTO_WEEKLY_DAYS = 400  # and one spanning more, per week



class WebInputError(NewsdeskError):
    """A request parameter that cannot be used (not a number, unknown choice)."""

    exit_code = 2


class NotFound(NewsdeskError):
    """A record or saved search that does not exist."""


@dataclass
class SearchForm:
    """The search parameters of a request, as the CLI's options."""

    q: str = ""
    since: str = ""
    until: str = ""
    on: str = ""
    sources: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    sort: str = "relevance"
    limit: int = PAGE_LIMIT
    page: int = 1
    facets: bool = False
    collapse: bool = False
    by: str = "auto"

    @classmethod
    def from_args(cls, args: Any) -> SearchForm:
        """Read ``request.args`` (repeatable filters; empty values ignored)."""

        def many(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))

        return cls(q=args.get("q", ""), since=args.get("since", "").strip(), until=args.get("until", "").strip(),
                   on=args.get("on", "").strip(), sources=many("source"), agencies=many("agency"),
                   authors=many("author"), kinds=many("kind"), sort=args.get("sort", "relevance") or "relevance",
                   limit=_int(args, "limit", PAGE_LIMIT), page=_int(args, "page", 1),
                   facets=_flag(args, "facets"), collapse=_flag(args, "collapse"),
                   by=args.get("by", "auto") or "auto")

    def filters(self, zone: tzinfo) -> Filters:
        """The time range (typed dates read in ``zone``, as ``--tz``) and field filters."""
        from newsdesk.core.timeparse import resolve_range

        since, until = resolve_range(self.since or None, self.until or None, self.on or None, zone)
        return Filters(since=since, until=until, sources=self.sources, agencies=self.agencies,
                       authors=self.authors, kinds=self.kinds)


def _int(args: Any, name: str, default: int) -> int:
    value = args.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise WebInputError(f"{name} must be a whole number, not {value!r}") from None


def _flag(args: Any, name: str) -> bool:
    return args.get(name, "").strip().lower() in ("1", "true", "yes", "on")


#: The CLI's option names in messages shared with the CLI → the search form's field (its id and label).
_WEB_FIELDS = {"--since": "since", "--until": "until", "--on": "on", "--tz": "tz", "--limit": "limit",
               "--page": "page", "--sort": "sort", "--source": "source", "--agency": "agency", "--fields": "fields"}
_FIELD_LABELS = {"since": "Since", "until": "Until", "on": "On", "tz": "Time zone", "limit": "Limit",
                 "page": "Page", "sort": "Sort", "source": "Source", "agency": "Agency", "fields": "Fields"}
_OPTION = re.compile(r"--(since|until|on|tz|limit|page|sort|source|agency|fields)\b")


def web_words(text: str) -> str:
    """A message written for the command line in the web form's words: ``--since`` is the "Since" field."""
    text = text.replace("--since/--until", "the Since and Until fields")
    return _OPTION.sub(lambda m: f"the {_FIELD_LABELS[m.group(1)]} field", text)


def timeline_json(result: Any, q: str) -> dict[str, Any]:
    """A timeline as ``newsdesk timeline --json`` prints it."""
    from index.timeline import label

    return {"query": q, "by": result.by, "total": result.total, "undated": result.undated,
            "buckets": [{"start": start.astimezone(timezone.utc).isoformat(), "label": label(start, result.by),
                         "count": count} for start, count in result.buckets]}


def search_json(result: SearchResult, facets: bool) -> dict[str, Any]:
    """A page of hits as ``newsdesk search --json --facets`` prints it (``facets`` only if asked)."""

    payload: dict[str, Any] = {"total": result.total, "page": result.page, "pages": result.pages,
                               "hits": [h.to_dict() for h in result.hits]}
    if facets:
        payload["facets"] = result.facets
    return payload


def safe_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL a page may link to, else None (no javascript: links)."""
    if not isinstance(value, str):
        return None
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return None
    return value.strip() if scheme in ("http", "https") else None


def zone_name(name: str | None, zone: tzinfo) -> str:
    return name or datetime.now(zone).tzname() or "local time"
