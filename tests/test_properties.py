"""Property-based tests (hypothesis): the key rule, date reading, normalization, ingest."""

from __future__ import annotations

import email.utils
import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dateutil import tz
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from index.ingest import _merge, ingest
from index.store import open_index
from index.verify import verify
from newsdesk.core.home import Home
from scraper.dates import parse_printed
from scraper.keys import TRACKING_PARAMS, canonical_url
from scraper.text import clean_block, clean_line
from tests.records import record, write_outbox

# --- the key rule ------------------------------------------------------------------------

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_value = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


@st.composite
def urls(draw: Any) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(scheme, host, path, query pairs) of an article URL."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = ".".join(draw(st.lists(_label, min_size=2, max_size=3)))
    path = "/" + "/".join(draw(st.lists(_label, max_size=4)))
    names = draw(st.lists(_label.filter(lambda n: not n.startswith("utm")), max_size=3, unique=True))
    query = [(n, draw(_value)) for n in names]
    return scheme, host, path, query


def _build(scheme: str, host: str, path: str, query: list[tuple[str, str]], port: str = "",
           fragment: str = "") -> str:
    text = f"{scheme}://{host}{port}{path}"
    if query:
        text += "?" + urlencode(query)
    return text + (f"#{fragment}" if fragment else "")


@settings(max_examples=100, deadline=None)
@given(urls(), st.data())
def test_equivalent_urls_share_one_key(parts: Any, data: st.DataObject) -> None:
    scheme, host, path, query = parts
    key = canonical_url(_build(*parts))
    assert canonical_url(key) == key  # a key is its own canonical form
    tracking = data.draw(st.lists(st.tuples(st.sampled_from(TRACKING_PARAMS + ("utm_x", "UTM_Source", "FBCLID")),
                                            _label), max_size=3))
    shuffled = data.draw(st.permutations(query + tracking))
    fragment = data.draw(_label)
    port = {"http": ":80", "https": ":443"}[scheme] if data.draw(st.booleans()) else ""
    variant = _build(scheme.upper() if data.draw(st.booleans()) else scheme, host.upper(), path, list(shuffled),
                     port, fragment)
    assert canonical_url(variant) == key, variant
    assert canonical_url("  " + variant + "\n") == key


@settings(max_examples=100, deadline=None)
@given(urls(), urls())
def test_different_articles_keep_different_keys(a: Any, b: Any) -> None:
    assume((a[1], a[2], sorted(a[3])) != (b[1], b[2], sorted(b[3])))
    assert canonical_url(_build(*a)) != canonical_url(_build(*b))


# --- date reading --------------------------------------------------------------------------

ZONES = ["UTC", "Asia/Jerusalem", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/St_Johns", "Pacific/Chatham", "Asia/Kathmandu", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def _printed_forms(moment: datetime, zone_name: str) -> list[str]:
    """Ways a page or feed prints one instant (whole minutes), in ``zone_name``."""
    local = moment.astimezone(tz.gettz(zone_name))
    offset = local.strftime("%z")
    utc = moment.astimezone(timezone.utc)
    return [
        local.isoformat(),
        local.strftime("%Y-%m-%dT%H:%M") + offset,
        local.strftime("%Y-%m-%d %H:%M:%S ") + offset[:3] + ":" + offset[3:],
        email.utils.format_datetime(local),  # RSS: "Thu, 24 Oct 2024 19:13:00 +0300"
        email.utils.format_datetime(utc, usegmt=True),  # "… GMT"
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        utc.strftime("%d %B %Y %H:%M UTC"),
        "Updated: " + local.strftime("%B %d, %Y %H:%M ") + offset,
    ]


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(timezone.utc)),
       st.sampled_from(ZONES), st.sampled_from(ZONES))
