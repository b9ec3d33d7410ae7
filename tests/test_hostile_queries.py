"""Hostile queries and arguments: each ends within a bound, with one clear line and a non-zero exit.

The pathological inputs are the ones measured against Whoosh's stock parser
(issue 8): `*` 6 s, `a*` 46 s, `??*` 28 s, `body:{a TO z]` 18 s,
`a* b* c* d* e*` over 2 minutes, a 3,000-term OR / 2,000 nested parentheses
→ RecursionError, `NOT NOT NOT` → IndexError, a 100k-character token 40 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import query as wq

from index.ingest import ingest
from index.query import QueryError, SearchTimeout, parse_query, run_limited
from index.schema import make_schema
from index.search import parse_query as parse_query_from_search
from index.search import search
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.hostile_inputs import PATHOLOGICAL, RUN_AS_WORDS
from tests.records import ARCHIVE, record, write_outbox

#: Seconds any hostile query may take, parse and search together (generous for a shared CI box).
BOUND = 2.0
SCHEMA = make_schema()

@pytest.fixture(scope="module")
def index_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the sample records plus 600 generated ones, for searches that could expand."""
    root = tmp_path_factory.mktemp("hostile") / "home"
    records = list(ARCHIVE) + [
        record(f"https://example.org/n/{i}", f"alpha{i % 97} beta{i % 89} report number {i}",
               "2024-10-01T00:00:00+00:00", body=" ".join(f"word{(i * j) % 1000}" for j in range(40)))
        for i in range(600)
    ]
    write_outbox(root, "20241024T170000Z-test", records)
    ingest(Home(root))
    return root


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_query_ends_fast_as_a_query_error(name: str, index_home: Path) -> None:
    text = PATHOLOGICAL[name]
    started = time.perf_counter()
    try:
        search(index_home / "index", text)
        outcome = "ran"
    except QueryError as exc:
        outcome = str(exc)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"{name} took {elapsed:.2f} s"
    if name in RUN_AS_WORDS:
        return
    assert outcome.startswith("invalid query: "), f"{name}: {outcome}"


def test_hostile_queries_through_the_cli_are_one_line_and_exit_2(index_home: Path) -> None:
    for name, text in PATHOLOGICAL.items():
        if name in RUN_AS_WORDS:
            continue
        result = CliRunner().invoke(cli, ["search", text, "--home", str(index_home)])
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output
        assert result.output.startswith("Error: invalid query: "), (name, result.output[:200])


def test_query_fences_keep_useful_syntax() -> None:
    assert parse_query_from_search is parse_query
    assert isinstance(parse_query(SCHEMA, "korea*"), wq.Or)  # title and body prefixes
    assert "Prefix('title', 'kor')" in repr(parse_query(SCHEMA, "title:kor*"))
    assert "Phrase" in repr(parse_query(SCHEMA, '"special counsel"'))
    assert repr(parse_query(SCHEMA, "source:jpost-breaking")) == "Term('source', 'jpost-breaking')"
    assert "Not" in repr(parse_query(SCHEMA, "korea NOT south"))
    assert "Phrase" in repr(parse_query(SCHEMA, '"time 10:30 source: x"'))  # fields inside quotes are words
    with pytest.raises(QueryError, match="unknown field 'nosuch'"):
        parse_query(SCHEMA, "nosuch:word")


def test_a_prefix_standing_for_too_many_words_is_refused(tmp_path: Path) -> None:
    from index.query import MAX_EXPANSION

    home = Home(tmp_path / "home")
    words = [f"abc{n:04d}" for n in range(MAX_EXPANSION + 50)]
    write_outbox(home.root, "20241024T170000Z-many", [
        record(f"https://example.org/w/{i}", " ".join(words[i::60]), None) for i in range(60)])
    ingest(home)
    started = time.perf_counter()
    with pytest.raises(QueryError, match="'abc\\*' matches over 1000 different words"):
        search(home.index, "abc*")
    assert time.perf_counter() - started < BOUND
    assert search(home.index, "abc000*").total == 10  # abc0000 … abc0009: fine


def test_unknown_field_hint_names_the_fields() -> None:
    with pytest.raises(QueryError) as info:
        parse_query(SCHEMA, "headline:korea")
    assert "title" in info.value.hint and "body" in info.value.hint


