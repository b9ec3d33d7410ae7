"""Runs that tell the truth, against loopback sites: quiet when healthy, failed when broken, every item counted.

Each test runs ``newsdesk crawl`` as cron would (a subprocess) and checks what
a user sees: the lines printed, the exit code, ``newsdesk runs`` / ``status``,
and the alerts handed to ``alert_command``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index.search import search
from newsdesk.cli.main import cli
from newsdesk.ops.crawl import CrawlOutcome
from newsdesk.core.home import Home
from newsdesk.ops.runs import RunHistory, RunRecord
from tests.conftest import tally_problems
from tests.generated_site import GeneratedSite, article_page, item_title, serve_generated
from tests.helpers import NOT_FOUND, Answer, LoopbackSite, wait_for

pytestmark = pytest.mark.e2e
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "NEWSDESK_RETRY_BACKOFF=0"]
HTML = {"Content-Type": "text/html; charset=utf-8"}
#: A config-defined list source over the generated site's list page.
LIST_OPTIONS = ('{ item = "div.breaking-news-link-container", headline = "span.breaking-news-ticker-date", '
                'time = "ul.breaking-news-reporter-date li:nth-child(2)", time_format = "%m/%d/%Y %I:%M %p" }')


def newsdesk(*args: str, home: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=timeout, check=False)


def setup_home(home: Path, sources: str, alerts_to: Path | None = None) -> None:
    """A home with only ``sources`` (TOML) and, if given, an alert_command appending to ``alerts_to``."""
    home.mkdir(parents=True, exist_ok=True)
    from scraper.sources import load_sources

    disabled = "".join(f"\n[sources.{s}]\nenabled = false\n" for s in load_sources())
    (home / "sources.toml").write_text(sources + disabled)
    if alerts_to is not None:
        command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.stdin.read())",
                   str(alerts_to)]
        (home / "config.toml").write_text(f"[health]\nalert_command = {json.dumps(command)}\n")


def alerts_sent(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def history(home: Path) -> list[RunRecord]:
    """Oldest first."""
    return list(reversed(RunHistory(Home(home)).runs(limit=None)))


def status_of(home: Path, source: str) -> dict[str, Any]:
    """``newsdesk status --json``'s row of ``source``."""
    result = CliRunner().invoke(cli, ["status", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.stdout)["sources"] if r["source"] == source]
    return dict(row)


# --- the loopback test of "Done when" -------------------------------------------------------

def test_ten_unchanged_runs_print_nothing_then_a_broken_layout_alerts_once(home: Path, tmp_path: Path) -> None:
    received = tmp_path / "alerts.jsonl"
    with serve_generated(12) as site:
        setup_home(home, f'[sources.gen]\nspider = "list"\nurls = ["{site.url("/breaking-news")}"]\n'
                         f'timezone = "Asia/Jerusalem"\noptions = {LIST_OPTIONS}\n', received)
        first = newsdesk("crawl", *FAST, home=home)
        assert first.returncode == 0, first.stderr
        assert "gen: 12 seen, 12 new, 0 updated" in first.stdout
        for _ in range(10):  # cron, every ten minutes: nothing changed
            again = newsdesk("crawl", "--quiet", *FAST, home=home)
            assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
        assert alerts_sent(received) == [] and status_of(home, "gen")["health"] == "ok"
        assert all((r.seen, r.unchanged, r.status) == (12, 12, "ok") for r in history(home)[1:])

        # The list still matches, but the headline and link markup changed: every item is dropped.
        broken = site.response("/breaking-news")[2].replace(b'<span class="breaking-news-ticker-date">', b"<h3>")
        broken = broken.replace(b"<a href=", b"<b data-href=")
        site.extra["/breaking-news"] = (200, HTML, broken)
        changed = newsdesk("crawl", "--quiet", *FAST, home=home)
        for _ in range(2):  # still broken: already said
            still = newsdesk("crawl", "--quiet", *FAST, home=home)
            assert (still.returncode, still.stdout, still.stderr) == (0, "", "")
    assert changed.returncode == 0
    (alert,) = alerts_sent(received)
    assert alert["kind"] == "layout" and alert["details"]["top_reason"] == "missing_title"
    assert alert["message"] == "gen: 12 of 12 items dropped (mostly missing title: 12): did the page layout change?"
    assert alert["message"] in changed.stderr
    assert "gen: 12 seen, 0 new, 0 updated, 0 unchanged, 12 dropped (12 missing title)" in changed.stdout
    assert [a.kind for a in RunHistory(Home(home)).alerts("gen")] == ["layout"]
    assert status_of(home, "gen")["health"] == "alert"


