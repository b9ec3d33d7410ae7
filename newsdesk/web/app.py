"""The read-only web app of ``newsdesk serve``: search page, record page, timeline, saved searches, sources.

A thin Flask layer over the same library calls as the CLI: searches, timelines and records go through the
archive's backend seam (``index.archive``: the local index, or the PostgreSQL archive with ``--archive``),
so ``/api/search`` answers exactly what ``newsdesk search --json --facets`` prints on either. Every page has
a JSON twin under ``/api/``. The pages and routes are the Blueprint in :mod:`newsdesk.web.views`; what they
read is :class:`newsdesk.web.site.Site`. Each waitress thread gets its own index searcher (``index.search``).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from index.archive import open_archive
from newsdesk.core.home import Home
from newsdesk.core.timeparse import user_zone
from newsdesk.web.site import Site
from newsdesk.web.views import bp


def create_app(home: Home, tz_name: str | None = None, archive_url: str | None = None) -> Flask:
    """The web app over ``home``; times shown (and typed dates read) in ``tz_name`` (default: local).

    :param archive_url: a PostgreSQL archive to search instead of the home's local index.
    """
    default_zone = user_zone(tz_name)  # an unknown zone fails here, before serving
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["newsdesk"] = Site(home, open_archive(home, archive_url), default_zone, tz_name)
    app.register_blueprint(bp)
    return app


def app_for(home_dir: Path | str, tz_name: str | None = None) -> Flask:
    """``create_app`` for a home path (for WSGI servers and tests)."""
    return create_app(Home.resolve(home_dir), tz_name)
