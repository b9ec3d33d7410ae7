"""The shared archive in PostgreSQL: one table of records keyed by item key, full-text searched.

Records arrive from outbox files (``deliver``) or from a home's JSONL archive
(``load_archive``).  Each key is one row of ``newsdesk_records``; a record
whose content hash differs from the stored one replaces it (``ON CONFLICT …
DO UPDATE … WHERE content_hash IS DISTINCT FROM …``) with version + 1, and
every version is kept in ``newsdesk_record_versions``.  As at Whoosh ingest, an
empty field of a new record keeps the stored value.

``search`` and ``timeline`` take the same arguments and return the same
objects as :mod:`index.search` and :mod:`index.timeline`, so the CLI prints
the same JSON from either backend.  Words go through ``websearch_to_tsquery``
('english' stemming: words ANDed, ``"a phrase"``, ``OR``, ``NOT word`` /
``-word``); ranking is ``ts_rank_cd`` with titles weighted above bodies;
snippets come from ``ts_headline``; every query runs under a
``statement_timeout``.

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

from index import schema
from index.ingest import IngestResult, _archive, archive_files, pending_files, read_records
from index.search import MAX_QUERY_CHARS, Filters, Hit, QueryError, SearchResult, check_page
from index.timeline import BY, Timeline, tally
from newsdesk.errors import NewsdeskError
from newsdesk.home import Home
from newsdesk.locks import FileLock, LockBusy

logger = logging.getLogger(__name__)

TABLE = "newsdesk_records"
VERSIONS = "newsdesk_record_versions"
STATEMENT_TIMEOUT_MS = 5000
BATCH = 500
#: Fields that change on every fetch without the content changing: not part of the content hash.
VOLATILE = ("fetched_at", "version")
HEADLINE_OPTIONS = "StartSel=[[, StopSel=]], MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=\" … \""

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
    tsv          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
    ) STORED
);
CREATE INDEX IF NOT EXISTS {TABLE}_tsv ON {TABLE} USING gin (tsv);
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

UPSERT_SQL = f"""
WITH rows AS (
    INSERT INTO {TABLE} AS r (key, source, kind, agency, authors, title, body, published, content_hash, record)
    VALUES (%(key)s, %(source)s, %(kind)s, %(agency)s, %(authors)s, %(title)s, %(body)s, %(published)s,
            %(content_hash)s, %(record)s)
    ON CONFLICT (key) DO UPDATE SET
        source = EXCLUDED.source, kind = EXCLUDED.kind, agency = EXCLUDED.agency, authors = EXCLUDED.authors,
        title = EXCLUDED.title, body = EXCLUDED.body, published = EXCLUDED.published,
        content_hash = EXCLUDED.content_hash, record = EXCLUDED.record, version = r.version + 1,
        stored_at = now()
    WHERE r.content_hash IS DISTINCT FROM EXCLUDED.content_hash
    RETURNING key, version, content_hash, record
)
INSERT INTO {VERSIONS} (key, version, content_hash, record)
SELECT key, version, content_hash, record FROM rows
ON CONFLICT DO NOTHING
RETURNING version
"""


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
    bad_lines: int = 0
    skipped_live: list[str] = field(default_factory=list)


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
    """Create the tables and indexes if they are missing."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
        conn.execute(SCHEMA_SQL)


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


def _row(record: dict[str, Any]) -> dict[str, Any]:
    from psycopg.types.json import Jsonb

    return {
        "key": record["key"],
        "source": record.get("source"),
        "kind": record.get("kind"),
        "agency": str(record["agency"]).lower() if record.get("agency") else None,
        "authors": [str(a).lower() for a in record.get("authors") or [] if a],
        "title": record.get("title") or "",
        "body": "\n".join(p for p in (record.get("summary"), record.get("body")) if p),
        "published": item_time(record),
        "content_hash": content_hash(record),
        "record": Jsonb(record),
    }


