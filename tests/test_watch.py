"""Saved searches: matched after each ingest against the new records, each match reported once."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import time_machine
from click.testing import CliRunner

from newsdesk.cli.main import cli
from tests.records import ARCHIVE, record, write_outbox

KURSK = record("https://www.jpost.com/bn/21", "Ukraine says North Korea troops reached Kursk", "2024-10-25T09:00:00+00:00",
               body="Kyiv said the first North Korea troops had reached the Kursk region.", agency="Reuters")
WEATHER = record("https://www.jpost.com/bn/22", "Heavy rain expected in the north", "2024-10-25T10:00:00+00:00")


def run(home: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def _ingest(home: Path, run_id: str, records: list[dict]) -> None:
    """Write an outbox file and run `newsdesk ingest` (which sends the alerts)."""
    write_outbox(home, run_id, records)
    assert run(home, "ingest").exit_code == 0


def _new(home: Path, name: str) -> list[str]:
    result = run(home, "watch", "show", name, "--new", "--json")
    assert result.exit_code == 0, result.output
    return [m["key"] for m in json.loads(result.stdout)]


def test_a_new_match_is_reported_once_and_never_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ingest(home, "20241024T170000Z-a-aaaaaa", ARCHIVE)  # the archive before the search existed
    assert run(home, "watch", "add", "korea-troops", "north korea troops").exit_code == 0
    assert _new(home, "korea-troops") == []  # no backfill: only records ingested from now on

    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK, WEATHER])
    assert _new(home, "korea-troops") == [KURSK["key"]]
    assert _new(home, "korea-troops") == []  # shown once

    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK])  # the same file again (a crash and re-run)
    _ingest(home, "20241025T110000Z-a-cccccc", [{**KURSK, "title": KURSK["title"] + " region", "version": 2}])
    assert _new(home, "korea-troops") == []  # an update of a reported record is not a new match

    everything = json.loads(run(home, "watch", "show", "korea-troops", "--json").stdout)
    assert [m["key"] for m in everything] == [KURSK["key"]]


def test_ingest_summary_names_the_search(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "watch", "add", "kursk", "kursk")
    write_outbox(home, "20241025T100000Z-a-bbbbbb", [KURSK, WEATHER])
    result = run(home, "ingest")
    assert "watch kursk: 1 new match (newsdesk watch show kursk --new)" in result.stdout
    table = run(home, "watch", "show", "kursk", "--new", "--tz", "UTC")
    assert "2024-10-25 09:00  jpost-breaking   Ukraine says North Korea troops reached Kursk" in table.stdout


def test_filters_of_a_saved_search(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "watch", "add", "ap-korea", "korea", "--agency", "AP")
    run(home, "watch", "add", "reuters-korea", "korea", "--agency", "reuters", "--source", "jpost-breaking")
    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK])
    assert _new(home, "ap-korea") == []
    assert _new(home, "reuters-korea") == [KURSK["key"]]


def test_list_and_rm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "watch", "add", "kursk", "kursk", "--source", "jpost-breaking")
    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK])
    listing = run(home, "watch", "list").stdout
    assert "kursk" in listing and "1 match " in listing and "--source jpost-breaking" in listing
    rows = json.loads(run(home, "watch", "list", "--json").stdout)
    assert rows[0]["name"] == "kursk" and rows[0]["matches"] == 1 and rows[0]["sources"] == ["jpost-breaking"]
    assert run(home, "watch", "rm", "kursk").exit_code == 0
    assert json.loads(run(home, "watch", "list", "--json").stdout) == []


def test_watch_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = run(home, "watch", "add", "x", "(((")
    assert bad.exit_code == 2 and "invalid query" in bad.stderr
    assert run(home, "watch", "add", "bad name!", "korea").exit_code == 1
    run(home, "watch", "add", "k", "korea")
    taken = run(home, "watch", "add", "k", "troops")
    assert taken.exit_code == 1 and "--replace" in taken.stderr
    assert run(home, "watch", "add", "k", "troops", "--replace").exit_code == 0
    missing = run(home, "watch", "show", "nope")
    assert missing.exit_code == 1 and "saved searches: k" in missing.stderr
    assert run(home, "watch", "rm", "nope").exit_code == 1
    for result in (bad, taken, missing):
        assert "Traceback" not in result.output


def _alert_script(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "alert.py"
    out = tmp_path / "alerts.jsonl"
    script.write_text("import sys\nwith open(sys.argv[1], 'a') as fh:\n    fh.write(sys.stdin.read().strip() + '\\n')\n")
    return script, out


def test_alert_command_gets_each_match_once_as_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script, out = _alert_script(tmp_path)
    home.mkdir()
    (home / "config.toml").write_text(f"[health]\nalert_command = {json.dumps([sys.executable, str(script), str(out)])}\n")
    run(home, "watch", "add", "korea-troops", "north korea troops")
    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK, WEATHER])
    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK])  # seen again: no second alert
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(alerts) == 1
    assert alerts[0]["kind"] == "watch" and alerts[0]["search"] == "korea-troops"
    assert [m["key"] for m in alerts[0]["matches"]] == [KURSK["key"]]
    assert alerts[0]["matches"][0]["published"] == "2024-10-25T09:00:00+00:00"


def test_a_failing_alert_command_is_retried_after_the_next_ingest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script, out = _alert_script(tmp_path)
    home.mkdir()
    config = home / "config.toml"
    config.write_text(f"[health]\nalert_command = {json.dumps([sys.executable, '-c', 'import sys; sys.exit(3)'])}\n")
    run(home, "watch", "add", "kursk", "kursk")
    with time_machine.travel(datetime(2024, 10, 25, 10, 0, tzinfo=timezone.utc), tick=False) as clock:
        _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK])
        config.write_text(f"[health]\nalert_command = {json.dumps([sys.executable, str(script), str(out)])}\n")
        _ingest(home, "20241025T110000Z-a-cccccc", [WEATHER])  # retried only after [alerts] retry seconds
        assert not out.exists()
        clock.shift(timedelta(seconds=61))
        _ingest(home, "20241025T120000Z-a-dddddd", [WEATHER])  # nothing new matches, the old alert goes out
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["key"] for a in alerts for m in a["matches"]] == [KURSK["key"]]


def test_matching_sees_only_the_new_records(tmp_path: Path, monkeypatch) -> None:
    import index.watch as watch

    home = tmp_path / "home"
    _ingest(home, "20241024T170000Z-a-aaaaaa", ARCHIVE)
    run(home, "watch", "add", "korea", "korea")
    seen: list[int] = []
    real = watch.match_records

    def spy(state_dir, ix, records):  # type: ignore[no-untyped-def]
        records = list(records)
        seen.append(len(records))
        return real(state_dir, ix, records)

    monkeypatch.setattr(watch, "match_records", spy)
    _ingest(home, "20241025T100000Z-a-bbbbbb", [KURSK, WEATHER])
    assert seen == [2]  # not the 9 records of the archive
