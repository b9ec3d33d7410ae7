"""The CLI in-process: output shapes, error messages and exit codes, help texts."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.helpers import FIXTURES
from tests.records import ARCHIVE, write_outbox


@pytest.fixture
def filled_home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", ARCHIVE)
    ingest(Home(root))
    return root


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_search_json_parses_and_has_the_fields(filled_home: Path) -> None:
    result = run("search", "north korea troops", "--since", "2024-10-01", "--until", "2024-10-31",
                 "--source", "jpost-breaking", "--sort", "newest", "--json", "--home", str(filled_home))
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["title"] for h in hits] == [
        "Putin does not deny reports about North Korea troops",
        "South Korea summons Russian envoy over North Korean troops",
    ]
    assert set(hits[0]) >= {"key", "url", "title", "source", "published", "authors", "snippet"}
    assert hits[0]["published"] == "2024-10-24T16:25:00+00:00"


def test_search_table_shows_local_time(filled_home: Path) -> None:
    result = run("search", "trump", "--tz", "Asia/Jerusalem", "--home", str(filled_home))
    assert result.exit_code == 0
    assert "2024-10-24 17:32" in result.stdout  # 14:32Z shown in Israel time
    assert "1–1 of 1 match (page 1 of 1)" in result.stderr


def test_until_a_bare_day_includes_that_day(filled_home: Path) -> None:
    result = run("search", "korea", "--since", "2024-10-24", "--until", "2024-10-24", "--tz", "UTC",
                 "--json", "--home", str(filled_home))
    assert [h["title"] for h in json.loads(result.stdout)] == ["Putin does not deny reports about North Korea troops"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "NOT NOT NOT"], "invalid query"),
        (["search", "korea", "--since", "the day after"], "cannot read --since"),
        (["search", "korea", "--tz", "Mars/Base"], "unknown timezone"),
        (["search", "korea", "--since", "2024-10-31", "--until", "2024-10-01"], "after --until"),
    ],
)
def test_user_mistakes_exit_2_with_a_hint(filled_home: Path, args: list[str], message: str) -> None:
    result = run(*args, "--home", str(filled_home))
    assert result.exit_code == 2
    assert message in result.stderr and "Hint:" in result.stderr
    assert "Traceback" not in result.output


def test_home_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "not-a-dir"
    file.write_text("x")
    result = run("search", "korea", "--home", str(file))
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_search_without_an_index(tmp_path: Path) -> None:
    result = run("search", "korea", "--home", str(tmp_path))
    assert result.exit_code == 1 and "newsdesk crawl" in result.stderr


def test_bad_sources_file_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[sources.jpost-breaking]\ntimezone = "Nowhere/Land"\n')
    result = run("sources", "--home", str(tmp_path))
    assert result.exit_code == 1
    assert "sources.toml" in result.stderr and "timezone" in result.stderr and "Nowhere/Land" in result.stderr
    (tmp_path / "sources.toml").write_text("[sources.jpost-breaking\n")
    result = run("sources", "--home", str(tmp_path))
    assert result.exit_code == 1 and "invalid TOML" in result.stderr and "line 1" in result.stderr


def test_user_file_overrides_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text("[sources.jpost-breaking]\nenabled = false\n")
    rows = json.loads(run("sources", "--json", "--home", str(tmp_path)).stdout)
    jpost = next(r for r in rows if r["id"] == "jpost-breaking")
    assert jpost["enabled"] is False and jpost["timezone"] == "Asia/Jerusalem"


def test_parse_prints_every_list_item_in_page_order(tmp_path: Path) -> None:
    page = FIXTURES / "jpost" / "breaking-news-2024-10-24.html"
    result = run("parse", "jpost-breaking", str(page), "--url", "https://www.jpost.com/breaking-news",
                 "--home", str(tmp_path))
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 16
    assert records[1]["url"] == "https://www.jpost.com/breaking-news/putin-says-he-welcomes-trump-statement-826061"
    assert records[1]["published"] == "2024-10-24T16:13:00+00:00"
    assert not (tmp_path / "outbox").exists() and not (tmp_path / "index").exists()


def test_parse_of_a_page_without_items_fails(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><body>nothing here</body></html>")
    result = run("parse", "jpost-breaking", str(page), "--home", str(tmp_path))
    assert result.exit_code == 1 and "no records" in result.stderr


def test_crawl_argument_errors(tmp_path: Path) -> None:
    result = run("crawl", "no-such-source", "--home", str(tmp_path))
    assert result.exit_code == 2 and "unknown source" in result.stderr
    result = run("crawl", "jpost-breaking", "--url", "file:///etc/passwd", "--home", str(tmp_path))
    assert result.exit_code == 2 and "http(s)" in result.stderr


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + name + " "))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli))
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20, name
    assert "Example:" in command.help, name
    assert run(*name.split(), "--help").exit_code == 0
