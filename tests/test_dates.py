"""Printed dates → aware UTC, in the source's zone, DST included; unreadable → None."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from scraper.dates import UnknownZoneError, parse_printed

UTC = timezone.utc
IL = "Asia/Jerusalem"


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        # JPost list times and article sublines, Israel time (IDT = UTC+3 in October 2024).
        ("10/24/2024 07:13 PM", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
        ("Updated: OCTOBER 24, 2024 19:25", datetime(2024, 10, 24, 16, 25, tzinfo=UTC)),
        # November 2019 is winter time (IST = UTC+2): the article-page trap case.
        ("NOVEMBER 20, 2019 10:43", datetime(2019, 11, 20, 8, 43, tzinfo=UTC)),
        ("11/20/2019 01:14 PM", datetime(2019, 11, 20, 11, 14, tzinfo=UTC)),
        # A printed zone or offset wins over the source's zone.
        ("Thu, 24 Oct 2024 16:13:00 GMT", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
        ("Thu, 24 Oct 2024 19:13:00 +0300", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
        ("2024-10-24T12:13:00-04:00", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
        ("2024-10-24T16:13:00Z", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
        ("Thu, 24 Oct 2024 12:13:00 EDT", datetime(2024, 10, 24, 16, 13, tzinfo=UTC)),
    ],
)
def test_printed_forms(printed: str, expected: datetime) -> None:
    parsed = parse_printed(printed, IL)
    assert parsed is not None
    assert parsed.value == expected
    assert parsed.value.tzinfo == UTC


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        # The week Israel left DST in 2024: clocks went from 02:00 IDT back to 01:00 IST on Sun 27 Oct.
        ("10/26/2024 11:00 PM", datetime(2024, 10, 26, 20, 0, tzinfo=UTC)),  # still IDT, +3
        ("10/27/2024 01:30 AM", datetime(2024, 10, 26, 22, 30, tzinfo=UTC)),  # happens twice: the first
        ("10/27/2024 03:00 AM", datetime(2024, 10, 27, 1, 0, tzinfo=UTC)),  # IST, +2
        ("10/28/2024 09:00 AM", datetime(2024, 10, 28, 7, 0, tzinfo=UTC)),
        # The spring change: 02:00 IST jumped to 03:00 IDT on Fri 29 March 2024.
        ("03/29/2024 01:59 AM", datetime(2024, 3, 28, 23, 59, tzinfo=UTC)),
        ("03/29/2024 02:30 AM", datetime(2024, 3, 29, 0, 30, tzinfo=UTC)),  # does not exist: moved past the gap
        ("03/29/2024 03:30 AM", datetime(2024, 3, 29, 0, 30, tzinfo=UTC)),
    ],
)
def test_israel_dst_changes(printed: str, expected: datetime) -> None:
    parsed = parse_printed(printed, IL)
    assert parsed is not None and parsed.value == expected
    assert parsed.zone == IL


def test_zone_used_is_reported() -> None:
    assert parse_printed("10/24/2024 07:13 PM", IL).zone == IL  # type: ignore[union-attr]
    assert parse_printed("Thu, 24 Oct 2024 16:13:00 GMT", IL).zone == "UTC"  # type: ignore[union-attr]
    assert parse_printed("2024-10-24T19:13:00+03:00", IL).zone == "+03:00"  # type: ignore[union-attr]


@pytest.mark.parametrize("printed", ["", "   ", "not a date", "07:13 PM", "Oct 24", "yesterday-ish", "99/99/2024"])
def test_unreadable_is_none_never_now(printed: str) -> None:
    assert parse_printed(printed, IL) is None


def test_relative_needs_a_fetch_time() -> None:
    now = datetime(2024, 10, 24, 16, 0, tzinfo=UTC)
    assert parse_printed("5 minutes ago", IL, now=now).value == datetime(2024, 10, 24, 15, 55, tzinfo=UTC)  # type: ignore[union-attr]
    assert parse_printed("5 minutes ago", IL) is None


def test_dayfirst_is_the_sources_choice() -> None:
    assert parse_printed("03/04/2024 10:00", "UTC").value.month == 3  # type: ignore[union-attr]
    assert parse_printed("03/04/2024 10:00", "UTC", dayfirst=True).value.month == 4  # type: ignore[union-attr]


def test_unknown_zone_is_an_error() -> None:
    with pytest.raises(UnknownZoneError):
        parse_printed("10/24/2024 07:13 PM", "Mars/Olympus")


def test_feed_dates_with_month_names_in_other_languages() -> None:
    """RFC 822 dates from Portuguese, Spanish, German and French CMSs."""
    cases = {
        "Seg, 24 Set 2018 19:42:40 -0300": "2018-09-24T22:42:40+00:00",
        "Mié, 03 Ene 2024 10:00:00 +0100": "2024-01-03T09:00:00+00:00",
        "Di., 05 Mär 2024 08:00:00 +0100": "2024-03-05T07:00:00+00:00",
        "lun., 12 févr. 2024 09:30:00 +0100": "2024-02-12T08:30:00+00:00",
    }
    for text, expected in cases.items():
        parsed = parse_printed(text, "UTC")
        assert parsed is not None and parsed.value.isoformat() == expected, text
    assert parse_printed("garbage, words here", "UTC") is None


@pytest.mark.parametrize("printed", ["10/24/2024 07:13 PM", "10/27/2024 01:30 AM", "03/29/2024 02:30 AM",
                                     "1/2/2025 7:05 am", "12/31/9999 11:59 PM", "01/01/0001 12:00 AM"])
def test_the_jpost_format_reads_as_dateutil_does(printed: str) -> None:
    from scraper.spiders.jpost import JPostBreakingSpider

    assert (parse_printed(printed, "Asia/Jerusalem", formats=JPostBreakingSpider.time_formats)
            == parse_printed(printed, "Asia/Jerusalem"))


@pytest.mark.parametrize("zone", ["Asia/Jerusalem", "Europe/London", "America/New_York", "Australia/Lord_Howe"])
def test_wall_clock_times_read_as_dateutil_reads_them_around_every_2024_change(zone: str) -> None:
    from datetime import timedelta

    from dateutil import tz

    from scraper.dates import _localize, _wall_clock_zone

    fast, reference = _wall_clock_zone(zone), tz.gettz(zone)
    hour, checked = datetime(2024, 1, 1), 0
    while hour.year == 2024:
        nxt = hour + timedelta(hours=1)
        if nxt.replace(tzinfo=reference).utcoffset() != hour.replace(tzinfo=reference).utcoffset():
            for minute in range(-120, 121, 7):
                naive = hour + timedelta(minutes=minute)
                expected = tz.resolve_imaginary(naive.replace(tzinfo=reference, fold=0)).astimezone(UTC)
                assert _localize(naive, fast).astimezone(UTC) == expected, naive
                checked += 1
        hour = nxt
    assert checked >= 2 * 35  # both changes of the year
