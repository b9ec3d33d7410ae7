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


@pytest.mark.parametrize("url", [
    "http://EXAMPLE.com:80/a b/ü", "https://example.com:443/%7Euser/", "http://example.com:8080/x;p=1",
    "http://[2001:db8::1]:80/A/./b/../c", "http://user:pw@example.com:80/", "https://bücher.example",
    " https://www.jpost.com/breaking-news/item-1-2 ", "http://h:00080/a", "http://u:80@h/", "http://[2001:db8::80]/",
])
def test_links_without_query_or_fragment_take_the_short_way_to_the_same_key(url: str) -> None:
    # An empty fragment sends the link through the query and fragment cleaning; the key is the same.
    assert canonical_url(url) == canonical_url(url.strip() + "#")


def test_linkless_key_depends_on_headline_and_time() -> None:
    a = linkless_key("src", "Rockets fired at  the north", "10/24/2024 04:26 PM")
    assert a == linkless_key("src", "rockets fired at the north", "10/24/2024 04:26 PM")
    assert a != linkless_key("src", "Rockets fired at the north", "10/24/2024 04:27 PM")
    assert a.startswith("src:")


def test_fingerprints_stay_what_earlier_versions_stored() -> None:
    # seen.sqlite keeps fingerprints across upgrades: a changed hash would re-version every record.
    args = ("  Rocket\u00a0alert\tin THE north\u2028", None, "By REUTERS ", "10/24/2024 07:13 PM", "")
    assert fingerprint(*args) == "cdb446284c437e4e6d814f23"


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
