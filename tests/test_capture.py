"""Capture: a crawl keeps every fetched response in its run's WARC file, and each record links to its response."""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import re
import shutil
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from index.ingest import ingest
from index.records import get_record
from newsdesk.ops.captures import prune_captures
from newsdesk.cli.main import cli
from newsdesk.ops.config import ConfigError, load_config
from newsdesk.core.home import Home
from newsdesk.web.app import app_for
from scraper.sources import SourceConfigError, load_sources
from scraper.warcfile import WarcRun, WarcWriter, read_capture, record_capture, warc_files, warc_name, warc_root
from stress.kill_test import kill_after, start_crawl
from tests.generated_site import serve_generated
from tests.helpers import FIXTURES, FixtureSite, archived_records
from tests.records import record, write_outbox

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]


def newsdesk(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=120, check=False)


class ServedSite(FixtureSite):
    """The JPost fixtures, article pages gzip-encoded, with a header of our own; remembers what it sent."""

    def __init__(self) -> None:
        super().__init__(FIXTURES / "jpost")
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def answer(self, path: str, headers: Any) -> Any:
        status, sent_headers, body = super().answer(path, headers)
        sent_headers = dict(sent_headers, **{"X-Served-For": "capture-test"})
        if path.startswith("/breaking-news/") and status == 200:
            body = gzip.compress(body, mtime=0)
            sent_headers["Content-Encoding"] = "gzip"
        self.sent.append((path, sent_headers, body))
        return status, sent_headers, body


