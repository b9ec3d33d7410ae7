"""One interface everywhere: unknown sources, --home, --tz, exit codes, timeline's window and formats.

Each row of docs/cli.md's exit-code table is checked here through the CLI itself.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.helpers import FIXTURES, ROOT
from tests.records import ARCHIVE, write_outbox

TYPO = "jpost-braking"


@pytest.fixture
def filled_home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", ARCHIVE)
    ingest(Home(root))
    return root


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_leaves(command, prefix + (name,)))
        else:
            found.append(prefix + (name,))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


# --- 20.4: an unknown source is refused, with "did you mean", exit 2 -------------------------

SOURCE_COMMANDS = [
    ["search", "korea", "--source", TYPO],
    ["timeline", "korea", "--source", TYPO],
    ["watch", "add", "x", "korea", "--source", TYPO],
    ["runs", "--source", TYPO],
    ["crawl", TYPO],
    ["check", TYPO],
    ["parse", TYPO, str(FIXTURES / "jpost" / "breaking-news-2024-10-24.html")],
    ["record", TYPO],
    ["reextract", TYPO],
    ["worker", "--source", TYPO, "--redis", "redis://127.0.0.1:1/0"],
]


@pytest.mark.parametrize("args", SOURCE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_an_unknown_source_is_refused_with_did_you_mean(filled_home: Path, args: list[str]) -> None:
    result = run(*args, "--home", str(filled_home))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == f"Error: unknown source {TYPO!r}"
    assert "did you mean 'jpost-breaking'" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_refused_watch_is_not_saved(filled_home: Path) -> None:
    run("watch", "add", "x", "korea", "--source", TYPO, "--home", str(filled_home))
    assert "no saved searches" in run("watch", "list", "--home", str(filled_home)).stderr


def test_a_name_far_from_every_source_lists_them(filled_home: Path) -> None:
    result = run("runs", "--source", "zzzz", "--home", str(filled_home))
    assert result.exit_code == 2 and "known sources: jpost-breaking," in result.stderr


def test_every_source_taking_command_is_covered() -> None:
    takes = {path[0] if path[0] != "watch" else " ".join(path) for path in _leaves(cli)
             if any(p.name in ("source_id", "source_ids", "sources_") for p in _command(path).params)}
    assert takes == {" ".join(a[:2]) if a[0] == "watch" else a[0] for a in SOURCE_COMMANDS}


# --- 20.7: --home and --tz everywhere -------------------------------------------------------

@pytest.mark.parametrize("path", _leaves(cli), ids=" ".join)
def test_every_command_takes_home_and_tz_defaults_to_local(path: tuple[str, ...]) -> None:
    command = _command(path)
    params = {p.name: p for p in command.params}
    assert "home" in params, f"{' '.join(path)} takes no --home"
    if "tz_name" in params:
        default = params["tz_name"].default  # None (click 8.3: its UNSET sentinel): this machine's zone
        assert default is None or type(default).__name__ == "Sentinel", default
        if path != ("extract",):  # extract's --tz is the page's zone (test below)
            assert "local" in (params["tz_name"].help or "") or "machine" in (params["tz_name"].help or "")


def test_extract_never_assumes_the_local_zone_for_a_zoneless_date(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import tzlocal

    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Grid failure</title>"
                    '<meta property="article:published_time" content="2024-10-24 10:00"></head>'
                    "<body><article><h1>Grid failure</h1><p>" + "The grid failed today. " * 20
                    + "</p></article></body></html>")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    tzlocal.reload_localzone()
    try:
        result = run("extract", str(page), "--home", str(tmp_path / "h"))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["published"] == "2024-10-24T10:00:00"  # zone unknown: no offset
        explicit = run("extract", str(page), "--tz", "Asia/Tokyo")
        assert json.loads(explicit.stdout)["published"] == "2024-10-24T10:00:00+09:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        tzlocal.reload_localzone()


# --- 20.7: timeline pads the asked window and takes --format ---------------------------------

def test_timeline_pads_empty_buckets_over_the_asked_window(filled_home: Path) -> None:
    result = run("timeline", "korea", "--since", "2024-10-20", "--until", "2024-10-28", "--tz", "UTC",
                 "--json", "--home", str(filled_home))
    data = json.loads(result.stdout)
    labels = [b["label"][:10] for b in data["buckets"]]
    assert labels == [f"2024-10-{d}" for d in range(20, 29)]
    assert sum(b["count"] for b in data["buckets"]) == data["total"] == 2
    table = run("timeline", "korea", "--since", "2024-10-20", "--until", "2024-10-28", "--tz", "UTC",
                "--home", str(filled_home))
    assert table.stdout.splitlines()[-1].startswith("2024-10-28 Mon      0")
    assert table.stderr.strip() == "2 matches"


def test_timeline_formats_carry_the_same_buckets(filled_home: Path) -> None:
    base = ["timeline", "korea", "--since", "2024-10-22", "--until", "2024-10-25", "--tz", "UTC",
            "--home", str(filled_home)]
    buckets = json.loads(run(*base, "--format", "json").stdout)["buckets"]
    lines = [json.loads(line) for line in run(*base, "--format", "jsonl").stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(run(*base, "--format", "csv").stdout)))
    assert lines == buckets and len(buckets) == 4
    assert [(r["start"], r["label"], int(r["count"])) for r in rows] == [
        (b["start"], b["label"], b["count"]) for b in buckets]
    assert run(*base, "--json", "--format", "csv").exit_code == 2


# --- docs/cli.md: every row of the exit-code table holds --------------------------------------

def _table_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", text, re.M)}


def test_the_docs_table_lists_each_exit_code() -> None:
    assert set(_table_rows()) == {"0", "1", "2", "130"}


@pytest.mark.parametrize(("args", "code"), [
    (["search", "korea"], 0),
    (["search", "nosuchword"], 0),  # no matches is an answer, not a failure
    (["status"], 0),
    (["search", "korea", "--home", "{empty}"], 1),  # no index yet
    (["parse", "jpost-breaking", "{blank_page}"], 1),
    (["search", '"unclosed'], 2),
    (["search", "korea", "--since", "the day after"], 2),
    (["search", "korea", "--tz", "Mars/Base"], 2),
    (["search", "korea", "--fields", "colour"], 2),
    (["search", "korea", "--no-such-option"], 2),
    (["no-such-command"], 2),
    (["runs", "--source", TYPO], 2),
    (["crawl", TYPO], 2),
    (["check", TYPO], 2),
    (["parse", TYPO, "{blank_page}"], 2),
])
def test_exit_codes_mean_the_same_everywhere(filled_home: Path, tmp_path: Path, args: list[str], code: int) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body>nothing</body></html>")
    values = {"{empty}": str(tmp_path / "empty"), "{blank_page}": str(blank)}
    args = [values.get(a, a) for a in args]
    if "--home" not in args:
        args += ["--home", str(filled_home)]
    result = run(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) <= 1
