"""The PostgreSQL archive's versions, and ``newsdesk show KEY`` on both backends.

Skipped, with the reason, unless NEWSDESK_TEST_PG names a reachable server
(``.ci/run`` starts one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers import postgres_reason
from tests.records import record, write_outbox

PG = os.environ.get("NEWSDESK_TEST_PG", "")
pytestmark = pytest.mark.skipif(bool(postgres_reason(PG)), reason=postgres_reason(PG) or "PostgreSQL present")

V1 = record("https://news.example/story", "Minister resigns", "2024-10-24T10:00:00+00:00",
            body="The minister resigned on Thursday.", version=1, fetched_at="2024-10-24T10:05:00+00:00")
V2 = {**V1, "title": "Minister resigns after vote", "body": "The minister resigned on Thursday after a vote.",
      "version": 2, "fetched_at": "2024-10-24T12:05:00+00:00"}


@pytest.fixture
def home(tmp_path: Path) -> Any:
    import psycopg

    from newsdesk.core.home import Home

    with psycopg.connect(PG) as conn:
        conn.execute("DROP TABLE IF EXISTS newsdesk_records, newsdesk_record_versions")
    return Home.resolve(tmp_path / "home")


def _stored(key: str) -> tuple[Any, list[tuple[int, str]]]:
    import psycopg

    with psycopg.connect(PG) as conn:
        current = conn.execute("SELECT record->>'title', (record->>'version')::int FROM newsdesk_records "
                               "WHERE key = %s", (key,)).fetchone()
        versions = conn.execute("SELECT version, record->>'title' FROM newsdesk_record_versions WHERE key = %s "
                                "ORDER BY version", (key,)).fetchall()
    return current, versions


def test_an_older_outbox_delivered_late_does_not_replace_the_correction(home: Any) -> None:
    from index.pg import deliver

    write_outbox(home.root, "20241024T120000Z-new", [V2])
    assert deliver(home, PG).new == 1
    write_outbox(home.root, "20241024T100000Z-old", [V1])  # the dead worker's outbox, delivered later
    late = deliver(home, PG)
    assert (late.new, late.updated, late.older) == (0, 0, 1)
    current, versions = _stored(V1["key"])
    assert current == ("Minister resigns after vote", 2)
    assert sorted(t for _, t in versions) == ["Minister resigns", "Minister resigns after vote"]
    write_outbox(home.root, "20241024T100001Z-old-again", [V1])
    assert deliver(home, PG).unchanged == 1  # already in the history: not added twice
    assert len(_stored(V1["key"])[1]) == 2


def test_loading_the_same_archive_again_adds_no_version(home: Any) -> None:
    from newsdesk.cli.main import cli

    write_outbox(home.root, "20241024T100000Z-a", [V1])
    write_outbox(home.root, "20241024T120000Z-b", [V2])
    from index.ingest import ingest

    ingest(home)  # both files move to the JSONL archive
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["archive", "load", "--archive", PG, "--home", str(home.root)]) for _ in range(3)]
    assert all(o.exit_code == 0 for o in outputs), outputs[0].output
    assert "(1 new, 1 changed, 0 unchanged)" in outputs[0].output
    assert "(0 new, 0 changed, 2 unchanged)" in outputs[2].output
    current, versions = _stored(V1["key"])
    assert current == ("Minister resigns after vote", 2) and [v for v, _ in versions] == [1, 2]


def _two_versions_in_both(home: Any) -> None:
    """V1 then its correction V2 ingested into the local index, and the archive loaded into PostgreSQL."""
    from index.ingest import ingest
    from index.pg import load_archive

    write_outbox(home.root, "20241024T100000Z-a", [V1])
    ingest(home)
    write_outbox(home.root, "20241024T120000Z-b", [V2])
    ingest(home)
    load_archive(home, PG)


def test_show_prints_versions_and_changes_the_same_from_either_backend(home: Any) -> None:
    from newsdesk.cli.main import cli

    _two_versions_in_both(home)
    runner = CliRunner()
    base = ["show", V1["key"], "--home", str(home.root)]
    local = runner.invoke(cli, [*base, "--json"])
    shared = runner.invoke(cli, [*base, "--json", "--archive", PG])
    assert local.exit_code == shared.exit_code == 0, local.output + shared.output
    assert json.loads(local.stdout) == json.loads(shared.stdout)
    data = json.loads(local.stdout)
    assert [v["title"] for v in data["versions"]] == ["Minister resigns", "Minister resigns after vote"]
    assert data["record"]["version"] == 2
    [step] = data["changes"]
    assert step["fields"]["title"] == {"old": "Minister resigns", "new": "Minister resigns after vote"}
    assert set(step["fields"]) == {"title", "body"}
    for args in ([], ["--archive", PG]):
        text = runner.invoke(cli, [*base, *args])
        assert text.exit_code == 0
        assert "2 versions:" in text.stdout
        assert "title:        Minister resigns  →  Minister resigns after vote" in text.stdout
        missing = runner.invoke(cli, ["show", "https://news.example/none", "--home", str(home.root), *args])
        assert missing.exit_code == 1 and "no record with key" in missing.output
        assert "Traceback" not in missing.output


OLD_TABLE = """
CREATE TABLE newsdesk_records (
    key text PRIMARY KEY, source text, kind text, agency text, authors text[] NOT NULL DEFAULT '{}',
    title text NOT NULL DEFAULT '', body text NOT NULL DEFAULT '', published timestamptz,
    version integer NOT NULL DEFAULT 1, content_hash text NOT NULL, record jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED
);
CREATE INDEX newsdesk_records_tsv ON newsdesk_records USING gin (tsv);
CREATE TABLE newsdesk_record_versions (
    key text NOT NULL, version integer NOT NULL, content_hash text NOT NULL, record jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (key, version)
);
"""


def test_a_table_of_an_older_newsdesk_is_brought_up_to_date(home: Any) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    from index import pg

    old = {**V2, "authors": ["Smith, John"], "agency": "Reuters"}
    with psycopg.connect(PG) as conn:  # as the previous release wrote it
        conn.execute(OLD_TABLE)
        conn.execute("INSERT INTO newsdesk_records (key, agency, authors, title, body, content_hash, record) "
                     "VALUES (%s, 'reuters', %s, %s, %s, %s, %s)",
                     (old["key"], ["smith, john"], old["title"], old["body"], pg.content_hash(old), Jsonb(old)))
    for text, filters in (("resigns vote", {}), ('"minister resigned"', {}), ("", {"authors": ["Smith, John"]}),
                          ("agency:REUTERS", {})):
        assert [h.record["key"] for h in pg.search(PG, text, **filters).hits] == [V1["key"]], text


def test_snippets_and_titles_are_the_same_from_either_backend(home: Any) -> None:
    from index.ingest import ingest
    from index.pg import load_archive
    from newsdesk.cli.main import cli

    long_body = ("Officials met in the capital on Monday to discuss the budget for the coming year. " * 4
                 + "The harbour authority said the new quay would open in spring. "
                 + "Talks went on late into the night and resumed on Tuesday morning. " * 4)
    story = record("https://news.example/quay", "Harbour quay to open in spring", "2024-10-24T09:00:00+00:00",
                   body=long_body)
    write_outbox(home.root, "20241024T100000Z-a", [V1, story])
    ingest(home)
    load_archive(home, PG)
    runner = CliRunner()
    for text in ("quay", "harbour spring", '"new quay"', "qua*", "minister", "resigned -quay"):
        base = ["search", text, "--json", "--fields", "key,snippet", "--home", str(home.root)]
        local = runner.invoke(cli, base)
        shared = runner.invoke(cli, [*base, "--archive", PG])
        assert local.exit_code == shared.exit_code == 0, shared.output
        assert json.loads(local.stdout) == json.loads(shared.stdout), text
    [hit] = json.loads(runner.invoke(cli, ["search", "quay", "--json", "--archive", PG, "--home",
                                          str(home.root)]).stdout)
    assert hit["snippet"].startswith("…") and "The harbour authority said the new quay" in hit["snippet"]
    [whole] = json.loads(runner.invoke(cli, ["search", "minister", "--json", "--archive", PG, "--home",
                                            str(home.root)]).stdout)
    assert whole["snippet"] == "The minister resigned on Thursday."  # the whole body: its first word kept, no "…"


def test_a_record_past_postgresqls_tsvector_limits_is_still_archived(home: Any) -> None:
    from index.pg import deliver, search

    words = " ".join(f"w{i:06d}q" for i in range(120_000))  # over 1 MB of distinct words
    huge = record("https://news.example/huge", "Enormous filing", "2024-10-24T09:00:00+00:00", body=words)
    write_outbox(home.root, "20241024T100000Z-huge", [huge, V1])
    assert deliver(home, PG).new == 2  # nothing left in the outbox
    assert [h.record["key"] for h in search(PG, "w000001q").hits] == [huge["key"]]
    assert [h.record["key"] for h in search(PG, "enormous").hits] == [huge["key"]]


def test_the_web_app_answers_from_the_postgresql_archive_as_from_the_local_index(home: Any) -> None:
    """`newsdesk serve --archive URL`: the same search, timeline and record pages as over the local index."""
    from newsdesk.web.app import create_app

    _two_versions_in_both(home)
    local = create_app(home, "UTC").test_client()
    shared = create_app(home, "UTC", PG).test_client()
    for url in ("/api/search?q=minister&sort=newest", "/api/timeline?q=minister&by=day",
                f"/api/record?key={V1['key']}"):
        mine, theirs = local.get(url), shared.get(url)
        assert mine.status_code == theirs.status_code == 200, (url, theirs.get_json())
        a, b = mine.get_json(), theirs.get_json()
        if "hits" in a:  # scores are each backend's own; everything else agrees
            for hit in a["hits"] + b["hits"]:
                hit.pop("score")
        assert a == b, url
    record = shared.get(f"/record?key={V1['key']}")
    assert record.status_code == 200 and b"Minister resigns after vote" in record.data
    missing = shared.get("/api/record?key=https://news.example/none")
    assert missing.status_code == 404 and "PostgreSQL" in missing.get_json()["error"]
