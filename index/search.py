"""The query API: keyword query + date range + filters → hits with snippets.

Query syntax is Whoosh's: words are ANDed, ``OR``/``NOT``/parentheses,
``"a phrase"``, ``title:word``, ``korea*``.  Parsing is fenced in
:mod:`index.query`; ``search`` raises :class:`QueryError` with a hint for
anything it cannot run; callers never see a parser traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import highlight, query

from index.ingest import open_index
from index.query import MAX_QUERY_CHARS, SEARCH_FIELDS, QueryError, parse_query, run_limited

__all__ = ["MAX_QUERY_CHARS", "SEARCH_FIELDS", "QueryError", "parse_query", "search", "build_query"]

SORTS = ("relevance", "newest", "oldest")
MAX_LIMIT = 1000


@dataclass
class Hit:
    """One result: the archived record, its score, and a snippet of matching text."""

    record: dict[str, Any]
    score: float | None
    snippet: str


@dataclass
class SearchResult:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    query: str = ""  # the parsed query, as Whoosh understood it


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def build_query(
    schema: Any,
    text: str,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: tuple[str, ...] | list[str] = (),
) -> query.Query:
    """The full query: keywords AND date range AND any of the sources."""
    if since and until and since > until:
        raise QueryError("--since is after --until", "swap the two dates")
    parts = [parse_query(schema, text)]
    if since or until:
        parts.append(query.DateRange("published", since and _utc_naive(since), until and _utc_naive(until)))
    if sources:
        parts.append(query.Or([query.Term("source", s) for s in sources]))
    parts = [p for p in parts if not isinstance(p, query.Every)] or [query.Every()]
    return parts[0] if len(parts) == 1 else query.And(parts)


def _snippet(hit: Any, record: dict[str, Any], formatter: Any) -> str:
    text = "\n".join(p for p in (record.get("summary"), record.get("body")) if p)
    snippet = ""
    if text:
        snippet = hit.highlights("body", text=text, top=2) or ""
    if not snippet and record.get("title"):
        snippet = hit.highlights("title", text=record["title"]) or ""
    if not snippet and text:
        snippet = text[:200] + ("…" if len(text) > 200 else "")
    return " ".join(snippet.split())


class PlainFormatter(highlight.Formatter):
    """Fragments joined by ' … ' with matched terms in [[double brackets]]."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"[[{highlight.get_text(text, token, replace)}]]"


def search(
    index_dir: Path,
    text: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: tuple[str, ...] | list[str] = (),
    sort: str = "relevance",
    limit: int = 20,
) -> SearchResult:
    """Search the index; hits newest-first, oldest-first or by relevance."""
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}", f"use one of: {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"--limit must be between 1 and {MAX_LIMIT}")
    ix = open_index(index_dir)
    try:
        q = build_query(ix.schema, text, since, until, sources)
        kwargs: dict[str, Any] = {"limit": limit}
        if sort != "relevance":
            kwargs["sortedby"] = "published"
            kwargs["reverse"] = sort == "newest"
        with ix.searcher() as searcher:
            results = run_limited(searcher, q, terms=True, **kwargs)  # bounded in time (index.query)
            results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
            results.formatter = PlainFormatter()
            hits = []
            for hit in results:
                record = json.loads(hit["record"])
                hits.append(Hit(record=record, score=hit.score if sort == "relevance" else None,
                                snippet=_snippet(hit, record, results.formatter)))
            return SearchResult(hits=hits, total=len(results), query=str(q))
    finally:
        ix.close()
