"""One archive, two backends: the local Whoosh index under a home, or a PostgreSQL archive.

Both answer the same questions with the same types (``SearchResult``, ``Timeline``, record dicts), so the
command line and the web app pick a backend once, with :func:`open_archive`, and never again::

    archive = open_archive(home, url)          # url None: the local index
    found = archive.search("north korea", Filters(sources=("jpost-breaking",)), sort="newest")

A question one backend cannot answer exactly is refused there with a one-line message (``QueryError``),
never answered differently (tests/test_cross_backend.py holds both to the same answers).
"""

from __future__ import annotations

from datetime import timezone, tzinfo
from typing import Any, Protocol

from index.search import Filters, SearchResult
from index.timeline import Timeline
from newsdesk.core.home import Home


class Archive(Protocol):
    """What every backend answers."""

    #: how the backend is named to a user: "the local index", "the PostgreSQL archive"
    name: str

    def search(self, text: str, filters: Filters | None = None, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, facets: bool = False, collapse: bool = False) -> SearchResult: ...

    def explain(self, text: str, filters: Filters | None = None) -> list[str]: ...

    def timeline(self, text: str, filters: Filters | None = None, *, by: str = "day",
                 zone: tzinfo = timezone.utc) -> Timeline: ...

    def record(self, key: str) -> dict[str, Any] | None: ...

    def history(self, key: str) -> list[dict[str, Any]]: ...

    def near_duplicates(self, record: dict[str, Any]) -> list[dict[str, Any]]: ...


def _filter_args(filters: Filters | None) -> dict[str, Any]:
    f = filters or Filters()
    return {"since": f.since, "until": f.until, "sources": list(f.sources), "agencies": f.agencies,
            "authors": f.authors, "kinds": f.kinds}


class LocalArchive:
    """The Whoosh index of a home, with the home's archive files for a record's earlier versions."""

    name = "the local index"

    def __init__(self, home: Home) -> None:
        self.home = home

    def search(self, text: str, filters: Filters | None = None, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, facets: bool = False, collapse: bool = False) -> SearchResult:
        from index.search import search

        return search(self.home.index, text, sort=sort, limit=limit, page=page, facets=facets,
                      collapse=collapse, **_filter_args(filters))

    def explain(self, text: str, filters: Filters | None = None) -> list[str]:
        from index.search import explain

        return explain(self.home.index, text, filters)

    def timeline(self, text: str, filters: Filters | None = None, *, by: str = "day",
                 zone: tzinfo = timezone.utc) -> Timeline:
        from index.timeline import timeline

        return timeline(self.home.index, text, filters=filters, by=by, zone=zone)

    def record(self, key: str) -> dict[str, Any] | None:
        from index.records import get_record

        return get_record(self.home.index, key)

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every version of ``key``, oldest first, the current one last; [] for an unknown key."""
        from index.records import history

        record = self.record(key)
        return history(self.home, record) if record is not None else []

    def near_duplicates(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        from index.records import group_members

        group = record.get("dupgroup")
        members = group_members(self.home.index, group) if group else []
        return [m for m in members if m.get("key") != record.get("key")]


class PostgresArchive:
    """The PostgreSQL archive at ``url`` (``newsdesk archive deliver`` fills it)."""

    name = "the PostgreSQL archive"

    def __init__(self, url: str) -> None:
        self.url = url

    def search(self, text: str, filters: Filters | None = None, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, facets: bool = False, collapse: bool = False) -> SearchResult:
        from index.pg import search

        return search(self.url, text, sort=sort, limit=limit, page=page, facets=facets, collapse=collapse,
                      **_filter_args(filters))

    def explain(self, text: str, filters: Filters | None = None) -> list[str]:
        from index.pg import explain_sql

        return [f"postgresql: WHERE {explain_sql(text)}"]

    def timeline(self, text: str, filters: Filters | None = None, *, by: str = "day",
                 zone: tzinfo = timezone.utc) -> Timeline:
        from index.pg import timeline

        return timeline(self.url, text, filters=filters, by=by, zone=zone)

    def record(self, key: str) -> dict[str, Any] | None:
        found = self.history(key)
        return found[-1] if found else None

    def history(self, key: str) -> list[dict[str, Any]]:
        from index.pg import history

        return history(self.url, key)

    def near_duplicates(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return []  # near-duplicate groups live in the local index only


def open_archive(home: Home, url: str | None = None) -> LocalArchive | PostgresArchive:
    """The PostgreSQL archive at ``url``, else the local index of ``home``."""
    return PostgresArchive(url) if url else LocalArchive(home)
