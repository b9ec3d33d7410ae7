"""The query API: keyword query + date range + filters → hits with snippets, facets, pages.

Query syntax is Whoosh's: words are ANDed, ``OR``/``NOT``/parentheses,
``"a phrase"``, ``title:word``, ``korea*``.  Parsing is fenced in
:mod:`index.query`; ``search`` raises :class:`QueryError` with a hint for
anything it cannot run; callers never see a parser traceback.

Filters (sources, agencies, authors, kinds) are ORed within one filter and
ANDed across filters.  ``collapse`` folds each near-duplicate group (the
``dupgroup`` that ``index.neardup`` sets at ingest) into its earliest record,
with the others listed in ``Hit.duplicates``.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import collectors, highlight, query, sorting
from whoosh.searching import Results

from index.store import open_index
from index.integrity import Damage, check_open, damaged, guarded
from index.query import MAX_QUERY_CHARS, SEARCH_FIELDS, QueryError, parse_query, run_limited
from index.schema import keyword_value
from index.timequery import TIME, newest_in_range, time_range
from index.vectorized import top_docs
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.record import FIELD_NAMES

__all__ = ["MAX_QUERY_CHARS", "SEARCH_FIELDS", "QueryError", "parse_query", "search", "build_query"]

logger = logging.getLogger(__name__)

SORTS = ("relevance", "newest", "oldest")
MAX_LIMIT = 1000
MAX_DEPTH = 10000  # page × limit: deeper pages cost as much as fetching every result before them
GROUP_FIELD = "dupgroup"
_MARK = re.compile(r"\[\[(.+?)\]\]", re.S)
_WORD = re.compile(r"\w")
_NEVER = 2**63 - 1  # the sort value of an undated record in oldest-first order


@dataclass
class Filters:
    """Everything but the words: a time range (aware datetimes, open ends allowed) and field filters."""

    since: datetime | None = None
    until: datetime | None = None
    sources: Sequence[str] = ()
    agencies: Sequence[str] = ()
    authors: Sequence[str] = ()
    kinds: Sequence[str] = ()


@dataclass
class Hit:
    """One result: the archived record, its score, a snippet, and (collapsed) its near-duplicates."""

    record: dict[str, Any]
    score: float | None
    snippet: str  # matched terms in [[double brackets]], cut points marked with …
    title: str = ""  # the title, matched terms in [[double brackets]]
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def plain_snippet(self) -> str:
        """The snippet without term marks, for JSON and CSV."""
        return unmark(self.snippet)

    def to_dict(self, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """The hit as one flat dict: every record field (or ``fields``), snippet, score, duplicates."""
        data: dict[str, Any] = {name: self.record.get(name) for name in FIELD_NAMES}
        data.update({k: v for k, v in self.record.items() if k not in data})
        data["snippet"] = self.plain_snippet
        data["score"] = None if self.score is None else round(self.score, 4)
        if self.duplicates:
            data["duplicates"] = [{k: d.get(k) for k in ("key", "url", "source", "title", "published")}
                                  for d in self.duplicates]
        if fields:
            return {name: data.get(name) for name in fields}
        return data


@dataclass
class SearchResult:
    """One page of hits, the total number of matches, and (if asked) the facets."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    query: str = ""  # the parsed query, as Whoosh understood it
    page: int = 1
    pages: int = 0
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # {"source": {"jpost-breaking": 3}, ...}


def unmark(snippet: str) -> str:
    """Drop the [[term]] marks from a snippet."""
    return _MARK.sub(r"\1", snippet)


def marked_parts(snippet: str) -> list[tuple[str, bool]]:
    """The snippet as (text, is_match) pieces, for a caller that styles matches."""
    parts: list[tuple[str, bool]] = []
    last = 0
    for match in _MARK.finditer(snippet):
        if match.start() > last:
            parts.append((snippet[last:match.start()], False))
        parts.append((match.group(1), True))
        last = match.end()
    if last < len(snippet):
        parts.append((snippet[last:], False))
    return parts


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def filter_values(fieldname: str, values: Sequence[str]) -> list[str]:
    """A filter's values as indexed (:func:`index.schema.keyword_value`), blanks and repeats dropped."""
    return list(dict.fromkeys(keyword_value(fieldname, v) for v in values if v and v.strip()))


