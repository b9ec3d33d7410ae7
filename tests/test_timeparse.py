"""Dates and zones a user types: checked against limits and a name pattern, one line for every bad value."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.core.timeparse import EARLIEST, LATEST, DateInputError, resolve_range, user_zone
from newsdesk.web.app import create_app
from tests.records import ARCHIVE, write_outbox

BAD_DATES = [
    ["--until", "9999-12-31"],
    ["--on", "9999-12-31"],
    ["--since", "0001-01-01", "--tz", "Asia/Tokyo"],
    ["--since", "999999w"],
    ["--since", "99999w"],  # year ~ 110: a real datetime, but outside the limits
    ["--since", "2024-10-24T10:00+99:00"],
    ["--since", "2" * 200],
]
BAD_ZONES = ["/etc/passwd", "../../../../etc/passwd", "/etc/no-such-file", "Europe/../../etc/passwd",
             "leapseconds", "zone.tab", "Mars/Base", "UTC\x00", "Europe/London/x/y", ""]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dates")
    write_outbox(root, "20241024T170000Z-jpost-breaking-aaaaaa", ARCHIVE)
    ingest(Home(root))
    return root


def _cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


@pytest.mark.parametrize("command", ["search", "timeline"])
@pytest.mark.parametrize("dates", BAD_DATES)
def test_a_date_out_of_range_is_one_line_and_exit_2(home: Path, command: str, dates: list[str]) -> None:
    args = ["korea", *dates] if command == "search" else dates
    result = _cli(home, command, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: cannot read --") and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 2  # the line and its hint


def test_the_refusal_says_the_limits(home: Path) -> None:
    result = _cli(home, "search", "korea", "--until", "9999-12-31")
    assert result.stderr.splitlines()[0] == \
        "Error: cannot read --until '9999-12-31': dates run from 1900-01-01 to 2999-12-31"


@pytest.mark.parametrize("zone", [z for z in BAD_ZONES if z])
def test_every_bad_zone_gets_the_same_line(home: Path, zone: str) -> None:
    result = _cli(home, "search", "korea", "--tz", zone)
    assert result.exit_code == 2
    assert result.stderr == "Error: --tz: unknown timezone\nHint: use an IANA name such as Europe/London or UTC\n"


@pytest.fixture(scope="module")
def client(home: Path) -> Any:
    return create_app(Home(home), "UTC").test_client()


@pytest.mark.parametrize("params", [
    {"until": "9999-12-31"}, {"on": "9999-12-31"}, {"since": "0001-01-01", "tz": "Asia/Tokyo"},
    {"since": "999999w"}, {"since": "2024-10-24T10:00+99:00"},
])
@pytest.mark.parametrize("path", ["/api/search", "/api/timeline", "/"])
def test_the_web_answers_a_bad_date_with_400(client: Any, path: str, params: dict[str, str]) -> None:
    response = client.get(path, query_string={"q": "korea", **params})
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.get_json()["error"].startswith("cannot read ")


def test_the_web_answers_every_bad_zone_the_same_whether_a_file_exists_or_not(client: Any) -> None:
    answers = set()
    for zone in [z for z in BAD_ZONES if z.strip()]:
        response = client.get("/api/search", query_string={"q": "korea", "tz": zone})
        answers.add((response.status_code, response.get_data()))
    assert answers == {(400, b'{"error":"tz: unknown timezone","hint":"use an IANA name such as Europe/London or UTC"}\n')}


def test_the_limits_themselves_are_accepted() -> None:
    since, until = resolve_range("1900-01-01", "2999-12-31", None, user_zone("Asia/Tokyo"))
    assert since is not None and until is not None
    assert since.replace(tzinfo=None) == EARLIEST and until.replace(tzinfo=None) == LATEST
    assert until.astimezone(timezone.utc) < datetime(3000, 1, 1, tzinfo=timezone.utc)


ZONE_NAMES = st.sampled_from(["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"])
TYPED = st.text(max_size=40) | st.dates().map(str) | st.datetimes().map(lambda d: d.isoformat()) \
    | st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**7), st.sampled_from(["m", "h", "d", "w", " days ago"]))


@settings(max_examples=300, deadline=None)
@given(since=st.none() | TYPED, until=st.none() | TYPED, on=st.none() | TYPED, zone=ZONE_NAMES)
def test_any_typed_date_is_read_or_refused_never_a_crash(since: str | None, until: str | None, on: str | None,
                                                        zone: str) -> None:
    try:
        start, end = resolve_range(since, until, on, user_zone(zone))
    except DateInputError:
        return
    for bound in (start, end):
        if bound is not None:
            assert EARLIEST <= bound.replace(tzinfo=None) <= LATEST
            bound.astimezone(timezone.utc)  # never overflows


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40) | st.from_regex(r"[A-Za-z./_+-]{1,30}", fullmatch=True))
def test_any_zone_name_is_a_zone_or_the_one_error(name: str) -> None:
    try:
        user_zone(name)
    except DateInputError as exc:
        assert str(exc) == "--tz: unknown timezone"
