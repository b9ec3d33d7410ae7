"""What a person reads: plurals, tables that keep their columns, the scheduler's log, help examples, skips explained."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from index.ingest import ingest
from newsdesk.ops import scheduling
from newsdesk.cli.main import cli
from newsdesk.ops.crawl import CrawlOutcome
from newsdesk.core.home import Home
from newsdesk.core.words import plural
from tests.records import ARCHIVE, record, write_outbox

LONG_ID = "a-source-id-far-longer-than-eighteen-characters"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, terminal_width=80)


def test_plural() -> None:
    assert [plural(n, "match") for n in (0, 1, 2)] == ["0 matches", "1 match", "2 matches"]
    assert plural(1, "file") == "1 file" and plural(3, "page") == "3 pages"


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    root = tmp_path / "home"
    write_outbox(root, "20241024T170000Z-jpost-breaking-aaaaaa", ARCHIVE[:1])
    out = run("ingest", "--home", str(root))
    assert "ingest: 1 record from 1 file (1 new, 0 updated in the index)" in out.stdout
    found = run("search", "putin", "--home", str(root))
    assert "1–1 of 1 match (page 1 of 1)" in found.stderr
    past = run("search", "putin", "--page", "3", "--home", str(root))
    assert "no hits on page 3: 1 match makes 1 page" in past.stderr


def _with_a_long_id(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.toml").write_text(f'[sources.{LONG_ID}]\nspider = "feed"\nurls = ["https://example.org/feed.xml"]\n'
                                       'timezone = "America/Argentina/Buenos_Aires"\nschedule = "*/15 * * * *"\n')


def _columns_line_up(header: str, rows: list[str], names: list[str], right: tuple[str, ...] = ()) -> None:
    """Each column's values start where its name starts (end where it ends, for ``right``-aligned ones)."""
    for name in names:
        at = header.index(name)
        for row in rows:
            if name in right:
                end = at + len(name) - 1
                assert row[end] != " " and row[end + 1] == " ", (name, row)
            else:
                assert row[at - 1] == " " and row[at] != " ", (name, row)


def test_sources_table_keeps_its_columns_with_a_long_id_and_zone(tmp_path: Path) -> None:
    root = tmp_path / "home"
    _with_a_long_id(root)
    lines = run("sources", "--home", str(root)).stdout.splitlines()
    _columns_line_up(lines[0], lines[1:], ["KIND", "SCHEDULE", "ZONE", "ENABLED", "LAST RUN"])
    assert any(line.startswith(LONG_ID + "  ") for line in lines)


def test_status_table_keeps_its_columns_with_a_long_id(tmp_path: Path) -> None:
    root = tmp_path / "home"
    _with_a_long_id(root)
    lines = run("status", "--home", str(root)).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("SOURCE"))
    rows = [line for line in lines[header + 1:] if not line.startswith(("  !", "quarantine"))]
    _columns_line_up(lines[header], rows, ["STATUS", "SEEN", "NEW", "HEALTH"], right=("SEEN", "NEW"))
    assert any(line.startswith(LONG_ID + " ") for line in rows)


def test_the_scheduler_logs_schedules_as_written_and_next_times(tmp_path: Path) -> None:
    sched = scheduling.build_scheduler(Home(tmp_path), now=NOW)
    lines = scheduling.schedule_lines(sched, set(), now=NOW)
    jpost = next(line for line in lines if line.startswith("scheduled jpost-breaking:"))
    assert re.fullmatch(r"scheduled jpost-breaking: '[^']+' \(Asia/Jerusalem\), next 2026-03-04 \d\d:\d\d IST", jpost)
    assert not any("cron[" in line or "interval[" in line or line.endswith("next ") for line in lines)
    assert scheduling.schedule_lines(sched, {"jpost-breaking"}, now=NOW)[0].endswith("next now (catch-up)")


def _help_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_help_commands(command, prefix + (name,)))
        else:
            found.append(prefix + (name,))
    return found


@pytest.mark.parametrize("path", _help_commands(cli), ids=lambda p: " ".join(p) or "newsdesk")
def test_help_examples_are_never_wrapped(path: tuple[str, ...]) -> None:
    out = run(*path, "--help").stdout
    examples = [line.strip() for line in out.splitlines() if line.strip().startswith("newsdesk ")]
    assert examples, path
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    written = [line.strip() for line in (command.help or "").splitlines() if line.strip().startswith("newsdesk ")]
    assert examples == written  # each whole, on one line: never broken inside a source id or URL


def test_watch_add_help_keeps_the_source_id_whole() -> None:
    out = run("watch", "add", "--help").stdout
    assert "--source jpost-breaking --notify ntfy://ntfy.sh/my-topic" in out and "jpost-\n" not in out


def test_a_sitemap_skipped_by_its_time_window_says_why() -> None:
    stats = {"newsdesk/sitemap/old_sitemaps": 2, "newsdesk/sitemap/outside_window": 40,
             "downloader/response_count": 1, "finish_reason": "finished"}
    line = CrawlOutcome(source="ap-sitemap", run_id="r", exit_code=0, log_file=Path("x.log"), stats=stats).describe()
    assert "2 sitemaps skipped: last changed before the time window (options.since)" in line
    assert "40 sitemap entries skipped: undated or before the time window (options.since)" in line
    busy = dict(stats, **{"newsdesk/items_new": 3, "item_scraped_count": 3})
    assert "sitemap entries" not in CrawlOutcome(source="s", run_id="r", exit_code=0, log_file=Path("x"),
                                                  stats=busy).describe()


REDIS = os.environ.get("NEWSDESK_TEST_REDIS", "")


@pytest.mark.skipif(not REDIS, reason="no Redis: run `eval \"$(.ci/services.sh start /tmp/newsdesk-services)\"` first")
def test_a_worker_prints_a_summary_and_logs_scrapy_to_its_file(tmp_path: Path) -> None:
    from tests.scale_site import make_home, newsdesk, stop, wait_for

    home = make_home(tmp_path / "w", "http://127.0.0.1:9")
    out = tmp_path / "terminal.txt"
    proc = newsdesk("worker", "--redis", REDIS, home=home, log=out)  # with -v, as the scale tests run it
    try:
        assert wait_for(lambda: any("Spider opened" in p.read_text(errors="replace")
                                    for p in (home / "logs").glob("worker-*.log")), 60)
    finally:
        stop(proc)
    terminal = out.read_text(errors="replace").splitlines()
    logs = list((home / "logs").glob("worker-*.log"))
    assert len(logs) == 1 and "[scrapy.core.engine] INFO: Spider opened" in logs[0].read_text()
    # Scrapy's INFO lines are in the file only (its warnings still reach the terminal).
    assert not any(line.startswith(("INFO scrapy", "DEBUG scrapy")) for line in terminal), terminal
    assert len(terminal) < 10, terminal
    stopped = next(i for i, line in enumerate(terminal) if line.startswith("worker ") and " stopped; its log: " in line)
    assert str(logs[0]) in terminal[stopped] and terminal[stopped + 1] == "  gen: 0 pages, 0 items written, 0 errors"