def _any_of(fieldname: str, values: Sequence[str]) -> query.Query | None:
    values = filter_values(fieldname, values)
    if not values:
        return None
    terms = [query.Term(fieldname, v) for v in values]
    return terms[0] if len(terms) == 1 else query.Or(terms)


def build_query(
    schema: Any,
    text: str,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Sequence[str] = (),
    *,
    agencies: Sequence[str] = (),
    authors: Sequence[str] = (),
    kinds: Sequence[str] = (),
) -> query.Query:
    """The full query: keywords AND date range AND any of each filter's values."""
    if since and until and since > until:
        raise QueryError("--since is after --until", "swap the two dates")
    parts = [parse_query(schema, text)]
    if since or until:
        parts.append(time_range(since and _utc_naive(since), until and _utc_naive(until)))
    for part in (_any_of("source", sources), _any_of("agency", agencies),
                 _any_of("authors", authors), _any_of("kind", kinds)):
        if part is not None:
            parts.append(part)
    parts = [p for p in parts if not isinstance(p, query.Every)] or [query.Every()]
    return parts[0] if len(parts) == 1 else query.And(parts)


def query_for(schema: Any, text: str, filters: Filters | None = None) -> query.Query:
    """``build_query`` with a :class:`Filters`."""
    f = filters or Filters()
    return build_query(schema, text, f.since, f.until, f.sources,
                       agencies=f.agencies, authors=f.authors, kinds=f.kinds)


