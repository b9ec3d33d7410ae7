"""The scheduler for real: subprocesses, signals and locks against the loopback fixture site.

Schedules are short (``every 1s``) or long (``every 1h``, so only the catch-up
run happens); a gated fixture site holds article pages back, so a crawl can be
caught mid-run deterministically.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from index.search import search
from newsdesk.cli.main import cli
from newsdesk.ops.crawl import run_crawl
from newsdesk.core.home import Home
from newsdesk.ops.runs import RunHistory, RunRecord
from scraper.sources import get_source
from tests.helpers import FIXTURES, ROOT, FixtureSite, load_expected, only_source, serve, wait_for
from tests.helpers import archived_records as archived

pytestmark = pytest.mark.e2e
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]
EXPECTED = {(urlsplit(r["key"]).path, r["title"]) for r in load_expected("jpost", "breaking-news-2024-10-24.expected.json")}
CHANGED_LAYOUT = b"""<!DOCTYPE html>
<html><head><title>Breaking News | The Jerusalem Post</title></head>
<body><main class="newsfeed-v2">
  <article class="feed-card"><h3 class="feed-card__title"><a href="/breaking-news/a-826100">Headline in a new layout</a></h3>
  <time class="feed-card__time">10/24/2024 09:13 PM</time></article>
</main></body></html>
"""


class GatedSite(FixtureSite):
    """The fixture site, but article pages after the first ``allow`` wait until ``gate`` opens."""

    def __init__(self, folder: Path, allow: int) -> None:
        super().__init__(folder)
        self.allow = allow
        self.gate = threading.Event()
        self.articles = 0
        self.lock = threading.Lock()

    def body_for(self, path: str) -> bytes | None:
        if path.lower().startswith("/breaking-news/"):
            with self.lock:
                self.articles += 1
                held = self.articles > self.allow
            if held:
                self.gate.wait(60)
        return super().body_for(path)


@pytest.fixture
def gated() -> Iterator[GatedSite]:
    site = GatedSite(FIXTURES / "jpost", allow=3)
    site.start()
    try:
        yield site
    finally:
        site.gate.set()
        site.stop()


def setup_home(home: Path, url: str, schedule: str, config: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sources.toml").write_text(only_source("jpost-breaking", urls=url, schedule=schedule))
    (home / "config.toml").write_text(config)


def newsdesk(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=60, check=False)


def start_scheduler(home: Path, checkout: bool = False) -> subprocess.Popen[str]:
    """``newsdesk schedule``, or ``python scheduler.py`` from the checkout."""
    command = [sys.executable, "scheduler.py"] if checkout else [sys.executable, "-m", "newsdesk", "schedule"]
    return subprocess.Popen([*command, "--home", str(home), *FAST], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def runs(home: Path) -> list[RunRecord]:
    """Oldest first."""
    if not (home / "state" / "runs.sqlite").exists():
        return []
    return list(reversed(RunHistory(Home(home)).runs(limit=None)))


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def indexed(home: Path) -> set[tuple[str, str]]:
    return {(urlsplit(h.record["key"]).path, h.record["title"]) for h in search(home / "index", "", limit=1000).hits}


def part_lines(home: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (home / "outbox").glob("*.jsonl.part"))


def test_three_scheduled_runs_yield_the_records_once(home: Path) -> None:
    with serve(FIXTURES / "jpost") as site:
        # stop_timeout = 0: a fourth run already going at the SIGTERM is stopped at once.
        setup_home(home, site.url("/breaking-news"), "every 1s", "[schedule]\nstop_timeout = 0\n")
        proc = start_scheduler(home)
        try:
            wait_for(lambda: len([r for r in runs(home) if r.status not in ("running", "skipped")]) >= 3, 45,
                     "three runs")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    # A run due every second while the last one still goes is not started, and recorded as skipped.
    assert all("still running" in r.message for r in runs(home) if r.status == "skipped")
    done = [r for r in runs(home) if r.status != "skipped"]
    assert [r.status for r in done[:3]] == ["ok"] * 3, [(r.status, r.message) for r in done]
    assert all(r.status in ("ok", "stopped") for r in done[3:])
    assert [r.trigger for r in done[:3]] == ["catch-up", "scheduled", "scheduled"]
    for earlier, later in zip(done, done[1:]):  # never overlapping
        assert earlier.ended is not None and later.started >= earlier.ended
    assert (done[0].seen, done[0].new) == (16, 16)
    assert all((r.seen, r.new, r.unchanged, r.dropped) == (16, 0, 16, 0) for r in done[1:3])
    assert indexed(home) == EXPECTED
    assert len(archived(home)) == 16  # each record archived once
    assert not list((home / "outbox").iterdir())

    listed = json.loads(CliRunner().invoke(cli, ["runs", "--json", "--home", str(home)]).stdout)
    assert [r["run_id"] for r in listed if r["status"] != "skipped"] == [r.run_id for r in reversed(done)]
    assert listed[-1]["new"] == 16 and listed[-1]["log_file"].endswith(".log")
    assert Path(listed[-1]["log_file"]).exists()
    state = json.loads(CliRunner().invoke(cli, ["status", "--json", "--home", str(home)]).stdout)
    row = state["sources"][0]
    assert row["last_run"]["run_id"] == done[-1].run_id
    # Only "not run lately" can be wrong with it (an every-1s source, seconds after the stop), and that
    # the fixture site has only 2 of its 16 article pages.
    assert {a["kind"] for a in row["alerts"]} <= {"stale", "article_failures"}
    assert state["scheduler"]["running"] is False


def test_a_second_process_skips_a_source_being_crawled(home: Path, gated: GatedSite) -> None:
    url = gated.url("/breaking-news")
    setup_home(home, url, "*/10 * * * *")
    first = subprocess.Popen([sys.executable, "-m", "newsdesk", "crawl", "jpost-breaking", "--url", url, *FAST,
                              "--home", str(home)], text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: gated.articles > gated.allow, what="the first crawl to be mid-run")
        cron = newsdesk("crawl", "--quiet", *FAST, home=home)
        assert (cron.returncode, cron.stdout, cron.stderr) == (0, "", "")
        person = newsdesk("crawl", "jpost-breaking", "--no-ingest", home=home)
        assert person.returncode == 0
        running = runs(home)[0]
        assert f"jpost-breaking: skipped: another crawl is running (run {running.run_id}, pid {running.pid}, " \
            "started at " in person.stdout
        in_process = run_crawl(Home(home), get_source("jpost-breaking", home / "sources.toml"), trigger="scheduled")
        assert in_process.skipped and in_process.ok
    finally:
        gated.gate.set()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "16 seen, 16 new" in out
    # The skips are recorded as such, with why.
    assert [(r.trigger, r.status) for r in runs(home)] == [("manual", "ok"), ("cron", "skipped"),
                                                           ("manual", "skipped"), ("scheduled", "skipped")]
    assert all("another crawl is running" in r.message for r in runs(home)[1:])


def test_scheduler_killed_mid_crawl_catches_up_and_loses_nothing(home: Path, gated: GatedSite) -> None:
    setup_home(home, gated.url("/breaking-news"), "every 1h")
    proc = start_scheduler(home)
    try:
        wait_for(lambda: gated.articles > gated.allow and part_lines(home) >= 3, what="records in the outbox")
        crawl_pid = wait_for(lambda: runs(home) and runs(home)[0].pid, what="the crawl's pid")
        # As systemd does when the main process dies: everything in the unit is killed.
        proc.kill()
        os.kill(crawl_pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    wait_for(lambda: not _alive(crawl_pid), 10, "the crawl to die")
    written = [json.loads(line)["key"] for p in (home / "outbox").glob("*.part") for line in p.read_text().splitlines()]
    assert len(written) >= 3
    assert runs(home)[0].status == "running"  # nobody recorded its end

    gated.gate.set()
    again = start_scheduler(home)
    try:
        wait_for(lambda: len(runs(home)) == 2 and runs(home)[1].status == "ok", 40, "the catch-up run")
    finally:
        code, err = stop(again)
    assert code == 0, err
    first, second = runs(home)
    assert (first.status, second.trigger) == ("interrupted", "catch-up")
    assert indexed(home) == EXPECTED
    keys = [r["key"] for r in archived(home)]
    assert set(written) <= set(keys) and len(set(keys)) == 16
    assert not list((home / "outbox").iterdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_changed_layout_raises_a_zero_items_alert(home: Path, tmp_path: Path) -> None:
    received = tmp_path / "alerts.jsonl"
    command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.stdin.read())", str(received)]
    with serve(FIXTURES / "jpost") as site:
        setup_home(home, site.url("/breaking-news"), "*/10 * * * *",
                   f"[health]\nalert_command = {json.dumps(command)}\n")
        first = newsdesk("crawl", *FAST, home=home)
        assert first.returncode == 0 and "16 seen" in first.stdout, first.stderr
        site.overrides["/breaking-news"] = CHANGED_LAYOUT
        second = newsdesk("crawl", *FAST, home=home)
    assert second.returncode == 0
    assert "WARNING" in second.stderr and "jpost-breaking: no items (usually 16)" in second.stderr
    alerts = [json.loads(line) for line in received.read_text().splitlines()]
    # The first run alerted that 14 of its 15 article pages are missing from the fixture site (once).
    assert [(a["kind"], a["source"]) for a in alerts] == [("article_failures", "jpost-breaking"),
                                                          ("zero_items", "jpost-breaking")]
    done = runs(home)
    zero = alerts[1]
    assert zero["run_id"] == done[1].run_id and "layout_no_items" not in zero["message"]
    assert zero["details"]["layout"] == ["no_items"]

    state = json.loads(CliRunner().invoke(cli, ["status", "--json", "--home", str(home)]).stdout)
    row = state["sources"][0]
    assert row["health"] == "alert" and [a["kind"] for a in row["alerts"]] == ["zero_items", "article_failures"]
    table = CliRunner().invoke(cli, ["status", "--home", str(home)]).stdout
    assert "! zero_items: jpost-breaking: no items (usually 16)" in table
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--json", "--home", str(home)]).stdout)
    # The second run listed nothing; it fetched again the 14 article pages the first could not.
    assert [(r["seen"], r["new"], r["status"], r["exit_code"]) for r in listed] == [(14, 0, "ok", 0),
                                                                                 (16, 16, "ok", 0)]
    assert listed[0]["stats"]["newsdesk/article_retried"] == 14


def test_sigterm_during_a_crawl_exits_0_with_the_run_recorded(home: Path, gated: GatedSite) -> None:
    setup_home(home, gated.url("/breaking-news"), "every 1h",
               "[schedule]\nstop_timeout = 0.5\nkill_timeout = 1\n")
    proc = start_scheduler(home, checkout=True)  # `python scheduler.py` from the checkout
    try:
        wait_for(lambda: gated.articles > gated.allow and part_lines(home) >= 3, what="a crawl mid-run")
        written = part_lines(home)
        started = time.monotonic()
    finally:
        code, err = stop(proc)
    took = time.monotonic() - started
    assert code == 0, err
    assert took < 15  # bounded: 0.5 s grace, 1 s to close, then forced
    (run,) = runs(home)
    assert run.status == "stopped" and run.ended is not None and run.exit_code is not None
    assert "stopping the crawl (shutdown)" in err
    assert len(indexed(home)) >= written  # what the crawl wrote before the stop was ingested
    assert not list((home / "outbox").iterdir())
