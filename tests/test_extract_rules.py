"""Headline, byline and time rules on hand-written pages (issue 21): what `newsdesk extract` prints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsdesk.cli.main import cli
from scraper.bylines import parse_byline
from scraper.spiders.feed import feedparser_entries
from tests.helpers import get_fixture

BODY = ("<p>The harbour wall gave way on Sunday night after three days of storms, flooding the lower town "
        "and closing the coast road for the first time in twenty years.</p>"
        "<p>Engineers said the repairs would take until spring and cost more than the council has set aside, "
        "and the ferry will run from the north pier until then.</p>")


def _page(head: str = "", body: str = "", *, h1: str = "Harbour wall gives way after three days of storms") -> str:
    heading = f"<h1>{h1}</h1>" if h1 else ""
    return (f"<!doctype html><html lang='en'><head>{head}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World News</a> <a href='/sport'>Sport</a></nav>"
            f"<article>{heading}{body}{BODY}</article></body></html>")


def _ld(**fields: Any) -> str:
    return ('<script type="application/ld+json">'
            + json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", **fields}) + "</script>")


def _extract(tmp_path: Path, html: str, *args: str, url: str = "https://valleytribune.example/news/1") -> Any:
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


HEADLINE = "Harbour wall gives way after three days of storms"


# --- titles ----------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    f"<title>{HEADLINE} | World News</title>",  # a section named in the page's navigation
    f'<meta property="og:title" content="{HEADLINE} | Valley News">'
    '<meta property="og:site_name" content="Valley News">',  # the site's name in a meta title
    f"<title>{HEADLINE} | World News | Valley Tribune</title>",  # section, then site (the host)
    f'<meta property="og:title" content="Opinion | {HEADLINE}">',  # a label in front
    f'<meta property="og:title" content="Analysis: {HEADLINE}">',
    f"<title>{HEADLINE} (Published 2016)</title>",  # an archive page's note
], ids=["section", "site-news", "section-and-site", "opinion-label", "analysis-label", "published-note"])
def test_title_loses_site_section_and_label(tmp_path: Path, head: str) -> None:
    assert _extract(tmp_path, _page(head))["title"] == HEADLINE
    assert _extract(tmp_path, _page(head, h1=""))["title"] == HEADLINE  # without an <h1> to compare


@pytest.mark.parametrize("site, url", [
    ("Valley Times Herald", "https://www.vtherald.example/news/1"),  # the host abbreviates the name
    ("Údolní Noviny", "https://www.udolninoviny.example/zpravy/1"),  # the host is the name without accents
])
def test_title_loses_the_site_name_the_host_spells(tmp_path: Path, site: str, url: str) -> None:
    page = _page(f"<title>{HEADLINE} - {site}</title>", h1="")  # no metadata, no <h1>: only the host
    assert _extract(tmp_path, page, url=url)["title"] == HEADLINE


def test_a_kicker_before_the_displayed_headline_is_cut(tmp_path: Path) -> None:
    page = _page(f"<title>Coast road closed: {HEADLINE} | World News | Valley Tribune</title>")
    assert _extract(tmp_path, page)["title"] == HEADLINE


def test_title_loses_a_section_after_a_wide_colon(tmp_path: Path) -> None:
    page = _page('<meta property="og:title" content="大谷が2本塁打、チームは5連勝 : スポーツ">', h1="大谷が2本塁打、チームは5連勝")
    assert _extract(tmp_path, page)["title"] == "大谷が2本塁打、チームは5連勝"


def test_the_displayed_headline_beats_a_social_headline_with_the_site_name(tmp_path: Path) -> None:
    head = (_ld(headline="Storm: what we know about the harbour collapse")
            + f'<meta property="og:title" content="{HEADLINE} - Valley Tribune">')
    assert _extract(tmp_path, _page(head))["title"] == HEADLINE


def test_a_title_that_is_only_the_site_name_gives_way_to_the_h1(tmp_path: Path) -> None:
    assert _extract(tmp_path, _page("<title>Valley Tribune</title>"))["title"] == HEADLINE


def test_a_headline_that_merely_starts_like_a_section_is_kept(tmp_path: Path) -> None:
    title = "Sport: the long way back for the harbour club"
    assert _extract(tmp_path, _page(f"<title>{title}</title>", h1=title))["title"] == title


# --- bylines ---------------------------------------------------------------------------------

@pytest.mark.parametrize("printed, people", [
    ("By Jane Roe Jane Roe", ["Jane Roe"]),  # link text and label, the same name twice
    ("By Jane Roe, Staff Writer", ["Jane Roe"]),
    ("Jane Roe Twitter", ["Jane Roe"]),
    ("By JANE ROE THE VALLEY TRIBUNE", ["Jane Roe"]),  # the newspaper's name in capitals
    ("Von Max Muster, Redakteur", ["Max Muster"]),
    ("Par Jeanne Dupont, envoyée spéciale", ["Jeanne Dupont"]),
    ("Por Ana Ruiz, corresponsal", ["Ana Ruiz"]),
    ("山田太郎記者", ["山田太郎"]),
])
def test_printed_bylines_are_cleaned(tmp_path: Path, printed: str, people: list[str]) -> None:
    got = _extract(tmp_path, _page(body=f'<p class="byline">{printed}</p>'))
    assert got["people"] == people and got["authors"] == people


@pytest.mark.parametrize("printed", [
    '<div data-testid="byline-contributors"><span class="x1">Jane Roe</span></div>',  # marked by a data attribute
    "<div class='meta'><a href='/author/jane-roe'>Jane Roe</a> 30 November 2026</div>",  # a link to the author's page
    "<div class='meta'><span>Written by Jane Roe</span></div>",
], ids=["data-attribute", "author-link", "written-by"])
def test_a_byline_without_metadata_or_byline_class(tmp_path: Path, printed: str) -> None:
    page = _page(body=printed).replace("<nav>", "<nav><a href='/author/omar-haddad'>Omar Haddad</a> ")
    got = _extract(tmp_path, page)  # the author link before the headline is another page's
    assert got["people"] == ["Jane Roe"]


def test_the_publication_its_host_names_is_no_person(tmp_path: Path) -> None:
    head = _ld(headline=HEADLINE, author=[{"@type": "Person", "name": "Jane Roe"},
                                         {"@type": "Person", "name": "Valley Tribune"}])
    got = _extract(tmp_path, _page(head))  # no og:site_name: the host valleytribune.example names it
    assert got["people"] == ["Jane Roe"] and got["authors"] == ["Jane Roe"]
    alone = _extract(tmp_path, _page(_ld(headline=HEADLINE, author={"@type": "Person", "name": "Valley Tribune"})))
    assert alone["people"] == [] and alone["authors"] == ["Valley Tribune"]


def test_the_publisher_is_never_a_person(tmp_path: Path) -> None:
    head = ('<meta property="og:site_name" content="The Valley Tribune">'
            + _ld(headline=HEADLINE, author={"@type": "Person", "name": "The Valley Tribune"},
                  publisher={"@type": "Organization", "name": "The Valley Tribune"}))
    got = _extract(tmp_path, _page(head))
    assert got["people"] == [] and got["authors"] == ["The Valley Tribune"]
    assert parse_byline("By Valley Tribune", ["The Valley Tribune"]).authors == []


def test_a_section_name_is_not_an_author(tmp_path: Path) -> None:
    head = _ld(headline=HEADLINE, author={"@type": "Person", "name": "Lower Town"}, articleSection="Lower Town")
    got = _extract(tmp_path, _page(head, '<p class="byline">By Jane Roe</p>'))
    assert got["people"] == ["Jane Roe"]


def test_a_credit_line_keeps_the_agency(tmp_path: Path) -> None:
    got = _extract(tmp_path, _page(body='<p class="credit">By Jane Roe and Omar Haddad, Reuters</p>'))
    assert got["people"] == ["Jane Roe", "Omar Haddad"]
    assert got["authors"] == ["Jane Roe", "Omar Haddad", "Reuters"] and got["agency"] == "Reuters"


# --- times -----------------------------------------------------------------------------------

def test_the_time_of_day_printed_on_the_page_completes_a_day(tmp_path: Path) -> None:
    head = _ld(headline=HEADLINE, datePublished="2026-11-30")
    body = '<p class="meta"><time datetime="2026-11-30T21:19:00+01:00">30 November 2026, 21:19</time></p>'
    assert _extract(tmp_path, _page(head, body))["published"] == "2026-11-30T21:19:00+01:00"


def test_a_zoneless_time_takes_the_pages_own_offset(tmp_path: Path) -> None:
    head = _ld(headline=HEADLINE, datePublished="2026-11-30T10:05:00", dateModified="2026-11-30T12:30:00-05:00")
    got = _extract(tmp_path, _page(head))
    assert got["published"] == "2026-11-30T10:05:00-05:00" and got["updated"] == "2026-11-30T12:30:00-05:00"


def test_a_zoneless_time_is_never_silently_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tzlocal

    head = _ld(headline=HEADLINE, datePublished="2026-11-30T10:05:00")
    monkeypatch.setenv("TZ", "America/Chicago")
    tzlocal.reload_localzone()  # tzlocal keeps the zone it found first
    try:
        # Neither UTC nor this machine's zone is assumed: without --tz (the page's zone) it stays zoneless.
        assert _extract(tmp_path, _page(head))["published"] == "2026-11-30T10:05:00"
    finally:
        monkeypatch.undo()
        tzlocal.reload_localzone()
    got = _extract(tmp_path, _page(head), "--tz", "America/New_York")
    assert got["published"] == "2026-11-30T10:05:00-05:00"  # the source's zone
    from scraper.extract import extract_article

    article = extract_article(_page(head), "https://valleytribune.example/news/1")
    assert article.published_raw == "2026-11-30T10:05:00"  # as printed: the reader of it chooses the zone


def test_an_update_time_is_not_the_publication_time(tmp_path: Path) -> None:
    body = ('<p class="dateline">Updated <time datetime="2026-11-30T18:20:00+00:00">30 Nov, 18:20</time></p>'
            '<p class="dateline">First published <time datetime="2026-11-29T09:00:00+00:00">29 Nov, 09:00</time></p>')
    got = _extract(tmp_path, _page(body=body))
    assert got["published"] == "2026-11-29T09:00:00+00:00" and got["updated"] == "2026-11-30T18:20:00+00:00"


def test_a_date_printed_only_in_the_text(tmp_path: Path) -> None:
    body = "<div class='stamp'>Published 29 November 2026, 07:45 GMT+1</div>"
    body += "<div class='stamp'>Last updated: 30 November 2026, 18:20</div>"
    got = _extract(tmp_path, _page(body=body), "--tz", "Europe/London")
    assert got["published"] == "2026-11-29T07:45:00+01:00"
    assert got["updated"] == "2026-11-30T18:20:00+00:00"
    assert not got["body"].startswith(("Published", "Last updated"))


def test_a_label_and_its_date_in_separate_elements(tmp_path: Path) -> None:
    body = "<p class='info'><span>Published</span> <span>29 Nov 2026</span> <span>07:45</span></p>"
    got = _extract(tmp_path, _page(body=body), "--tz", "Europe/Lisbon")
    assert got["published"] == "2026-11-29T07:45:00+00:00"


def test_a_last_updated_line_is_no_publication_time(tmp_path: Path) -> None:
    body = "<p>Last updated: 30 November 2026, 18:20</p>"
    got = _extract(tmp_path, _page(body=body), "--tz", "Europe/Lisbon", url="https://valleytribune.example/news/harbour")
    assert got["updated"] == "2026-11-30T18:20:00+00:00"
    assert got["published"] in (None, "2026-11-30")  # at most the day, never 18:20 nor midnight
    assert got["body"].startswith("The harbour wall gave way")


# --- feeds -----------------------------------------------------------------------------------

def test_rss_extra_field_that_feedparser_knows_is_kept_as_text() -> None:
    items, error, _ = feedparser_entries(get_fixture("outlets", "jpost-headlines.rss"),
                                      "https://www.jpost.com/rss/rssfeedsheadlines.aspx",
                                      {"extra_fields": ["Tags", "itemID"]})
    assert error is None
    assert items[0].extra == {"Tags": "Hezbollah,Lebanon,IDF", "itemID": "826101"}


# --- body ------------------------------------------------------------------------------------

DEK = ("the harbour board said on Tuesday that the works on the north pier would go on through the winter, "
       "and that boats could use the old slipway while the cranes are there")


def test_other_articles_teasers_and_player_text_leave_the_body(tmp_path: Path) -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n} of the harbour story: the council met on Monday to hear the engineers, and the "
        f"<a href='/news/ferry'>ferry timetable</a> was changed for the winter months ahead of the repairs.</p>"
        for n in range(1, 7))
    player = ("<div class='player'><video src='/v.mp4'><p>To view this video please enable JavaScript, and consider "
              "upgrading to a web browser that <a href='https://videojs.example/html5'>supports HTML5 video</a>"
              "</p></video></div>")
    cards = "".join(  # other articles' cards: a linked headline and its dek
        f"<div class='card'><h3><a href='/news/{n}'>Other story number {n} about the valley</a></h3>"
        f"<p>A dek for the other story number {n}: {DEK}.</p></div>" for n in range(1, 4))
    linked = "".join(  # whole teasers wrapped in a link (their headline an <h1>, after the page's own)
        f"<li><a href='/news/9{n}'><div><h1>A teaser headline {n} set as a heading</h1>"
        f"<p><b>RELATED {n}:</b> a whole teaser paragraph wrapped in a link to another page, {DEK}. {DEK}.</p>"
        "</div></a></li>" for n in range(3))
    half = len(paragraphs) // 2
    page = (f"<!doctype html><html lang='en'><head><title>{HEADLINE} | Valley Tribune</title></head><body>"
            f"<article class='story'><h1>{HEADLINE}</h1><div class='text'>{paragraphs[:half]}{player}"
            f"{paragraphs[half:]}</div><section><h2>More from the Tribune</h2>{cards}</section>"
            f"<ul>{linked}</ul></article></body></html>")
    body = _extract(tmp_path, page)["body"]
    assert [line[:11] for line in body.split("\n")] == [f"Paragraph {n}" for n in range(1, 7)]
    assert "ferry timetable" in body  # a link inside a paragraph is text


def test_a_paragraph_inside_the_article_is_kept_though_mostly_a_link() -> None:
    from scraper.extract.fallbacks import _with_inner_gaps_filled

    precise = "First paragraph.\nThird paragraph.\nFourth paragraph."
    whole = "Share this story\nFirst paragraph.\nIn 2008 the council said the wall could be rebuilt.\n" \
            "Third paragraph.\nFourth paragraph.\nMore from the Tribune"
    assert _with_inner_gaps_filled(precise, whole).split("\n") == [
        "First paragraph.", "In 2008 the council said the wall could be rebuilt.", "Third paragraph.",
        "Fourth paragraph."]  # the inner gap filled, the edges left out
    assert _with_inner_gaps_filled(precise, None) == precise


def test_an_embedded_social_post_and_a_caption_line_leave_the_body(tmp_path: Path) -> None:
    tweet = ('<blockquote class="twitter-tweet"><p lang="en">Highlights from our win at the harbour ground '
             '<a href="https://t.co/x">pic.twitter.com/abc</a></p>&mdash; Valley Rovers (@valleyrovers) '
             '<a href="https://twitter.com/valleyrovers/status/1">November 30, 2026</a></blockquote>')
    caption = "The harbour wall on Monday morning (Picture: Jane Roe)"
    first, second = (re.sub("<[^>]+>", "", p) for p in BODY.split("</p><p>"))
    body_text = "\n\n".join([first, caption, second])  # a JSON-LD body with the caption as a line
    head = _ld(headline=HEADLINE, articleBody=body_text)
    page = _page(head, f'<figure><img src="/wall.jpg" alt=""><figcaption>{caption}</figcaption></figure>{tweet}')
    got = _extract(tmp_path, page)
    assert caption not in got["body"] and "The harbour wall gave way on Sunday night" in got["body"]
    got = _extract(tmp_path, _page(body=tweet))  # no JSON-LD: the page's main text
    assert "Valley Rovers" not in got["body"] and "pic.twitter.com" not in got["body"]
    assert got["body"].startswith("The harbour wall gave way")
