"""Item keys (canonical URLs), fingerprints, and bylines → authors + agency."""

from __future__ import annotations

import pytest

from scraper.bylines import parse_byline
from scraper.keys import canonical_url, fingerprint, linkless_key


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.jpost.com/breaking-news/article-826050",
        "https://WWW.JPOST.COM/breaking-news/article-826050",
        "https://www.jpost.com/breaking-news/article-826050#comments",
        "https://www.jpost.com/breaking-news/article-826050?utm_source=twitter&utm_medium=social",
        "https://www.jpost.com/breaking-news/article-826050?fbclid=abc123",
        "https://www.jpost.com/breaking-news/article-826050?utm_custom_thing=1",
    ],
)
def test_tracking_and_case_variants_share_a_key(variant: str) -> None:
    assert canonical_url(variant) == "https://www.jpost.com/breaking-news/article-826050"


def test_meaningful_query_parameters_stay_sorted() -> None:
    assert canonical_url("https://x.example/a?b=2&a=1&utm_campaign=z") == "https://x.example/a?a=1&b=2"


def test_linkless_key_depends_on_headline_and_time() -> None:
    a = linkless_key("src", "Rockets fired at  the north", "10/24/2024 04:26 PM")
    assert a == linkless_key("src", "rockets fired at the north", "10/24/2024 04:26 PM")
    assert a != linkless_key("src", "Rockets fired at the north", "10/24/2024 04:27 PM")
    assert a.startswith("src:")


def test_fingerprint_ignores_case_and_spacing_only() -> None:
    assert fingerprint("A  Title", "Body") == fingerprint("a title", " body ")
    assert fingerprint("A Title", "Body") != fingerprint("A Title", "Body, corrected")


@pytest.mark.parametrize(
    ("printed", "authors", "agency"),
    [
        ("By REUTERS", [], "Reuters"),
        (" JERUSALEM POST STAFF", [], "Jerusalem Post staff"),
        ("By SETH J. FRANTZMAN", ["Seth J. Frantzman"], None),
        ("By TOVAH LAZAROFF/REUTERS", ["Tovah Lazaroff"], "Reuters"),
        ("By JERUSALEM POST STAFF, REUTERS", [], "Reuters"),
        ("By MAARIV", [], "Maariv"),
        ("By Jane Doe and John Smith", ["Jane Doe", "John Smith"], None),
        ("By The Associated Press", [], "AP"),
        ("By Jane Doe | Updated 3 hours ago", ["Jane Doe"], None),
        (None, [], None),
    ],
)
def test_bylines(printed: str | None, authors: list[str], agency: str | None) -> None:
    parsed = parse_byline(printed)
    assert parsed.authors == authors
    assert parsed.agency == agency