def upsert(conn: Any, records: Iterable[dict[str, Any]], result: DeliverResult) -> None:
    """Upsert records in batches, each batch one transaction; unchanged records write nothing."""
    batch: dict[str, dict[str, Any]] = {}
    for record in records:
        batch[record["key"]] = merge(batch[record["key"]], record) if record["key"] in batch else record
        if len(batch) >= BATCH:
            _upsert_batch(conn, list(batch.values()), result)
            batch.clear()
    if batch:
        _upsert_batch(conn, list(batch.values()), result)


def _upsert_batch(conn: Any, records: list[dict[str, Any]], result: DeliverResult) -> None:
    with conn.transaction():
        stored = dict(conn.execute(f"SELECT key, record FROM {TABLE} WHERE key = ANY(%s)",
                                   ([r["key"] for r in records],)).fetchall())
        rows = []
        for record in records:
            old = stored.get(record["key"])
            rows.append(_row(merge(old, record) if old else record))
        with conn.cursor() as cur:
            cur.executemany(UPSERT_SQL, rows, returning=True)
            versions = []
            while True:
                versions.extend(v for (v,) in cur.fetchall())
                if not cur.nextset():
                    break
    result.records += len(records)
    result.new += sum(1 for v in versions if v == 1)
    result.updated += sum(1 for v in versions if v > 1)
    result.unchanged += len(records) - len(versions)


def deliver(home: Home, url: str, wait: float = 60.0) -> DeliverResult:
    """Ship every ready outbox file of ``home`` to the archive, then move it to ``home``'s JSONL archive.

    A file leaves the outbox only after its records are committed in
    PostgreSQL: if the server is down, ArchiveError is raised and every file
    stays for the next delivery.
    """
    result = DeliverResult()
    home.ensure(home.root)
    try:
        with FileLock(home.locks / "deliver.lock", wait=wait):
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

_FIELD_PREFIX = re.compile(r"(?<![\w\"])[A-Za-z_]+:(?=\S)")


def websearch_text(text: str) -> str:
    """Whoosh-style query text as ``websearch_to_tsquery`` input: ``NOT x`` → ``-x``, ``AND`` dropped."""
    text = text.strip()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text)} characters long (at most {MAX_QUERY_CHARS})",
                         "search for fewer words")
    if text.count('"') % 2:
        raise QueryError("invalid query: unbalanced quote", 'close the "phrase" with a second quote')
    outside = re.sub(r'"[^"]*"', " ", text)
    if "(" in outside or ")" in outside:
        raise QueryError("the PostgreSQL archive does not group with parentheses",
                         'write a OR b, "a phrase", -word; or search the local index')
    if _FIELD_PREFIX.search(outside):
        raise QueryError("the PostgreSQL archive searches titles and bodies together (no field:word)",
                         "drop the field: prefix; title matches already rank first")
    parts = re.split(r'("[^"]*")', text)
    out = []
    for part in parts:
        if part.startswith('"'):
            out.append(part)
            continue
        part = re.sub(r"\bNOT\s+", "-", part)
        part = re.sub(r"\bAND\b", " ", part)
        out.append(part)
    return " ".join("".join(out).split())


def _where(text: str, filters: Filters) -> tuple[list[str], dict[str, Any]]:
    if filters.since and filters.until and filters.since > filters.until:
        raise QueryError("--since is after --until", "swap the two dates")
    clauses: list[str] = []
    params: dict[str, Any] = {}
    words = websearch_text(text)
    if words:
        clauses.append("tsv @@ websearch_to_tsquery('english', %(words)s)")
        params["words"] = words
    if filters.since:
        clauses.append("published >= %(since)s")
        params["since"] = filters.since
    if filters.until:
        clauses.append("published <= %(until)s")
        params["until"] = filters.until
    for column, values, lower in (("source", filters.sources, False), ("agency", filters.agencies, True),
                                  ("kind", filters.kinds, False)):
        cleaned = list(dict.fromkeys(v.strip().lower() if lower else v.strip() for v in values if v and v.strip()))
        if cleaned:
            clauses.append(f"{column} = ANY(%({column}s)s)")
            params[f"{column}s"] = cleaned
    authors = list(dict.fromkeys(a.strip().lower() for a in filters.authors if a and a.strip()))
    if authors:
        clauses.append("authors && %(authors)s")
        params["authors"] = authors
    return clauses, params


