"""The read-only web app of ``newsdesk serve``: search page, record page, timeline, saved searches, sources.

A thin Flask layer over the same library calls as the CLI (``index.search``,
``index.timeline``, ``index.watch``, ``newsdesk.timeparse``, ``newsdesk.output``),
so ``/api/search`` answers exactly what ``newsdesk search --json --facets`` prints.
Every page has a JSON twin under ``/api/``.  Only GET and HEAD are served; every
value from the archive goes through Jinja's autoescaping; a bad query or date is
a 400 with the CLI's message and hint.

The index is reached only through :class:`Archive`.  ``index.search.search``
keeps a warm searcher per server thread (a Whoosh searcher is not safe to share
between threads); a damaged index is a 503 with the CLI's one line.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, g, jsonify, render_template, request

from index.search import Filters, SearchResult, marked_parts
from newsdesk.errors import NewsdeskError
from newsdesk.home import Home
from newsdesk.web.capture import capture_response
from scraper.warcfile import Capture, CaptureMissing, record_capture

logger = logging.getLogger(__name__)

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
        from newsdesk.timeparse import resolve_range

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


class Archive:
    """The app's one way into a home: index searches, records, saved searches, run history."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def search(self, form: SearchForm, zone: tzinfo, facets: bool) -> SearchResult:
        """``newsdesk search`` with the form's options."""
        from index.search import search

        f = form.filters(zone)
        return search(self.home.index, form.q, since=f.since, until=f.until, sources=list(f.sources),
                      agencies=f.agencies, authors=f.authors, kinds=f.kinds, sort=form.sort, limit=form.limit,
                      page=form.page, facets=facets, collapse=form.collapse)

    def timeline(self, form: SearchForm, zone: tzinfo) -> Any:
        """``newsdesk timeline`` with the form's options; ``by=auto`` picks hours for a short span."""
        from index.timeline import BY, timeline

        if form.by not in ("auto", *BY):
            raise WebInputError(f"unknown bucket {form.by!r}", f"use one of: auto, {', '.join(BY)}")
        filters = form.filters(zone)
        if form.by != "auto":
            return timeline(self.home.index, form.q, filters=filters, by=form.by, zone=zone)
        result = timeline(self.home.index, form.q, filters=filters, by="day", zone=zone)
        if result.buckets and len(result.buckets) <= AUTO_HOURLY_DAYS:
            return timeline(self.home.index, form.q, filters=filters, by="hour", zone=zone)
        if len(result.buckets) > AUTO_WEEKLY_DAYS:
            return timeline(self.home.index, form.q, filters=filters, by="week", zone=zone)
        return result

    def record(self, key: str) -> dict[str, Any]:
        """One record with its archived versions and its near-duplicates."""
        from index.records import get_record, group_members, versions

        record = get_record(self.home.index, key)
        if record is None:
            raise NotFound(f"no record with key {key!r}", "search for it instead")
        group = record.get("dupgroup")
        members = group_members(self.home.index, group) if group else []
        return {"record": record, "versions": versions(self.home, record),
                "duplicates": [m for m in members if m.get("key") != key]}

    def capture(self, key: str) -> Capture:
        """The page a record was read from, as captured in its run's WARC file."""
        from index.records import get_record

        record = get_record(self.home.index, key)
        if record is None:
            raise NotFound(f"no record with key {key!r}", "search for it instead")
        try:
            return record_capture(self.home, record)
        except CaptureMissing as exc:
            raise NotFound(str(exc), exc.hint) from None

    def saved(self) -> list[dict[str, Any]]:
        """Saved searches with their matches not yet shown (read only: nothing is marked shown)."""
        from index.watch import matches, saved_searches
        from newsdesk.alerts import public_search

        rows = []
        for saved, total, new in saved_searches(self.home.state):
            found = matches(self.home.state, saved.name, new_only=True, mark_shown=False)
            rows.append({**public_search(saved), "matches": total, "new": new, "describe": saved.describe(),
                         "new_matches": [{**m.record, "matched_at": m.matched_at}
                                         for m in found[:MAX_SAVED_MATCHES]]})
        return rows

    def sources(self) -> dict[str, Any]:
        """What ``newsdesk status --json`` prints: each source's last run, next run and health."""
        from newsdesk.status import source_status
        from newsdesk.config import load_config
        from newsdesk.crawl import config_path
        from newsdesk.runs import utcnow

        return source_status(self.home, load_config(config_path(self.home)), utcnow())



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