# --- every item ends written, unchanged, or dropped with a counted reason -------------------

class RedirectingSite(LoopbackSite):
    """A list page whose links redirect: two to one article, one into a loop A→B→A."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []
        links = ["/news/first", "/news/second", "/loop/a", "/news/plain"]
        rows = "".join(f'<div class="breaking-news-link-container"><a href="{link}">'
                       f'<span class="breaking-news-ticker-date">Headline {n} of the list</span></a></div>'
                       for n, link in enumerate(links))
        self.list = f"<html><body>{rows}</body></html>".encode()

    def answer(self, path: str, headers: Any) -> Answer:
        self.requests.append(path)
        moved = {"/news/first": "/article/1", "/news/second": "/article/1", "/loop/a": "/loop/b", "/loop/b": "/loop/a"}
        if path in moved:
            return 301, {"Location": self.url(moved[path]), "Content-Length": "0"}, b""
        if path == "/list":
            return 200, HTML, self.list
        if path in ("/article/1", "/news/plain"):
            return 200, HTML, article_page(1)
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        return NOT_FOUND


def test_links_redirecting_to_one_article_or_into_a_loop_are_all_counted(home: Path) -> None:
    with RedirectingSite() as site:
        setup_home(home, f'[sources.redir]\nspider = "list"\nurls = ["{site.url("/list")}"]\n'
                         f'options = {{ item = "div.breaking-news-link-container" }}\n')
        result = newsdesk("crawl", *FAST, home=home)
    assert result.returncode == 0, result.stderr
    # 4 listed, 4 written: the second redirect to /article/1 is not filtered away, the loop is bounded
    # by REDIRECT_MAX_TIMES and its listed record kept.
    assert "redir: 4 seen, 4 new, 0 updated, 0 unchanged, 0 dropped, 1 error (1 article page not fetched)" \
        in result.stdout
    assert site.requests.count("/article/1") == 2 and 2 <= site.requests.count("/loop/a") <= 4
    assert len(search(home / "index", "", limit=10).hits) == 4
    log = Path(history(home)[0].log_file or "").read_text()
    assert "article not fetched (too many redirects (a redirect loop?))" in log


def test_the_suite_checker_catches_a_run_whose_numbers_do_not_add_up(tmp_path: Path) -> None:
    report = tmp_path / "home" / "runs" / "r.json"
    report.parent.mkdir(parents=True)
    # What Scrapy's duplicate filter used to leave: 9 listed, 8 written, nothing said about the ninth.
    stats = {"item_scraped_count": 8, "newsdesk/items_new": 8, "newsdesk/articles_followed": 9,
             "newsdesk/articles_done": 8}
    report.write_text(json.dumps({"run_id": "r", "finish_reason": "finished", "stats": stats}))
    assert tally_problems(tmp_path) == [f"{report}: 1 listed items never came back from their article request"]
    outcome = CrawlOutcome(source="s", run_id="r", exit_code=0, log_file=Path("x.log"),
                           stats={**stats, "newsdesk/tally_mismatch": 1})
    assert outcome.status == "failed" and outcome.seen == 9  # the ninth is counted, as unfinished
    report.unlink()


# --- quiet, errors and alerts -------------------------------------------------------------

def test_robots_and_a_missing_article_keep_a_cron_run_quiet(home: Path, tmp_path: Path) -> None:
    received = tmp_path / "alerts.jsonl"
    site = GeneratedSite(10)
    site.extra["/breaking-news"] = (200, HTML, site.response("/breaking-news")[2]
                                    .replace(b"/breaking-news/item-3\"", b"/private/item-3\"")
                                    .replace(b"/breaking-news/item-4\"", b"/breaking-news/item-404\""))
    with site:
        setup_home(home, f'[sources.gen]\nspider = "jpost_breaking"\nurls = ["{site.url("/breaking-news")}"]\n',
                   received)
        quiet = newsdesk("crawl", "--quiet", *FAST, home=home)
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
        loud = newsdesk("crawl", "--refresh", *FAST, home=home)
        # Now 3 of the 10 article pages fail: a real share of the run, so it alerts (and prints under --quiet).
        for n in (5, 6):
            site.extra[f"/breaking-news/item-{n}"] = (503, HTML, b"down")
        failing = newsdesk("crawl", "--quiet", "--refresh", "-s", "RETRY_TIMES=0", *FAST, home=home)
    assert "gen: 10 seen, 0 new, 0 updated, 10 unchanged, 0 dropped, 1 error (1 article page not fetched); " \
           "1 skipped by robots.txt" in loud.stdout
    assert "/private/item-3" not in site.requests  # robots.txt disallows it: never fetched
    assert failing.returncode == 0
    assert "3 article pages not fetched" in failing.stdout
    assert "alert: gen: 3 of 9 article pages could not be fetched" in failing.stderr
    assert [a["kind"] for a in alerts_sent(received)] == ["article_failures"]


@pytest.mark.parametrize("case", ["404", "500", "redirect_loop", "robots", "stall", "refused"])
def test_a_start_page_that_fails_is_a_failed_run(home: Path, case: str) -> None:
    class Site(LoopbackSite):
        def answer(self, path: str, headers: Any) -> Answer:
            if path == "/robots.txt":
                return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /\n" if case == "robots" else b""
            if case == "404":
                return NOT_FOUND
            if case == "500":
                return 500, HTML, b"broken"
            if case == "redirect_loop":
                return 301, {"Location": self.url("/b" if path == "/a" else "/a"), "Content-Length": "0"}, b""
            time.sleep(3)  # stall: headers never come within DOWNLOAD_TIMEOUT
            return 200, HTML, b"<html></html>"

    causes = {"404": "HTTP 404", "500": "HTTP 500", "redirect_loop": "too many redirects (a redirect loop?)",
              "robots": "disallowed by robots.txt", "stall": "timed out", "refused": "connection refused"}
    with Site() as site:
        url = "http://127.0.0.1:9/a" if case == "refused" else site.url("/a")
        setup_home(home, f'[sources.site]\nspider = "jpost_breaking"\nurls = ["{url}"]\n')
        result = newsdesk("crawl", "--quiet", *FAST, "-s", "DOWNLOAD_TIMEOUT=1", home=home)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    (run,) = history(home)
    assert run.status == ("unreachable" if case in ("stall", "refused") else "failed")
    if case != "refused":  # nothing answered at all: the older one-line form says so
        assert line.startswith(f"site: failed: start page {causes[case]}: {url}; 0 seen"), line
    assert causes[case] in line and line.endswith(f"; see {run.log_file}")
    row = status_of(home, "site")
    assert row["health"] == "failed" and row["last_run"]["status"] == run.status
    assert causes[case] in row["last_run"]["message"]
    if case == "404":  # the web page says the same
        from newsdesk.web.app import create_app

        page = create_app(Home(home), "UTC").test_client().get("/sources").get_data(as_text=True)
        assert '<tr class="health-failed">' in page and "start page HTTP 404" in page


# --- failed articles are retried, even when the feed answers 304 -----------------------------

class FeedSite(LoopbackSite):
    """An RSS feed with an ETag (answering 304 to it) over two articles; ``broken`` paths answer 503."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = {"/article/2"}
        self.requests: list[str] = []
        items = "".join(f"<item><title>{item_title(n)}</title><link>{{base}}/article/{n}</link>"
                        f"<pubDate>Thu, 24 Oct 2024 19:0{n}:00 GMT</pubDate></item>" for n in (1, 2))
        self.feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'

    def answer(self, path: str, headers: Any) -> Answer:
        self.requests.append(path)
        if path == "/feed.xml":
            if headers.get("If-None-Match") == '"v1"':
                return 304, {"ETag": '"v1"', "Content-Length": "0"}, b""
            return 200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, self.feed.replace(
                "{base}", self.base).encode()
        if path in self.broken:
            return 503, HTML, b"busy"
        if path.startswith("/article/"):
            return 200, HTML, article_page(int(path.rsplit("/", 1)[1]))
        return NOT_FOUND


