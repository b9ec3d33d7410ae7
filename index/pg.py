"""The shared archive in PostgreSQL: one table of records keyed by item key, full-text searched.

Records arrive from outbox files (``deliver``) or from a home's JSONL archive
(``load_archive``).  Each key is one row of ``newsdesk_records`` holding its
newest content (by the record's version number, then its fetch time); every
distinct content is kept once in ``newsdesk_record_versions``, so an older
version delivered late only joins the history and a repeated delivery adds
nothing.  As at Whoosh ingest, an empty field of a newer record keeps the
stored value.

``search`` and ``timeline`` take the same arguments and return the same
objects as :mod:`index.search` and :mod:`index.timeline`, so the CLI prints
the same JSON from either backend.  They also mean the same: each row's
``terms`` is a tsvector of the words the local index's analyzer makes (same
stems, stop words and positions; title words weight A, body words B), and a
query is parsed by the local index's parser (:func:`index.query.parse_query`)
and compiled to SQL (:class:`_Compiler`).  Ranking is ``ts_rank_cd``;
snippets are made as on the local index (:func:`index.search.make_snippet`);
every query runs under a ``statement_timeout``.

psycopg (3) is imported only when a function here is called: it comes with
the ``newsdesk[scale]`` extra.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any

from whoosh import query

from index import schema
from index.ingest import IngestResult, _archive, archive_files, pending_files, read_records
from index.query import parse_query
from index.records import version_order
from index.schema import keyword_value, make_analyzer, make_schema
from index.search import (Filters, Hit, QueryError, SearchResult, check_page, filter_values, make_snippet, sort_for,
                          text_of)
from index.timeline import BY, Timeline, tally, window
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock, LockBusy

logger = logging.getLogger(__name__)

TABLE = "newsdesk_records"
VERSIONS = "newsdesk_record_versions"
STATEMENT_TIMEOUT_MS = 5000
BATCH = 500
#: Fields that change on every fetch without the content changing: not part of the content hash.
VOLATILE = ("fetched_at", "version", "capture", "capture_warc")

SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key          text PRIMARY KEY,
    source       text,
    kind         text,
    agency       text,
    authors      text[] NOT NULL DEFAULT '{{}}',
    title        text NOT NULL DEFAULT '',
    body         text NOT NULL DEFAULT '',
    published    timestamptz,
    version      integer NOT NULL DEFAULT 1,
    content_hash text NOT NULL,
    record       jsonb NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    language     text,
    terms        tsvector
);
CREATE INDEX IF NOT EXISTS {TABLE}_terms ON {TABLE} USING gin (terms);
CREATE INDEX IF NOT EXISTS {TABLE}_unsearchable ON {TABLE} (key) WHERE terms IS NULL;
CREATE INDEX IF NOT EXISTS {TABLE}_published ON {TABLE} (published);
CREATE INDEX IF NOT EXISTS {TABLE}_source ON {TABLE} (source);
CREATE TABLE IF NOT EXISTS {VERSIONS} (
    key          text NOT NULL,
    version      integer NOT NULL,
    content_hash text NOT NULL,
    record       jsonb NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, version)
);
"""

#: A table made before words were indexed with the local index's analyzer gets its columns (filled by
#: ``_backfill``); the old ``tsv`` column (PostgreSQL's own 'english' parsing) goes.
MIGRATE_SQL = f"""
ALTER TABLE {TABLE} DROP COLUMN IF EXISTS tsv;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS terms tsvector;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS language text;
"""
BACKFILL_SQL = f"""
UPDATE {TABLE} SET source = %(source)s, kind = %(kind)s, agency = %(agency)s, language = %(language)s,
    authors = %(authors)s, terms = %(terms)s::tsvector
WHERE key = %(key)s
"""

