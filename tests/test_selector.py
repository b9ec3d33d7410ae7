"""One selector syntax wherever a source writes a selector (scraper/selector.py), checked as the file is read.

Also the floors of scraper/ this lane drew: spiders import no pipeline, and an
article page completes its listed record by one table (``MERGE_RULES``).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from parsel import Selector
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newsdesk.cli.main import cli
from scraper import selector
from scraper.extract import ExtractedArticle
from newsdesk.core.record import NewsItem
from scraper.sources import ARTICLE_SELECTOR_KEYS, Source, SourceConfigError, load_sources
from scraper.spiders import MERGE_RULES
from scraper.spiders.listpage import ListPageSpider

ROOT = Path(__file__).resolve().parent.parent
URL = "https://news.example/2024/06/02/quarry"
ARTICLE = """<html><body><div class="story"><div class="hed">Quarry blast rattles windows</div>
<div class="copy"><p>First paragraph of the story.</p><p>Second paragraph.</p></div></div></body></html>"""


@pytest.mark.parametrize(("written", "kind", "expression"), [
    ("div.story > a", "css", "div.story > a"),
    ("::attr(href)", "css", "::attr(href)"),
    ("  h1::text ", "css", "h1::text"),
    ("css: div.x", "css", "div.x"),
    ("//h1", "xpath", "//h1"),
    ("./a/@href", "xpath", "./a/@href"),
    ("(//p)[1]", "xpath", "(//p)[1]"),
    ("xpath: //div[@class='hed']", "xpath", "//div[@class='hed']"),
    (" //h1 ", "xpath", "//h1"),
])
def test_a_selector_is_read_the_same_everywhere(written: str, kind: str, expression: str) -> None:
    assert selector.parse(written) == (kind, expression)


@pytest.mark.parametrize("written", [
    "div.x", "a::attr(href)", "::attr(href)", "li:nth-child(2)", "a::text", "p:has(a)", "a[href^='http']",
    "a[", "a:foo", "a::bogus", "a::attr(a, b)", "a::text()", "a::attr()",
    "//h1", "//h2[", "//*[has-class('x')]", "//a[re:test(@href, 'x')]", "//foo:bar", "nosuchfn(1)",
    "string(//a)", "xpath:", "css:", "xpath: //a[",
])
def test_check_agrees_with_parsel(written: str) -> None:
    """check() asks lxml and cssselect without parsel: it must say exactly when parsel refuses."""
    query = selector.parse(written)
    try:
        query.apply(Selector(text="<html><body></body></html>"))
        parsel_ok = bool(query.expression)
    except Exception:  # noqa: BLE001 (whatever parsel raises: ValueError, cssselect's errors)
        parsel_ok = False
    assert (selector.check(written) is None) == parsel_ok


def test_xpath_prefix_works_in_article_selectors_as_in_a_list_page() -> None:
    source = Source(id="quarry", spider="list", urls=("https://news.example/",),
                    options={"item": "xpath://li", "article_selectors": {
                        "title": "xpath: //div[@class='hed']", "body": "css: div.copy p"}})
    crawler = get_crawler(ListPageSpider, {"TWISTED_REACTOR_ENABLED": False})
    spider = ListPageSpider.from_crawler(crawler, source=source)
    crawler.spider = spider
    response = HtmlResponse(URL, body=ARTICLE.encode(), encoding="utf-8")
    [item] = list(spider.parse_article(response, item=NewsItem(kind="breaking", url=URL, title="Listed")))
    assert item.title == "Quarry blast rattles windows"
    assert item.body == "First paragraph of the story.\nSecond paragraph."


def test_every_shipped_selector_checks() -> None:
    sources = load_sources()
    assert any(s.options.get("item") for s in sources.values())
    for source in sources.values():
        for key in ("item", "headline", "link", "byline", "time", "summary", "section"):
            if key in source.options:
                assert selector.check(source.options[key]) is None, (source.id, key)


@pytest.mark.parametrize(("options", "named"), [
    ('item = "div.a"\narticle_selectors = { title = "//h2[" }', "option 'article_selectors.title' is not valid XPath"),
    ('item = "div.a"\narticle_selectors = { title = "h1::bogus" }',
     "option 'article_selectors.title' is not valid CSS"),
    ('item = "div.a"\narticle_selectors = { headline = "h1" }', "option 'article_selectors' has no field 'headline'"),
    ('item = "div.a"\narticle_selectors = { body = 3 }', "option 'article_selectors.body' must be a selector string"),
    ('item = "xpath: //li["', "option 'item' is not valid XPath"),
    ('item = "div.a"\ntime = "span:nope"', "option 'time' is not valid CSS"),
])
def test_a_bad_selector_is_one_line_naming_the_source_and_key(tmp_path: Path, options: str, named: str) -> None:
    (tmp_path / "sources.toml").write_text(
        f'[sources.quarry]\nspider = "list"\nurls = ["https://news.example/"]\n[sources.quarry.options]\n{options}\n')
    with pytest.raises(SourceConfigError) as raised:
        load_sources(tmp_path / "sources.toml")
    assert "[sources.quarry]" in str(raised.value) and named in str(raised.value)
    result = CliRunner().invoke(cli, ["sources", "--home", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "[sources.quarry]" in lines[0] and named in lines[0]
    assert "Traceback" not in result.output


def test_a_bad_article_body_of_the_jpost_spider_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[sources.jpost-breaking.options]\narticle_body = ["div.x", "//div["]\n')
    with pytest.raises(SourceConfigError, match=r"\[sources.jpost-breaking\]: option 'article_body\[1\]' is not valid"):
        load_sources(tmp_path / "sources.toml")


def test_article_selector_keys_are_what_extract_reads() -> None:
    """Each key the loader accepts changes what extract_article returns for a page without metadata."""
    page = ('<html><body><b class="t">Quarry blast</b><i class="a">By Ann Lee</i><u class="d" data-ts="2023-01-05 10:05">Sunday</u>'
            '<p class="b">A long enough body paragraph for the story.</p><s class="s">Politics</s></body></html>')
    from scraper.extract import extract_article

    plain = extract_article(page)
    chosen = {"title": "b.t", "author": "i.a", "date": "u.d::attr(data-ts)", "body": "b.t, p.b", "summary": "p.b", "section": "s.s"}
    assert set(chosen) == set(ARTICLE_SELECTOR_KEYS)
    for key, query in chosen.items():
        field = {"author": "authors", "date": "published_raw"}.get(key, key)
        assert getattr(extract_article(page, selectors={key: query}), field) != getattr(plain, field), key


def test_merge_rules_cover_every_field_an_article_and_a_record_share() -> None:
    shared = {f.name for f in dataclasses.fields(ExtractedArticle)} & {f.name for f in dataclasses.fields(NewsItem)}
    assert set(MERGE_RULES) == shared


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # imports inside functions too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_spiders_import_no_pipeline() -> None:
    spiders = sorted((ROOT / "scraper" / "spiders").glob("*.py"))
    assert spiders
    for path in spiders:
        assert not {n for n in _imports(path) if n.startswith("scraper.pipelines")}, path.name