def test_search_time_limit_stops_a_slow_collection(index_home: Path) -> None:
    from index.store import open_index

    ix = open_index(index_home / "index")
    try:
        with ix.searcher() as searcher:
            with pytest.raises(SearchTimeout, match="stopped after"):
                # A zero limit fires before the first hit is collected.
                run_limited(searcher, wq.Every(), limit=10, timelimit=0.0)
            hits = run_limited(searcher, parse_query(ix.schema, "report"), limit=5)
            assert hits.scored_length() == 5
    finally:
        ix.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list('ab(*?)"~^:[]{}TO AND OR NOT\\-+!/ ')), max_size=80)
       | st.text(max_size=200))
def test_any_text_parses_or_fails_cleanly_and_fast(text: str) -> None:
    started = time.perf_counter()
    try:
        parsed = parse_query(SCHEMA, text)
    except QueryError as exc:
        assert str(exc).startswith("invalid query: ")
    else:
        assert isinstance(parsed, wq.Query)
    assert time.perf_counter() - started < BOUND


# --- hostile arguments ------------------------------------------------------------------

def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **(env or {})})


def _one_line_error(result: subprocess.CompletedProcess[str] | object) -> str:
    output = getattr(result, "stderr", None) or getattr(result, "output", "")
    assert "Traceback" not in output
    return output


@pytest.mark.parametrize("args", [
    ["--since", "not a date"],
    ["--until", "2024-13-45"],
    ["--since", "2024-10-02", "--until", "2024-10-01"],
    ["--since", "99999-01-01"],
    ["--tz", "Mars/Olympus"],
    ["--limit", "0"],
    ["--sort", "random"],
])
def test_bad_search_options_exit_non_zero_with_a_message(args: list[str], index_home: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "korea", *args, "--home", str(index_home)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(("Error:", "Usage:")) and "Traceback" not in result.output


def test_bad_home_paths(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = {
        "a file": str(a_file),
        "under a file": str(a_file / "home"),
        "cannot be created": "/proc/newsdesk-home",  # refused even to root
        "nul byte": "bad\x00path",
        "too long": "/tmp/" + "x" * 5000,
    }
    for name, path in cases.items():
        result = CliRunner().invoke(cli, ["crawl", "--no-ingest", "--home", path])
        assert result.exit_code != 0, name
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert result.output.startswith(("Error:", "Usage:")), (name, result.output)
        search = CliRunner().invoke(cli, ["search", "korea", "--home", path])
        assert search.exit_code != 0 and "Traceback" not in search.output, name


def test_search_without_an_index_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "korea", "--home", str(tmp_path / "empty")])
    assert result.exit_code == 1 and result.output.startswith("Error: no index")


@pytest.mark.parametrize("text,expect", [
    ("[sources.jpost-breaking\n", "line 1"),
    ("[sources.jpost-breaking]\n\ntimezone = \"Nowhere/Land\"\n", "line 3"),
    ("[sources.jpost-breaking]\nenabled = \"yes\"\n", "line 2"),
    ("[sources.x]\nspider = \"jpost_breaking\"\nurls = [\"ftp://example.org/\"]\n", "line 3"),
    ("[sources.jpost-breaking]\ncolour = \"blue\"\n", "line 2"),
    ("title = 3\n", "line 1"),
])
def test_invalid_sources_toml_names_file_line_and_key(tmp_path: Path, text: str, expect: str) -> None:
    (tmp_path / "sources.toml").write_text(text)
    result = CliRunner().invoke(cli, ["sources", "--home", str(tmp_path)])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert str(tmp_path / "sources.toml") in first and expect in first, first
    assert "Traceback" not in result.output


def test_unreadable_sources_toml(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_bytes(b"\xff\xfe\x00bad")
    result = CliRunner().invoke(cli, ["sources", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "sources.toml" in result.output and "Traceback" not in result.output
    (tmp_path / "sources.toml").unlink()
    (tmp_path / "sources.toml").mkdir()
    result = CliRunner().invoke(cli, ["sources", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_cli_search_json_still_works(index_home: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "alpha1*", "--json", "--limit", "3", "--home", str(index_home)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