def _zone_name(name: str | None, zone: tzinfo) -> str:
    return name or datetime.now(zone).tzname() or "local time"


def create_app(home: Home, tz_name: str | None = None) -> Flask:
    """The web app over ``home``; times shown (and typed dates read) in ``tz_name`` (default: local)."""
    from newsdesk.timeparse import local_time
    from newsdesk.timeparse import user_zone

    default_zone = user_zone(tz_name)  # an unknown zone fails here, before serving
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    archive = Archive(home)
    app.extensions["newsdesk.archive"] = archive

    @app.before_request
    def read_only() -> Any:
        """GET and HEAD only; over-long query strings refused; the request's zone chosen."""
        if request.method not in ("GET", "HEAD"):
            return _error(405, "this server is read-only: only GET and HEAD", allow="GET, HEAD")
        if len(request.query_string) > MAX_URL_QUERY:
            return _error(400, f"the query string is {len(request.query_string)} characters long "
                               f"(at most {MAX_URL_QUERY})")
        name = request.args.get("tz", "").strip() or None
        try:
            g.zone = user_zone(name, "tz") if name else default_zone
        except NewsdeskError as exc:
            return _error(400, str(exc), exc.hint)
        g.zone_name = _zone_name(name or tz_name, g.zone)
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        """Lock the pages down: no scripts, nothing from other origins, no framing (a captured page: tighter)."""
        response.headers.setdefault("Content-Security-Policy", (
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def _api() -> bool:
        return request.path.startswith("/api/")

    def _error(status: int, message: str, hint: str = "", allow: str = "") -> Response:
        if _api():
            response = jsonify({"error": message, "hint": hint or None})
        elif request.path == "/" and status == 400:  # the search page again, the form as typed, the field named
            response = Response(_search_error(message, hint), mimetype="text/html")
        else:
            response = Response(render_template("error.html", status=status, message=message, hint=hint),
                                mimetype="text/html")
        response.status_code = status
        if allow:
            response.headers["Allow"] = allow
        return response

    def _search_error(message: str, hint: str) -> str:
        try:
            form = SearchForm.from_args(request.args)
        except NewsdeskError:  # a field that cannot even be read (limit=x): show the words, dates and filters typed
            form = SearchForm(q=request.args.get("q", ""), since=request.args.get("since", ""),
                              until=request.args.get("until", ""))
        field = next((name for option, name in _WEB_FIELDS.items() if option in message), None)
        return render_template("search.html", form=form, result=None, chart=None, timeline=None,
                               sources=list(form.sources), agencies=list(form.agencies), facets={}, searched=True,
                               error=web_words(message), error_hint=web_words(hint), error_field=field)

    @app.errorhandler(NewsdeskError)
    def user_error(exc: NewsdeskError) -> Response:
        """A user's mistake (bad query, date, zone, parameter): 400 with the CLI's message and hint."""
        from index.store import IndexDamaged, IndexMissing

        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, (IndexMissing, IndexDamaged)) else 400
        return _error(status, str(exc), exc.hint)

    @app.errorhandler(404)
    def not_found(exc: Any) -> Response:
        return _error(404, "no such page", "start from the search page: /")

    @app.errorhandler(405)
    def not_allowed(exc: Any) -> Response:
        return _error(405, "this server is read-only: only GET and HEAD", allow="GET, HEAD")

    @app.context_processor
    def helpers() -> dict[str, Any]:
        def when(iso: str | None) -> str:
            return local_time(iso, g.zone).strip()

        def url_with(**changes: Any) -> str:
            """This page's URL with some parameters changed (None removes one)."""
            args = request.args.to_dict(flat=False)
            for name, value in changes.items():
                if value is None:
                    args.pop(name, None)
                else:
                    args[name] = value if isinstance(value, list) else [str(value)]
            return request.path + ("?" + urlencode(args, doseq=True) if args else "")

        return {"when": when, "safe_url": safe_url, "marked_parts": marked_parts, "url_with": url_with,
                "zone_name": g.get("zone_name", "")}

    @app.get("/")
    def search_page() -> str:
        """The search form, the hits with highlighted snippets, facets and the timeline chart."""
        from newsdesk.web.chart import build_chart

        from index.store import IndexMissing

        form = SearchForm.from_args(request.args)
        searched = any(name not in ("tz", "by") for name in request.args)  # ?tz= alone shows the empty form
        result = chart = timeline = None
        if searched:
            result = archive.search(form, g.zone, facets=True)
            timeline = archive.timeline(form, g.zone)
            chart = build_chart(timeline.buckets, timeline.by, g.zone_name)
        else:  # the start page: the newest items, and the filters' values that have records
            try:
                result = archive.search(form, g.zone, facets=True)
            except IndexMissing:
                result = None
        facets = result.facets if result else {}
        # Only values that have records, largest first (facets are sorted so), plus whatever the form selected.
        sources = list(dict.fromkeys([*facets.get("source", {}), *form.sources]))
        agencies = list(dict.fromkeys([*(a for a in facets.get("agency", {}) if a != "(none)"), *form.agencies]))
        return render_template("search.html", form=form, result=result, chart=chart, timeline=timeline,
                               sources=sources, agencies=agencies, facets=facets, searched=searched)

    @app.get("/api/search")
    def api_search() -> Response:
        """``newsdesk search --json --facets`` (facets with ``facets=1``)."""
        form = SearchForm.from_args(request.args)
        return jsonify(search_json(archive.search(form, g.zone, facets=form.facets), form.facets))

    @app.get("/api/timeline")
    def api_timeline() -> Response:
        """``newsdesk timeline --json`` (``by``: auto, hour, day or week)."""
        form = SearchForm.from_args(request.args)
        return jsonify(timeline_json(archive.timeline(form, g.zone), form.q))

    @app.get("/record")
    def record_page() -> str:
        """Every field of one record, its versions and its near-duplicates."""
        data = archive.record(_key())
        from scraper.items import FIELD_NAMES

        record = data["record"]
        fields = [*FIELD_NAMES, *(k for k in record if k not in FIELD_NAMES)]
        return render_template("record.html", fields=fields, **data)

    @app.get("/api/record")
    def api_record() -> Response:
        """``{"record", "versions", "duplicates"}`` for ``?key=``."""
        return jsonify(archive.record(_key()))

    @app.get("/api/record/<path:key>", merge_slashes=False)
    def api_record_path(key: str) -> Response:
        """The same for ``/api/record/KEY`` (a key with ``?`` or ``#`` in it needs ``?key=``)."""
        return jsonify(archive.record(key))

    @app.get("/capture")
    def capture_page() -> Response:
        """The archived page a record was read from, served from the WARC file, sandboxed."""
        return capture_response(archive.capture(_key()))

    def _key() -> str:
        key = request.args.get("key", "")
        if not key:
            raise WebInputError("no record key given", "link to /record?key=<the record's key>")
        return key

    @app.get("/saved")
    def saved_page() -> str:
        """Saved searches and their matches not yet shown (nothing is marked shown)."""
        return render_template("saved.html", searches=archive.saved())

    @app.get("/api/saved")
    def api_saved() -> Response:
        """Saved searches (as ``watch list --json``) each with ``new_matches`` (as ``watch show --json``)."""
        return jsonify(archive.saved())

    @app.get("/saved.atom")
    def saved_feed_all() -> Response:
        """One Atom feed of every saved search (``newsdesk watch feed``)."""
        from newsdesk.savedfeed import all_feed

        return Response(all_feed(home.state, request.host_url), mimetype="application/atom+xml")

    @app.get("/saved/<name>.atom")
    def saved_feed(name: str) -> Response:
        """A saved search's Atom feed (``newsdesk watch feed NAME``)."""
        from index.watch import WatchError
        from newsdesk.savedfeed import search_feed

        try:
            document = search_feed(home.state, name, request.host_url)
        except WatchError as exc:
            raise NotFound(str(exc), exc.hint) from None
        return Response(document, mimetype="application/atom+xml")

    @app.get("/sources")
    def sources_page() -> str:
        """Each source's last run and health."""
        return render_template("sources.html", report=archive.sources(), now=datetime.now(timezone.utc))

    @app.get("/api/sources")
    def api_sources() -> Response:
        """``newsdesk status --json``."""
        return jsonify(archive.sources())

    @app.get("/api")
    def api_index() -> Response:
        """The API's routes, for a person poking at it."""
        routes = sorted(str(r) for r in app.url_map.iter_rules() if str(r).startswith("/api/"))
        return jsonify({"routes": routes, "docs": "docs/web.md"})

    @app.template_filter("tojson_pretty")
    def tojson_pretty(value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False)

    return app


def app_for(home_dir: Path | str, tz_name: str | None = None) -> Flask:
    """``create_app`` for a home path (for WSGI servers and tests)."""
    return create_app(Home.resolve(home_dir), tz_name)