WRITE_SQL = f"""
INSERT INTO {TABLE} AS r (key, source, kind, agency, language, authors, title, body, published, terms, version,
                          content_hash, record)
VALUES (%(key)s, %(source)s, %(kind)s, %(agency)s, %(language)s, %(authors)s, %(title)s, %(body)s, %(published)s,
        %(terms)s::tsvector, %(version)s, %(content_hash)s, %(record)s)
ON CONFLICT (key) DO UPDATE SET
    source = EXCLUDED.source, kind = EXCLUDED.kind, agency = EXCLUDED.agency, language = EXCLUDED.language,
    authors = EXCLUDED.authors, title = EXCLUDED.title, body = EXCLUDED.body, published = EXCLUDED.published,
    terms = EXCLUDED.terms, version = EXCLUDED.version, content_hash = EXCLUDED.content_hash,
    record = EXCLUDED.record, stored_at = now()
"""
HISTORY_SQL = f"INSERT INTO {VERSIONS} (key, version, content_hash, record) VALUES (%s, %s, %s, %s)"


class ArchiveError(NewsdeskError):
    """The PostgreSQL archive cannot be used (no client library, bad URL, server down)."""


@dataclass
class DeliverResult:
    """What one delivery did: files shipped, records sent, and how many were new or changed."""

    files: int = 0
    records: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0  # older than the current content: kept in the version history only
    bad_lines: int = 0
    skipped_live: list[str] = field(default_factory=list)

    def counts(self) -> str:
        """``N new, N changed, N unchanged`` (and older versions kept, if any)."""
        older = f", {self.older} older kept as earlier versions" if self.older else ""
        return f"{self.new} new, {self.updated} changed{older}, {self.unchanged} unchanged"


# --- connection ----------------------------------------------------------------------

def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ArchiveError("the PostgreSQL archive needs psycopg",
                           "pip install 'newsdesk[scale]'") from None
    return psycopg


def check_url(url: str) -> str:
    """A PostgreSQL URL, or ArchiveError saying what is wrong with it."""
    if not re.match(r"^postgres(ql)?://", url or ""):
        raise ArchiveError(f"not a PostgreSQL URL: {url!r}", "use postgresql://user@host:port/dbname")
    return url


def connect(url: str, timeout_ms: int = STATEMENT_TIMEOUT_MS) -> Any:
    """A connection with a statement timeout; ArchiveError if the server cannot be reached."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(check_url(url), connect_timeout=5,
                               options=f"-c statement_timeout={int(timeout_ms)}")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(f"cannot reach the PostgreSQL archive: {first}",
                           "check --archive (or [scale] archive) and that the server is up") from None


def ensure_schema(conn: Any) -> None:
    """Create the tables and indexes if they are missing; bring a table of an older newsdesk up to date."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
        old = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'tsv'",
                           (TABLE,)).fetchone()
        if old:
            conn.execute(MIGRATE_SQL)
        conn.execute(SCHEMA_SQL)
    _backfill(conn)


def _backfill(conn: Any) -> None:
    """Index the words (and names) of rows written by an older newsdesk, a batch at a time."""
    while True:
        with conn.transaction():
            rows = conn.execute(f"SELECT record, version FROM {TABLE} WHERE terms IS NULL LIMIT {BATCH} "
                                "FOR UPDATE SKIP LOCKED").fetchall()
            if not rows:
                return
            logger.info("indexing the words of %d archived records", len(rows))
            with conn.cursor() as cur:
                cur.executemany(BACKFILL_SQL, [_row(record, version) for record, version in rows])


# --- writing -------------------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``, with its empty fields filled from ``old`` (as Whoosh ingest does)."""
    merged = dict(new)
    for name, value in old.items():
        if _empty(merged.get(name)) and not _empty(value):
            merged[name] = value
    return merged


def content_hash(record: dict[str, Any]) -> str:
    """A hash of the record's content (not of when it was fetched)."""
    stable = {k: v for k, v in record.items() if k not in VOLATILE}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def item_time(record: dict[str, Any]) -> datetime | None:
    """The time a record is searched and sorted by, as in the Whoosh index, but aware UTC."""
    moment = schema.item_time(record)
    return moment.replace(tzinfo=timezone.utc) if moment else None


def _row(record: dict[str, Any], version: int) -> dict[str, Any]:
    from psycopg.types.json import Jsonb

    def name(field: str) -> str | None:
        return keyword_value(field, record[field]) if record.get(field) else None

    return {
        "key": record["key"],
        "source": name("source"),
        "kind": name("kind"),
        "agency": name("agency"),
        "language": name("language"),
        "authors": [keyword_value("authors", a) for a in record.get("authors") or [] if a],
        "title": record.get("title") or "",
        "body": text_of(record),
        "published": item_time(record),
        "terms": document_terms(record),
        "version": version,
        "content_hash": content_hash(record),
        "record": Jsonb(record),
    }


