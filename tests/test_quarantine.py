"""Poison records (a JSON object that is not a record) are set aside, and the rest of the outbox goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import index.ingest as ingest_module
from index.ingest import IngestResult, ingest, read_records
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.records import indexed_count, record, write_outbox

RUN1 = "20241024T170000Z-jpost-breaking-aaaaaa"
RUN2 = "20241024T171000Z-jpost-breaking-bbbbbb"
POISON = [
    {**record("https://x.test/p1", "t", None), "title": {"text": "a dict"}},
    {**record("https://x.test/p2", "t", None), "title": 12345},
    {**record("https://x.test/p3", "t", None), "key": 12345},
    {**record("https://x.test/p4", "t", None), "body": [["a", "b"], ["c"]]},
]


def _good(prefix: str, count: int) -> list[dict[str, Any]]:
    return [record(f"https://x.test/{prefix}/{i}", f"headline {i}", "2024-10-24T16:25:00+00:00") for i in range(count)]



def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_poison_records_are_set_aside_and_the_rest_is_indexed(tmp_path: Path) -> None:
    good = _good("a", 400)
    write_outbox(tmp_path, RUN1, good[:200] + POISON + good[200:])
    write_outbox(tmp_path, RUN2, _good("b", 3))
    result = _run("ingest", "--home", str(tmp_path))
    assert result.exit_code == 0, result.output
    quarantine = tmp_path / "quarantine" / f"{RUN1}.jsonl"
    assert f"ingest: 4 records do not fit the record schema, set aside in {quarantine}" in result.output
    assert "Traceback" not in result.output
    home = Home(tmp_path)
    assert indexed_count(home.root) == 403  # all of both files but the four
    assert list((tmp_path / "outbox").iterdir()) == []  # both files archived: nothing waits behind them
    held = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert [h["reason"] for h in held] == ["title is an object, not a string", "title is a number, not a string",
                                           "key is a number, not a non-empty string",
                                           "body is a list, not a string"]
    assert [json.loads(h["line"]) for h in held] == POISON and {h["file"] for h in held} == {f"{RUN1}.jsonl"}
    status = _run("status", "--home", str(tmp_path))
    assert status.exit_code == 0
    assert f"quarantine: 4 records that do not fit the record schema, in 1 file in {tmp_path / 'quarantine'}" \
        in status.output
    report = json.loads(_run("status", "--json", "--home", str(tmp_path)).output)
    assert report["quarantine"] == {"records": 4, "files": 1, "directory": str(tmp_path / "quarantine")}


def test_a_crash_before_the_archive_step_quarantines_each_record_once(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_outbox(tmp_path, RUN1, _good("a", 5) + POISON)
    home = Home(tmp_path)

    def killed(home: Home, path: Path) -> None:
        raise KeyboardInterrupt  # as if the process died between the commit and the archive

    monkeypatch.setattr(ingest_module, "_archive", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(home)
    monkeypatch.undo()
    result = ingest(home)
    assert result.quarantined == 4 and result.records == 5
    assert len((tmp_path / "quarantine" / f"{RUN1}.jsonl").read_text().splitlines()) == 4
    assert indexed_count(home.root) == 5
    assert list((tmp_path / "quarantine").iterdir()) == [tmp_path / "quarantine" / f"{RUN1}.jsonl"]  # no .tmp


def test_reindex_and_verify_skip_the_archived_poison_the_same_way(tmp_path: Path) -> None:
    write_outbox(tmp_path, RUN1, _good("a", 5) + POISON)
    assert _run("ingest", "--home", str(tmp_path)).exit_code == 0
    assert _run("reindex", "--home", str(tmp_path)).exit_code == 0
    assert indexed_count(tmp_path) == 5
    verified = _run("verify", "--home", str(tmp_path))
    assert verified.exit_code == 0, verified.output


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=6)
FIELDS = ["key", "url", "source", "kind", "title", "summary", "body", "byline", "authors", "agency", "published",
          "updated", "fetched_at", "language", "section", "tags", "extra", "version", "dupgroup"]
TIMES = st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
SHAPES = st.fixed_dictionaries({}, optional={name: JSON | TIMES if name in ("published", "updated") else JSON
                                             for name in FIELDS})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=st.lists(SHAPES, min_size=1, max_size=8))
def test_any_record_shape_is_indexed_or_set_aside_never_fatal(tmp_path_factory: pytest.TempPathFactory,
                                                             shapes: list[dict[str, Any]]) -> None:
    home_dir = tmp_path_factory.mktemp("home")
    good = _good("g", 2)
    write_outbox(home_dir, RUN1, shapes + good)
    parsed = IngestResult()
    readable = list(read_records(home_dir / "outbox" / f"{RUN1}.jsonl", parsed))
    result = ingest(Home(home_dir))
    assert result.records == len(readable) and result.records + result.quarantined == len(shapes) + 2
    assert indexed_count(home_dir) == len({r["key"] for r in readable})


def test_the_schema_checked_is_the_records_own(tmp_path: Path) -> None:
    """Every text field NewsItem declares is checked (capture too), so a new field cannot slip past."""
    from dataclasses import fields

    from index.ingest import LIST_FIELDS, TEXT_FIELDS
    from newsdesk.core.record import NewsItem

    declared = {f.name for f in fields(NewsItem)} - {"key", "extra", "version"}
    assert declared == (set(TEXT_FIELDS) - {"dupgroup"}) | set(LIST_FIELDS)
    write_outbox(tmp_path, RUN1, [{**record("https://x.test/c1", "t", None), "capture": 7}] + _good("c", 2))
    result = _run("ingest", "--home", str(tmp_path))
    assert result.exit_code == 0 and "1 record does not fit the record schema" in result.output, result.output
    assert indexed_count(tmp_path) == 2
