"""User query text → a Whoosh query that is bounded in size and in time, or a QueryError.

Whoosh's stock parser, fed hostile text, can run for minutes or crash: ``a*``
expands to most of the vocabulary, ``??*`` scans every term, a 3,000-term OR
or 2,000 nested parentheses overflow the stack, ``NOT NOT NOT`` raises
IndexError, a 100k-character token parses in quadratic time.  This module
fences it:

* text: at most ``MAX_QUERY_CHARS`` characters, ``MAX_WORDS`` words, words of
  at most ``MAX_WORD_CHARS``, parentheses nested at most ``MAX_DEPTH`` deep;
  all checked on the raw text, before the parser runs;
* syntax: ranges and fuzzy terms are off; the only wildcard is a trailing
  ``*`` after at least ``MIN_PREFIX`` characters (``korea*``), at most
  ``MAX_PREFIXES`` of them, standing for at most ``MAX_EXPANSION`` indexed
  words; fields are the ones in ``FIELDS``;
* the parsed query holds at most ``MAX_TERMS`` terms;
* every search runs under a ``TimeLimitCollector`` (:func:`run_limited`).

Every refusal and every parser exception becomes :class:`QueryError`
("invalid query: …", exit code 2).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from whoosh import collectors, query
from whoosh.qparser import AndGroup, MultifieldParser, plugins

from index.schema import KEYWORD_FIELDS, keyword_value
from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
MAX_WORDS = 64
MAX_WORD_CHARS = 200
MAX_DEPTH = 8
MAX_TERMS = 128  # after parsing; a word searched in title and body counts twice
MIN_PREFIX = 3
MAX_PREFIXES = 3
MAX_EXPANSION = 1000  # index words all of a query's prefixes may stand for, together
#: Seconds a search may spend collecting hits before it is stopped.
SEARCH_TIME_LIMIT = 10.0

#: The default fields, and every field a user may name as ``field:word``.
SEARCH_FIELDS = ("title", "body")
FIELDS = ("title", "body", "source", "kind", "agency", "language", "authors")

#: Quoted text (left alone), a minus that starts a word (NOT), or a field name (matched in any case).
_REWRITE = re.compile(r'(?P<quoted>"[^"]*(?:"|$))|(?P<minus>(?:^|(?<=[\s(]))-+(?=[\w"(]))'
                      r'|(?P<field>(?<![\w\\])[A-Za-z_][\w.-]*(?=:))')
_RANGE = re.compile(r"[\[{][^\]}]*\bTO\b", re.IGNORECASE)
_FIELD_PREFIX = re.compile(r"(?<![\w\\])([A-Za-z_][\w.-]*):(?=[^\s:/]|$)")
_HINT = 'check quotes and parentheses, or put the words in "quotes"'


class QueryError(NewsdeskError):
    """A query or filter that cannot be run; ``hint`` says what to do instead."""

    exit_code = 2


class SearchTimeout(QueryError):
    """A search ran past its time limit."""


def _outside_quotes(text: str) -> str:
    """The text with quoted phrases blanked out (an unclosed quote runs to the end)."""
    return re.sub(r'"[^"]*("|$)', lambda m: " " * len(m.group(0)), text)


def _check_text(text: str) -> None:
    """Refuse text whose size alone makes the parser slow or deep."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"invalid query: {len(text)} characters long (at most {MAX_QUERY_CHARS})",
                         "search for fewer words")
    words = text.split()
    if len(words) > MAX_WORDS:
        raise QueryError(f"invalid query: {len(words)} words (at most {MAX_WORDS})", "search for fewer words")
    longest = max(words, key=len)
    if len(longest) > MAX_WORD_CHARS:
        raise QueryError(f"invalid query: a word of {len(longest)} characters (at most {MAX_WORD_CHARS})",
                         "search for shorter words")
    if text.count('"') % 2:
        raise QueryError("invalid query: a quote (\") is not closed",
                         'close the phrase ("north korea troops"), or leave the quote out')
    depth = deepest = 0
    for char in _outside_quotes(text):
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
    if deepest > MAX_DEPTH:
        raise QueryError(f"invalid query: parentheses nested {deepest} deep (at most {MAX_DEPTH})", _HINT)
    if _RANGE.search(_outside_quotes(text)):
        raise QueryError("invalid query: ranges ([a TO b]) are not supported",
                         "for dates use --since/--until; otherwise search for the words")
    for match in _FIELD_PREFIX.finditer(_outside_quotes(text)):
        name = match.group(1)
        if name.lower() not in FIELDS:
            raise QueryError(f"invalid query: unknown field {name!r}",
                             f"fields are: {', '.join(FIELDS)}; or put the words in \"quotes\"")


def rewrite(text: str) -> str:
    """The text as the parser takes it: each word-leading ``-`` written ``NOT `` (the web search
    convention: ``-word``, ``-"a phrase"``, ``-field:name``, ``-(a OR b)``), known field names in
    lower case (``Agency:`` is ``agency:``).  Quoted text, and a minus inside a word
    (``north-korea``, ``2024-10``), are left alone.
    """
    def one(match: re.Match[str]) -> str:
        if match.group("minus"):
            return "NOT "
        if match.group("field") and match.group("field").lower() in FIELDS:
            return match.group("field").lower()
        return match.group(0)

    return _REWRITE.sub(one, text)


def _normalize(node: query.Query) -> query.Query:
    """The tree with names in keyword fields as indexed (:func:`index.schema.keyword_value`).

    ``agency:Reuters`` becomes ``agency:reuters``; ``authors:"Smith, John"`` (parsed as a phrase of
    two words) becomes the one term ``smith john``.
    """
    if isinstance(node, (query.Term, query.Prefix)) and node.fieldname in KEYWORD_FIELDS:
        return type(node)(node.fieldname, keyword_value(node.fieldname, node.text), boost=node.boost)
    if isinstance(node, query.Phrase) and node.fieldname in KEYWORD_FIELDS:
        return query.Term(node.fieldname, keyword_value(node.fieldname, " ".join(node.words)), boost=node.boost)
    if node.is_leaf():
        return node
    return node.apply(_normalize)