def test_a_failed_article_is_fetched_again_while_the_feed_answers_304(home: Path) -> None:
    with FeedSite() as site:
        setup_home(home, f'[sources.feed]\nspider = "feed"\nurls = ["{site.url("/feed.xml")}"]\n')
        first = newsdesk("crawl", "-s", "RETRY_TIMES=0", *FAST, home=home)
        assert first.returncode == 0 and "1 article page not fetched" in first.stdout, first.stdout
        site.broken.clear()
        second = newsdesk("crawl", *FAST, home=home)
    assert second.returncode == 0, second.stderr
    assert site.requests.count("/article/2") == 2 and site.requests.count("/article/1") == 1
    assert "feed: 1 seen, 0 new, 1 updated" in second.stdout  # the feed: 304; the article: fetched again
    (record,) = [h.record for h in search(home / "index", "", limit=10).hits if h.record["url"].endswith("/2")]
    assert "Body of generated item 2" in record["body"]


def test_an_article_that_keeps_failing_is_given_up_after_three_attempts(home: Path) -> None:
    with FeedSite() as site:
        setup_home(home, f'[sources.feed]\nspider = "feed"\nurls = ["{site.url("/feed.xml")}"]\n')
        outputs = [newsdesk("crawl", "-s", "RETRY_TIMES=0", *FAST, home=home).stdout for _ in range(4)]
    assert site.requests.count("/article/2") == 3
    assert "1 article pages given up after retries" in outputs[2]
    assert "feed: 0 seen" in outputs[3]  # nothing left to try: a quiet 304
    assert [r.status for r in history(home)] == ["ok"] * 4