class StableTopCollector(collectors.TopCollector):
    """Whoosh's top-N by score, equal scores ordered by time (newest first, undated last), then docnum.

    Whoosh breaks ties by document number, which a reindex or a merge changes (and a deleted
    document's statistics move scores): ties ordered by time stay put.  ``index.vectorized``
    orders the same way.
    """

    times: Any = None

    def set_subsearcher(self, subsearcher: Any, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        reader = subsearcher.reader()
        self.times = reader.column_reader(TIME, translate=False) if reader.has_column(TIME) else None

    def collect(self, sub_docnum: int) -> Any:
        global_docnum = self.offset + sub_docnum
        score = self.matcher.score()
        item = (score, self.times[sub_docnum] if self.times is not None else 0, 0 - global_docnum)
        items = self.items
        self.total += 1
        if len(items) < self.limit:
            heapq.heappush(items, item)
            return 0 - score
        if item > items[0]:
            heapq.heapreplace(items, item)
            self.minscore = items[0][0]
            return 0 - score
        return 0

    def remove(self, global_docnum: int) -> None:
        self.items = [item for item in self.items if item[2] != 0 - global_docnum]
        heapq.heapify(self.items)
        self.minscore = self.items[0][0] if self.items else 0

    def results(self) -> Any:
        ordered = sorted(self.items, reverse=True)
        return self._results([(score, 0 - negated) for score, _time, negated in ordered])


def query_words(q: query.Query) -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    """The words and prefixes a query looks for in each text field, outside any NOT: what snippets mark."""
    found: dict[str, tuple[set[str], set[str]]] = {name: (set(), set()) for name in SEARCH_FIELDS}
    stack = [q]
    while stack:
        node = stack.pop()
        if isinstance(node, query.Not):
            continue
        if isinstance(node, (query.AndNot, query.AndMaybe)):
            stack.append(node.a)
            if isinstance(node, query.AndMaybe):
                stack.append(node.b)
            continue
        name = getattr(node, "fieldname", None)
        if name in found:
            if isinstance(node, query.Prefix):
                found[name][1].add(node.text)
            elif isinstance(node, query.Phrase):
                found[name][0].update(node.words)
            elif isinstance(node, query.Term):
                found[name][0].add(node.text)
        if not node.is_leaf():
            stack.extend(node.children())
    return {name: (frozenset(words), tuple(sorted(prefixes))) for name, (words, prefixes) in found.items()}


class _PrefixTerms(frozenset):  # type: ignore[type-arg]
    """A term set that also holds every word starting with one of ``prefixes`` (for highlighting)."""

    prefixes: tuple[str, ...] = ()

    def __contains__(self, word: object) -> bool:
        return frozenset.__contains__(self, word) or (isinstance(word, str) and word.startswith(self.prefixes))


def _marked(text: str, words: frozenset[str], prefixes: tuple[str, ...], analyzer: Any, whole: bool) -> str:
    """``text`` with the matched words in [[marks]] (``whole``: all of it; else up to two fragments), or ""."""
    if not text or not (words or prefixes):
        return ""
    terms = _PrefixTerms(words)
    terms.prefixes = prefixes
    fragmenter = (highlight.WholeFragmenter() if whole
                  else highlight.ContextFragmenter(maxchars=200, surround=60))
    tokens = highlight.set_matched_filter(analyzer(text, chars=True, mode="query", removestops=False), terms)
    fragments = highlight.top_fragments(fragmenter.fragment_tokens(text, tokens), 2, highlight.BasicFragmentScorer(),
                                        highlight.FIRST, 1)
    return PlainFormatter()(text, fragments)


def text_of(record: dict[str, Any]) -> str:
    """The searched body text of a record: its summary and body."""
    return "\n".join(p for p in (record.get("summary"), record.get("body")) if p)


def make_snippet(record: dict[str, Any], q: query.Query, analyzer: Any) -> tuple[str, str]:
    """``(snippet, title)`` of a hit, the matched words in [[marks]]; the same from either backend.

    The snippet is the best one or two fragments of the text that hold a matched word, else the
    start of the text; the title is marked when a word matched it (else returned as it is).
    """
    words = query_words(q)
    text = text_of(record)
    title = record.get("title") or ""
    snippet = _marked(text, *words["body"], analyzer, whole=False) or _plain_snippet(record)
    return " ".join(snippet.split()), _marked(title, *words["title"], analyzer, whole=True) or title


class PlainFormatter(highlight.Formatter):
    """Fragments joined by ' … ' with matched terms in [[double brackets]]; ends that cut words get '…'."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"[[{highlight.get_text(text, token, replace)}]]"

    def format(self, fragments: list[Any], replace: bool = False) -> str:
        """Join the fragments; the first and last get '…' where they leave out words of the text."""
        if not fragments:
            return ""
        first, last = fragments[0], fragments[-1]
        if not _WORD.search(first.text, 0, first.startchar):  # only spaces or punctuation before: keep them
            first.startchar = 0
        if not _WORD.search(last.text, last.endchar):
            last.endchar = len(last.text)
        text = self.between.join(self.format_fragment(f, replace=replace).strip() for f in fragments)
        if first.startchar > 0:
            text = "…" + text
        if last.endchar < len(last.text):
            text += "…"
        return text


def _record(stored: Any) -> dict[str, Any]:
    return json.loads(stored["record"])


def _facets(searcher: Any, q: query.Query) -> dict[str, dict[str, int]]:
    """Counts of matching records by source and by agency (agency names as printed)."""
    results = run_limited(searcher, q, groupedby=["source", "agency"], limit=1)
    facets: dict[str, dict[str, int]] = {}
    for name in ("source", "agency"):
        counts: dict[str, int] = {}
        for value, docnums in results.groups(name).items():
            label = value
            if value is not None and docnums:  # as the record prints it (the index keeps it in lower case)
                label = _record(searcher.stored_fields(docnums[0])).get(name) or value
            counts[label if label is not None else "(none)"] = len(docnums)
        facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return facets


def _duplicates(searcher: Any, q: query.Query, rep: dict[str, Any]) -> list[dict[str, Any]]:
    """The other matching records of ``rep``'s near-duplicate group, oldest first."""
    group = rep.get(GROUP_FIELD)
    if not group:
        return []
    members = run_limited(searcher, query.And([q, query.Term(GROUP_FIELD, group)]), limit=None, sortedby="published")
    return [r for r in (_record(m) for m in members) if r["key"] != rep["key"]]


class _Opened:
    """One thread's searchers: index dir → (its inode, a searcher kept open for the next search)."""

    def __init__(self) -> None:
        self.by_dir: dict[Path, tuple[int | None, Any]] = {}


class _ThreadSearchers(threading.local):
    def __init__(self) -> None:
        self.open = _Opened()
        with _every_lock:
            _every.add(self.open)


# A Whoosh searcher is not safe to share between threads: its readers seek and read shared
# file objects, so two threads at once get each other's bytes (zlib.error, UnpicklingError,
# struct.error: the web server's 500s).  Each thread keeps its own, dropped when the thread ends.
_every: weakref.WeakSet[_Opened] = weakref.WeakSet()  # every live thread's searchers, for close_searchers
_every_lock = threading.Lock()
_local = _ThreadSearchers()


def _searcher(index_dir: Path) -> Any:
    """This thread's searcher of the index, reopened only when a commit changed it.

    Reopening is cheap (the segments' files are read in place), and Whoosh's own
    ``Searcher.refresh`` can count a reused segment twice, so a changed index
    (new generation, or a new directory after ``reindex``) is opened afresh.
    """
    key = Path(index_dir).resolve()
    mine = _local.open.by_dir
    inode, searcher = mine.get(key, (None, None))
    try:
        current: int | None = key.stat().st_ino
    except OSError:
        current = None
    if searcher is not None:
        try:
            if inode == current and searcher.up_to_date():
                check_open(key)  # files damaged since it was opened (a few stat calls and the TOC's CRC)
                return searcher
        except Damage as exc:
            del mine[key]
            searcher.close()
            raise damaged(key, str(exc)) from None
        except Exception:  # files removed under us: open afresh
            logger.debug("reopening the index at %s", key, exc_info=True)
        del mine[key]
        searcher.close()
    searcher = open_index(key).searcher()
    mine[key] = (current, searcher)
    return searcher


def close_searchers() -> None:
    """Close the searchers every thread keeps open (at exit, or before the index directory is swapped)."""
    with _every_lock:
        opened = list(_every)
    for searchers in opened:
        for _inode, searcher in list(searchers.by_dir.values()):
            searcher.close()
        searchers.by_dir.clear()


def sort_for(text: str, sort: str) -> str:
    """The order a search runs in: relevance ranks words; with no words it is newest first."""
    return "newest" if sort == "relevance" and not text.strip() else sort


def check_page(sort: str, limit: int, page: int) -> None:
    """QueryError for a sort, limit or page that no backend runs."""
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}", f"use one of: {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"--limit must be between 1 and {MAX_LIMIT}")
    if page < 1:
        raise QueryError(f"page {page} does not exist: pages are numbered from 1")
    if page * limit > MAX_DEPTH:
        raise QueryError(f"--page {page} with --limit {limit} is past the first {MAX_DEPTH} results",
                         "narrow the search with words or dates instead of paging deeper")


