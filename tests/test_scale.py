"""Redis workers and the PostgreSQL archive, against real servers (.ci/services.sh starts them).

Skipped, with the reason, unless NEWSDESK_TEST_REDIS / NEWSDESK_TEST_PG name
reachable servers.  The CI crawl is 300 pages; ``benchmarks/scale_stress.py``
runs the same checks on 2,000.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from tests.records import write_outbox
from tests.records_search import SEARCH_ARCHIVE
from tests.scale_site import GeneratedSite, make_home, newsdesk, pg_count, reset, stop, wait_for, worker

pytestmark = pytest.mark.e2e
PAGES = 300
REDIS = os.environ.get("NEWSDESK_TEST_REDIS", "")
PG = os.environ.get("NEWSDESK_TEST_PG", "")
PG_CTL = os.environ.get("NEWSDESK_TEST_PG_CTL", "")


def _reachable() -> str:
    """Why the integration tests cannot run, or "" if they can."""
    if not REDIS or not PG:
        return "no servers: run `eval \"$(.ci/services.sh start /tmp/newsdesk-services)\"` first"
    try:
        import psycopg
        import redis
    except ImportError:
        return "client libraries missing: pip install -e '.[scale]'"
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        psycopg.connect(PG, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 (any failure means: skip, with the reason)
        return f"servers not reachable: {exc}"
    return ""


REASON = _reachable()
needs_servers = pytest.mark.skipif(bool(REASON), reason=REASON or "servers present")


@pytest.fixture
def clean() -> None:
    reset(REDIS, PG)


def _crawl(tmp_path: Path, site: GeneratedSite, during: object = None) -> tuple[list[Path], dict[str, int]]:
    """Two workers and a scheduler crawl the site; ``during(workers, homes)`` runs mid-crawl."""
    homes = [make_home(tmp_path / name, site.base) for name in ("scheduler", "w1", "w2")]
    workers = [worker(REDIS, PG, homes[i], tmp_path / f"w{i}.log") for i in (1, 2)]
    sched = newsdesk("schedule", "--redis", REDIS, home=homes[0], log=tmp_path / "scheduler.log")
    try:
        if during is not None:
            during(workers, homes)  # type: ignore[operator]
        done = wait_for(lambda: pg_count(PG) >= PAGES, 150, 0.5)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("*.log")))
        assert done, f"only {pg_count(PG)} of {PAGES} records arrived\n{logs}"
    finally:
        for proc in (*workers, sched):
            stop(proc)
    split = {h.name: sum(1 for _ in (h / "archive").rglob("*.jsonl.gz")) for h in homes[1:]}
    return homes, split


@needs_servers
def test_two_workers_fetch_each_page_once_and_archive_each_record_once(tmp_path: Path, clean: None) -> None:
    with GeneratedSite(PAGES) as site:
        _crawl(tmp_path, site)
        fetched = site.articles_fetched()
    assert len(fetched) == PAGES and set(fetched.values()) == {1}, fetched.most_common(3)
    assert pg_count(PG) == PAGES
    import psycopg

    with psycopg.connect(PG) as conn:
        versions = conn.execute("SELECT count(*) FROM newsdesk_record_versions WHERE key LIKE '%%/a/%%'").fetchone()
    assert versions == (PAGES,)


@needs_servers
def test_a_killed_worker_loses_nothing(tmp_path: Path, clean: None) -> None:
    with GeneratedSite(PAGES, delay=0.02) as site:
        def kill_one(workers: list[subprocess.Popen[bytes]], homes: list[Path]) -> None:
            assert wait_for(lambda: sum(site.articles_fetched().values()) >= PAGES // 4, 60, 0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            assert sum(site.articles_fetched().values()) < PAGES, "the crawl ended before the kill"
            # Recovery: the other worker puts back the dead one's claims (its heartbeat expires);
            # restarting the dead worker on its home delivers what it wrote before it died.
            workers[0] = worker(REDIS, PG, homes[1], tmp_path / "w1-restarted.log")

        _crawl(tmp_path, site, kill_one)
        fetched = site.articles_fetched()
    assert len(fetched) == PAGES
    assert pg_count(PG) == PAGES  # 0 lost


@needs_servers
@pytest.mark.skipif(not PG_CTL, reason="NEWSDESK_TEST_PG_CTL not set: cannot stop and start PostgreSQL")
def test_a_database_outage_loses_nothing(tmp_path: Path, clean: None) -> None:
    ctl = shlex.split(PG_CTL)
    with GeneratedSite(PAGES, delay=0.03) as site:  # slow enough pages: the outage lands mid-crawl
        def outage(workers: list[subprocess.Popen[bytes]], homes: list[Path]) -> None:
            assert wait_for(lambda: pg_count(PG) > 0, 60, 0.1)
            subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True)
            try:  # the server comes back whatever happens, or every later test would lose it
                assert sum(site.articles_fetched().values()) < PAGES, "the crawl ended before the outage"
                assert wait_for(lambda: sum(site.articles_fetched().values()) >= PAGES, 120, 0.2)
            finally:
                subprocess.run([*ctl, "start"], check=True, capture_output=True)

        _crawl(tmp_path, site, outage)
    assert pg_count(PG) == PAGES


QUERIES = ["north korea", "korea troops", '"north korea"', "korea OR grid", "korea NOT troops", "troop",
           "ukraine grid drones", "", "power grid"]


@needs_servers
def test_whoosh_and_postgresql_return_the_same_keys(tmp_path: Path, clean: None) -> None:
    from datetime import datetime, timezone

    from index import pg
    from index.ingest import ingest
    from index.search import search
    from newsdesk.core.home import Home

    home = Home.resolve(tmp_path / "home")
    write_outbox(home.root, "20241024T170000Z-fixture", SEARCH_ARCHIVE)
    ingest(home)
    assert pg.load_archive(home, PG).new == len(SEARCH_ARCHIVE)
    assert pg.load_archive(home, PG).unchanged == len(SEARCH_ARCHIVE)  # a repeat writes nothing
    cases = [(q, {}) for q in QUERIES] + [
        ("korea", {"since": datetime(2024, 10, 1, tzinfo=timezone.utc), "until": datetime(2024, 10, 24, 13, tzinfo=timezone.utc)}),
        ("korea", {"sources": ["jpost-breaking"]}),
        ("grid", {"agencies": ["reuters"]}),
        ("grid", {"authors": ["Omar Haddad"]}),
    ]
    for text, kwargs in cases:
        for sort in ("relevance", "newest", "oldest"):
            whoosh = [h.record["key"] for h in search(home.index, text, limit=100, sort=sort, **kwargs).hits]
            postgres = [h.record["key"] for h in pg.search(PG, text, limit=100, sort=sort, **kwargs).hits]
            assert sorted(whoosh) == sorted(postgres), (text, kwargs)
            if sort != "relevance":
                dated = [k for k in whoosh if next(r for r in SEARCH_ARCHIVE if r["key"] == k)["published"]]
                assert [k for k in postgres if k in dated] == dated, (text, sort)


@needs_servers
def test_cli_search_and_timeline_print_the_same_json_from_either_backend(tmp_path: Path, clean: None) -> None:
    import json

    from click.testing import CliRunner

    from index import pg
    from index.ingest import ingest
    from newsdesk.cli.main import cli
    from newsdesk.core.home import Home

    home = Home.resolve(tmp_path / "home")
    write_outbox(home.root, "20241024T170000Z-fixture", SEARCH_ARCHIVE)
    ingest(home)
    pg.load_archive(home, PG)
    runner = CliRunner()
    base = ["--home", str(home.root)]
    for args in (["search", "korea troops", "--json", "--sort", "newest", "--fields", "key,title,published"],
                 ["search", "Title:korea -Agency:REUTERS", "--json", "--sort", "oldest", "--fields", "key,title"],
                 ["timeline", "korea", "--json", "--tz", "UTC"]):
        local = runner.invoke(cli, args + base, catch_exceptions=False)
        shared = runner.invoke(cli, args + base + ["--archive", PG], catch_exceptions=False)
        assert local.exit_code == shared.exit_code == 0, shared.output
        assert json.loads(local.stdout) == json.loads(shared.stdout)
    bad = runner.invoke(cli, ["search", "ko*", "--archive", PG] + base)  # refused by both, with the same words
    assert bad.exit_code == 2 and "too short" in bad.output and "Traceback" not in bad.output