# --- options, dates, skips ------------------------------------------------------------------

@pytest.mark.parametrize("allowed", [True, False])
def test_allow_private_in_sources_toml_lets_a_source_reach_a_private_host(home: Path, allowed: bool) -> None:
    with serve_generated(2) as site:
        option = "options = { allow_private = true }\n" if allowed else ""
        setup_home(home, f'[sources.lan]\nspider = "jpost_breaking"\nurls = ["{site.url("/breaking-news")}"]\n'
                         + option)
        # Loopback is otherwise allowed only under the test suite's offline guard: turn that off.
        result = newsdesk("crawl", "-s", "NEWSDESK_ALLOW_LOOPBACK=0", *FAST, home=home)
    if allowed:
        assert result.returncode == 0 and "lan: 2 seen, 2 new" in result.stdout, result.stderr
    else:
        assert result.returncode == 1 and "loopback address 127.0.0.1" in result.stderr, result.stderr


def test_dates_in_the_future_are_counted_in_the_summary_and_the_health_check() -> None:
    from newsdesk.ops.config import load_config
    from newsdesk.ops.health import check_run
    from newsdesk.ops.runs import utcnow

    stats = {"item_scraped_count": 10, "newsdesk/items_new": 10, "newsdesk/date_future/published": 3}
    outcome = CrawlOutcome(source="s", run_id="r", exit_code=0, log_file=Path("x.log"), stats=stats)
    assert outcome.describe() == "s: 10 seen, 10 new, 0 updated, 0 unchanged, 0 dropped, 0 errors; 3 dates in the future"
    run = RunRecord(run_id="r", source="s", trigger="cron", started=utcnow(), status="ok", seen=10, stats=stats)
    (alert,) = check_run(run, [], load_config(None))
    assert alert.kind == "unreadable_dates" and "3 dates could not be read (3 in the future)" in alert.message


