"""`newsdesk timeline`: counts per hour/day/week in the user's zone, as a bar chart or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.records import write_outbox
from tests.records_search import SEARCH_ARCHIVE


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("timeline") / "home"
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", SEARCH_ARCHIVE)
    ingest(Home(root))
    return root


def run(home: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, ["timeline", *args, "--home", str(home)], catch_exceptions=False)


def test_days_with_gaps_and_bars(home: Path) -> None:
    result = run(home, "korea", "--since", "2024-10-19", "--until", "2024-10-25", "--tz", "UTC")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].rstrip() == "2024-10-19 Sat      0"  # the asked window, empty days included
    assert lines[1].startswith("2024-10-20 Sun      1  █")
    assert [line[:10] for line in lines] == [f"2024-10-{d}" for d in range(19, 26)]
    assert lines[2].rstrip() == "2024-10-21 Mon      0"
    assert "2 matches" in result.stderr


def test_hours_on_one_day_in_tz(home: Path) -> None:
    data = json.loads(run(home, "", "--on", "2024-10-24", "--by", "hour", "--tz", "Asia/Jerusalem", "--json").stdout)
    counts = {b["label"]: b["count"] for b in data["buckets"]}
    # 05:10Z and 05:40Z are 08:xx in Israel; 16:25Z is 19:25.
    assert counts["2024-10-24 08:00"] == 2 and counts["2024-10-24 19:00"] == 1
    assert data["buckets"][0]["start"] == "2024-10-23T21:00:00+00:00"  # the day's first hour, in UTC in JSON
    assert len(data["buckets"]) == 24
    assert sum(counts.values()) == data["total"] == 6


def test_the_biggest_bucket_gets_the_full_bar(home: Path) -> None:
    lines = run(home, "", "--on", "2024-10-24", "--by", "hour", "--tz", "UTC").stdout.splitlines()
    bars = {line[:16]: line.count("█") for line in lines}
    assert bars["2024-10-24 05:00"] == 40 and bars["2024-10-24 09:00"] == 20


def test_weeks_start_on_monday_and_undated_are_counted(home: Path) -> None:
    data = json.loads(run(home, "korea", "--by", "week", "--tz", "UTC", "--json").stdout)
    assert [b["label"] for b in data["buckets"]][:2] == ["week of 2024-09-09", "week of 2024-09-16"]
    assert data["undated"] == 1 and data["total"] == 5
    assert sum(b["count"] for b in data["buckets"]) == 4


def test_filters_apply(home: Path) -> None:
    data = json.loads(run(home, "grid", "--agency", "AP", "--json").stdout)
    assert data["total"] == 1


def test_no_matches_and_bad_query(home: Path) -> None:
    empty = run(home, "zanzibar")
    assert empty.exit_code == 0 and "no matches" in empty.stderr
    bad = run(home, "(((")
    assert bad.exit_code == 2 and "invalid query" in bad.stderr
