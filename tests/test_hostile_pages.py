"""Hostile pages and feeds: each ends as a counted drop or a cleaned record, never a crash.

The corpus is generated here, never stored: malformed and truncated HTML, a
200 MB page (with and without Content-Length), a gzip bomb, deeply nested
tags, lying or missing charsets, billion-laughs and XXE feeds, dates far in
the future or past, 1 MB headlines, control characters, HTML in titles,
script in bodies, server errors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector
from scrapy.http import XmlResponse

from newsdesk.core.record import NewsItem
from scraper.offline import parse_page
from scraper.sources import get_source
from scraper.xmlsafety import HostileXML, check_xml, parse_xml
from tests.generated_site import article_page, serve_generated

SOURCE = get_source("jpost-breaking")
MB = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_clean_title(title: str) -> None:
    """A title holds no markup, no script text, no control characters, and is of headline size."""
    assert "<" not in title and ">" not in title, title[:200]
    assert "alert(" not in title and "script>" not in title.lower(), title[:200]
    assert not _CONTROL.search(title), repr(title[:200])
    assert 0 < len(title) <= 1000


# --- the corpus -----------------------------------------------------------------------

def list_item(href: str, title: str, printed: str = "10/24/2024 07:13 PM") -> str:
    return (f'<div class="breaking-news-link-container"><a href="{href}" title="x">'
            f'<span class="breaking-news-ticker-date">{title}</span>'
            f'<ul class="breaking-news-reporter-date"><li>By X</li><li>{printed}</li></ul></a></div>')


HOSTILE_ITEMS = {
    "html in title": list_item("/a/1", "<b>Bold</b> <i>news</i> headline"),
    "escaped script in title": list_item("/a/2", "&lt;script&gt;alert(1)&lt;/script&gt;Escaped headline"),
    "script in title": list_item("/a/3", "<script>alert(2)</script>Guarded headline"),
    "control characters": list_item("/a/4", "Con\x01trol\x07 chars\u202e in\x7f headline"),
    "far future date": list_item("/a/5", "Future dated headline", "12/31/9999 11:59 PM"),
    "far past date": list_item("/a/6", "Past dated headline", "01/01/0001 12:00 AM"),
    "nonsense date": list_item("/a/7", "Nonsense dated headline", "99/99/99999 99:99 XM"),
    "1 MB headline": list_item("/a/8", "Long " * (MB // 5)),
    "empty title": list_item("/a/9", "   "),
    "only markup title": list_item("/a/10", "<img src=x onerror=alert(3)>"),
    "no href": '<div class="breaking-news-link-container"><a title="t"><span>x</span></a></div>',
}


def hostile_list() -> bytes:
    return ("<html><body>" + "".join(HOSTILE_ITEMS.values()) + "</body></html>").encode("utf-8")


def nested(depth: int) -> bytes:
    return (b"<html><body><h1 class='article-title'>Deep page</h1>" + b"<div>" * depth + b"deep text"
            + b"</div>" * depth + b"</body></html>")


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros, gzip-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * MB
    parts = [packer.compress(chunk) for _ in range(size // MB)]
    return b"".join(parts) + packer.flush()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">'
                                           for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(entities)}]>'
            '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
            "<link>http://127.0.0.1/x</link></item></channel></rss>").encode()


def xxe(secret: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
            "<description>&xxe;</description><link>http://127.0.0.1/x</link></item></channel></rss>").encode()


def xxe_parameter(secret: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>'
            "<rss><channel><item><title>x</title></item></channel></rss>").encode()


def external_dtd(secret: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{secret.as_uri()}">'
            "<rss><channel><item><title>x</title></item></channel></rss>").encode()


# --- feeds at the parser level -------------------------------------------------------------

@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


@pytest.mark.parametrize("make", [billion_laughs, xxe, xxe_parameter, external_dtd])
def test_hostile_feeds_are_refused_and_never_expanded(make: Any, secret: Path) -> None:
    body = make() if make is billion_laughs else make(secret)
    with pytest.raises(HostileXML):
        check_xml(body)
    with pytest.raises(HostileXML):
        parse_xml(body)
    # Even a parser that skips the check expands nothing and reads no file.
    started = time.perf_counter()
    texts = []
    texts.append(" ".join(Selector(body=body, type="xml").xpath("//text()").getall()))
    texts.append(" ".join(XmlResponse("http://127.0.0.1/feed", body=body).xpath("//title/text()").getall()))
    from lxml import etree

    from scraper.xmlsafety import safe_parser

    try:  # libxml2 may also stop it ("entity amplification factor exceeded"): fine
        root = etree.fromstring(body, parser=safe_parser())
        texts.append(" ".join(root.itertext()) if root is not None else "")
    except etree.XMLSyntaxError:
        pass
    from scrapy.utils.iterators import xmliter_lxml

    try:  # Scrapy's XMLFeedSpider iterator: libxml2 stops the amplification with an error
        texts.extend(" ".join(node.xpath("//text()").getall())
                     for node in xmliter_lxml(XmlResponse("http://127.0.0.1/f", body=body), "item"))
    except etree.XMLSyntaxError:
        pass
    assert time.perf_counter() - started < 2
    for text in texts:
        assert "TOP-SECRET" not in text
        assert len(text) < 10_000 and "lollollol" not in text


def test_feedparser_if_installed_does_not_expand(secret: Path) -> None:
    feedparser = pytest.importorskip("feedparser")
    import tracemalloc

    for body in (billion_laughs(), xxe(secret)):
        # Bounded by the work done, not the clock: a billion laughs expanded needs gigabytes (feedparser
        # and libxml2 stop it after a few tens of megabytes).
        tracemalloc.start()
        try:
            parsed = feedparser.parse(body)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 256 * 2**20, f"parsing allocated {peak / 2**20:.0f} MB"
        dumped = json.dumps(parsed.get("entries", []), default=str)
        assert len(dumped) < 10_000 and "TOP-SECRET" not in dumped and "lollollol" not in dumped


def test_ordinary_feeds_pass_the_check() -> None:
    feed = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>News &amp; views</title><description><![CDATA[<p>About <!ENTITY in XML</p>]]>"
            b"</description></item></channel></rss>")
    root = parse_xml(feed)
    assert root is not None and root.findtext("channel/item/title") == "News & views"
    check_xml("<?xml version='1.0' encoding='utf-16'?><rss/>".encode("utf-16"))
    with pytest.raises(HostileXML):
        check_xml(billion_laughs().decode().encode("utf-16"))


# --- pages through the JPost spider and the pipelines --------------------------------------

def test_hostile_list_items_end_cleaned_or_counted() -> None:
    result = parse_page(SOURCE, hostile_list(), "https://www.jpost.com/breaking-news")
    titles = {r["title"]: r for r in result.records}
    for title in titles:
        assert_clean_title(title)
    assert "Bold news headline" in titles
    assert "Escaped headline" in titles and "Guarded headline" in titles
    assert "Control chars in headline" in titles
    for name in ("Future dated headline", "Past dated headline", "Nonsense dated headline"):
        assert titles[name]["published"] is None, name  # never a wrong date …
        assert titles[name]["published_raw"]  # … and the printed text is kept
    stats = result.stats
    assert stats["newsdesk/date_future/published"] == 1  # year 9999
    assert stats["newsdesk/date_unreadable/published"] == 2  # year 1 (out of range once zoned), nonsense
    assert stats["newsdesk/dropped/title_too_long"] == 1
    assert stats["newsdesk/dropped/missing_title"] == 1  # blank (markup with no text falls back to the title attribute)
    assert any("title too long" in d for d in result.dropped)


@pytest.mark.parametrize("name,page", [
    ("truncated", article_page(1)[:300]),
    ("truncated mid-tag", article_page(1)[:-40] + b"<div class=\"art"),
    ("malformed", b"<html><body><h1 class='article-title'>Broken <b>page</h1><div class='article-inner-"
                  b"content-breaking-news'><p>Unclosed <i>para<td></tr>text</table></div></body>"),
    ("deeply nested", nested(100_000)),
    ("script in body", b"<html><body><h1 class='article-title'>Headline <script>alert(4)</script></h1>"
                       b"<div class='article-inner-content-breaking-news'>Visible text."
                       b"<script>var stolen = document.cookie; alert(5)</script><style>p{color:red}</style>"
                       b"<noscript>x</noscript>More text.</div></body></html>"),
    ("binary garbage", bytes(range(256)) * 100),
    ("empty", b""),
])
def test_hostile_article_pages_end_cleaned(name: str, page: bytes) -> None:
    item = NewsItem(kind="breaking", url="https://www.jpost.com/breaking-news/x-1", title="Listed headline",
                    published_raw="10/24/2024 07:13 PM")
    started = time.perf_counter()
    result = parse_page(SOURCE, page, "https://www.jpost.com/breaking-news/x-1", callback="parse_article",
                        cb_kwargs={"item": item})
    assert time.perf_counter() - started < 10, name
    assert len(result.records) == 1, (name, result.dropped)
    record = result.records[0]
    assert_clean_title(record["title"])
    body = record.get("body") or ""
    assert "alert(" not in body and "document.cookie" not in body and "color:red" not in body
    if name == "script in body":
        assert record["title"] == "Headline" and "Visible text." in body and "More text." in body


# --- the same hazards through Scrapy's whole download stack --------------------------------

def _streamed(size: int) -> Any:
    def chunks() -> Iterator[bytes]:
        block = b"<p>" + b"x" * (MB - 7) + b"</p>\n"
        for _ in range(size // MB):
            yield block
    return chunks


@pytest.mark.e2e
def test_a_crawl_survives_a_hostile_site(home: Path) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    cp1252 = ("<html><body><h1 class='article-title'>Caf\u00e9 headline</h1><div class='article-inner-content-"
              "breaking-news'>" + "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e. " * 50 + "</div></body></html>").encode("cp1252")
    bomb = gzip_bomb(200 * MB)
    extra: dict[str, tuple[int, dict[str, str], Any]] = {
        "/huge-streamed": (200, html, _streamed(200 * MB)),
        "/huge-declared": (200, {**html, "Content-Length": str(200 * MB)}, _streamed(200 * MB)),
        "/bomb": (200, {**html, "Content-Encoding": "gzip"}, bomb),
        "/nested": (200, html, nested(100_000)),
        "/truncated": (200, html, article_page(3)[:250]),
        "/charset-lie": (200, html, cp1252),
        "/no-charset": (200, {"Content-Type": "text/html"},
                        "<html><body><h1 class='article-title'>Caf\u00e9 \u05d7\u05d3\u05e9\u05d5\u05ea headline</h1>"
                        "<div class='article-inner-content-breaking-news'>Plain UTF-8, no charset named.</div>"
                        "</body></html>".encode()),
        "/server-error": (500, html, b"oops"),
        "/not-found": (404, html, b"gone"),
        "/script-title": (200, html, b"<html><body><h1 class='article-title'><script>alert(9)</script>Real title"
                                     b"</h1><div class='article-inner-content-breaking-news'>ok<script>bad()</script>"
                                     b"</div></body></html>"),
    }
    links = list(extra) + ["/breaking-news/item-0"]
    page = "".join(list_item(path, f"Listed {path.strip('/')} headline") for path in links)
    page += HOSTILE_ITEMS["1 MB headline"] + HOSTILE_ITEMS["escaped script in title"].replace("/a/2", "/a-2")
    extra["/hostile-list"] = (200, html, f"<html><body>{page}</body></html>".encode())
    with serve_generated(1, extra=extra) as site:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "newsdesk", "crawl", "jpost-breaking", "--url", site.url("/hostile-list"),
             "--home", str(home), "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
             "-s", "NEWSDESK_RETRY_BACKOFF=0.05"],
            capture_output=True, text=True, timeout=120, check=False)
        elapsed = time.perf_counter() - started
        fetched = list(site.requests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 60
    stats = json.loads(next((home / "runs").glob("*.json")).read_text())["stats"]
    # Too big (declared, streamed, or once unpacked): the article is not fetched; the listed record stays.
    assert stats["newsdesk/article_failed"] >= 5  # huge ×2, bomb, 500 after retries, 404
    assert stats.get("downloader/response_status_count/500") == 3  # first try + 2 retries
    assert fetched.count("/not-found") == 1  # a 4xx is never retried
    assert stats.get("newsdesk/charset_lied") == 1
    assert stats["newsdesk/dropped/title_too_long"] == 1
    assert stats.get("log_count/CRITICAL", 0) == 0
    log = next((home / "logs").glob("*.log")).read_text()
    assert "DOWNLOAD_MAXSIZE" in log and "decompression" in log  # the bomb stopped on its unpacked size
    records = [json.loads(line) for path in sorted((home / "archive").glob("*/*/*.jsonl.gz"))
               for line in __import__("gzip").open(path, "rt")]
    titles = {r["title"] for r in records}
    for title in titles:
        assert_clean_title(title)
    assert "Real title" in titles and "Escaped headline" in titles
    assert "Caf\u00e9 \u05d7\u05d3\u05e9\u05d5\u05ea headline" in titles  # no charset named: detected as UTF-8
    assert "Caf\u00e9 headline" in titles  # the cp1252 page whose header said UTF-8
    assert "Listed huge-streamed headline" in titles and "Listed bomb headline" in titles
    assert len(records) == len(links) + 1  # every link once, the 1 MB headline dropped
    assert all("bad()" not in (r.get("body") or "") for r in records)
