"""Invisible characters: a Unicode category rule for headlines, bylines and keys."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.keys import canonical_url, linkless_key
from scraper.offline import parse_page
from scraper.sources import get_source
from scraper.text import clean_block, clean_line, strip_invisible

INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs"}
JOINERS = {"\u200c", "\u200d"}
WHITESPACE = {"\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85"}


def _invisible() -> list[str]:
    return [chr(c) for c in range(sys.maxunicode + 1)
            if unicodedata.category(chr(c)) in INVISIBLE_CATEGORIES and chr(c) not in JOINERS | WHITESPACE]


def test_every_control_format_and_surrogate_character_is_removed() -> None:
    chars = _invisible()
    assert {"\u061c", "\U000e0001", "\U000e0041", "\U000e007f", "\u202e", "\u2066", "\ufeff"} <= set(chars)
    for char in chars:
        assert clean_line(f"Break{char}ing news") == "Breaking news", hex(ord(char))
        assert clean_block(f"Para{char}graph\n\nNext") == clean_block("Paragraph\n\nNext"), hex(ord(char))


def test_joiners_stay_only_where_they_spell() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want": the ZWNJ is spelling
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_line(persian) == persian and clean_line(family) == family
    assert clean_line("\u200dNews \u200c today\u200d") == "News today"


@given(st.text())
def test_cleaned_lines_hold_no_invisible_character(text: str) -> None:
    cleaned = clean_line(text) or ""
    for i, char in enumerate(cleaned):
        if char in JOINERS:
            assert 0 < i < len(cleaned) - 1
        else:
            assert unicodedata.category(char) not in INVISIBLE_CATEGORIES, repr(cleaned)
    assert strip_invisible(cleaned) == cleaned or any(c in JOINERS for c in cleaned)


def test_keys_ignore_invisible_characters() -> None:
    plain = "https://news.example/2024/10/storm-hits"
    assert canonical_url("https://news.example/2024/10/storm\u200b-hits\u061c") == canonical_url(plain)
    assert canonical_url("https://news.example/2024/10/storm-hits\U000e0041\U000e007f") == canonical_url(plain)
    assert linkless_key("s", "Storm\u2066 hits\u2069", "10:00\u200e") == linkless_key("s", "Storm hits", "10:00")


def test_headlines_and_bylines_of_a_list_page_come_out_clean() -> None:
    item = ('<div class="breaking-news-link-container"><a href="/breaking-news/a-1\u200b" title="x">'
            '<span class="breaking-news-ticker-date">\u061cStorm\U000e0041\U000e0042 hits\u00ad coast\u202e</span>'
            '<ul class="breaking-news-reporter-date"><li>By Jane\u2066 Doe\U000e007f</li>'
            "<li>10/24/2024 07:13 PM</li></ul></a></div>")
    page = f"<html><body>{item}</body></html>".encode()
    result = parse_page(get_source("jpost-breaking"), page, "https://www.jpost.com/breaking-news")
    [record] = result.records
    assert record["title"] == "Storm hits coast"
    assert record["byline"] == "By Jane Doe" and record["authors"] == ["Jane Doe"]
    assert record["key"] == canonical_url("https://www.jpost.com/breaking-news/a-1")


@pytest.mark.parametrize("text", ["plain ascii line", "Caf\u00e9 cr\u00e8me", ""])
def test_visible_text_is_untouched(text: str) -> None:
    assert strip_invisible(text) == text