def upsert(conn: Any, records: Iterable[dict[str, Any]], result: DeliverResult) -> None:
    """Upsert records in batches, each batch one transaction; unchanged records write nothing."""
    batch: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["key"] in batch:  # a second version of a key: it goes in the next batch
            _upsert_batch(conn, list(batch.values()), result)
            batch.clear()
        batch[record["key"]] = record
        if len(batch) >= BATCH:
            _upsert_batch(conn, list(batch.values()), result)
            batch.clear()
    if batch:
        _upsert_batch(conn, list(batch.values()), result)


def _upsert_batch(conn: Any, records: list[dict[str, Any]], result: DeliverResult) -> None:
    """Write one batch: the newest content of each key is current; an older one only joins the history.

    A record whose content is the current one, or (if older) already in the history, writes nothing,
    so delivering or loading the same records again adds no version.  Writers of the same keys take
    turns (an advisory lock per key, taken in key order).
    """
    keys = sorted(r["key"] for r in records)
    with conn.transaction():
        conn.execute("SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM "
                     "(SELECT k FROM unnest(%s::text[]) AS k ORDER BY k) AS ordered", (keys,))
        stored = dict(conn.execute(f"SELECT key, record FROM {TABLE} WHERE key = ANY(%s)", (keys,)).fetchall())
        history: dict[str, tuple[int, set[str]]] = {}
        for key, version, digest in conn.execute(
                f"SELECT key, version, content_hash FROM {VERSIONS} WHERE key = ANY(%s)", (keys,)):
            top, digests = history.setdefault(key, (0, set()))
            history[key] = (max(top, version), digests | {digest})
        rows, versions = [], []
        for record in records:
            key = record["key"]
            old = stored.get(key)
            top, digests = history.get(key, (0, set()))
            if old is None:
                row = _row(record, top + 1)
                rows.append(row)
                result.new += 1
            elif version_order(record) >= version_order(old):
                row = _row(merge(old, record), top + 1)
                if row["content_hash"] == content_hash(old):
                    result.unchanged += 1
                    continue
                rows.append(row)
                result.updated += 1
            else:
                row = _row(record, top + 1)
                if row["content_hash"] in digests:
                    result.unchanged += 1
                    continue
                result.older += 1
            versions.append((key, row["version"], row["content_hash"], row["record"]))
        with conn.cursor() as cur:
            if rows:
                cur.executemany(WRITE_SQL, rows)
            if versions:
                cur.executemany(HISTORY_SQL, versions)
    result.records += len(records)


def deliver(home: Home, url: str, wait: float = 60.0) -> DeliverResult:
    """Ship every ready outbox file of ``home`` to the archive, then move it to ``home``'s JSONL archive.

    A file leaves the outbox only after its records are committed in
    PostgreSQL: if the server is down, ArchiveError is raised and every file
    stays for the next delivery.
    """
    result = DeliverResult()
    home.ensure(home.root)
    try:
        with FileLock(home.lock("deliver"), wait=wait):
            ingest_view = IngestResult()
            files = pending_files(home, ingest_view)
            result.skipped_live = ingest_view.skipped_live
            if not files:
                return result
            conn = connect(url)
            try:
                ensure_schema(conn)
                for path in files:
                    upsert(conn, read_records(path, ingest_view), result)
                    _archive(home, path)  # committed in PostgreSQL: the local archive may take it
                    result.files += 1
            except _psycopg().OperationalError as exc:
                raise ArchiveError(f"the PostgreSQL archive went away: {str(exc).strip()[:200]}",
                                   "the records stay in the outbox; delivery retries") from None
            finally:
                conn.close()
            result.bad_lines = ingest_view.bad_lines
    except LockBusy:
        raise ArchiveError(f"another delivery held {home.locks / 'deliver.lock'} for over {wait:.0f} s") from None
    return result