def test_a_scheduled_run_skipped_because_the_last_still_runs_is_in_the_history(home: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from newsdesk.ops import scheduling
    from newsdesk.ops.config import load_config

    setup_home(home, '[sources.slow]\nspider = "jpost_breaking"\nurls = ["http://127.0.0.1:9/"]\n'
                     'schedule = "every 1h"\n')
    release, running = threading.Event(), threading.Event()

    class SlowRunner(scheduling.Runner):
        def run(self, source: Any) -> None:
            running.set()
            release.wait(20)

    where = Home(home)
    config = load_config(None)
    sched = scheduling.build_scheduler(where, BackgroundScheduler, config=config, runner=SlowRunner(where, config))
    sched.start()
    try:
        assert running.wait(10)  # the catch-up run is going
        sched.get_job("slow").modify(next_run_time=scheduling.utcnow())  # and the next one comes due
        wait_for(lambda: history(home), what="the skip recorded")
    finally:
        release.set()
        sched.shutdown(wait=True)
    (run,) = history(home)
    assert (run.source, run.trigger, run.status) == ("slow", "scheduled", "skipped")
    listed = CliRunner().invoke(cli, ["runs", "--home", str(home)]).stdout
    assert "skipped" in listed and "still running" in listed


# --- Ctrl-C and kill -9 ---------------------------------------------------------------------

def four_sources(url: str) -> str:
    return "".join(f'[sources.s{n}]\nspider = "jpost_breaking"\nurls = ["{url}"]\n' for n in range(4))


def interrupt_crawl(home: Path, ready: Callable[[], Any], signals: int) -> tuple[int, str, str, float]:
    """Start ``newsdesk crawl --parallel 1``; once ``ready()``, press Ctrl-C ``signals`` times.

    Returns the exit code, stdout, stderr and the seconds from the first Ctrl-C to the exit.
    """
    proc = subprocess.Popen([sys.executable, "-m", "newsdesk", "crawl", "--parallel", "1", *FAST,
                             "--home", str(home)], text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(ready, what="the crawl to be under way")
        asked = time.monotonic()
        for n in range(signals):
            if n:
                time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, err, time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()


def outbox_lines(home: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (home / "outbox").glob("*.jsonl.part"))


def test_ctrl_c_starts_no_new_source_records_real_counts_ingests_and_exits_130(home: Path) -> None:
    with serve_generated(300, delay=0.1) as site:
        setup_home(home, four_sources(site.url("/breaking-news")))
        code, out, err, took = interrupt_crawl(home, lambda: outbox_lines(home) >= 5, signals=1)
    assert code == 130, err
    assert took < 10, took
    (run,) = history(home)  # s1, s2 and s3 never started
    assert run.source == "s0" and run.status == "stopped"
    indexed = len(search(home / "index", "", limit=1000).hits)
    assert indexed >= 5 and run.new == indexed and run.seen >= run.new
    assert "stopped on request: 3 sources not started" in err
    assert f"s0: {run.seen} seen, {run.new} new" in out


def test_a_crawl_outliving_its_killed_command_is_named_an_earlier_run_still_finishing(home: Path) -> None:
    with serve_generated(200, delay=0.2) as site:
        setup_home(home, f'[sources.s0]\nspider = "jpost_breaking"\nurls = ["{site.url("/breaking-news")}"]\n')
        proc = subprocess.Popen([sys.executable, "-m", "newsdesk", "crawl", *FAST, "--home", str(home)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = home / "locks" / "crawl-s0.lock"
        stamp = wait_for(lambda: lock.exists() and len(lock.read_text().split()) == 4 and lock.read_text().split(),
                         what="the crawl's lock stamp")
        child = int(stamp[0])
        proc.kill()  # kill -9 of `newsdesk crawl`: its scrapy process runs on
        proc.wait()
        try:
            again = newsdesk("crawl", *FAST, home=home)
        finally:
            os.kill(child, signal.SIGKILL)
    assert again.returncode == 0
    assert (f"s0: skipped: an earlier run is still finishing (run {stamp[1]}, pid {child}, started at {stamp[3]}); "
            "the command that started it has ended") in again.stdout
    assert [r.status for r in history(home)] == ["running", "skipped"]


def test_a_second_ctrl_c_stops_at_once(home: Path) -> None:
    with serve_generated(20, delay=8.0) as site:  # article pages that take long: a clean stop would wait
        setup_home(home, four_sources(site.url("/breaking-news")))
        code, _, err, took = interrupt_crawl(
            home, lambda: any(p.startswith("/breaking-news/item-") for p in site.requests), signals=2)
    assert code == 130, err
    assert took < 6, took
    assert [(r.source, r.status) for r in history(home)] == [("s0", "stopped")]
    assert "ingest:" not in err and not (home / "index").exists()  # left for the next ingest
