"""The pieces of scaling out: claims and reaping in Redis, run locks, archive upserts, errors users see.

The CLI error tests need no server (they aim at closed loopback ports); the
others use the servers from .ci/services.sh and skip, with the reason, without them.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsdesk.cli.main import cli
from tests.records import record, write_outbox
from tests.test_scale import PG, REASON, REDIS, needs_servers


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what a user sees (no servers needed) -------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["search", "korea", "--archive", "mysql://x"], "not a PostgreSQL URL"),
    (["timeline", "korea", "--archive", "postgresql://nobody@127.0.0.1:{port}/x"], "cannot reach the PostgreSQL"),
    (["worker", "--redis", "redis://127.0.0.1:{port}/0"], "cannot reach Redis"),
    (["archive", "deliver"], "no archive given"),
])
def test_server_mistakes_are_one_line_errors(home: Path, args: list[str], message: str) -> None:
    pytest.importorskip("psycopg")
    pytest.importorskip("redis")
    port = _closed_port()
    result = CliRunner().invoke(cli, [a.format(port=port) for a in args] + ["--home", str(home)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_worker_without_redis_is_a_usage_error(home: Path) -> None:
    result = CliRunner().invoke(cli, ["worker", "--home", str(home)], env={"NEWSDESK_REDIS": ""})
    assert result.exit_code == 2 and "no Redis given" in result.output


def test_config_names_the_servers(home: Path) -> None:
    from newsdesk.cli.scale import resolve_archive, resolve_redis

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[scale]\nredis = "redis://127.0.0.1:1/0"\narchive = "postgresql://a@b/c"\n')
    assert resolve_redis(None, home) == "redis://127.0.0.1:1/0"
    assert resolve_archive(None, home) == "postgresql://a@b/c"
    assert resolve_archive("postgresql://x@y/z", home) == "postgresql://x@y/z"


def test_queries_become_sql_on_the_local_analyzers_terms() -> None:
    from index.pg import explain_sql

    def words(tsquery: str) -> str:
        return f"coalesce(terms @@ {tsquery!r}::tsquery, false)"

    assert explain_sql("Title:Troops") == words("'troop':A")
    assert explain_sql('korea -"power grid"') == words(
        "(('korea':A | 'korea':B) & !(('power':A <-> 'grid':A) | ('power':B <-> 'grid':B)))")
    either = words("('korea':A | 'korea':B | 'grid':A | 'grid':B)")
    assert explain_sql("(korea OR grid) agency:Reuters") == f"({either} AND coalesce(agency = 'reuters', false))"
    assert explain_sql("") == "TRUE"


def test_queries_are_refused_with_the_local_index_words() -> None:
    from index.pg import explain_sql
    from index.search import QueryError

    with pytest.raises(QueryError, match="too short"):
        explain_sql("ko*")


# --- Redis: claims, reaping, run locks ------------------------------------------------------

@pytest.fixture
def server() -> object:
    from scraper.distributed import redis_client

    client = redis_client(REDIS)
    client.flushdb()
    return client


@needs_servers
def test_a_dead_workers_claims_go_back_and_a_live_ones_stay(server: object) -> None:
    from scraper.distributed import Keys, beat, reap

    keys = Keys()
    server.rpush(keys.claims("gen", "alive"), b"a")  # type: ignore[attr-defined]
    server.rpush(keys.claims("gen", "dead"), b"b", b"c")  # type: ignore[attr-defined]
    beat(server, keys, "alive")
    assert reap(server, keys) == 2
    assert sorted(server.lrange(keys.queue("gen"), 0, -1)) == [b"b", b"c"]  # type: ignore[attr-defined]
    assert server.lrange(keys.claims("gen", "alive"), 0, -1) == [b"a"]  # type: ignore[attr-defined]


@needs_servers
def test_claims_go_only_after_every_item_is_handled(server: object) -> None:
    from scraper.distributed import Claims

    server.rpush("claims", b"req")  # type: ignore[attr-defined]
    claims = Claims(server)
    claim = ("claims", b"req")
    claims.item_yielded(claim)
    claims.item_yielded(claim)
    claims.exhausted(claim)
    claims.item_done(claim)
    assert server.llen("claims") == 1  # type: ignore[attr-defined]  # one item still in the pipelines
    claims.item_done(claim)
    assert server.llen("claims") == 0  # type: ignore[attr-defined]


@needs_servers
def test_one_run_per_source_at_a_time(server: object, tmp_path: Path) -> None:
    from scraper.distributed import Keys, decode_request, push_run, release_lock, run_finished, start_requests
    from scraper.sources import Source

    source = Source(id="gen", spider="list", urls=["http://127.0.0.1:9/latest"], timezone="UTC",
                    options={"item": "li", "headline": "a", "link": "a::attr(href)"})
    keys = Keys()
    server.sadd(keys.dupefilter("gen"), "old-fingerprint")  # type: ignore[attr-defined]
    token = push_run(server, source, keys)
    assert token and push_run(server, source, keys) is None  # the first run holds the lock
    assert not server.exists(keys.dupefilter("gen"))  # type: ignore[attr-defined]  # a new run may fetch again
    raw = server.lindex(keys.queue("gen"), 0)  # type: ignore[attr-defined]
    _, spider = start_requests(source)  # type: ignore[misc]
    request = decode_request(raw, spider)
    assert request.url == "http://127.0.0.1:9/latest" and request.dont_filter and request.callback == spider.parse
    assert not run_finished(server, "gen", keys)
    server.delete(keys.queue("gen"))  # type: ignore[attr-defined]
    assert run_finished(server, "gen", keys)
    assert not release_lock(server, "gen", "someone-else", keys)
    assert release_lock(server, "gen", token, keys)
    assert push_run(server, source, keys) is not None


# --- PostgreSQL: upserts, versions, outages -------------------------------------------------

@pytest.fixture
def pg_url() -> str:
    from index import pg

    conn = pg.connect(PG)
    conn.execute("DROP TABLE IF EXISTS newsdesk_records, newsdesk_record_versions")
    conn.commit()
    conn.close()
    return PG


@needs_servers
def test_a_changed_record_is_a_new_version_and_an_empty_field_keeps_the_old_value(home: Path, pg_url: str) -> None:
    from index import pg
    from newsdesk.core.home import Home

    where = Home.resolve(home)
    first = record("https://x.example/1", "Grid attacked", "2024-10-24T05:00:00+00:00", body="Long body.")
    write_outbox(home, "20241024T050000Z-a", [first])
    assert pg.deliver(where, pg_url).new == 1
    same = dict(first, fetched_at="2024-10-25T00:00:00+00:00")
    changed = dict(first, title="Grid attacked again", body=None)
    write_outbox(home, "20241024T060000Z-b", [same])
    assert pg.deliver(where, pg_url).unchanged == 1
    write_outbox(home, "20241024T070000Z-c", [changed])
    assert pg.deliver(where, pg_url).updated == 1
    conn = pg.connect(pg_url)
    rows = conn.execute("SELECT version, record->>'title', record->>'body' FROM newsdesk_record_versions "
                        "ORDER BY version").fetchall()
    conn.close()
    assert rows == [(1, "Grid attacked", "Long body."), (2, "Grid attacked again", "Long body.")]
    assert not list(where.outbox.glob("*.jsonl")) and len(list(where.archive.rglob("*.jsonl.gz"))) == 3


@needs_servers
def test_delivery_to_a_server_that_is_down_leaves_the_outbox_alone(home: Path) -> None:
    from index import pg
    from newsdesk.core.home import Home

    where = Home.resolve(home)
    path = write_outbox(home, "20241024T050000Z-a", [record("https://x.example/1", "Kept", None)])
    with pytest.raises(pg.ArchiveError, match="cannot reach"):
        pg.deliver(where, f"postgresql://nobody@127.0.0.1:{_closed_port()}/x")
    assert path.exists()


@needs_servers
def test_a_slow_search_is_stopped_by_the_statement_timeout(pg_url: str) -> None:
    from index import pg
    from index.search import QueryError

    with pytest.raises(QueryError, match="longer than"):
        pg._run(pg_url, 50, lambda conn: conn.execute("SELECT pg_sleep(2)").fetchall())


@needs_servers
def test_collapse_is_refused_on_postgresql(pg_url: str) -> None:
    from index import pg
    from index.search import QueryError

    with pytest.raises(QueryError, match="collapse"):
        pg.search(pg_url, "korea", collapse=True)