def load_archive(home: Home, url: str) -> DeliverResult:
    """Upsert every record of ``home``'s JSONL archive (and nothing else) into PostgreSQL."""
    result = DeliverResult()
    conn = connect(url)
    try:
        ensure_schema(conn)
        view = IngestResult()
        for path in archive_files(home):
            upsert(conn, read_records(path, view), result)
            result.files += 1
        result.bad_lines = view.bad_lines
    finally:
        conn.close()
    return result


# --- searching -----------------------------------------------------------------------

#: PostgreSQL's limits on a tsvector: positions, positions kept per word, bytes per word.
MAX_POSITION = 16383
MAX_POSITIONS = 256
MAX_LEXEME_BYTES = 2046
MAX_TERMS_CHARS = 1_000_000  # a tsvector is at most 1 MB; its text form is longer than that
_WEIGHT = {"title": "A", "body": "B"}
_COLUMN = {"source": "source", "kind": "kind", "agency": "agency", "language": "language"}


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def document_terms(record: dict[str, Any]) -> str:
    """The record's words as a tsvector, made by the local index's own analyzer.

    Title words carry weight A, body words weight B; positions are the analyzer's (stop words
    dropped, as the local index drops them), so a phrase, a prefix and a stem mean the same on both
    backends.  Past PostgreSQL's limits (position 16383, 256 positions per word, 2046-byte words)
    and past 1 MB in all, the rest is left out.
    """
    analyzer = _analyzer()
    positions: dict[str, list[str]] = {}
    start = 1
    for name, text in (("title", record.get("title") or ""), ("body", text_of(record))):
        last = 0
        for token in analyzer(text, positions=True):
            last = token.pos
            spots = positions.setdefault(token.text, [])
            if len(spots) < MAX_POSITIONS:
                spots.append(f"{min(start + token.pos, MAX_POSITION)}{_WEIGHT[name]}")
        start += last + 2
    pieces, size = [], 0
    for word, spots in positions.items():
        piece = f"{_lexeme(word)}:{','.join(spots)}"
        size += len(piece) + 1
        if size > MAX_TERMS_CHARS:
            break
        if len(word.encode()) <= MAX_LEXEME_BYTES:
            pieces.append(piece)
    return " ".join(pieces)


_analyzers: list[Any] = []


def _analyzer() -> Any:
    if not _analyzers:
        _analyzers.append(make_analyzer())
    return _analyzers[0]