@guarded
def search(
    index_dir: Path,
    text: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Sequence[str] = (),
    agencies: Sequence[str] = (),
    authors: Sequence[str] = (),
    kinds: Sequence[str] = (),
    sort: str = "relevance",
    limit: int = 20,
    page: int = 1,
    facets: bool = False,
    collapse: bool = False,
) -> SearchResult:
    """Search the index; one page of hits newest-first, oldest-first or by relevance (no words: newest)."""
    check_page(sort, limit, page)
    sort = sort_for(text, sort)
    searcher = _searcher(index_dir)
    q = build_query(searcher.schema, text, since, until, sources, agencies=agencies, authors=authors, kinds=kinds)
    depth = page * limit
    offset = (page - 1) * limit
    if collapse and GROUP_FIELD not in searcher.schema:
        raise QueryError("this index has no near-duplicate groups yet",
                         "run `newsdesk reindex` to rebuild it with the current schema")
    if (sort != "relevance" and (since or until) and not (sources or agencies or authors or kinds)
            and not (facets or collapse) and isinstance(parse_query(searcher.schema, text), query.Every)):
        # A range with no words, by time: walk the days from one end.
        docnums, total = newest_in_range(searcher, since and _utc_naive(since), until and _utc_naive(until),
                                         depth, newest=sort == "newest")
        hits = []
        for docnum in docnums[offset:]:
            record = json.loads(searcher.stored_fields(docnum)["record"])
            hits.append(Hit(record=record, score=None, snippet=_plain_snippet(record), title=record.get("title") or ""))
        return SearchResult(hits=hits, total=total, query=str(q), page=page, pages=(total + limit - 1) // limit)
    kwargs: dict[str, Any] = {}
    if collapse:
        kwargs.update(collapse=GROUP_FIELD, collapse_limit=1, collapse_order="published")
    fast = None
    if not collapse:
        fast = top_docs(searcher, q, depth, sortedby=None if sort == "relevance" else "published",
                        reverse=sort == "newest", missing_last=True)
    if fast is not None:
        # Whole posting lists as arrays (index.vectorized): the same hits, scores, order and total.
        top_n, total = fast
        results = Results(searcher, q, top_n)
    elif sort == "relevance":
        # One exact pass that scores and counts every match.  Whoosh's default
        # top-N skips blocks, then runs the query again to count: 2x slower for
        # several words and phrases (30 % faster for one word), and with matchers
        # that lack block bounds (our date range) it can under-count.  Snippets
        # take the query's own words (no per-document matched-term bookkeeping).
        top = StableTopCollector(depth, usequality=False, replace=0)
        results = run_limited(searcher, q, collector=top, **kwargs)  # bounded in time (index.query)
    else:
        results = run_limited(searcher, q, limit=depth, sortedby=_by_time(sort), reverse=sort == "newest", **kwargs)
    analyzer = searcher.schema["body"].analyzer
    hits = []
    for hit in results[offset:offset + limit]:
        record = _record(hit)
        snippet, title = make_snippet(record, q, analyzer)
        hits.append(Hit(record=record, score=hit.score if sort == "relevance" else None, snippet=snippet,
                        title=title))
        if collapse and results.collapsed_counts.get(record.get(GROUP_FIELD) or ""):
            hits[-1].duplicates = _duplicates(searcher, q, record)
    if fast is None:
        total = len(results)
    found = SearchResult(hits=hits, total=total, query=str(q), page=page, pages=(total + limit - 1) // limit)
    if facets:
        found.facets = _facets(searcher, q)
    return found


def _by_time(sort: str) -> Any:
    """The sort facet for newest or oldest: undated records (``published`` 0) last either way."""
    if sort == "newest":
        return "published"
    return sorting.TranslateFacet(lambda value: value or _NEVER, sorting.FieldFacet("published"))


def _plain_snippet(record: dict[str, Any]) -> str:
    """The snippet of a hit no word matched: the start of its text."""
    text = text_of(record)
    snippet = text[:200] + ("…" if len(text) > 200 else "") if text else ""
    return " ".join(snippet.split())


def explain(index_dir: Path | None, text: str, filters: Filters | None = None) -> list[str]:
    """How ``text`` and the filters are understood, one line per part (no search is run)."""
    from index.schema import make_schema

    schema = make_schema()
    if index_dir is not None:
        try:
            ix = open_index(index_dir)
        except NewsdeskError:
            pass
        else:
            schema = ix.schema
            ix.close()
    f = filters or Filters()
    words = parse_query(schema, text)
    lines = [f"query:    {words}"]
    if isinstance(words, query.Every):
        lines.append("          (no words: every record matches)")
    stems = sorted({(t.decode() if isinstance(t, bytes) else str(t)) for name, t in words.iter_all_terms()
                    if name in SEARCH_FIELDS})
    if stems:
        lines.append(f"terms:    {', '.join(stems)}  (stemmed; title matches weigh double)")
    if f.since or f.until:
        start = f.since.astimezone(timezone.utc).isoformat() if f.since else "(open)"
        end = f.until.astimezone(timezone.utc).isoformat() if f.until else "(open)"
        lines.append(f"time:     {start} … {end}  (UTC)")
    for label, values in (("sources", f.sources), ("agencies", f.agencies), ("authors", f.authors),
                          ("kinds", f.kinds)):
        if values:
            lines.append(f"{label + ':':<10}{' OR '.join(values)}")
    lines.append(f"whoosh:   {query_for(schema, text, f)}")
    return lines
