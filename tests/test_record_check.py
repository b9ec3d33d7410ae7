"""``newsdesk record`` / ``check``: recorded fixtures, replayed through Scrapy, compared field by field.

The replay tests run real ``scrapy crawl`` subprocesses (the replay download
handler answers every request, so nothing leaves the process); the recording
tests record from the loopback fixture site.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click.testing
import pytest
from click.testing import CliRunner
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from newsdesk.cli.main import cli
from newsdesk.ops.fixtures import RecordResult, _merge_pages, check_fixture, compare, describe_drift, replay_fixture
from newsdesk.core.home import Home
from scraper.fixtures import INDEX, Fixture, FixtureError, Page, load_expected, load_fixture, page_file, stable
from scraper.replay import ReplayDownloadHandler, _decode
from scraper.sources import load_sources
from tests.helpers import FIXTURES, FixtureSite, load_expected as load_hand_written

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]
TRUMP = "/breaking-news/trump-says-hell-fire-special-counsel-jack-smith-826050"
RECORDED = sorted(d.name for d in FIXTURES.iterdir() if (d / INDEX).is_file())


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- every shipped fixture folder is a test --------------------------------------------

@pytest.mark.parametrize("name", RECORDED)
def test_shipped_fixtures_replay_clean(name: str, tmp_path: Path) -> None:
    result = check_fixture(Home(tmp_path / "home"), load_fixture(FIXTURES / name), load_sources(None))
    assert result.ok, "\n".join(result.describe())
    assert result.got == result.expected > 0
    assert not (tmp_path / "home").exists()  # nothing written to the user's data


def test_jpost_recorded_expectations_agree_with_the_hand_written_ones() -> None:
    """The converted jpost fixture: replayed records == the hand-written per-page expectations."""
    recorded = {r["key"]: r for r in load_expected(load_fixture(FIXTURES / "jpost"))}
    listed = (load_hand_written("jpost", "breaking-news-2024-10-24.expected.json")
              + load_hand_written("jpost", "breaking-news-2019-11-20.expected.json"))
    completed = [load_hand_written("jpost", f"{name}.expected.json")["record"] for name in (
        "trump-says-hell-fire-special-counsel-jack-smith-826050",
        "Man-seriously-injured-in-Ashdod-workplace-accident-608414")]
    by_key = {r["key"]: r for r in listed} | {r["key"]: r for r in completed}
    assert recorded == by_key


# --- the done-when scenario ------------------------------------------------------------

@pytest.mark.e2e
def test_record_check_drift_live_update(tmp_path: Path, home: Path, jpost_site: FixtureSite) -> None:
    fixtures, home_arg = tmp_path / "fixtures", ["--home", str(home)]
    out = run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news"), "--dir", str(fixtures),
              *FAST, *home_arg)
    assert out.exit_code == 0, out.output
    folder = fixtures / "jpost-breaking"
    fixture = load_fixture(folder)
    assert fixture.starts == [jpost_site.url("/breaking-news")]
    assert len(fixture.pages) == 16  # the list page and the 15 articles it links (13 of them 404)
    trump_page = fixture.find(jpost_site.url(TRUMP))
    assert trump_page is not None and trump_page.file == f"pages/127.0.0.1_{jpost_site.server.server_address[1]}{TRUMP}.html"
    assert (folder / trump_page.file).read_bytes() == jpost_site.body_for(TRUMP)  # saved as served
    assert len(load_expected(fixture)) == 16
    assert not any((home / d).exists() for d in ("outbox", "archive", "state", "index"))

    # Offline: the replay never reaches the site.
    before = len(jpost_site.requests)
    out = run("check", "--dir", str(fixtures), *home_arg)
    assert out.exit_code == 0, out.output
    assert "jpost-breaking" in out.stdout and "ok, 16 records as expected" in out.stdout
    assert len(jpost_site.requests) == before

    # A selector changed in the user's config: a readable field diff, exit 1.
    home.mkdir(exist_ok=True)
    (home / "sources.toml").write_text('[sources.jpost-breaking.options]\narticle_body = ["div.no-such-body"]\n')
    out = run("check", "jpost-breaking", "--dir", str(fixtures), *home_arg)
    assert out.exit_code == 1
    assert "DRIFT: 2 changed, 0 missing, 0 extra" in out.stdout
    assert f"~ {jpost_site.url(TRUMP)}" in out.stdout
    assert '    body: "Republican presidential candidate Donald Trump said on Thurs"… → null' in out.stdout

    # Config restored; the live site changes an article's markup: --live sees it, offline does not.
    (home / "sources.toml").unlink()
    page = jpost_site.body_for(TRUMP)
    assert page is not None
    jpost_site.overrides[TRUMP] = page.replace(b"Republican presidential candidate", b"Former president")
    out = run("check", "--live", "--dir", str(fixtures), *FAST, *home_arg)
    assert out.exit_code == 1
    assert "live): DRIFT: 1 changed, 0 missing, 0 extra" in out.stdout
    assert 'body: "Republican presidential candidate Donald Trump said on Thurs"… → ' \
           '"Former president Donald Trump said on Thursday he would fire"…' in out.stdout

    # Re-record on purpose (--update alone: the start URL recorded, here the local copy, not the
    # source's configured one): it says what changed, and check is clean again.
    out = run("record", "jpost-breaking", "--update", "--dir", str(fixtures), *FAST, *home_arg)
    assert out.exit_code == 0, out.output
    assert "pages: 0 added, 1 changed, 0 removed, 15 unchanged" in out.stdout
    assert f"~ {jpost_site.url(TRUMP)}" in out.stdout
    assert "records: 16 expected; 1 changed, 0 removed, 0 added" in out.stdout
    assert b"Former president" in (folder / trump_page.file).read_bytes()
    checked = run("check", "--json", "--dir", str(fixtures), *home_arg)
    assert checked.exit_code == 0 and json.loads(checked.stdout) == [{
        "source": "jpost-breaking", "directory": str(folder), "live": False, "ok": True, "expected": 16, "got": 16,
        "problems": [], "notes": [], "missing": [], "extra": [], "changed": []}]


@pytest.mark.e2e
def test_record_is_add_only_and_limits_links_per_page(tmp_path: Path, home: Path, jpost_site: FixtureSite) -> None:
    fixtures = tmp_path / "fixtures"
    args = ["--dir", str(fixtures), "--home", str(home), *FAST]
    assert run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news"), "--limit", "2", *args).exit_code == 0
    folder = fixtures / "jpost-breaking"
    fixture = load_fixture(folder)
    assert fixture.limit == 2
    # The list page and its first two links; the lead plus those two items.
    assert sorted(p.url for p in fixture.pages) == sorted(jpost_site.url(u) for u in (
        "/breaking-news", "/breaking-news/putin-says-he-welcomes-trump-statement-826061", TRUMP))
    assert len(load_expected(fixture)) == 3
    index_before = (folder / INDEX).read_text()

    again = run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news"), *args)
    assert again.exit_code == 0 and "kept " + jpost_site.url("/breaking-news") in again.stdout
    assert (folder / INDEX).read_text() == index_before
    other_limit = run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news"), "--limit", "5", *args)
    assert other_limit.exit_code == 2 and "--limit 2" in other_limit.stderr

    # A new limit on purpose: pages nothing leads to any more are dropped, with their records.
    fewer = run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news"), "--limit", "1", "--update", *args)
    assert fewer.exit_code == 0, fewer.output
    assert "pages: 0 added, 0 changed, 1 removed, 2 unchanged or kept" in fewer.stdout
    assert f"    - {jpost_site.url(TRUMP)}" in fewer.stdout
    assert "records: 2 expected; 0 changed, 1 removed, 0 added" in fewer.stdout
    assert not list(folder.glob("pages/*/breaking-news/trump-*"))

    # Another start URL adds its pages and records; the first one's stay as they were.
    more = run("record", "jpost-breaking", "--url", jpost_site.url("/breaking-news-2019"), *args)
    assert more.exit_code == 0, more.output
    assert "pages: 2 added, 0 changed, 0 removed" in more.stdout
    assert "records: 3 expected; 0 changed, 0 removed, 1 added" in more.stdout  # no lead in 2019; 1 link
    assert load_fixture(folder).starts == [jpost_site.url("/breaking-news"), jpost_site.url("/breaking-news-2019")]


@pytest.mark.e2e
def test_record_from_an_unreachable_site_saves_nothing(tmp_path: Path, home: Path) -> None:
    out = run("record", "jpost-breaking", "--url", "http://127.0.0.1:9/breaking-news", "--dir", str(tmp_path / "fx"),
              *FAST, "-s", "RETRY_TIMES=0", "--home", str(home))
    assert out.exit_code == 1
    assert "could not reach the site (connection refused)" in out.stderr and "nothing was saved" in out.stderr
    assert "Traceback" not in out.output and not (tmp_path / "fx").exists()


@pytest.mark.e2e
def test_check_live_that_cannot_reach_the_site_fails_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "fx" / "jpost"
    Fixture(folder, "jpost-breaking", "jpost_breaking", starts=["https://www.jpost.com/breaking-news"], pages=[
        Page("https://www.jpost.com/breaking-news", 200, "2024-10-24T17:00:00+00:00")]).save()
    (folder / "expected.json").write_text('[{"key": "https://www.jpost.com/breaking-news/x", "title": "X"}]')
    out = run("check", "jpost-breaking", "--live", "--dir", str(tmp_path / "fx"), "--home", str(tmp_path / "home"))
    assert out.exit_code == 1
    assert "live): FAILED" in out.stdout and "records not listed while a run failed: 0 changed, 1 missing" in out.stdout
    assert "https://www.jpost.com/breaking-news: could not reach the site (request refused by a guard)" in out.stderr
    assert "Traceback" not in out.output


# --- replay through the whole download chain: redirects, encodings ---------------------

LIST_PAGE = ('<html><body><div class="breaking-news-link-container">'
             '<a href="item-1" title="t"><span class="breaking-news-ticker-date">Caf\u00e9 in M\u00fcnchen</span>'
             '<ul class="breaking-news-reporter-date"><li>By AP</li><li>10/24/2024 07:13 PM</li></ul></a>'
             '</div></body></html>')


@pytest.mark.e2e
def test_record_keeps_redirects_and_removes_gzip_but_not_the_charset(tmp_path: Path, home: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/old":
                self.send_response(301)
                self.send_header("Location", "/list/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/list/":
                body = gzip.compress(LIST_PAGE.encode("iso-8859-1"))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=iso-8859-1")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        out = run("record", "jpost-breaking", "--url", f"{base}/old", "--dir", str(tmp_path), *FAST,
                  "--home", str(home))
    finally:
        server.shutdown()
        server.server_close()
    assert out.exit_code == 0, out.output
    assert "warning" not in out.output  # the replay yielded what the live crawl did
    fixture = load_fixture(tmp_path / "jpost-breaking")
    moved, page = fixture.find(f"{base}/old"), fixture.find(f"{base}/list/")
    assert moved is not None and (moved.status, moved.headers) == (301, {"Location": "/list/"})
    assert page is not None and page.file is not None and "Content-Encoding" not in page.headers
    assert (fixture.directory / page.file).read_bytes() == LIST_PAGE.encode("iso-8859-1")
    [record] = load_expected(fixture)
    assert (record["url"], record["title"]) == (f"{base}/list/item-1", "Caf\u00e9 in M\u00fcnchen")


def test_replay_follows_recorded_redirects_and_decodes_the_declared_charset(tmp_path: Path) -> None:
    folder = tmp_path / "fx"
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "list.html").write_bytes(LIST_PAGE.encode("iso-8859-1"))
    at = "2024-10-24T17:00:00+00:00"
    Fixture(folder, "jpost-breaking", "jpost_breaking", starts=["https://news.example/list"], pages=[
        Page("https://news.example/list", 301, at, headers={"Location": "/list/"}),
        Page("https://news.example/list/", 200, at, file="pages/list.html", content_type="text/html; charset=iso-8859-1"),
        Page("https://news.example/list/item-1", 404, at),
    ]).save()
    [replayed] = replay_fixture(Home(tmp_path / "home"), load_sources(None)["jpost-breaking"], load_fixture(folder))
    assert replayed.problem is None
    assert [(r["url"], r["title"], r["published"], r["agency"]) for r in replayed.records] == [
        ("https://news.example/list/item-1", "Caf\u00e9 in M\u00fcnchen", "2024-10-24T16:13:00+00:00", "AP")]
    assert replayed.records[0]["fetched_at"] == at  # the clock stood still at the recorded fetch time
    assert replayed.outcome.stat("downloader/response_status_count/301") == 1
    assert replayed.served == ["https://news.example/list", "https://news.example/list/",
                               "https://news.example/list/item-1"]


def test_replay_handler_serves_saved_bytes_and_404s_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "fx"
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "feed.xml").write_bytes(b'<?xml version="1.0"?><rss><channel/></rss>')
    Fixture(folder, "s", starts=["https://x.example/feed"], pages=[
        Page("https://x.example/feed", 200, "2024-01-01T00:00:00+00:00", file="pages/feed.xml",
             content_type="application/rss+xml")]).save()
    crawler = get_crawler(settings_dict={"NEWSDESK_REPLAY_DIR": str(folder), "TWISTED_REACTOR_ENABLED": False})
    handler = ReplayDownloadHandler(crawler)
    feed = asyncio.run(handler.download_request(Request("https://x.example/feed#top")))
    assert isinstance(feed, TextResponse) and feed.status == 200 and b"<rss>" in feed.body
    assert "replay" in feed.flags
    missing = asyncio.run(handler.download_request(Request("https://x.example/other")))
    assert missing.status == 404 and handler.unrecorded == ["https://x.example/other"]


FROZEN_REACTOR = """
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from datetime import datetime, timezone
from twisted.internet import reactor
from scrapy.utils.test import get_crawler
from scraper.replay import FrozenClock
FrozenClock.from_crawler(get_crawler(settings_dict={"NEWSDESK_FROZEN_AT": "2024-10-24T17:00:00+00:00"}))
def done():
    print("fired at", datetime.now(timezone.utc).isoformat())
    reactor.stop()