def test_every_printed_form_of_one_instant_reads_as_the_same_utc(moment: datetime, printed_in: str,
                                                                  source_zone: str) -> None:
    moment = moment.replace(second=0, microsecond=0)
    for text in _printed_forms(moment, printed_in):
        parsed = parse_printed(text, source_zone)
        assert parsed is not None, text
        assert parsed.value == moment, (text, parsed)
        assert parsed.value.tzinfo == timezone.utc


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)), st.sampled_from(ZONES))
def test_a_time_printed_without_zone_is_read_in_the_source_zone(wall: datetime, zone_name: str) -> None:
    wall = wall.replace(second=0, microsecond=0)
    zone = tz.gettz(zone_name)
    aware = wall.replace(tzinfo=zone)
    assume(tz.datetime_exists(aware) and not tz.datetime_ambiguous(aware))
    expected = aware.astimezone(timezone.utc)
    for text in (wall.strftime("%m/%d/%Y %I:%M %p"), wall.strftime("%Y-%m-%d %H:%M"), wall.strftime("%B %d, %Y %H:%M")):
        parsed = parse_printed(text, zone_name)
        assert parsed is not None and parsed.value == expected and parsed.zone == zone_name, text


# --- normalization -------------------------------------------------------------------------

_markupish = st.text(alphabet=st.sampled_from(list("<>/&;#x amp lt gt b i p script style=\"'\n\t\u00a0\u200b\x00\x07é"))
                     | st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
_pieces = st.lists(st.sampled_from(["<b>", "</b>", "<p>", "</p>", "<script>x()</script>", "&amp;", "&lt;", "&gt;",
                                    "&amp;lt;", "&#39;", "&nbsp;", "<br>", "\u202e", "\x00", " ", "\n", "word", "é",
                                    "e\u0301", "<", ">", "&"]), max_size=30).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_markupish | _pieces)
def test_cleaning_is_idempotent(text: str) -> None:
    once = clean_line(text)
    assert clean_line(once) == once
    block = clean_block(text)
    assert clean_block(block) == block


@settings(max_examples=300, deadline=None)
@given(_markupish | _pieces | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7f), max_size=40))
def test_the_clean_line_shortcut_agrees_with_the_full_cleaning(text: str) -> None:
    from scraper.text import _line_pass, _settle

    assert clean_line(text) == _settle(_line_pass, text)


@settings(max_examples=100, deadline=None)
@given(_markupish | _pieces)
def test_a_cleaned_line_has_no_markup_or_controls(text: str) -> None:
    line = clean_line(text)
    if line is None:
        return
    assert "\n" not in line and "\x00" not in line and "\u202e" not in line
    assert "<script" not in line.lower()
    assert line == line.strip() and "  " not in line


# --- ingest: one current record per key ---------------------------------------------------

_event = st.tuples(st.integers(0, 5), st.integers(1, 4), st.booleans())  # key, version, body present


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_event, max_size=12), min_size=1, max_size=5), st.lists(st.booleans(), min_size=5, max_size=5))
def test_any_sequence_of_runs_leaves_one_current_record_per_key(runs: list[list[tuple[int, int, bool]]],
                                                                ingest_after: list[bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp))
        expected: dict[str, dict[str, Any]] = {}
        start = datetime(2024, 10, 24, 12, 0, tzinfo=timezone.utc)
        for number, events in enumerate(runs):
            records = []
            for key_n, version, has_body in events:
                key = f"https://example.org/p/{key_n}"
                rec = record(key, f"Headline {key_n} v{version}", "2024-10-24T10:00:00+00:00",
                             body=f"Body {key_n} v{version}" if has_body else None, version=version)
                records.append(rec)
                expected[key] = _merge(expected[key], rec) if key in expected else rec
            run_id = f"{start + timedelta(minutes=number):%Y%m%dT%H%M%SZ}-prop{number}"
            write_outbox(home.root, run_id, records, part=number % 2 == 1)
            if ingest_after[number]:
                ingest(home)
        ingest(home)
        ix = open_index(home.index, create=True)
        try:
            with ix.searcher() as searcher:
                stored = [json.loads(fields["record"]) for fields in searcher.all_stored_fields()]
        finally:
            ix.close()
        keys = [r["key"] for r in stored]
        assert len(keys) == len(set(keys)) == len(expected)
        assert {r["key"]: r for r in stored} == expected
        assert verify(home).ok
