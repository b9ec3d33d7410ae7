"""The query API: keyword query + date range + filters → hits with snippets.

Query syntax is Whoosh's: words are ANDed, ``OR``/``NOT``/parentheses,
``"a phrase"``, ``title:word``.  ``search`` raises :class:`QueryError` with a
hint for anything it cannot run; callers never see a parser traceback.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import collectors, highlight, query
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.qparser import plugins

from index.ingest import open_index
from index.timequery import newest_in_range, time_range
from newsdesk.errors import NewsdeskError

logger = logging.getLogger(__name__)

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
        parts.append(time_range(since and _utc_naive(since), until and _utc_naive(until)))
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


_open: dict[Path, tuple[int, Any]] = {}  # index dir → (its inode, a searcher kept open for the next search)
_open_lock = threading.Lock()


def _searcher(index_dir: Path) -> Any:
    """This process's searcher of the index, reopened only when a commit changed it.

    Reopening is cheap (the segments' files are read in place), and Whoosh's own
    ``Searcher.refresh`` can count a reused segment twice, so a changed index
    (new generation, or a new directory after ``reindex``) is opened afresh.
    """
    key = Path(index_dir).resolve()
    with _open_lock:
        inode, searcher = _open.get(key, (None, None))
        try:
            current = key.stat().st_ino
        except OSError:
            current = None
        if searcher is not None:
            try:
                if inode == current and searcher.up_to_date():
                    return searcher
            except Exception:  # files removed under us: open afresh
                logger.debug("reopening the index at %s", key, exc_info=True)
            searcher.close()
            del _open[key]
        ix = open_index(key)
        searcher = ix.searcher()
        _open[key] = (key.stat().st_ino, searcher)
        return searcher


def close_searchers() -> None:
    """Close the searchers kept open (before a reindex swaps the directory, or at exit)."""
    with _open_lock:
        for _inode, searcher in _open.values():
            searcher.close()
        _open.clear()


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
    searcher = _searcher(index_dir)
    q = build_query(searcher.schema, text, since, until, sources)
    if sort != "relevance" and (since or until) and not sources and isinstance(
            parse_query(searcher.schema, text), query.Every):
        # A range with no words, by time: walk the days from one end.
        docnums, total = newest_in_range(searcher, since and _utc_naive(since), until and _utc_naive(until),
                                         limit, newest=sort == "newest")
        hits = []
        for docnum in docnums:
            record = json.loads(searcher.stored_fields(docnum)["record"])
            hits.append(Hit(record=record, score=None, snippet=_plain_snippet(record)))
        return SearchResult(hits=hits, total=total, query=str(q))
    if sort == "relevance":
        # One exact pass that scores and counts every match.  Whoosh's default
        # top-N skips blocks, then runs the query again to count: 2x slower for
        # several words and phrases (30 % faster for one word), and with matchers
        # that lack block bounds (our date range) it can under-count.  Snippets
        # take the query's own words (no per-document matched-term bookkeeping).
        collector = collectors.TopCollector(limit, usequality=False, replace=0)
        searcher.search_with_collector(q, collector)
        results = collector.results()
    else:
        results = searcher.search(q, limit=limit, sortedby="published", reverse=sort == "newest")
    results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
    results.formatter = PlainFormatter()
    hits = []
    for hit in results:
        record = json.loads(hit["record"])
        hits.append(Hit(record=record, score=hit.score if sort == "relevance" else None,
                        snippet=_snippet(hit, record, results.formatter)))
    return SearchResult(hits=hits, total=len(results), query=str(q))


def _plain_snippet(record: dict[str, Any]) -> str:
    """The snippet of a hit no word matched: the start of its text."""
    text = "\n".join(p for p in (record.get("summary"), record.get("body")) if p)
    snippet = text[:200] + ("…" if len(text) > 200 else "") if text else ""
    return " ".join(snippet.split())
