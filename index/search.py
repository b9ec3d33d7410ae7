"""The query API: keyword query + date range + filters → hits with snippets.

Query syntax is Whoosh's: words are ANDed, ``OR``/``NOT``/parentheses,
``"a phrase"``, ``title:word``.  ``search`` raises :class:`QueryError` with a
hint for anything it cannot run; callers never see a parser traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import highlight, query
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.qparser import plugins

from index.ingest import open_index
from newsdesk.errors import NewsdeskError

SORTS = ("relevance", "newest", "oldest")
MAX_QUERY_CHARS = 1000
MAX_LIMIT = 1000
SEARCH_FIELDS = ("title", "body")


class QueryError(NewsdeskError):
    """A query or filter that cannot be run; ``hint`` says what to do instead."""

    exit_code = 2


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


def _parser(schema: Any) -> MultifieldParser:
    parser = MultifieldParser(list(SEARCH_FIELDS), schema, group=AndGroup)
    # Wildcards and fuzzy terms can expand to most of the vocabulary: off.
    parser.remove_plugin_class(plugins.WildcardPlugin)
    parser.remove_plugin_class(plugins.FuzzyTermPlugin)
    return parser


def parse_query(schema: Any, text: str) -> query.Query:
    """Parse user text into a Whoosh query, or raise QueryError."""
    text = text.strip()
    if not text:
        return query.Every()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text)} characters long (at most {MAX_QUERY_CHARS})",
                         "search for fewer words")
    try:
        parsed = _parser(schema).parse(text)
    except Exception as exc:  # Whoosh raises many kinds on odd input
        raise QueryError(f"invalid query: {exc or type(exc).__name__}",
                         'check quotes and parentheses, or put the words in "quotes"') from None
    if parsed is query.NullQuery:
        raise QueryError(f"invalid query: {text!r} has no words to search for",
                         "use letters or digits; operators alone match nothing")
    return parsed


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
            results = searcher.search(q, terms=True, **kwargs)
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
