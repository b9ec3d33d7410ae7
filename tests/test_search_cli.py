"""`newsdesk search` options in-process: formats, fields, pages, dates, filters, facets, explain, collapse."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
import time_machine
from click.testing import CliRunner

from index.ingest import ingest, reindex
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.cli.output import RECORD_FIELDS
from tests.records_search import OTHER_GRID, SEARCH_ARCHIVE, WIRE_A, WIRE_B
from tests.records import write_outbox

NOW = "2024-10-24T18:00:00+00:00"  # a Thursday evening, after every item in SEARCH_ARCHIVE


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search") / "home"
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", SEARCH_ARCHIVE)
    ingest(Home(root))
    return root


def run(home: Path, *args: str, color: bool = False) -> click.testing.Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False, color=color)


def hits(home: Path, *args: str) -> list[dict]:
    result = run(home, "search", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def titles(home: Path, *args: str) -> list[str]:
    return [h["title"] for h in hits(home, *args)]


def test_record_fields_follow_newsitem() -> None:
    from newsdesk.core.record import FIELD_NAMES

    assert RECORD_FIELDS == FIELD_NAMES


def test_json_snippets_are_plain_and_carry_the_terms(home: Path) -> None:
    found = hits(home, "drones", "--sort", "oldest")
    assert found and all("drones" in h["snippet"].lower() for h in found)
    assert not any("[[" in h["snippet"] for h in found)
    assert any(h["snippet"].endswith("…") for h in found)  # a cut is marked


def test_table_marks_the_terms_on_a_terminal(home: Path) -> None:
    result = run(home, "search", "freezing", "--tz", "UTC", color=True)
    assert result.exit_code == 0
    assert click.style("freezing", bold=True, fg="yellow") in result.stdout
    plain = run(home, "search", "freezing", "--tz", "UTC")
    assert "\x1b[" not in plain.stdout and "freezing" in plain.stdout


def test_json_carries_every_record_field(home: Path) -> None:
    (hit,) = hits(home, "decentralised")
    assert set(RECORD_FIELDS) <= set(hit)
    assert hit["authors"] == ["Omar Haddad"] and hit["kind"] == "article" and hit["body"] == OTHER_GRID["body"]
    assert hit["published"] == "2024-10-24T09:00:00+00:00"


def test_json_flag_is_an_alias(home: Path) -> None:
    assert run(home, "search", "korea", "--json").stdout == run(home, "search", "korea", "--format", "json").stdout
    assert run(home, "search", "korea", "--json", "--format", "csv").exit_code == 2


def test_jsonl_is_one_record_a_line(home: Path) -> None:
    result = run(home, "search", "korea", "--format", "jsonl", "--sort", "newest")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["key"] for r in lines] == [h["key"] for h in hits(home, "korea", "--sort", "newest")]


def test_csv_round_trips_through_the_csv_module(home: Path) -> None:
    result = run(home, "search", "grid", "--format", "csv", "--sort", "oldest")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = hits(home, "grid", "--sort", "oldest")
    assert [r["title"] for r in rows] == [h["title"] for h in expected]
    assert set(RECORD_FIELDS) <= set(rows[0])
    wire_b = next(r for r in rows if r["key"] == WIRE_B["key"])
    assert wire_b["authors"] == "Jane Doe; Omar Haddad"
    assert wire_b["body"] == WIRE_B["body"]  # commas and quotes survive
    assert json.loads(wire_b["extra"]) == {}


def test_fields_pick_and_order_columns(home: Path) -> None:
    found = hits(home, "korea", "--fields", "source,title,snippet")
    assert found and all(list(h) == ["source", "title", "snippet"] for h in found)
    rows = list(csv.reader(io.StringIO(run(home, "search", "korea", "--format", "csv", "--fields", "key,title").stdout)))
    assert rows[0] == ["key", "title"] and len(rows) == len(found) + 1
    table = run(home, "search", "trump", "--fields", "published,title", "--tz", "UTC").stdout
    assert table.strip() == "2024-10-24 14:32  Trump says he'll fire Special Counsel Jack Smith"


def test_unknown_field_is_a_usage_error(home: Path) -> None:
    result = run(home, "search", "korea", "--fields", "title,colour")
    assert result.exit_code == 2 and "unknown field 'colour'" in result.stderr and "Hint:" in result.stderr


def test_limit_page_and_total(home: Path) -> None:
    everything = [h["key"] for h in hits(home, "korea", "--sort", "newest", "--limit", "4")]
    first = run(home, "search", "korea", "--sort", "newest", "--limit", "2", "--format", "json")
    second = run(home, "search", "korea", "--sort", "newest", "--limit", "2", "--page", "2", "--format", "json")
    assert [h["key"] for h in json.loads(first.stdout) + json.loads(second.stdout)] == everything
    assert "1–2 of 5 matches (page 1 of 3)" in first.stderr
    assert "3–4 of 5 matches (page 2 of 3)" in second.stderr
    past = run(home, "search", "korea", "--limit", "2", "--page", "9")
    assert past.exit_code == 0 and "no hits on page 9" in past.stderr
    assert run(home, "search", "korea", "--limit", "1000", "--page", "11").exit_code == 2


def test_tz_changes_shown_times_not_json(home: Path) -> None:
    table = run(home, "search", "trump", "--tz", "America/New_York").stdout
    assert "2024-10-24 10:32" in table
    assert hits(home, "trump", "--tz", "America/New_York")[0]["published"] == "2024-10-24T14:32:00+00:00"


BN = "https://www.jpost.com/bn/"


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("query", "args", "expected"),
    [
        ("korea", ["--since", "2h"], {BN + "1"}),  # 16:25Z only
        ("", ["--since", "4h"], {BN + "1", BN + "2"}),  # 14:32Z is inside 4 h, 12:03Z is not
        ("korea", ["--since", "1w"], {BN + "1", "https://example.org/world/6"}),
        ("korea", ["--since", "today", "--tz", "UTC"], {BN + "1"}),
        ("korea", ["--until", "yesterday", "--tz", "UTC"], {BN + "4", BN + "5", "https://example.org/world/6"}),
        ("korea", ["--since", "30d", "--until", "3d"], {BN + "4", "https://example.org/world/6"}),
        ("korea", ["--since", "2 days ago"], {BN + "1"}),
    ],
)
def test_relative_dates_with_a_frozen_clock(home: Path, query: str, args: list[str], expected: set[str]) -> None:
    assert {h["key"] for h in hits(home, query, *args, "--limit", "100")} == expected


@time_machine.travel(NOW, tick=False)
def test_today_and_yesterday_are_days_of_tz(home: Path) -> None:
    # 18:00Z is already Friday 03:00 in Tokyo: there, Thursday the 24th is "yesterday".
    tokyo = {h["key"] for h in hits(home, "", "--on", "yesterday", "--tz", "Asia/Tokyo", "--limit", "100")}
    assert WIRE_A["key"] in tokyo and BN + "1" not in tokyo  # 05:10Z is Thursday, 16:25Z Friday in Tokyo
    assert {h["key"] for h in hits(home, "", "--on", "today", "--tz", "Asia/Tokyo")} == {BN + "1"}
    assert hits(home, "", "--on", "yesterday", "--tz", "UTC") == []


def test_on_a_day_is_read_in_tz(home: Path) -> None:
    jerusalem = {h["key"] for h in hits(home, "", "--on", "2024-10-24", "--tz", "Asia/Jerusalem", "--limit", "100")}
    assert jerusalem == {BN + "1", BN + "2", BN + "3", WIRE_A["key"], WIRE_B["key"], OTHER_GRID["key"]}
    # In Los Angeles the 24th ends at 07:00Z on the 25th and starts at 07:00Z: the 05:10Z wire item is the 23rd.
    los_angeles = {h["key"] for h in hits(home, "", "--on", "2024-10-24", "--tz", "America/Los_Angeles", "--limit", "100")}
    assert WIRE_A["key"] not in los_angeles and BN + "1" in los_angeles


def test_on_with_since_is_refused(home: Path) -> None:
    result = run(home, "search", "korea", "--on", "2024-10-24", "--since", "2024-10-01")
    assert result.exit_code == 2 and "--on cannot be combined" in result.stderr


def test_open_ended_ranges(home: Path) -> None:
    assert titles(home, "korea", "--until", "2024-09-30", "--tz", "UTC") == ["North Korea fires ballistic missile"]
    assert titles(home, "korea", "--since", "2024-10-21", "--tz", "UTC") == [
        "Putin does not deny reports about North Korea troops"]


def test_repeatable_source_and_agency_filters(home: Path) -> None:
    assert {h["source"] for h in hits(home, "grid", "--source", "wire-a")} == {"wire-a"}
    assert {h["source"] for h in hits(home, "grid", "--source", "wire-a", "--source", "wire-b")} == {"wire-a", "wire-b"}
    reuters = {h["key"] for h in hits(home, "", "--agency", "reuters", "--limit", "100")}
    assert reuters == {BN + "1", WIRE_A["key"], WIRE_B["key"]}  # "Reuters" and "REUTERS" alike
    both = {h["key"] for h in hits(home, "grid", "--agency", "Reuters", "--agency", "AP")}
    assert both == {WIRE_A["key"], WIRE_B["key"], OTHER_GRID["key"]}


def test_author_and_kind_filters(home: Path) -> None:
    assert {h["key"] for h in hits(home, "", "--author", "omar haddad")} == {WIRE_B["key"], OTHER_GRID["key"]}
    assert {h["key"] for h in hits(home, "", "--author", "Jane Doe", "--author", "Nobody")} == {WIRE_A["key"], WIRE_B["key"]}
    assert {h["kind"] for h in hits(home, "", "--kind", "article", "--limit", "100")} == {"article"}
    assert len(hits(home, "", "--kind", "breaking", "--limit", "100")) == 7


def test_facets_count_by_source_and_agency(home: Path) -> None:
    table = run(home, "search", "grid OR korea", "--facets")
    assert table.exit_code == 0
    assert "by source:" in table.stdout and "by agency:" in table.stdout
    result = run(home, "search", "grid OR korea", "--facets", "--format", "json")
    data = json.loads(result.stdout)
    assert data["total"] == 8 and len(data["hits"]) == 8
    assert data["facets"]["source"] == {"jpost-breaking": 4, "wire-b": 2, "other-wire": 1, "wire-a": 1}
    assert data["facets"]["agency"] == {"(none)": 4, "Reuters": 3, "AP": 1}


def test_explain_prints_the_parse_without_searching(home: Path) -> None:
    result = run(home, "search", "north korea troops", "--explain", "--source", "wire-a", "--since", "2024-10-01",
                 "--tz", "UTC")
    assert result.exit_code == 0
    assert "(title:korea OR body:korea)" in result.stdout and "troop" in result.stdout
    assert "time:     2024-10-01T00:00:00+00:00 … (open)" in result.stdout
    assert "sources:  wire-a" in result.stdout
    assert "matches" not in result.stderr
    bad = run(home, "search", "(((", "--explain")
    assert bad.exit_code == 2 and "invalid query" in bad.stderr


def test_collapse_folds_a_wire_story_into_its_earliest_copy(home: Path) -> None:
    plain = {h["key"] for h in hits(home, "power grid")}
    assert {WIRE_A["key"], WIRE_B["key"], OTHER_GRID["key"]} <= plain
    collapsed = hits(home, "power grid", "--collapse")
    keys = [h["key"] for h in collapsed]
    assert WIRE_A["key"] in keys and WIRE_B["key"] not in keys and OTHER_GRID["key"] in keys
    group = next(h for h in collapsed if h["key"] == WIRE_A["key"])
    assert [d["key"] for d in group["duplicates"]] == [WIRE_B["key"]]
    assert group["dupgroup"] == WIRE_A["key"]
    table = run(home, "search", "power grid", "--collapse", "--tz", "UTC").stdout
    assert "↳ 2024-10-24 05:40  wire-b" in table


def test_collapse_survives_a_reindex(tmp_path: Path) -> None:
    root = tmp_path / "home"
    write_outbox(root, "20241024T170000Z-mixed-bbbbbb", SEARCH_ARCHIVE)
    ingest(Home(root))
    reindex(Home(root))
    keys = [h["key"] for h in hits(root, "power grid", "--collapse")]
    assert WIRE_A["key"] in keys and WIRE_B["key"] not in keys


@pytest.mark.parametrize("bad", ["3x", "yesterdayish", "-2h", "Oct 24", "2"])
def test_unreadable_relative_dates_exit_2(home: Path, bad: str) -> None:
    result = run(home, "search", "korea", "--since", bad)
    assert result.exit_code == 2 and "cannot read --since" in result.stderr and "2h, 3d, 1w" in result.stderr


@time_machine.travel(NOW, tick=False)
def test_spelled_out_durations(home: Path) -> None:
    assert {h["key"] for h in hits(home, "", "--since", "4 hours")} == {BN + "1", BN + "2"}
    assert {h["key"] for h in hits(home, "", "--since", "100 minutes ago")} == {BN + "1"}
