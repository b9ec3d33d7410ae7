"""Search answers that are exact: names in any case, authors with commas, -word, snippets, order, pages."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.records import record, write_outbox
from tests.records_search import SEARCH_ARCHIVE, WIRE_A, WIRE_B

SMITH = record("https://news.example/smith", "Court hears appeal over port strike", "2024-10-23T09:00:00+00:00",
               source="wire-a", kind="article", body="The appeal was heard on Wednesday.", agency="AFP",
               authors=["Smith, John"])
TITLE_ONLY = record("https://news.example/title-only", "Flood warning for the river valley",
                    "2024-10-22T09:00:00+00:00", body="Residents were told to move to higher ground.")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exact") / "home"
    write_outbox(root, "20241024T170000Z-exact", [*SEARCH_ARCHIVE, SMITH, TITLE_ONLY])
    ingest(Home(root))
    return root


def run(home: Path, *args: str, color: bool = False) -> click.testing.Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], color=color)


def keys(home: Path, *args: str) -> list[str]:
    result = run(home, "search", *args, "--json", "--limit", "100")
    assert result.exit_code == 0, result.output
    return [h["key"] for h in json.loads(result.stdout)]


REUTERS = {r["key"] for r in SEARCH_ARCHIVE if (r.get("agency") or "").lower() == "reuters"}


@pytest.mark.parametrize("text", ["agency:Reuters", "agency:REUTERS", "agency:reuters", "Agency:Reuters"])
def test_field_queries_on_names_ignore_case(home: Path, text: str) -> None:
    assert set(keys(home, text)) == REUTERS and len(REUTERS) == 3


def test_kind_source_and_language_ignore_case_too(home: Path) -> None:
    assert keys(home, "kind:ARTICLE source:Wire-A appeal") == [SMITH["key"]]
    assert SMITH["key"] in keys(home, "LANGUAGE:EN appeal")
    assert keys(home, "grid", "--kind", "Article", "--source", "WIRE-B", "--agency", "ReUtErS") == [WIRE_B["key"]]


@pytest.mark.parametrize("who", ["Smith, John", "smith john", "SMITH,JOHN", "Smith,  John"])
def test_an_author_with_a_comma_is_found(home: Path, who: str) -> None:
    assert keys(home, "--author", who) == [SMITH["key"]]
    assert keys(home, f'authors:"{who}"') == [SMITH["key"]]


def test_minus_before_a_word_means_not(home: Path) -> None:
    grid = set(keys(home, "grid"))
    assert set(keys(home, "grid -drones")) == set(keys(home, "grid NOT drones")) == grid - set(keys(home, "drones"))
    assert set(keys(home, "grid -agency:reuters")) == grid - REUTERS
    assert set(keys(home, 'grid -"power grid of ukraine"')) < grid
    assert keys(home, "north-korea") == keys(home, "north-korea")  # a minus inside a word stays a word
    assert set(keys(home, "north-korea")) and set(keys(home, "north-korea")) <= set(keys(home, "north korea"))


def test_a_snippet_that_holds_the_whole_text_has_no_ellipsis(home: Path) -> None:
    [hit] = json.loads(run(home, "search", "appeal", "--json").stdout)
    assert hit["snippet"] == "The appeal was heard on Wednesday."


def test_a_match_in_the_title_only_is_marked_in_the_table_and_on_the_web(home: Path) -> None:
    from index.search import search

    [hit] = search(Home(home).index, "flood").hits
    assert hit.title == "[[Flood]] warning for the river valley"
    table = run(home, "search", "flood", color=True).stdout
    assert click.style("Flood", bold=True, fg="yellow") in table

    from newsdesk.web.app import create_app

    page = create_app(Home(home)).test_client().get("/?q=flood").get_data(as_text=True)
    assert "<mark>Flood</mark> warning for the river valley" in page


def test_collapse_with_fields_keeps_the_copies_beneath(home: Path) -> None:
    out = run(home, "search", "power grid drones", "--collapse", "--fields", "key,title").stdout
    rep = WIRE_A["key"]
    assert rep in out and "↳" in out and WIRE_B["url"] in out


def test_undated_records_come_last_in_every_order(home: Path) -> None:
    undated = "https://www.jpost.com/bn/7"
    for sort in ("newest", "oldest"):
        found = keys(home, "troops", "--sort", sort)
        assert found[-1] == undated, sort


def test_page_zero_says_pages_start_at_one(home: Path) -> None:
    from index.query import QueryError
    from index.search import search

    with pytest.raises(QueryError, match="numbered from 1"):
        search(Home(home).index, "korea", page=0)
    from newsdesk.web.app import create_app

    answer = create_app(Home(home)).test_client().get("/api/search?q=korea&page=0")
    assert answer.status_code == 400 and "numbered from 1" in answer.get_data(as_text=True)


def test_watch_show_prints_the_current_headline_and_says_it_changed(tmp_path: Path) -> None:
    root = tmp_path / "home"
    runner = CliRunner()
    first = record("https://news.example/quake", "Quake hits coast", "2024-10-25T09:00:00+00:00", body="A quake.")
    assert runner.invoke(cli, ["watch", "add", "quake", "quake", "--home", str(root)]).exit_code == 0
    write_outbox(root, "20241025T100000Z-a", [first])
    ingest(Home(root))
    write_outbox(root, "20241025T110000Z-b", [{**first, "title": "Quake kills 12 on coast", "version": 2}])
    ingest(Home(root))
    table = runner.invoke(cli, ["watch", "show", "quake", "--tz", "UTC", "--home", str(root)])
    assert table.exit_code == 0
    assert "Quake kills 12 on coast" in table.stdout
    assert "headline changed; first matched as: Quake hits coast" in table.stdout
    [match] = json.loads(runner.invoke(cli, ["watch", "show", "quake", "--json", "--home", str(root)]).stdout)
    assert (match["title"], match["title_when_matched"]) == ("Quake kills 12 on coast", "Quake hits coast")


def test_equal_scores_are_ordered_by_time_whatever_the_arrival_order(tmp_path: Path) -> None:
    from index.ingest import reindex
    from index.search import search

    root = tmp_path / "home"
    same = [record(f"https://news.example/tie/{i}", "Harbour reopens",
                   f"2024-10-{10 + (i * 7) % 10:02d}T08:00:00+00:00", body="The harbour reopened.") for i in range(10)]
    undated = record("https://news.example/tie/undated", "Harbour reopens", None, body="The harbour reopened.")
    write_outbox(root, "20241024T170000Z-a", [same[3], undated, *same[:3]])
    write_outbox(root, "20241024T170001Z-b", same[4:])
    ingest(Home(root))
    write_outbox(root, "20241024T170002Z-c", [dict(same[5], version=2)])  # leaves a deleted document behind
    ingest(Home(root))
    expected = [r["key"] for r in sorted(same, key=lambda r: r["published"], reverse=True)] + [undated["key"]]
    for text in ("harbour", "harbour -storm", "harb*"):  # array path and Whoosh path alike
        assert [h.record["key"] for h in search(Home(root).index, text, limit=20).hits] == expected, text
        assert [h.record["key"] for h in search(Home(root).index, text, limit=3, page=2).hits] == expected[3:6]
    reindex(Home(root))
    assert [h.record["key"] for h in search(Home(root).index, "harbour", limit=20).hits] == expected