reactor.callLater(0.2, done)
reactor.run()
"""


def test_frozen_clock_stops_now_but_not_twisted_timers() -> None:
    out = subprocess.run([sys.executable, "-c", FROZEN_REACTOR], capture_output=True, text=True, timeout=30,
                         check=False)
    assert out.stdout.strip() == "fired at 2024-10-24T17:00:00+00:00", out.stderr


def test_recorder_removes_content_encoding_but_keeps_the_charset_bytes() -> None:
    text = "Caf\u00e9".encode("cp1252")
    assert _decode(gzip.compress(text), [b"gzip"]) == (text, True)
    assert _decode(text, []) == (text, False)
    assert _decode(b"not gzip", [b"gzip"]) == (b"not gzip", False)  # kept as served, header kept


def test_update_never_overwrites_or_deletes_hand_written_pages(tmp_path: Path) -> None:
    (tmp_path / "hand.html").write_bytes(b"<p>hand-written</p>")
    fixture = Fixture(tmp_path, "s", starts=["https://a.example/"], pages=[
        Page("https://a.example/", 200, "2024-01-01T00:00:00+00:00", file="hand.html", content_type="text/html")])
    fetched = ({"url": "https://a.example/", "method": "GET", "status": 200, "content_type": "text/html",
                "headers": {}, "fetched_at": "2024-02-01T00:00:00+00:00", "body": "bodies/00001"}, b"<p>live</p>")
    result = RecordResult(source="s", directory=tmp_path)
    _merge_pages(fixture, [fetched], update=True, result=result)
    assert result.changed == ["https://a.example/"]
    assert fixture.pages[0].file == "pages/a.example/index.html"
    assert (tmp_path / "pages/a.example/index.html").read_bytes() == b"<p>live</p>"
    assert (tmp_path / "hand.html").read_bytes() == b"<p>hand-written</p>"


# --- the format and the diff -----------------------------------------------------------

def test_diff_names_missing_extra_and_changed_fields() -> None:
    a = {"key": "k1", "title": "One", "body": "x" * 100 + "old tail", "fetched_at": "then"}
    b = {"key": "k1", "title": "One", "body": "x" * 100 + "new tail", "fetched_at": "now"}
    drift = compare([a, {"key": "k2", "title": "Two"}], [b, {"key": "k3", "title": "Three"}])
    assert [c.key for c in drift.changed] == ["k1"] and [f.name for f in drift.changed[0].fields] == ["body"]
    lines = describe_drift(drift)
    assert lines[0] == '  ~ k1  "One"'
    assert lines[1].startswith('      body: …"xxxxxxxxxxxxxxxold tail" → …"xxxxxxxxxxxxxxxnew tail"')
    assert lines[2:] == ['  - missing: k2  "Two"', '  + extra: k3  "Three"']
    assert compare([a], [b]).clean is False and compare([a], [dict(a, fetched_at="later")]).clean


def test_index_is_one_line_per_page_and_round_trips(tmp_path: Path) -> None:
    fixture = Fixture(tmp_path, "src", "spider", ["https://a.example/"], 3, [
        Page("https://a.example/", 200, "2024-01-01T00:00:00+00:00", "pages/a.example/index.html", "text/html"),
        Page("https://a.example/x?id=1", 302, "2024-01-01T00:00:01+00:00", headers={"Location": "/y"}),
    ])
    fixture.save()
    (tmp_path / "pages" / "a.example").mkdir(parents=True)
    (tmp_path / "pages" / "a.example" / "index.html").write_text("<p>a</p>")
    text = (tmp_path / INDEX).read_text()
    assert '    {"url": "https://a.example/x?id=1", "status": 302, "file": null, "content_type": null, ' \
           '"headers": {"Location": "/y"}, "fetched_at": "2024-01-01T00:00:01+00:00"}' in text.splitlines()
    again = load_fixture(tmp_path)
    assert (again.pages, again.limit, again.starts) == (fixture.pages, 3, fixture.starts)
    assert stable({"key": "k", "fetched_at": "x"}) == {"key": "k"}


def test_page_files_are_readable_and_unique() -> None:
    taken: set[str] = set()
    assert page_file("https://www.jpost.com/breaking-news", "text/html; charset=utf-8", taken) == \
        "pages/www.jpost.com/breaking-news.html"
    assert page_file("http://127.0.0.1:8000/feed.xml", "application/xml", taken) == "pages/127.0.0.1_8000/feed.xml"
    assert page_file("https://a.example/", None, taken) == "pages/a.example/index.txt"
    assert page_file("https://a.example/../x y", "application/json", taken) == "pages/a.example/_/x_y.json"
    first = page_file("https://a.example/p?id=1", "text/html", taken)
    assert first.startswith("pages/a.example/p--") and first.endswith(".html")
    taken.add("pages/a.example/p.html")
    assert page_file("https://a.example/p", "text/html", taken) == "pages/a.example/p-2.html"


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("{not json", "cannot read"),
        ('{"format": "other"}', "not a newsdesk fixture index"),
        ('{"format": "newsdesk-fixtures/1", "source": "jpost-breaking", "starts": []}', "'starts'"),
        ('{"format": "newsdesk-fixtures/1", "source": "jpost-breaking", "starts": ["https://a/"], '
         '"pages": [{"url": "https://a/", "status": 200, "fetched_at": "x", "file": "../../etc/passwd"}]}',
         "must stay inside"),
        ('{"format": "newsdesk-fixtures/1", "source": "jpost-breaking", "starts": ["https://a/"], '
         '"pages": [{"url": "https://a/", "status": 200, "fetched_at": "x", "file": "pages/gone.html"}]}',
         "pages/gone.html does not exist"),
    ],
)
def test_a_broken_index_is_a_usage_error(tmp_path: Path, index: str, message: str) -> None:
    (tmp_path / "fx").mkdir()
    (tmp_path / "fx" / INDEX).write_text(index)
    out = run("check", "--dir", str(tmp_path), "--home", str(tmp_path / "home"))
    assert out.exit_code == 2 and message in out.stderr and "Traceback" not in out.output
    with pytest.raises(FixtureError):
        load_fixture(tmp_path / "fx")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no-such-source"], "unknown source 'no-such-source'"),
        (["check", "--dir", "/nonexistent/fixtures"], "does not exist"),
        (["record", "no-such-source"], "unknown source"),
        (["record", "jpost-breaking", "--url", "ftp://example.org/"], "http(s)"),
        (["record", "jpost-breaking", "--limit", "0"], "--limit"),
        (["check", "-s", "NOEQUALS"], "NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = run(*args, *(["--dir", str(FIXTURES)] if "--dir" not in args else []), "--home", str(tmp_path))
    assert out.exit_code == 2, out.output
    assert message in out.stderr and "Traceback" not in out.output

