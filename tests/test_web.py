"""`newsdesk serve`'s app in-process: the API against the CLI's JSON, escaping, errors, read-only routes, pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner

from index.ingest import ingest
from index.watch import SavedSearch, add, matches
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.web.app import create_app
from newsdesk.web.chart import build_chart, nice_step
from newsdesk.web.forms import web_words
from tests.records import record, write_outbox
from tests.records_search import SEARCH_ARCHIVE, WIRE_A, WIRE_B

NOW = "2024-10-24T18:00:00+00:00"  # after every record below

HOSTILE = record("https://evil.example/a", "Breaking <script>alert('pwned')</script> headline",
                 "2024-10-23T10:00:00+00:00", source="evil-wire",
                 body="Zebrafish <img src=x onerror=alert(1)> escaped & shown as text.",
                 agency="<b>Wire</b>")
JS_LINK = record("javascript:alert(1)", "Zebrafish item with a javascript link", "2024-10-23T11:00:00+00:00",
                 source="evil-wire", url="javascript:alert(1)")
EDITED_V1 = record("https://www.jpost.com/bn/8", "Ceasefire talks begin", "2024-10-22T09:00:00+00:00", version=1,
                   fetched_at="2024-10-22T09:05:00+00:00")
EDITED_V2 = {**EDITED_V1, "title": "Ceasefire talks begin in Cairo", "version": 2,
             "fetched_at": "2024-10-22T11:00:00+00:00"}


@pytest.fixture(scope="module")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the search records, hostile ones, a record in two versions and a saved search."""
    root = tmp_path_factory.mktemp("web") / "home"
    add(root / "state", SavedSearch(name="grid", query="power grid"))
    write_outbox(root, "20241022T090500Z-mixed-aaaaaa", [EDITED_V1])
    ingest(Home(root))
    write_outbox(root, "20241024T170000Z-mixed-bbbbbb", [*SEARCH_ARCHIVE, HOSTILE, JS_LINK, EDITED_V2])
    ingest(Home(root))
    return root


@pytest.fixture(scope="module")
def client(web_home: Path) -> Any:
    return create_app(Home(web_home), "UTC").test_client()