class _Compiler:
    """A parsed query (:func:`index.query.parse_query`, the local index's own parser) as SQL.

    Words in titles and bodies become tsquery operands on the stored ``terms`` (weights A and B);
    names in keyword fields become comparisons with their columns.  ``params`` collects the values.
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.ranked: list[str] = []  # tsquery text of the words outside a NOT: for ts_rank_cd

    def _param(self, value: Any) -> str:
        name = f"q{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def tsquery(self, node: query.Query) -> str | None:
        """The node as tsquery text, or None if part of it is not about words."""
        if isinstance(node, query.Term) and node.fieldname in _WEIGHT:
            return f"{_lexeme(node.text)}:{_WEIGHT[node.fieldname]}"
        if isinstance(node, query.Prefix) and node.fieldname in _WEIGHT:
            return f"{_lexeme(node.text)}:*{_WEIGHT[node.fieldname]}"
        if isinstance(node, query.Phrase) and node.fieldname in _WEIGHT:
            return "(" + " <-> ".join(f"{_lexeme(w)}:{_WEIGHT[node.fieldname]}" for w in node.words) + ")"
        if isinstance(node, query.Not):
            inner = self.tsquery(node.query)
            return None if inner is None else f"!{inner}"
        if isinstance(node, (query.And, query.Or)):
            parts = [self.tsquery(c) for c in node.children()]
            if any(p is None for p in parts):
                return None
            return "(" + (" & " if isinstance(node, query.And) else " | ").join(parts) + ")"  # type: ignore[arg-type]
        return None

    def sql(self, node: query.Query, negated: bool = False) -> str:
        """The node as a boolean SQL expression (never NULL)."""
        words = self.tsquery(node)
        if words is not None:
            if not negated and not isinstance(node, query.Not):
                self.ranked.append(words)
            return f"coalesce(terms @@ {self._param(words)}::tsquery, false)"
        if isinstance(node, query.Every):
            return "true"
        if isinstance(node, query.Not):
            return f"NOT ({self.sql(node.query, not negated)})"
        if isinstance(node, query.AndNot):
            return f"({self.sql(node.a, negated)} AND NOT ({self.sql(node.b, not negated)}))"
        if isinstance(node, query.AndMaybe):  # b only raises the score
            return self.sql(node.a, negated)
        if isinstance(node, (query.And, query.Or)):
            joiner = " AND " if isinstance(node, query.And) else " OR "
            return "(" + joiner.join(self.sql(c, negated) for c in node.children()) + ")"
        name = getattr(node, "fieldname", None)
        if isinstance(node, query.Term) and name in _COLUMN:
            return f"coalesce({_COLUMN[name]} = {self._param(node.text)}, false)"
        if isinstance(node, query.Term) and name == "authors":
            return f"({self._param(node.text)} = ANY(authors))"
        if isinstance(node, query.Prefix) and name in _COLUMN:
            return f"coalesce(starts_with({_COLUMN[name]}, {self._param(node.text)}), false)"
        if isinstance(node, query.Prefix) and name == "authors":
            return f"EXISTS (SELECT 1 FROM unnest(authors) AS a WHERE starts_with(a, {self._param(node.text)}))"
        raise QueryError(f"invalid query: the PostgreSQL archive cannot run {str(node)[:80]!r}",
                         "search the local index (without --archive)")


@dataclass
class _Where:
    """The WHERE clause of a search, its parameters, the rank expression and the parsed words."""

    clauses: list[str]
    params: dict[str, Any]
    rank: str | None
    words: query.Query


def _where(text: str, filters: Filters) -> _Where:
    if filters.since and filters.until and filters.since > filters.until:
        raise QueryError("--since is after --until", "swap the two dates")
    words = parse_query(make_schema(), text)
    compiler = _Compiler()
    clauses: list[str] = []
    if not isinstance(words, query.Every):
        clauses.append(compiler.sql(words))
    params = compiler.params
    rank = None
    if compiler.ranked:
        params["rank"] = " | ".join(compiler.ranked)
        rank = "ts_rank_cd(terms, %(rank)s::tsquery)"
    if filters.since:
        clauses.append("published >= %(since)s")
        params["since"] = filters.since
    if filters.until:
        clauses.append("published <= %(until)s")
        params["until"] = filters.until
    for column, values in (("source", filters.sources), ("agency", filters.agencies), ("kind", filters.kinds)):
        cleaned = filter_values(column, values)
        if cleaned:
            clauses.append(f"{column} = ANY(%({column}s)s)")
            params[f"{column}s"] = cleaned
    authors = filter_values("authors", filters.authors)
    if authors:
        clauses.append("authors && %(authors)s")
        params["authors"] = authors
    return _Where(clauses, params, rank, words)


def explain_sql(text: str) -> str:
    """How the PostgreSQL archive runs ``text``: the WHERE clause with its values filled in."""
    where = _where(text, Filters())
    return " AND ".join(where.clauses).replace("%(", "{").replace(")s", "}").format(
        **{k: repr(v) for k, v in where.params.items()}) or "TRUE"


def _run(url: str, timeout_ms: int, work: Any) -> Any:
    psycopg = _psycopg()
    conn = connect(url, timeout_ms)
    try:
        ensure_schema(conn)
        return work(conn)
    except psycopg.errors.QueryCanceled:
        raise QueryError(f"the search took longer than {timeout_ms / 1000:g} s and was stopped",
                         "narrow it with more words, --since/--until or --source") from None
    except psycopg.errors.UndefinedFunction as exc:  # e.g. an old server without starts_with
        raise ArchiveError(f"the PostgreSQL server cannot run this search: {exc}",
                           "use PostgreSQL 11 or newer") from None
    except psycopg.OperationalError as exc:
        raise ArchiveError(f"the PostgreSQL archive went away: {str(exc).strip()[:200]}") from None
    finally:
        conn.close()


def search(
    url: str,
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
    timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> SearchResult:
    """Search the PostgreSQL archive; same arguments and result as :func:`index.search.search`."""
    check_page(sort, limit, page)
    sort = sort_for(text, sort)
    if collapse:
        raise QueryError("--collapse needs the local index (near-duplicate groups are not in PostgreSQL)",
                         "search without --archive, or without --collapse")
    filters = Filters(since=since, until=until, sources=sources, agencies=agencies, authors=authors, kinds=kinds)
    found_where = _where(text, filters)
    params = found_where.params
    where = " AND ".join(found_where.clauses) or "TRUE"
    rank = found_where.rank or "NULL::real"
    # Ties and undated records: by time (undated last in every order), then key, as on the local index.
    order = {"relevance": "score DESC NULLS LAST, published DESC NULLS LAST, key",
             "newest": "published DESC NULLS LAST, key", "oldest": "published ASC NULLS LAST, key"}[sort]
    params.update(limit=limit, offset=(page - 1) * limit)
    sql = f"""
        SELECT key, record, score, count(*) OVER () AS total FROM (
            SELECT key, record, {rank} AS score, published FROM {TABLE} WHERE {where}
        ) matched ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s
    """
    facet_sql = f"""
        SELECT 'source', coalesce(min(record->>'source'), '(none)'), count(*) FROM {TABLE} WHERE {where} GROUP BY source
        UNION ALL
        SELECT 'agency', coalesce(min(record->>'agency'), '(none)'), count(*) FROM {TABLE} WHERE {where} GROUP BY agency
    """
    analyzer = _analyzer()

    def work(conn: Any) -> SearchResult:
        rows = conn.execute(sql, params).fetchall()
        total = rows[0][3] if rows else 0
        if not rows and page > 1:
            total = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", params).fetchone()[0]
        found = SearchResult(total=total, page=page, pages=(total + limit - 1) // limit, query=where)
        for _key, record, score, _total in rows:
            snippet, title = make_snippet(record, found_where.words, analyzer)
            found.hits.append(Hit(record=record, score=float(score) if sort == "relevance" and score is not None
                                  else None, snippet=snippet, title=title))
        if facets:
            counts: dict[str, dict[str, int]] = {"source": {}, "agency": {}}
            for name, label, count in conn.execute(facet_sql, params).fetchall():
                counts[name][label] = counts[name].get(label, 0) + count
            found.facets = {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                            for name, c in counts.items()}
        return found

    return _run(url, timeout_ms, work)


def timeline(url: str, text: str, *, filters: Filters | None = None, by: str = "day",
             zone: tzinfo = timezone.utc, timeout_ms: int = STATEMENT_TIMEOUT_MS) -> Timeline:
    """Counts per bucket from the PostgreSQL archive; same result as :func:`index.timeline.timeline`."""
    if by not in BY:
        raise QueryError(f"unknown bucket {by!r}", f"use one of: {', '.join(BY)}")
    found_where = _where(text, filters or Filters())
    where = " AND ".join(found_where.clauses) or "TRUE"

    def work(conn: Any) -> list[tuple[datetime | None]]:
        return conn.execute(f"SELECT published FROM {TABLE} WHERE {where}", found_where.params).fetchall()

    result = Timeline(by=by, query=where)
    return tally(result, (moment for (moment,) in _run(url, timeout_ms, work)), zone, window(filters))


def history(url: str, key: str) -> list[dict[str, Any]]:
    """Every stored version of ``key``, oldest first, ending with the current one; [] if the key is unknown."""

    def work(conn: Any) -> list[dict[str, Any]]:
        current = conn.execute(f"SELECT record, content_hash FROM {TABLE} WHERE key = %s", (key,)).fetchone()
        if current is None:
            return []
        rows = conn.execute(f"SELECT record FROM {VERSIONS} WHERE key = %s AND content_hash <> %s",
                            (key, current[1])).fetchall()
        return sorted((r for (r,) in rows), key=version_order) + [current[0]]

    return _run(url, STATEMENT_TIMEOUT_MS, work)


def keys(url: str) -> Iterator[str]:
    """Every key in the archive (for checks and tests)."""
    conn = connect(url)
    try:
        ensure_schema(conn)
        yield from (k for (k,) in conn.execute(f"SELECT key FROM {TABLE} ORDER BY key"))
    finally:
        conn.close()


def archive_url(option: str | None, config_url: str = "") -> str | None:
    """The archive a command uses: ``--archive`` (or $NEWSDESK_ARCHIVE), else ``[scale] archive``; None: local."""
    url = option or config_url or None
    return check_url(url) if url else None