def _responses(warc: Path) -> dict[str, dict[str, Any]]:
    """Every response record of a WARC file by record id: URL, headers, body as stored."""
    found = {}
    with open(warc, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                found[record.rec_headers.get_header("WARC-Record-ID")] = {
                    "url": record.rec_headers.get_header("WARC-Target-URI"),
                    "date": record.rec_headers.get_header("WARC-Date"),
                    "headers": dict(record.http_headers.headers),
                    "status": int(record.http_headers.get_statuscode()),
                    "body": record.raw_stream.read(),
                }
    return found


@pytest.fixture
def served_site() -> Any:
    with ServedSite() as site:
        yield site


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One crawl of the served site (for tests that only read its home): (home, site)."""
    home = tmp_path_factory.mktemp("crawled") / "home"
    with ServedSite() as site:
        result = newsdesk("crawl", "jpost-breaking", "--url", site.url("/breaking-news"), *FAST, home=home)
        assert result.returncode == 0, result.stderr
    return home, site


def test_a_crawl_keeps_every_response_as_served_and_each_record_names_its_capture(crawled: Any) -> None:
    home, served_site = crawled
    warcs = list(home.glob("archive/warc/*/*/*.warc.gz"))
    assert len(warcs) == 1
    responses = _responses(warcs[0])
    sent = [(p, h, b) for p, h, b in served_site.sent if p != "/robots.txt"]
    assert len(sent) == len(responses) >= 16
    by_url = {r["url"]: r for r in responses.values()}
    for path, headers, body in sent:
        stored = by_url[served_site.url(path)]
        assert stored["body"] == body  # still gzip-encoded where the site encoded it
        for name, value in headers.items():
            assert stored["headers"][name] == value
        assert stored["headers"]["Content-Length"] == str(len(body))
    records = archived_records(home)
    assert len(records) == 16
    list_page = served_site.url("/breaking-news")
    read_from = []
    for record in records:
        assert record["capture_warc"] == str(warcs[0].relative_to(home / "archive" / "warc"))
        article = by_url.get(record["url"])
        # Read from its article page; from the list page if that failed (or it is the page's lead).
        expected = record["url"] if article and article["status"] == 200 else list_page
        assert responses[record["capture"]]["url"] == expected
        read_from.append(expected)
    assert 0 < read_from.count(list_page) < len(records)


def _whole_records(data: bytes) -> list[tuple[int, int, str, str]]:
    """(offset, length, type, record id) of each whole record, read with warcio alone.

    warcio yields the record a file ends inside of too, only shorter (or
    fails on one cut inside its headers): a record is whole when its block is
    as long as its Content-Length says.  Reading stops at the first that is not.
    """
    found = []
    records = ArchiveIterator(io.BytesIO(data))
    try:
        for record in records:
            offset = records.offset
            records.read_to_end()
            if getattr(record.raw_stream, "limit", None) != 0 or \
                    not (record.rec_headers.get_header("Content-Length") or "").isdigit():
                break
            found.append((offset, records.get_record_length(), record.rec_type,
                          record.rec_headers.get_header("WARC-Record-ID")))
    except (ArchiveLoadFailed, AttributeError):  # warcio on a record cut inside its headers
        pass
    return found


def _warc_ids(path: Path) -> set[str]:
    """The ids of the response records of a WARC file warcio reads: every record but a torn tail's."""
    data = path.read_bytes()
    whole = _whole_records(data)
    assert all(a[0] + a[1] == b[0] for a, b in zip(whole, whole[1:])), path
    rest = data[whole[-1][0] + whole[-1][1]:] if whole else data
    tail = zlib.decompressobj(16 + zlib.MAX_WBITS)
    tail.decompress(rest)  # what is left after the last whole record: one gzip member, cut short
    assert not rest or not tail.eof, f"{path}: warcio stopped before a whole record"
    return {r[3] for r in whole if r[2] == "response"}


def _kill_when(crawl: subprocess.Popen[bytes], home: Home, records: int) -> bool:
    """SIGKILL the crawl once its outbox holds ``records`` lines (and its WARC exists); False if it ended first."""
    deadline = time.monotonic() + 60
    while crawl.poll() is None and time.monotonic() < deadline:
        parts = list(home.outbox.glob("*.jsonl.part")) if home.outbox.is_dir() else []
        written = sum(p.read_bytes().count(b"\n") for p in parts)
        if written >= records and list(home.root.glob("archive/warc/*/*/*.warc.gz")):
            return kill_after(crawl, 0)
        time.sleep(0.005)
    return kill_after(crawl, 0)


def _kill_after_capture_starts(crawl: subprocess.Popen[bytes], home: Home, seconds: float) -> bool:
    """SIGKILL the crawl ``seconds`` after a new WARC file appears (in the middle of capturing)."""
    before = set(home.root.glob("archive/warc/*/*/*.warc.gz"))
    deadline = time.monotonic() + 60
    while crawl.poll() is None and time.monotonic() < deadline:
        if set(home.root.glob("archive/warc/*/*/*.warc.gz")) - before:
            break
        time.sleep(0.005)
    return kill_after(crawl, seconds)


def test_a_crawl_killed_at_random_moments_never_leaves_a_record_without_its_capture(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    # Kill points: after a random number of records (0: as soon as the run's WARC file appears), and at
    # random moments of the capture (whatever write is under way then).
    rng = random.Random(23)
    points = rng.sample(range(0, 60), 4)
    moments = [rng.uniform(0, 1.5) for _ in range(3)]
    with serve_generated(80, delay=0.05) as site:
        url = site.url("/breaking-news")
        for point in points:
            crawl = start_crawl(home, url, {"CONCURRENT_REQUESTS_PER_DOMAIN": "4"})
            assert _kill_when(crawl, home, point), f"the crawl ended before its kill after {point} records"
        for moment in moments:
            _kill_after_capture_starts(start_crawl(home, url, {"CONCURRENT_REQUESTS_PER_DOMAIN": "4"}), home, moment)
    records = []
    for path in home.outbox.glob("*.jsonl*"):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    assert records, "no kill landed after the first records"
    ids = {p.relative_to(home.root / "archive" / "warc").as_posix(): _warc_ids(p)
           for p in home.root.glob("archive/warc/*/*/*.warc.gz")}
    for record in records:
        assert record["capture"] in ids[record["capture_warc"]], record["key"]


def test_a_source_with_capture_off_keeps_no_pages(home: Path, served_site: ServedSite) -> None:
    home.mkdir()
    (home / "sources.toml").write_text("[sources.jpost-breaking]\ncapture = false\n")
    result = newsdesk("crawl", "jpost-breaking", "--url", served_site.url("/breaking-news"), *FAST, home=home)
    assert result.returncode == 0, result.stderr
    assert not list(home.glob("archive/warc/**/*.warc.gz"))
    records = archived_records(home)
    assert len(records) == 16 and all(r["capture"] is None for r in records)


def test_capture_must_be_true_or_false(tmp_path: Path) -> None:
    user = tmp_path / "sources.toml"
    user.write_text('[sources.jpost-breaking]\ncapture = "no"\n')
    with pytest.raises(SourceConfigError, match="'capture' must be a bool"):
        load_sources(user)


def _reextract(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["reextract", *args, "--home", str(home)], catch_exceptions=False)


def test_reextract_after_a_spider_rule_changes_gives_new_versions_for_exactly_the_affected_records(
        home: Path, served_site: ServedSite) -> None:
    crawled = newsdesk("crawl", "jpost-breaking", "--url", served_site.url("/breaking-news"), *FAST, home=home)
    assert crawled.returncode == 0, crawled.stderr
    before = {r["key"]: r for r in archived_records(home)}

    same = _reextract(home, "--json")
    assert same.exit_code == 0, same.output
    summary = json.loads(same.output)
    assert summary["records"] == len(before) and summary["changed"] == 0 and summary["unchanged"] == len(before)

    # The rule: the article body is now the headline element. Records whose body was read with the old
    # rule (from their article page, or the list page's lead) change; ticker lines without a body do not.
    (home / "sources.toml").write_text('[sources.jpost-breaking]\noptions = { article_body = "h1.article-title" }\n')
    affected = {key for key, r in before.items() if r["body"]}
    assert 0 < len(affected) < len(before)

    dry = _reextract(home, "jpost-breaking", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"{len(affected)} would get a new version" in dry.output
    assert f"  body: {len(affected)} changed" in dry.output
    assert {r["key"]: r["version"] for r in archived_records(home)} == {k: 1 for k in before}

    done = _reextract(home, "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert {c["key"] for c in result["changes"]} == affected
    assert result["by_field"] == {"body": len(affected)}
    archived = archived_records(home)
    assert len(archived) == len(before) + len(affected)
    for key in affected:
        indexed = get_record(home / "index", key)
        assert indexed["version"] == 2 and indexed["capture"] == before[key]["capture"]
        assert indexed["body"] != before[key]["body"]
    again = json.loads(_reextract(home, "--json").output)
    assert again["changed"] == 0


def test_reextract_names_an_unknown_source_and_a_missing_index(home: Path) -> None:
    unknown = CliRunner().invoke(cli, ["reextract", "nope", "--home", str(home)])
    assert unknown.exit_code == 2 and "unknown source 'nope'" in unknown.output
    missing = CliRunner().invoke(cli, ["reextract", "--home", str(home)])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    bad = CliRunner().invoke(cli, ["reextract", "--since", "someday", "--home", str(home)])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_the_record_page_links_to_the_archived_page_served_sandboxed(crawled: Any) -> None:
    home, site = crawled
    client = app_for(home).test_client()
    responses = _responses(next(home.glob("archive/warc/*/*/*.warc.gz")))
    article = next(r for r in archived_records(home) if responses[r["capture"]]["url"] == r["url"])
    page = client.get("/record", query_string={"key": article["key"]})
    assert page.status_code == 200
    assert b'id="capture-link" href="/capture?key=' in page.data

    shown = client.get("/capture", query_string={"key": article["key"]})
    assert shown.status_code == 200 and shown.mimetype == "text/html"
    csp = shown.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox; default-src 'none';") and "script" not in csp and "http" not in csp
    served = next(gzip.decompress(b) for p, h, b in site.sent if site.url(p) == article["url"])
    banner = re.search(rb'<div id="newsdesk-capture-banner"[^>]*>[^<]*</div>', shown.data).group(0)
    assert shown.data.replace(banner, b"", 1) == served  # the page as served, gzip undone, with the banner
    assert b"Archived by newsdesk: " + article["url"].encode() in banner
    fetched = responses[article["capture"]]["date"]
    assert f"as fetched {fetched}".encode() in banner


def test_a_record_without_a_capture_or_whose_capture_is_gone_gets_a_404_saying_so(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    when = "2024-10-24T12:00:00+00:00"
    gone = {**record("https://example.org/b", "Gone", when), "capture": "<urn:uuid:x>",
            "capture_warc": "2024/10/gone.warc.gz"}
    write_outbox(home.root, "20241024T120000Z-a", [record("https://example.org/a", "No capture", when), gone])
    ingest(home)
    client = app_for(home.root).test_client()
    none = client.get("/capture", query_string={"key": "https://example.org/a"})
    assert none.status_code == 404 and b"has no captured page" in none.data
    removed = client.get("/capture", query_string={"key": "https://example.org/b"})
    assert removed.status_code == 404 and b"is no longer kept" in removed.data
    assert b"capture-link" not in client.get("/record", query_string={"key": "https://example.org/a"}).data


def _warc(home: Home, run_id: str, pages: int = 3) -> tuple[str, str]:
    """A capture file of ``pages`` 20 kB responses for ``run_id``: (its relative name, its last record id)."""
    name = warc_name(run_id)
    writer = WarcWriter(warc_root(home) / name, {"run-id": run_id, "source": "jpost-breaking"})
    noise = random.Random(run_id)
    for n in range(pages):
        body = bytes(noise.getrandbits(8) for _ in range(20_000))
        last = writer.write(f"https://example.org/{run_id}/{n}", "GET", [], b"", 200, "HTTP/1.1",
                            [("Content-Type", "text/html")], body)
    writer.close()
    return name, last


def test_retention_removes_old_and_over_budget_captures_oldest_first_but_never_one_a_record_needs(
        tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    runs = [f"202410{day:02d}T120000Z-jpost-breaking-00000{day}" for day in range(1, 7)]
    names = {run: _warc(home, run) for run in runs}
    when = "2024-10-24T12:00:00+00:00"
    # Day 2's page is a record's only version; day 4's run is still in the outbox (not ingested yet).
    needed = {**record("https://example.org/only", "Only version", when), "capture": names[runs[1]][1],
              "capture_warc": names[runs[1]][0]}
    write_outbox(home.root, "20241001T000000Z-seed", [needed])
    ingest(home)
    write_outbox(home.root, runs[3], [record("https://example.org/pending", "Pending", when)])
    size = {run: (warc_root(home) / names[run][0]).stat().st_size for run in runs}
    now = datetime(2024, 10, 10, tzinfo=timezone.utc)

    nothing = prune_captures(home, keep_days=0, max_bytes=0, now=now)
    assert nothing.removed == [] and nothing.total == sum(size.values())

    # keep_days = 6.4 (before 3 October 14:24): days 1-3 are past it; day 2 is needed.
    aged = prune_captures(home, keep_days=6.4, max_bytes=0, now=now)
    assert aged.removed == [names[runs[0]][0], names[runs[2]][0]] and aged.kept_needed == 1
    # A budget of three files: the oldest of the rest go (day 4 is needed, so day 5 goes and day 6 stays).
    budget = prune_captures(home, keep_days=0, max_bytes=size[runs[1]] + size[runs[3]] + size[runs[5]], now=now)
    assert budget.removed == [names[runs[4]][0]]
    left = sorted(p.name for p in warc_files(home))
    assert left == sorted(Path(names[r][0]).name for r in (runs[1], runs[3], runs[5]))
    assert record_capture(home, needed).url == f"https://example.org/{runs[1]}/2"

    # With the index gone (removed for a rebuild), the archive's records still need their pages: nothing goes.
    shutil.rmtree(home.index)
    blind = prune_captures(home, keep_days=0.001, max_bytes=1, now=now)
    assert blind.removed == [] and sorted(p.name for p in warc_files(home)) == left
    assert record_capture(home, needed).url == f"https://example.org/{runs[1]}/2"


def test_capture_limits_in_config_are_checked(tmp_path: Path) -> None:
    user = tmp_path / "config.toml"
    user.write_text("[capture]\nkeep_days = 30\nmax_gb = 1.5\n")
    config = load_config(user)
    assert config.capture_keep_days == 30 and config.capture_max_bytes == int(1.5 * 1024 ** 3)
    user.write_text('[capture]\nmax_gb = "lots"\n')
    with pytest.raises(ConfigError, match=r"\[capture\] max_gb must be a number"):
        load_config(user)


def test_the_warc_passes_warcios_own_check_and_index(crawled: Any) -> None:
    home, _ = crawled
    warc = str(next(home.glob("archive/warc/*/*/*.warc.gz")))
    warcio = [sys.executable, "-c", "from warcio.cli import main; main()"]
    checked = subprocess.run([*warcio, "check", "-v", warc], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    indexed = subprocess.run([*warcio, "index", "-f", "warc-type,warc-target-uri,http:status", warc],
                             capture_output=True, text=True, check=True)
    kinds = [json.loads(line)["warc-type"] for line in indexed.stdout.splitlines()]
    assert kinds[0] == "warcinfo" and kinds.count("response") == kinds.count("request") >= 16


def test_a_capture_cut_anywhere_reads_back_to_its_last_whole_record_and_never_serves_a_torn_page(
        crawled: Any, tmp_path: Path) -> None:
    home, _ = crawled
    full = next(home.glob("archive/warc/*/*/*.warc.gz"))
    data = full.read_bytes()
    whole = _whole_records(data)
    ends = {offset + length for offset, length, _, _ in whole}
    bodies = {p.offset: read_capture(full, p.offset).body for p in WarcRun.open(full).pages}
    responses = [(offset, length) for offset, length, kind, _ in whole if kind == "response"]
    # Cuts: inside the first, a middle and the last response, and 40 anywhere.
    rng = random.Random(2023)
    cuts = [responses[0][0] + 5, responses[len(responses) // 2][0] + responses[len(responses) // 2][1] // 2,
            len(data) - 300, *rng.sample(range(len(data)), 40)]
    cut_file = tmp_path / "cut.warc.gz"
    for cut in cuts:
        cut_file.write_bytes(data[:cut])
        # warcio itself reads every record that is whole in the cut file, as it was (one cut in its gzip
        # trailer is whole too), and no other.
        read = [(offset, kind, rid) for offset, _, kind, rid in _whole_records(data[:cut])]
        before = [(offset, kind, rid) for offset, length, kind, rid in whole if offset + length <= cut]
        started = [(offset, kind, rid) for offset, _, kind, rid in whole if offset < cut]
        assert read[:len(before)] == before and read == started[:len(read)], cut
        run = WarcRun.open(cut_file)
        listed = {page.offset for page in run.pages}
        assert {o for o, n in responses if o + n <= cut} <= listed <= {o for o, _ in responses if o < cut}, cut
        for page in run.pages:  # never a torn body: each page as in the whole file
            assert run.body(page) == bodies[page.offset], (cut, page.url)
        if not any(end - 16 < cut <= end for end in ends):  # (a cut in a gzip trailer leaves the record whole)
            assert run.complete is False, cut
    assert WarcRun.open(full).complete is True


def _show(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["show", *args, "--home", str(home)], catch_exceptions=False)


def test_show_capture_says_where_the_archived_page_is_and_save_writes_it_as_served(
        crawled: Any, tmp_path: Path) -> None:
    home, site = crawled
    responses = _responses(next(home.glob("archive/warc/*/*/*.warc.gz")))
    article = next(r for r in archived_records(home) if responses[r["capture"]]["url"] == r["url"])
    served = responses[article["capture"]]
    warc = (home / "archive" / "warc" / article["capture_warc"]).resolve()

    shown = _show(home, article["key"], "--capture")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "archived page of version 1:"
    assert f"url:          {article['url']}" in lines and f"fetched:      {served['date']}" in lines
    assert "status:       200" in lines and f"warc:         {warc}" in lines
    record_line = next(line for line in lines if line.startswith("record:"))
    assert record_line.startswith(f"record:       {article['capture']} at byte ")
    assert "  X-Served-For: capture-test" in lines and "  Content-Encoding: gzip" in lines
    body = gzip.decompress(served["body"])
    assert f"body:         {len(served['body']):,} bytes as served (gzip), {len(body):,} decoded" in lines
    # The warcio command it names gives the page (warcio undoes the gzip too).
    hint = next(line for line in lines if line.startswith("with warcio: "))
    offset = int(record_line.rsplit(" ", 1)[1])
    assert hint == f"with warcio: warcio extract --payload {warc} {offset}"
    extracted = subprocess.run([sys.executable, "-c", "from warcio.cli import main; main()", "extract", "--payload",
                                str(warc), str(offset)], capture_output=True, check=True)
    assert extracted.stdout == body

    saved = tmp_path / "page.html"
    done = _show(home, article["key"], "--save", str(saved))
    assert done.exit_code == 0 and f"to {saved}" in done.output
    assert saved.read_bytes() == body  # the page as the site sent it, gzip undone
    printed = _show(home, article["key"], "--save", "-")
    assert printed.exit_code == 0 and printed.stdout_bytes == body

    as_json = json.loads(_show(home, article["key"], "--capture", "--json").output)
    assert as_json["record_id"] == article["capture"] and as_json["warc"] == str(warc)
    assert as_json["offset"] == offset and as_json["fetched_at"] == served["date"] and as_json["status"] == 200
    assert ["X-Served-For", "capture-test"] in as_json["headers"]
    assert as_json["bytes_served"] == len(served["body"]) and as_json["bytes_decoded"] == len(body)


def test_show_capture_of_each_version_and_the_mistakes_it_names(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    key = "https://example.org/story"
    pages = {}
    for day, text in ((1, b"<p>The minister resigned.</p>"), (2, b"<p>The minister did not resign.</p>")):
        run_id = f"2024100{day}T120000Z-jpost-breaking-00000{day}"
        writer = WarcWriter(warc_root(home) / warc_name(run_id), {"run-id": run_id, "source": "jpost-breaking"})
        capture = writer.write(key, "GET", [], b"", 200, "HTTP/1.1", [("Content-Type", "text/html")], text)
        writer.close()
        pages[day] = text
        when = f"2024-10-0{day}T12:00:00+00:00"
        write_outbox(home.root, run_id, [{**record(key, f"Story {day}", when), "version": day, "fetched_at": when,
                                          "capture": capture, "capture_warc": warc_name(run_id)}])
        ingest(home)
    for wanted, text in ((["--version", "1"], pages[1]), (["--version", "2"], pages[2]), ([], pages[2])):
        printed = _show(home.root, key, *wanted, "--save", "-")
        assert printed.exit_code == 0 and printed.stdout_bytes == text, wanted
    first = _show(home.root, key, "--capture", "--version", "1")
    assert first.output.startswith("archived page of version 1:\n")
    # The web record page links each version to its archived page.
    client = app_for(home.root).test_client()
    page = client.get("/record", query_string={"key": key}).data.decode()
    links = [html.unescape(link) for link in re.findall(r'href="(/capture\?[^"]*version=[^"]*)"', page)]
    assert len(links) == 2
    for day, link in zip((1, 2), links):
        assert parse_qs(urlsplit(link).query) == {"key": [key], "version": [str(day)]}
        shown = client.get(link)
        assert shown.status_code == 200 and pages[day] in shown.data
        assert shown.headers["Content-Security-Policy"].startswith("sandbox;")
    assert client.get("/capture", query_string={"key": key, "version": 3}).status_code == 404
    assert client.get("/capture", query_string={"key": key, "version": "one"}).status_code == 400
    assert f"url:          {key}\n" in first.output

    missing = _show(home.root, key, "--capture", "--version", "3")
    assert missing.exit_code == 2 and "has no version 3 (it has 1, 2)" in missing.output
    alone = _show(home.root, key, "--version", "1")
    assert alone.exit_code == 2 and "--version needs --capture or --save" in alone.output
    both = _show(home.root, key, "--save", "-", "--json")
    assert both.exit_code == 2
    nowhere = _show(home.root, key, "--save", str(tmp_path / "no" / "such" / "dir" / "page.html"))
    assert nowhere.exit_code == 1 and "cannot write" in nowhere.output and "Traceback" not in nowhere.output

    # Retention may remove the page of a replaced version: show says so, in one line, exit 1.
    (warc_root(home) / warc_name("20241001T120000Z-jpost-breaking-000001")).unlink()
    gone = _show(home.root, key, "--capture", "--version", "1")
    assert gone.exit_code == 1 and "is no longer kept" in gone.output and "Traceback" not in gone.output
    plain = {**record("https://example.org/plain", "No capture", "2024-10-03T12:00:00+00:00")}
    write_outbox(home.root, "20241003T120000Z-x", [plain])
    ingest(home)
    none = _show(home.root, plain["key"], "--capture")
    assert none.exit_code == 1 and "has no captured page" in none.output


def test_record_from_warc_makes_fixtures_that_check_replays_with_the_records_the_run_archived(
        crawled: Any, tmp_path: Path) -> None:
    home, site = crawled  # the site is closed by now: nothing below fetches anything
    warc = next(home.glob("archive/warc/*/*/*.warc.gz"))
    folder = tmp_path / "fixtures"
    runner = CliRunner()
    made = runner.invoke(cli, ["record", "jpost-breaking", "--from-warc", str(warc), "--dir", str(folder),
                               "--home", str(home)], catch_exceptions=False)
    assert made.exit_code == 0, made.output
    index = json.loads((folder / "jpost-breaking" / "index.json").read_text())
    assert index["starts"] == [site.url("/breaking-news")]
    responses = _responses(warc)
    assert {p["url"] for p in index["pages"]} == {r["url"] for r in responses.values()}
    served = {site.url(path): (headers, body) for path, headers, body in site.sent}
    for page in index["pages"]:
        headers, body = served[page["url"]]
        saved = (folder / "jpost-breaking" / page["file"]).read_bytes() if page["file"] else b""
        # Saved as `record` saves a download: the content-encoding undone (and so not kept as a header).
        assert saved == (gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body)
        assert "Content-Encoding" not in page.get("headers", {})
    expected = {r["key"]: r for r in json.loads((folder / "jpost-breaking" / "expected.json").read_text())}
    archived = {r["key"]: r for r in archived_records(home)}
    assert expected.keys() == archived.keys()
    for key, record_ in expected.items():
        assert {n: archived[key].get(n) for n in record_ if n not in ("fetched_at",)} == \
            {n: v for n, v in record_.items() if n != "fetched_at"}, key
    assert f"records: {len(archived)} expected" in made.output

    checked = runner.invoke(cli, ["check", "jpost-breaking", "--dir", str(folder), "--home", str(home)])
    assert checked.exit_code == 0, checked.output
    assert f"ok, {len(archived)} records as expected" in checked.output

    # Named by its run id; the run's source must be the one asked for; a name that is neither: one line, exit 2.
    other = runner.invoke(cli, ["record", "bbc-world", "--from-warc", warc.name[: -len(".warc.gz")], "--dir",
                                str(folder), "--home", str(home)])
    assert other.exit_code == 2 and "is a capture of source 'jpost-breaking', not 'bbc-world'" in other.output
    nothing = runner.invoke(cli, ["record", "jpost-breaking", "--from-warc", "no-such-run", "--dir", str(folder),
                                  "--home", str(home)])
    assert nothing.exit_code == 2 and "no capture file 'no-such-run'" in nothing.output
    assert "Traceback" not in nothing.output
    mixed = runner.invoke(cli, ["record", "jpost-breaking", "--from-warc", str(warc), "--limit", "2", "--home",
                                str(home)])
    assert mixed.exit_code == 2 and "--url, --limit and --set do not apply" in mixed.output