def _run(url: str, timeout_ms: int, work: Any) -> Any:
    psycopg = _psycopg()
    conn = connect(url, timeout_ms)
    try:
        ensure_schema(conn)
        return work(conn)
    except psycopg.errors.QueryCanceled:
        raise QueryError(f"the search took longer than {timeout_ms / 1000:g} s and was stopped",
                         "narrow it with more words, --since/--until or --source") from None
    except psycopg.errors.UndefinedFunction as exc:  # e.g. an old server without websearch_to_tsquery
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
    if collapse:
        raise QueryError("--collapse needs the local index (near-duplicate groups are not in PostgreSQL)",
                         "search without --archive, or without --collapse")
    filters = Filters(since=since, until=until, sources=sources, agencies=agencies, authors=authors, kinds=kinds)
    clauses, params = _where(text, filters)
    where = " AND ".join(clauses) or "TRUE"
    has_words = "words" in params
    rank = "ts_rank_cd(tsv, websearch_to_tsquery('english', %(words)s))" if has_words else "NULL::real"
    order = {"relevance": "score DESC NULLS LAST, published DESC NULLS LAST, key",
             "newest": "published DESC NULLS LAST, key", "oldest": "published ASC NULLS FIRST, key"}[sort]  # undated = oldest, as in Whoosh
    if sort == "relevance" and not has_words:
        order = "published DESC NULLS LAST, key"
    headline = (f"ts_headline('english', CASE WHEN body <> '' THEN body ELSE title END, "
                f"websearch_to_tsquery('english', %(words)s), '{HEADLINE_OPTIONS}')") if has_words else "NULL"
    params.update(limit=limit, offset=(page - 1) * limit)
    sql = f"""
        SELECT key, record, score, body, {headline} AS snippet, total FROM (
            SELECT key, record, body, title, {rank} AS score, published, count(*) OVER () AS total
            FROM {TABLE} WHERE {where}
            ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s
        ) page ORDER BY {order}
    """
    facet_sql = f"""
        SELECT 'source', coalesce(source, '(none)'), count(*) FROM {TABLE} WHERE {where} GROUP BY 2
        UNION ALL
        SELECT 'agency', coalesce(min(record->>'agency'), '(none)'), count(*) FROM {TABLE} WHERE {where} GROUP BY agency
    """

    def work(conn: Any) -> SearchResult:
        rows = conn.execute(sql, params).fetchall()
        total = rows[0][5] if rows else 0
        if not rows and page > 1:
            total = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", params).fetchone()[0]
        found = SearchResult(total=total, page=page, pages=(total + limit - 1) // limit,
                             query=f"websearch_to_tsquery('english', {params.get('words', '')!r})")
        for key, record, score, body, snippet, _ in rows:
            if not snippet:
                snippet = (body[:200] + ("…" if len(body) > 200 else "")) if body else (record.get("title") or "")
            found.hits.append(Hit(record=record, score=float(score) if sort == "relevance" and score is not None
                                  else None, snippet=" ".join(snippet.split())))
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
    clauses, params = _where(text, filters or Filters())
    where = " AND ".join(clauses) or "TRUE"

    def work(conn: Any) -> list[tuple[datetime | None]]:
        return conn.execute(f"SELECT published FROM {TABLE} WHERE {where}", params).fetchall()

    result = Timeline(by=by, query=f"websearch_to_tsquery('english', {params.get('words', '')!r})")
    return tally(result, (moment for (moment,) in _run(url, timeout_ms, work)), zone)


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