def make_parser(schema: Any) -> MultifieldParser:
    """Whoosh's parser over title and body, with ranges and fuzzy terms off."""
    parser = MultifieldParser(list(SEARCH_FIELDS), schema, group=AndGroup)
    parser.remove_plugin_class(plugins.RangePlugin)
    parser.remove_plugin_class(plugins.FuzzyTermPlugin)
    return parser


def _nodes(parsed: query.Query) -> list[query.Query]:
    """Every node of a parsed query (nesting is already bounded by ``_check_text``)."""
    found, stack = [], [parsed]
    while stack:
        node = stack.pop()
        found.append(node)
        if not node.is_leaf():
            stack.extend(node.children())
    return found


def _check_tree(parsed: query.Query) -> None:
    """Refuse parsed queries that would expand to most of the vocabulary or are too big."""
    terms = 0
    prefixes: set[str] = set()
    for node in _nodes(parsed):
        if isinstance(node, query.Every):
            raise QueryError("invalid query: '*' alone matches everything",
                             "leave the query empty to list everything (with --since/--until)")
        if isinstance(node, query.Wildcard) and not isinstance(node, query.Prefix):
            raise QueryError(f"invalid query: wildcard {node.text!r} is not supported",
                             f"only a trailing * after {MIN_PREFIX}+ letters works, e.g. korea*")
        if isinstance(node, query.Prefix):
            if len(node.text) < MIN_PREFIX:
                raise QueryError(f"invalid query: prefix {node.text + '*'!r} is too short",
                                 f"put at least {MIN_PREFIX} letters before the *")
            prefixes.add(node.text)
        if node.is_leaf():
            terms += 1
    if len(prefixes) > MAX_PREFIXES:
        raise QueryError(f"invalid query: {len(prefixes)} wildcards (at most {MAX_PREFIXES})",
                         "use fewer words ending in *")
    if terms > MAX_TERMS:
        raise QueryError(f"invalid query: {terms} terms (at most {MAX_TERMS})", "search for fewer words")


def parse_query(schema: Any, text: str) -> query.Query:
    """Parse user text into a bounded Whoosh query, or raise QueryError."""
    text = text.strip()
    if not text:
        return query.Every()
    _check_text(text)
    try:
        parsed = _normalize(make_parser(schema).parse(rewrite(text)))
    except Exception as exc:  # Whoosh raises IndexError, AssertionError, RecursionError … on odd input
        logger.debug("parser failed on %r", text, exc_info=True)
        raise QueryError(f"invalid query: {text[:80]!r} cannot be parsed ({type(exc).__name__})", _HINT) from None
    if parsed is query.NullQuery or isinstance(parsed, query.NullQuery.__class__):
        raise QueryError(f"invalid query: {text[:80]!r} has no words to search for",
                         "use letters or digits; operators and very common words alone match nothing")
    _check_tree(parsed)
    return parsed


def check_expansion(searcher: Any, q: query.Query, cap: int = MAX_EXPANSION) -> None:
    """Refuse prefixes that stand for more than ``cap`` indexed words (counted up to the cap, no further)."""
    reader = searcher.reader()
    budget = cap
    for node in _nodes(q):
        if isinstance(node, query.Prefix) and node.fieldname in reader.schema:
            for _ in reader.expand_prefix(node.fieldname, node.text):
                budget -= 1
                if budget < 0:
                    raise QueryError(f"invalid query: {node.text + '*'!r} matches over {cap} different words",
                                     "put more letters before the *")


class _TimeLimit(collectors.TimeLimitCollector):
    """Whoosh's time limit, also checked per hit when an outer collector drives the loop.

    Whoosh's CollapseCollector runs its own loop and calls ``collect`` on its child, which
    would skip TimeLimitCollector's check (it lives in ``collect_matches``).
    """

    def collect(self, sub_docnum: int) -> Any:
        if self.timedout:
            raise collectors.TimeLimit
        return self.child.collect(sub_docnum)


def run_limited(searcher: Any, q: query.Query, *, timelimit: float = SEARCH_TIME_LIMIT,
                collector: collectors.Collector | None = None,
                collapse: str | None = None, collapse_limit: int = 1, collapse_order: str | None = None,
                **collector_args: Any) -> Any:
    """``searcher.search`` under a time limit; SearchTimeout past ``timelimit`` seconds.

    :param collector: a collector to run (time-limited and collapsed around it), instead of
        the one ``collector_args`` describe.
    :param collector_args: what ``searcher.search`` takes besides collapsing: limit,
        sortedby, reverse, terms, groupedby…
    """
    check_expansion(searcher, q)
    inner = collector if collector is not None else searcher.collector(**collector_args)
    # No SIGALRM: only the main thread may set it, and a late alarm would hit unrelated code.
    # The collector checks the clock between hits; the parse guards keep each matcher small.
    timed = _TimeLimit(inner, timelimit=timelimit, use_alarm=False)
    outer: Any = timed
    if collapse:  # collapsing wraps the time limit so that its own loop is the one that runs
        outer = collectors.CollapseCollector(timed, collapse, limit=collapse_limit, order=collapse_order)
    try:
        searcher.search_with_collector(q, outer)
    except collectors.TimeLimit:
        raise SearchTimeout(f"search stopped after {timelimit:g} s",
                            "use more specific words or a date range") from None
    finally:
        if timed.timer is not None:
            timed.timer.cancel()
    return outer.results()
