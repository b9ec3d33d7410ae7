"""Hostile article pages: nested JSON-LD, lying charsets in both directions, a parser that breaks.

An article that cannot be read keeps its listed record and counts why; a page is
decoded once, repaired if its charset lied, and that text is what is archived.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import scrapy
from click.testing import CliRunner
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newsdesk.cli.main import cli
from scraper.extract import MAX_JSONLD_DEPTH, extract_article
from newsdesk.core.record import NewsItem
from scraper.middlewares import CharsetCheckMiddleware
from scraper.offline import parse_page
from scraper.sources import load_sources
from scraper.spiders.listpage import ListPageSpider
from scraper.text import charset_lie, decode_html
from tests.generated_site import serve_generated
from tests.helpers import FIXTURES

#: A source whose articles go through the generic extractor (scraper.extract), like every feed and sitemap.
SOURCES_FILE = FIXTURES / "outlets" / "sources.toml"
SOURCE = load_sources(SOURCES_FILE)["meridian-ticker"]
URL = "https://www.meridian-news.example/world/2024/10/24/x-1"
TEXT = "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve r\u00e9sum\u00e9. " * 20


def deep_jsonld(depth: int = 60_000) -> str:
    nested = "[" * depth + "]" * depth
    return (f'<script type="application/ld+json">{{"@type": "NewsArticle", "about": {nested}}}</script>'
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Deep JSON headline",'
            ' "datePublished": "2024-10-24T10:00:00Z"}</script>')


def page(title: str, head: str = "", body: str = TEXT) -> str:
    return (f"<html><head>{head}</head><body><h1 class='article-title'>{title}</h1>"
            f"<div class='article-inner-content-breaking-news'><p>{body}</p></div></body></html>")


def listed() -> NewsItem:
    return NewsItem(kind="breaking", url=URL, title="Listed headline", published_raw="24.10.2024 | 22:45")


# --- point 6: depth bounded; an unreadable article keeps its listed record ---------------------

def test_deeply_nested_jsonld_is_skipped_and_the_rest_read() -> None:
    article = extract_article(page("Page headline", deep_jsonld()))
    assert article.title == "Deep JSON headline" and article.published_raw == "2024-10-24T10:00:00Z"
    shallow = '{"@type": "NewsArticle", "headline": "Shallow", "x": ' + "[" * (MAX_JSONLD_DEPTH - 2) + "]" * (
        MAX_JSONLD_DEPTH - 2) + "}"
    assert extract_article(page("H", f'<script type="application/ld+json">{shallow}</script>')).title == "Shallow"


def test_extract_command_reads_a_page_with_deep_jsonld(tmp_path: Path) -> None:
    saved = tmp_path / "deep.html"
    saved.write_text(page("Page headline", deep_jsonld()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["extract", str(saved)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["title"] == "Deep JSON headline"


def test_a_crawled_article_with_deep_jsonld_keeps_its_record() -> None:
    result = parse_page(SOURCE, page("Page headline", deep_jsonld()).encode(), URL, callback="parse_article",
                        cb_kwargs={"item": listed()})
    [record] = result.records
    assert record["title"] == "Deep JSON headline"


def test_an_article_that_breaks_the_extractor_keeps_its_listed_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("scraper.extract.extract_article", broken)
    result = parse_page(SOURCE, page("Page headline").encode(), URL, callback="parse_article",
                        cb_kwargs={"item": listed()})
    [record] = result.records
    assert record["title"] == "Listed headline"
    assert result.stats["newsdesk/article_unreadable"] == 1
    assert result.stats["newsdesk/article_unreadable/RecursionError"] == 1


# --- point 7: decode once; mojibake detected in both directions --------------------------------

def test_charset_lies_in_both_directions() -> None:
    cp1252 = page("Caf\u00e9 cr\u00e8me", '<meta charset="utf-8">').encode("cp1252")
    utf8 = page("Caf\u00e9 cr\u00e8me", '<meta charset="windows-1252">').encode("utf-8")
    assert charset_lie(cp1252, "utf-8", cp1252.decode("utf-8", "replace")) == (True, "cp1252")
    assert charset_lie(utf8, "cp1252", utf8.decode("cp1252")) == (True, "utf-8")
    honest = page("Caf\u00e9").encode("cp1252")
    assert charset_lie(honest, "cp1252", honest.decode("cp1252")) == (False, None)
    assert charset_lie(b"plain ascii", "cp1252", "plain ascii") == (False, None)
    assert extract_article(cp1252).title == extract_article(utf8).title == "Caf\u00e9 cr\u00e8me"
    assert decode_html(utf8) == utf8.decode("utf-8")


@pytest.mark.parametrize(("declared", "meta", "encoding"), [
    ("utf-8", "utf-8", "cp1252"),  # the case: a cp1252 page whose header and <meta> say UTF-8
    ("windows-1252", "windows-1252", "utf-8"),  # "CafÃ©": UTF-8 labelled windows-1252
])
def test_the_repaired_text_is_what_the_spider_extracts(declared: str, meta: str, encoding: str) -> None:
    crawler = get_crawler(scrapy.Spider)
    body = page("Caf\u00e9 cr\u00e8me", f'<meta charset="{meta}">').encode(encoding)
    request = Request(URL)
    response = CharsetCheckMiddleware(crawler).process_response(
        request, HtmlResponse(URL, body=body, headers={"Content-Type": f"text/html; charset={declared}"},
                              request=request))
    assert crawler.stats.get_value("newsdesk/charset_lied") == 1
    assert crawler.stats.get_value("newsdesk/charset_repaired") == 1
    spider_crawler = get_crawler(ListPageSpider, {"TWISTED_REACTOR_ENABLED": False})
    spider = ListPageSpider.from_crawler(spider_crawler, source=SOURCE)
    spider_crawler.spider = spider
    [item] = list(spider.parse_article(response, item=listed()))
    assert item.title == "Caf\u00e9 cr\u00e8me" and "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e" in item.body


@pytest.mark.e2e
def test_a_crawl_archives_repaired_titles_and_keeps_unreadable_articles(home: Path) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    extra = {
        "/cp1252": (200, html, page("Caf\u00e9 cr\u00e8me", '<meta charset="utf-8">').encode("cp1252")),
        "/mojibake": (200, {"Content-Type": "text/html; charset=windows-1252"},
                      page("Na\u00efve r\u00e9sum\u00e9", '<meta charset="windows-1252">').encode("utf-8")),
        "/deep": (200, html, page("Page headline", deep_jsonld()).encode()),
    }
    rows = "".join(
        f'<li class="ticker__item"><span class="ticker__time">24.10.2024 | 22:45</span><a class="ticker__link" '
        f'href="{path}"><h3 class="ticker__headline">Listed {path[1:]}</h3></a></li>' for path in extra)
    extra["/list"] = (200, html, f'<html><body><ol class="ticker">{rows}</ol></body></html>'.encode())
    home.mkdir(parents=True)
    (home / "sources.toml").write_bytes(SOURCES_FILE.read_bytes())
    with serve_generated(0, extra=extra) as site:
        result = subprocess.run(
            [sys.executable, "-m", "newsdesk", "crawl", "meridian-ticker", "--url", site.url("/list"),
             "--home", str(home), "--no-ingest", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"],
            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    stats = json.loads(next((home / "runs").glob("*.json")).read_text())["stats"]
    assert stats["newsdesk/charset_lied"] == 2 and stats["newsdesk/charset_repaired"] == 2
    records = [json.loads(line) for path in (home / "outbox").glob("*.jsonl") for line in path.open()]
    titles = sorted(r["title"] for r in records)
    assert titles == ["Caf\u00e9 cr\u00e8me", "Deep JSON headline", "Na\u00efve r\u00e9sum\u00e9"]