def cli_json(home: Path, *args: str, zone: bool = True) -> Any:
    tz = ["--tz", "UTC"] if zone else []
    result = CliRunner().invoke(cli, [*args, *tz, "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def api_json(client: Any, path: str, params: dict[str, Any]) -> Any:
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# (CLI arguments, the same as API parameters)
QUERIES = [
    (["korea"], {"q": "korea"}),
    (["korea", "--since", "2024-10-01"], {"q": "korea", "since": "2024-10-01"}),
    (["troops", "--sort", "newest"], {"q": "troops", "sort": "newest"}),
    (["", "--since", "2024-10-20", "--until", "2024-10-23"], {"since": "2024-10-20", "until": "2024-10-23"}),
    (["korea", "--on", "2024-10-24"], {"q": "korea", "on": "2024-10-24"}),
    (["korea", "--since", "3d", "--sort", "oldest"], {"q": "korea", "since": "3d", "sort": "oldest"}),
    (["grid", "--collapse"], {"q": "grid", "collapse": "1"}),
    (["drones", "--agency", "reuters"], {"q": "drones", "agency": "reuters"}),
    (["korea", "--source", "other-wire", "--source", "jpost-breaking"],
     {"q": "korea", "source": ["other-wire", "jpost-breaking"]}),
    (["korea OR grid", "--limit", "2", "--page", "2", "--sort", "newest"],
     {"q": "korea OR grid", "limit": "2", "page": "2", "sort": "newest"}),
    (['"power grid" NOT analysis'], {"q": '"power grid" NOT analysis'}),
    (["title:trump"], {"q": "title:trump"}),
    (["grid", "--author", "Omar Haddad", "--kind", "article"], {"q": "grid", "author": "Omar Haddad", "kind": "article"}),
    (["nothingmatchesthis"], {"q": "nothingmatchesthis"}),
]


@pytest.mark.parametrize(("args", "params"), QUERIES, ids=[" ".join(a) or "(empty)" for a, _ in QUERIES])
def test_api_search_is_the_cli_json(web_home: Path, client: Any, args: list[str], params: dict[str, Any]) -> None:
    with time_machine.travel(NOW, tick=False):
        with_facets = cli_json(web_home, "search", *args, "--json", "--facets")
        plain = cli_json(web_home, "search", *args, "--json")
        api = api_json(client, "/api/search", {**params, "facets": "1"})
        api_plain = api_json(client, "/api/search", params)
    assert api == with_facets
    assert api_plain["hits"] == plain
    assert "facets" not in api_plain


def test_the_query_set_finds_something(client: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        totals = [api_json(client, "/api/search", p)["total"] for _, p in QUERIES]
    assert sum(1 for t in totals if t) >= len(QUERIES) - 1


@pytest.mark.parametrize("args", [["korea", "--since", "2024-09-01"], ["", "--on", "2024-10-24", "--by", "hour"],
                                  ["grid", "--by", "week"]])
def test_api_timeline_is_the_cli_json(web_home: Path, client: Any, args: list[str]) -> None:
    params: dict[str, str] = {"q": args[0]}
    params.update({args[i].lstrip("-"): args[i + 1] for i in range(1, len(args), 2)})
    assert api_json(client, "/api/timeline", params) == cli_json(web_home, "timeline", *args, "--json")


def test_timeline_picks_hours_for_a_short_span(client: Any) -> None:
    data = api_json(client, "/api/timeline", {"q": "grid"})
    assert data["by"] == "hour"
    assert sum(b["count"] for b in data["buckets"]) == data["total"] - data["undated"]


def test_a_script_title_renders_as_text(client: Any) -> None:
    page = client.get("/", query_string={"q": "zebrafish"}).get_data(as_text=True)
    assert "Breaking &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; headline" in page
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>Wire</b>" not in page
    record = client.get("/record", query_string={"key": HOSTILE["key"]}).get_data(as_text=True)
    assert "<script" not in record.lower() and "&lt;script&gt;" in record


def test_the_typed_query_is_escaped_too(client: Any) -> None:
    page = client.get("/", query_string={"q": '"><script>alert(1)</script>', "since": "<b>x"}).get_data(as_text=True)
    assert "<script" not in page.lower() and "<b>x" not in page
    assert client.get("/", query_string={"q": '""><script>alert(1)</script>'}).status_code == 200
    unclosed = client.get("/", query_string={"q": '"><script>alert(1)</script>'})  # a quote left open: 400
    assert unclosed.status_code == 400 and "<script" not in unclosed.get_data(as_text=True).lower()


def test_only_http_links_leave_the_page(client: Any) -> None:
    page = client.get("/", query_string={"q": "zebrafish"}).get_data(as_text=True)
    assert 'href="javascript:' not in page
    hrefs = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert all(h.startswith("/") or h.startswith("https://evil.example/") for h in hrefs), hrefs


def test_pages_use_no_outside_assets(client: Any) -> None:
    for path in ("/", "/?q=korea", "/saved", "/sources", f"/record?key={WIRE_A['key']}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assets = re.findall(r'<(?:link|script|img)[^>]+(?:href|src)="([^"]+)"', response.get_data(as_text=True))
        assert all(a.startswith("/static/") for a in assets), (path, assets)
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    css = client.get("/static/style.css")
    assert css.status_code == 200 and b"mark" in css.data


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "x" * 1001}, "1001 characters long (at most 1000)"),
    ({"q": "NOT"}, "has no words"),
    ({"q": "korea", "since": "someday"}, "cannot read --since 'someday'"),
    ({"q": "korea", "since": "2024-10-24", "until": "2024-10-01"}, "--since is after --until"),
    ({"q": "korea", "on": "2024-10-24", "since": "2024-10-01"}, "--on cannot be combined"),
    ({"q": "korea", "sort": "loudest"}, "unknown sort"),
    ({"q": "korea", "limit": "5000"}, "--limit must be between"),
    ({"q": "korea", "page": "two"}, "page must be a whole number"),
    ({"q": "korea", "tz": "Mars/Olympus"}, "unknown timezone"),
    ({"q": "korea", "by": "minute"}, "unknown bucket"),
])
def test_bad_input_is_a_400_with_the_message(client: Any, params: dict[str, str], message: str) -> None:
    api = client.get("/api/search" if "by" not in params else "/api/timeline", query_string=params)
    assert api.status_code == 400
    assert message in api.get_json()["error"]
    page = client.get("/", query_string=params)
    assert page.status_code == 400
    assert web_words(message).replace("'", "&#39;") in page.get_data(as_text=True)  # the form's words, not --since


def test_an_overlong_query_string_is_refused(client: Any) -> None:
    response = client.get("/api/search", query_string={"q": "a " * 3000})
    assert response.status_code == 400 and "query string" in response.get_json()["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/api/search", "/saved", "/record"])
def test_only_get_and_head(client: Any, method: str, path: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_head_is_served(client: Any) -> None:
    assert client.head("/api/search?q=korea").status_code == 200


def test_record_page_has_fields_versions_and_duplicates(client: Any) -> None:
    data = api_json(client, "/api/record", {"key": WIRE_A["key"]})
    assert api_json(client, "/api/record/" + WIRE_A["key"], {}) == data
    assert data["record"]["title"] == WIRE_A["title"]
    assert [d["key"] for d in data["duplicates"]] == [WIRE_B["key"]]
    page = client.get("/record", query_string={"key": WIRE_A["key"]}).get_data(as_text=True)
    assert WIRE_B["title"].replace("'", "&#39;") in page
    for name in ("fingerprint", "published_tz", "fetched_at", "dupgroup"):
        assert f"<th>{name}</th>" in page
    edited = api_json(client, "/api/record", {"key": EDITED_V2["key"]})
    assert [v["title"] for v in edited["versions"]] == [EDITED_V1["title"], EDITED_V2["title"]]
    assert "Ceasefire talks begin in Cairo" in client.get("/record", query_string={"key": EDITED_V2["key"]}).get_data(
        as_text=True)


def test_unknown_record_is_a_404(client: Any) -> None:
    response = client.get("/api/record", query_string={"key": "https://nowhere.example/x"})
    assert response.status_code == 404 and "no record with key" in response.get_json()["error"]
    assert client.get("/api/record").status_code == 400


def test_saved_searches_are_shown_but_not_marked_seen(client: Any, web_home: Path) -> None:
    for _ in range(2):
        saved = api_json(client, "/api/saved", {})
        assert [s["name"] for s in saved] == ["grid"]
        assert {r["key"] for r in saved[0]["new_matches"]} >= {WIRE_A["key"], WIRE_B["key"]}
    page = client.get("/saved").get_data(as_text=True)
    assert WIRE_A["title"] in page
    assert len(matches(web_home / "state", "grid", new_only=True)) == saved[0]["new"] > 0


def test_sources_api_is_status_json(client: Any, web_home: Path) -> None:
    with time_machine.travel(NOW, tick=False):
        assert api_json(client, "/api/sources", {}) == cli_json(web_home, "status", "--json", zone=False)
        page = client.get("/sources").get_data(as_text=True)
    assert "jpost-breaking" in page and "never" in page


def test_search_page_shows_hits_snippets_and_chart(client: Any) -> None:
    page = client.get("/", query_string={"q": "drones", "since": "2024-10-24"}).get_data(as_text=True)
    assert '<strong id="total">2</strong>' in page
    assert "<mark>drones</mark>" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'class="bar"' in page
    assert "per hour" in page
    assert "2024-10-24 05:10" in page  # UTC, as the app was told
    local = client.get("/", query_string={"q": "drones", "tz": "Asia/Jerusalem"}).get_data(as_text=True)
    assert "2024-10-24 08:10" in local and "times in Asia/Jerusalem" in local


def test_no_index_yet_is_a_clear_503(tmp_path: Path) -> None:
    client = create_app(Home(tmp_path / "empty"), "UTC").test_client()
    response = client.get("/api/search?q=korea")
    assert response.status_code == 503
    assert "no index" in response.get_json()["error"]
    assert client.get("/").status_code == 200  # the empty form still renders
    assert 'id="summary"' not in client.get("/?tz=UTC").get_data(as_text=True)


def test_serve_refuses_an_unknown_zone(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--tz", "Mars/Olympus", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "unknown timezone" in result.output


def test_nice_steps() -> None:
    assert [nice_step(n) for n in (1, 5, 6, 11, 40, 99, 1234)] == [1, 1, 2, 5, 10, 20, 500]


def test_chart_geometry() -> None:
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 10, 24, tzinfo=timezone.utc)
    buckets = [(start + timedelta(hours=i), c) for i, c in enumerate([0, 3, 7, 1] + [0] * 20)]
    chart = build_chart(buckets, "hour", "UTC")
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.count == 7 and tallest.height == pytest.approx(chart.plot_height * 7 / 8)
    assert [label for _, label in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert len(chart.x_labels) <= 8 and chart.x_labels[0][1:] == ("00:00", "24 Oct")
    assert chart.caption == "11 dated matches, counted per hour: 24 Oct 2024 (UTC)"
    assert all(b.x + b.width <= chart.right + 0.01 for b in chart.bars)


def test_serve_binds_loopback_and_answers(web_home: Path) -> None:
    """The real command: waitress on 127.0.0.1 (the default), a free port, the API answering."""
    import subprocess
    import sys
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "newsdesk", "serve", "--port", "0", "--tz", "UTC",
                               "--home", str(web_home)], stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/api/search?q=korea", timeout=30) as answer:
            assert json.load(answer)["total"] >= 4
    finally:
        server.terminate()
        server.wait(timeout=10)
