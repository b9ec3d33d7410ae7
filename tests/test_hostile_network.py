"""Network safety: where a crawl may connect, robots.txt (with Scrapy 2.19's waiter bug), retries, charsets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from scraper import settings as project_settings
from scraper.middlewares import AddressGuardMiddleware, BackoffRetryMiddleware, CharsetCheckMiddleware
from scraper.sources import Source
from tests.generated_site import article_page, serve_generated

PUBLIC = {"news.example": ["93.184.215.14"], "rebind.example": ["93.184.215.14", "10.0.0.7"],
          "inside.example": ["192.168.1.20"], "meta.example": ["169.254.169.254"],
          "v6.example": ["::1"], "mapped.example": ["::ffff:127.0.0.1"], "cgnat.example": ["100.64.0.1"]}


def _guard(**settings: object) -> AddressGuardMiddleware:
    crawler = get_crawler(scrapy.Spider, {"NEWSDESK_ALLOW_LOOPBACK": False, **settings})
    crawler.spider = scrapy.Spider("t")
    return AddressGuardMiddleware(crawler, resolver=lambda host: PUBLIC.get(host, []))


def _allowed(guard: AddressGuardMiddleware, url: str) -> bool:
    try:
        asyncio.run(guard.process_request(Request(url)))
    except IgnoreRequest:
        return False
    return True


@pytest.mark.parametrize("url,ok", [
    ("https://news.example/a", True),
    ("http://93.184.215.14/a", True),
    ("http://unresolvable.example/a", True),  # fails later as a DNS error, reported as such
    ("http://127.0.0.1:8000/a", False),
    ("http://127.0.0.2/a", False),
    ("http://localhost/a", False),
    ("http://[::1]/a", False),
    ("http://v6.example/a", False),
    ("http://mapped.example/a", False),
    ("http://10.1.2.3/a", False),
    ("http://inside.example/a", False),
    ("http://rebind.example/a", False),  # one private address among public ones is enough
    ("http://meta.example/latest/meta-data", False),  # cloud metadata, link-local
    ("http://cgnat.example/", False),
    ("http://0.0.0.0/", False),
    ("http://224.0.0.1/", False),
    ("file:///etc/passwd", False),
    ("data:text/html,<h1>x</h1>", False),
    ("ftp://news.example/file", False),
])
def test_address_guard_refuses_what_is_not_public_http(url: str, ok: bool) -> None:
    assert _allowed(_guard(), url) is ok


def test_address_guard_localhost_by_name_is_refused() -> None:
    guard = _guard()
    guard.resolver = lambda host: ["127.0.0.1"] if host == "localhost" else []
    assert not _allowed(guard, "http://localhost:8080/")


def test_explicit_allowances() -> None:
    assert _allowed(_guard(NEWSDESK_ALLOWED_HOSTS=["127.0.0.1"]), "http://127.0.0.1:8000/a")
    assert not _allowed(_guard(NEWSDESK_ALLOWED_HOSTS=["127.0.0.1"]), "http://127.0.0.2/a")
    assert _allowed(_guard(NEWSDESK_ALLOW_PRIVATE=True), "http://10.1.2.3/")
    assert _allowed(_guard(NEWSDESK_ALLOW_LOOPBACK=True), "http://127.0.0.5/")
    assert not _allowed(_guard(NEWSDESK_ALLOW_LOOPBACK=True), "http://10.1.2.3/")
    assert not _allowed(_guard(NEWSDESK_ALLOW_PRIVATE=True), "file:///etc/passwd")
    guard = _guard()
    guard.crawler.spider.source = Source(id="intranet", spider="x", urls=("http://10.0.0.5/",),  # type: ignore[attr-defined]
                                         options={"allow_private": True})
    assert _allowed(guard, "http://10.0.0.5/news")


def test_settings_are_polite_and_bounded() -> None:
    s = project_settings
    assert s.ROBOTSTXT_OBEY is True
    assert s.DOWNLOAD_MAXSIZE <= 32 * 1024 * 1024  # Scrapy's default is 1 GiB
    assert s.AUTOTHROTTLE_ENABLED and s.CONCURRENT_REQUESTS_PER_DOMAIN <= 4 and s.DOWNLOAD_DELAY > 0
    assert "newsdesk" in s.USER_AGENT and s.NEWSDESK_CONTACT in s.USER_AGENT
    assert not [c for c in s.RETRY_HTTP_CODES if 400 <= c < 500]
    assert {500, 502, 503, 504} <= set(s.RETRY_HTTP_CODES)
    mw = s.DOWNLOADER_MIDDLEWARES
    assert mw["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    assert mw["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert mw["scraper.middlewares.AddressGuardMiddleware"] < mw["scraper.middlewares.RobotsTxtMiddleware"]
    assert s.NEWSDESK_ALLOW_PRIVATE is False and s.NEWSDESK_ALLOWED_HOSTS == []


def test_retry_backoff_grows_and_skips_4xx() -> None:
    crawler = get_crawler(scrapy.Spider, {"RETRY_HTTP_CODES": [500, 429, 503], "NEWSDESK_RETRY_BACKOFF": 2.0,
                                          "NEWSDESK_RETRY_BACKOFF_MAX": 10.0})
    retry = BackoffRetryMiddleware.from_crawler(crawler)
    assert retry.retry_http_codes == {500, 503}
    delays = [retry.delay_for(Request("http://x/", meta={"retry_times": n})) for n in (1, 2, 3, 4, 5)]
    assert 1.5 <= delays[0] <= 2.5 and 3 <= delays[1] <= 5 and 6 <= delays[2] <= 10
    assert all(d <= 12.5 for d in delays[3:])  # capped (plus jitter)


def test_charset_lie_is_flagged_and_repaired() -> None:
    crawler = get_crawler(scrapy.Spider)
    mw = CharsetCheckMiddleware(crawler)
    text = "<p>Café, naïve résumé — déjà vu. " * 20 + "</p></body></html>"
    # The header says UTF-8; the bytes are cp1252, as the page's own <meta> says: re-read in cp1252.
    page = ('<html><head><meta charset="windows-1252"></head><body>' + text).encode("cp1252")
    lying = HtmlResponse("http://x/", body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    assert "\ufffd" in lying.text
    request = Request("http://x/")
    fixed = mw.process_response(request, lying)
    assert "Café" in fixed.text and request.meta["newsdesk_charset_lied"]
    assert crawler.stats.get_value("newsdesk/charset_lied") == 1
    assert crawler.stats.get_value("newsdesk/charset_repaired") == 1
    # No clue in the page, and not cp1252 either (0x81 is a hole in it): flagged and kept as decoded.
    bare = ("<html><body>" + text).encode("cp1252") + b"\x81"
    cp1252 = HtmlResponse("http://x/", body=bare, headers={"Content-Type": "text/html; charset=utf-8"})
    kept = mw.process_response(Request("http://x/"), cp1252)
    assert kept is cp1252 and crawler.stats.get_value("newsdesk/charset_lied") == 2
    # An honest page, or one with a stray replacement character, passes untouched.
    honest = HtmlResponse("http://x/", body=("<html><body>\ufffd" + text).encode("utf-8"),
                          headers={"Content-Type": "text/html; charset=utf-8"})
    assert mw.process_response(Request("http://x/"), honest) is honest
    assert crawler.stats.get_value("newsdesk/charset_lied") == 2


# --- crawls through the whole download stack ----------------------------------------------

def _crawl(home: Path, url: str, *settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", "crawl", "jpost-breaking", "--url", url, "--no-ingest",
                           "--home", str(home), "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
                           "-s", "NEWSDESK_RETRY_BACKOFF=0.05", *settings],
                          capture_output=True, text=True, timeout=120, check=False)


def _stats(home: Path) -> dict[str, int]:
    reports = sorted(home.glob("runs/*.json"))
    return json.loads(reports[-1].read_text())["stats"]


def _list(links: list[str]) -> bytes:
    rows = "".join(f'<div class="breaking-news-link-container"><a href="{href}" title="Item {n}">'
                   f'<span class="breaking-news-ticker-date">Item {n}</span>'
                   f"<ul class=\"breaking-news-reporter-date\"><li>By X</li><li>10/24/2024 07:13 PM</li></ul></a></div>"
                   for n, href in enumerate(links))
    return f"<html><body>{rows}</body></html>".encode()


@pytest.mark.e2e
def test_redirects_to_private_addresses_and_files_are_refused(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    html = {"Content-Type": "text/html; charset=utf-8"}
    with serve_generated(2) as site:
        port = site.server.server_address[1]
        extra = {
            "/hostile-list": (200, html, _list(["/breaking-news/item-0", "/to-private", "/to-file", secret.as_uri(),
                                                f"http://localhost:{port}/breaking-news/item-1"])),
            "/to-private": (302, {"Location": f"http://127.0.0.2:{port}/breaking-news/item-1"}, b""),
            "/to-file": (302, {"Location": secret.as_uri()}, b""),
        }
        site.extra.update(extra)
        result = _crawl(home, site.url("/hostile-list"), "-s", "NEWSDESK_ALLOW_LOOPBACK=0")
    assert result.returncode == 0, result.stderr
    stats = _stats(home)
    assert stats.get("newsdesk/refused/loopback") == 2  # 127.0.0.2 and localhost: not the --url host
    # The file: link is never requested: the spider does not follow non-http(s) links and validate
    # drops the record (Scrapy itself drops a redirect to file:); the guard would refuse it too.
    assert stats.get("newsdesk/dropped/bad_url") == 1
    assert not stats.get("newsdesk/refused/scheme")
    outbox = "".join(p.read_text() for p in (home / "outbox").iterdir())
    assert "TOP-SECRET-CONTENT" not in outbox
    assert "Body of generated item 0" in outbox  # the --url host itself stays allowed


def _robots_crawl(home: Path, stock: bool) -> tuple[int, dict[str, int]]:
    """A list on 127.0.0.1 links 6 disallowed pages on localhost: all 6 wait for one robots.txt."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    with serve_generated(6) as site:
        port = site.server.server_address[1]
        links = [f"http://localhost:{port}/private/item-{n}" for n in range(6)]
        site.extra["/robots-list"] = (200, html, _list(links))
        for n in range(6):
            site.extra[f"/private/item-{n}"] = (200, html, article_page(n))
        settings = []
        if stock:
            settings = ["-s", "DOWNLOADER_MIDDLEWARES=" + json.dumps({
                "scraper.middlewares.RobotsTxtMiddleware": None,
                "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100})]
        result = _crawl(home, site.url("/robots-list"), *settings)
        assert result.returncode == 0, result.stderr
        fetched = sum(1 for p in site.requests if p.startswith("/private/"))
    return fetched, _stats(home)


@pytest.mark.e2e
def test_robots_txt_is_obeyed_by_every_waiting_request(home: Path) -> None:
    fetched, stats = _robots_crawl(home, stock=False)
    assert fetched == 0
    assert stats.get("robotstxt/forbidden") == 6


@pytest.mark.e2e
@pytest.mark.skipif(scrapy.__version__ != "2.19.0", reason="documents the bug in Scrapy 2.19's middleware")
def test_stock_scrapy_219_lets_the_third_waiter_skip_robots_txt(home: Path) -> None:
    fetched, stats = _robots_crawl(home, stock=True)
    assert fetched >= 1, "stock 2.19 fetched no disallowed page: the upstream bug may be fixed"
    assert stats.get("robotstxt/forbidden", 0) < 6
