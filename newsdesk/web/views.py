"""The web app's pages and API routes, on one Blueprint; every answer comes from :mod:`newsdesk.web.site`.

Only GET and HEAD are served; every value from the archive goes through Jinja's autoescaping; a bad query or
date is a 400 with the CLI's message and hint (in the form's words on the search page); a missing or damaged
index is a 503 with the repair command.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from index.search import marked_parts
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.timeparse import local_time, user_zone
from newsdesk.web.capture import capture_response
from newsdesk.web.forms import (
    _WEB_FIELDS,
    MAX_URL_QUERY,
    NotFound,
    SearchForm,
    WebInputError,
    safe_url,
    search_json,
    timeline_json,
    web_words,
    zone_name,
)
from newsdesk.web.site import site

bp = Blueprint("newsdesk", __name__)


@bp.before_app_request
def read_only() -> Any:
    """GET and HEAD only; over-long query strings refused; the request's zone chosen."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, "this server is read-only: only GET and HEAD", allow="GET, HEAD")
    if len(request.query_string) > MAX_URL_QUERY:
        return _error(400, f"the query string is {len(request.query_string)} characters long "
                           f"(at most {MAX_URL_QUERY})")
    name = request.args.get("tz", "").strip() or None
    try:
        g.zone = user_zone(name, "tz") if name else site().default_zone
    except NewsdeskError as exc:
        return _error(400, str(exc), exc.hint)
    g.zone_name = zone_name(name or site().tz_name, g.zone)
    return None

@bp.after_app_request
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

@bp.app_errorhandler(NewsdeskError)
def user_error(exc: NewsdeskError) -> Response:
    """A user's mistake (bad query, date, zone, parameter): 400 with the CLI's message and hint."""
    from index.store import IndexDamaged, IndexMissing

    status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, (IndexMissing, IndexDamaged)) else 400
    return _error(status, str(exc), exc.hint)

@bp.app_errorhandler(404)
def not_found(exc: Any) -> Response:
    return _error(404, "no such page", "start from the search page: /")

@bp.app_errorhandler(405)
def not_allowed(exc: Any) -> Response:
    return _error(405, "this server is read-only: only GET and HEAD", allow="GET, HEAD")

@bp.app_context_processor
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

@bp.get("/")
def search_page() -> str:
    """The search form, the hits with highlighted snippets, facets and the timeline chart."""
    from index.store import IndexMissing
    from newsdesk.web.chart import build_chart

    form = SearchForm.from_args(request.args)
    searched = any(name not in ("tz", "by") for name in request.args)  # ?tz= alone shows the empty form
    result = chart = timeline = None
    if searched:
        result = site().search(form, g.zone, facets=True)
        timeline = site().timeline(form, g.zone)
        chart = build_chart(timeline.buckets, timeline.by, g.zone_name)
    else:  # the start page: the newest items, and the filters' values that have records
        try:
            result = site().search(form, g.zone, facets=True)
        except IndexMissing:
            result = None
    facets = result.facets if result else {}
    # Only values that have records, largest first (facets are sorted so), plus whatever the form selected.
    sources = list(dict.fromkeys([*facets.get("source", {}), *form.sources]))
    agencies = list(dict.fromkeys([*(a for a in facets.get("agency", {}) if a != "(none)"), *form.agencies]))
    return render_template("search.html", form=form, result=result, chart=chart, timeline=timeline,
                           sources=sources, agencies=agencies, facets=facets, searched=searched)

@bp.get("/api/search")
def api_search() -> Response:
    """``newsdesk search --json --facets`` (facets with ``facets=1``)."""
    form = SearchForm.from_args(request.args)
    return jsonify(search_json(site().search(form, g.zone, facets=form.facets), form.facets))

@bp.get("/api/timeline")
def api_timeline() -> Response:
    """``newsdesk timeline --json`` (``by``: auto, hour, day or week)."""
    form = SearchForm.from_args(request.args)
    return jsonify(timeline_json(site().timeline(form, g.zone), form.q))

@bp.get("/record")
def record_page() -> str:
    """Every field of one record, its versions and its near-duplicates."""
    data = site().record(_key())
    from newsdesk.core.record import FIELD_NAMES

    record = data["record"]
    fields = [*FIELD_NAMES, *(k for k in record if k not in FIELD_NAMES)]
    return render_template("record.html", fields=fields, **data)

@bp.get("/api/record")
def api_record() -> Response:
    """``{"record", "versions", "duplicates"}`` for ``?key=``."""
    return jsonify(site().record(_key()))

@bp.get("/api/record/<path:key>", merge_slashes=False)
def api_record_path(key: str) -> Response:
    """The same for ``/api/record/KEY`` (a key with ``?`` or ``#`` in it needs ``?key=``)."""
    return jsonify(site().record(key))

@bp.get("/capture")
def capture_page() -> Response:
    """The archived page a record (``&version=N``: that version) was read from, from the WARC file, sandboxed."""
    version = request.args.get("version", "")
    if version and not version.isdigit():
        raise WebInputError(f"version {version[:20]!r} is not a whole number", "link to /record?key=<the key>")
    return capture_response(site().capture(_key(), int(version) if version else None))

def _key() -> str:
    key = request.args.get("key", "")
    if not key:
        raise WebInputError("no record key given", "link to /record?key=<the record's key>")
    return key

@bp.get("/saved")
def saved_page() -> str:
    """Saved searches and their matches not yet shown (nothing is marked shown)."""
    return render_template("saved.html", searches=site().saved())

@bp.get("/api/saved")
def api_saved() -> Response:
    """Saved searches (as ``watch list --json``) each with ``new_matches`` (as ``watch show --json``)."""
    return jsonify(site().saved())

@bp.get("/saved.atom")
def saved_feed_all() -> Response:
    """One Atom feed of every saved search (``newsdesk watch feed``)."""
    from newsdesk.ops.savedfeed import all_feed

    return Response(all_feed(site().home.state, request.host_url), mimetype="application/atom+xml")

@bp.get("/saved/<name>.atom")
def saved_feed(name: str) -> Response:
    """A saved search's Atom feed (``newsdesk watch feed NAME``)."""
    from index.watch import WatchError
    from newsdesk.ops.savedfeed import search_feed

    try:
        document = search_feed(site().home.state, name, request.host_url)
    except WatchError as exc:
        raise NotFound(str(exc), exc.hint) from None
    return Response(document, mimetype="application/atom+xml")

@bp.get("/sources")
def sources_page() -> str:
    """Each source's last run and health."""
    return render_template("sources.html", report=site().sources(), now=datetime.now(timezone.utc))

@bp.get("/api/sources")
def api_sources() -> Response:
    """``newsdesk status --json``."""
    return jsonify(site().sources())

@bp.get("/api")
def api_index() -> Response:
    """The API's routes, for a person poking at it."""
    routes = sorted(str(r) for r in current_app.url_map.iter_rules() if str(r).startswith("/api/"))
    return jsonify({"routes": routes, "docs": "docs/web.md"})

@bp.app_template_filter("tojson_pretty")
def tojson_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
