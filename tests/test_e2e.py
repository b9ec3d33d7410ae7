"""End to end: real crawl subprocesses against the fixtures served on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from index.search import search
from tests.helpers import FixtureSite

pytestmark = pytest.mark.e2e
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]


def newsdesk(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=120, check=False)


def _archived(home: Path) -> list[dict]:
    records = []
    for path in sorted(home.glob("archive/*/*/*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            records += [json.loads(line) for line in fh]
    return records


def test_crawl_twice_keeps_each_item_once_and_search_finds_them(home: Path, jpost_site: FixtureSite) -> None:
    url = jpost_site.url("/breaking-news")
    first = newsdesk("crawl", "jpost-breaking", "--url", url, *FAST, home=home)
    assert first.returncode == 0, first.stderr
    assert "jpost-breaking: 16 seen, 16 new, 0 updated, 0 unchanged, 0 dropped" in first.stdout
    assert "ingest: 16 records" in first.stdout
    assert jpost_site.fetched("/breaking-news/trump-says-hell-fire-special-counsel-jack-smith-826050") == 1

    second = newsdesk("crawl", "jpost-breaking", "--url", url, *FAST, home=home)
    assert second.returncode == 0, second.stderr
    assert "16 seen, 0 new, 0 updated, 16 unchanged, 0 dropped" in second.stdout
    assert "ingest: 0 records" in second.stdout

    everything = search(home / "index", "", limit=100)
    assert everything.total == 16
    assert len({h.record["key"] for h in everything.hits}) == 16
    assert len(_archived(home)) == 16
    assert not list((home / "outbox").iterdir())

    found = newsdesk("search", "north korea troops", "--since", "2024-10-01", "--until", "2024-10-31",
                     "--source", "jpost-breaking", "--sort", "newest", "--json", home=home)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [h["title"] for h in hits] == ["Putin does not deny reports about North Korea troops"]
    trump = json.loads(newsdesk("search", "special counsel", "--json", home=home).stdout)
    assert trump[0]["published"] == "2024-10-24T14:32:00+00:00"
    assert "Smith has brought two federal cases" in search(home / "index", "federal cases").hits[0].record["body"]


def test_a_corrected_headline_becomes_version_two(home: Path, jpost_site: FixtureSite) -> None:
    url = jpost_site.url("/breaking-news-2019")
    assert newsdesk("crawl", "jpost-breaking", "--url", url, *FAST, home=home).returncode == 0
    page = jpost_site.body_for("/breaking-news-2019")
    assert page is not None
    jpost_site.overrides["/breaking-news-2019"] = page.replace(b"Rain expected across the north", b"Heavy rain expected across the north")
    second = newsdesk("crawl", "jpost-breaking", "--url", url, *FAST, home=home)
    assert "1 updated" in second.stdout
    hits = search(home / "index", "rain").hits
    assert [(h.record["title"], h.record["version"]) for h in hits] == [("Heavy rain expected across the north", 2)]


def test_unreachable_site_is_one_line(home: Path) -> None:
    # Nothing listens on port 9 of the loopback: connection refused.
    result = newsdesk("crawl", "jpost-breaking", "--url", "http://127.0.0.1:9/breaking-news", *FAST,
                      "-s", "RETRY_TIMES=0", home=home)
    assert result.returncode == 1
    assert "jpost-breaking: could not reach the site (connection refused)" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_offline_guard_blocks_the_internet(home: Path) -> None:
    result = newsdesk("crawl", "jpost-breaking", "--url", "https://www.jpost.com/breaking-news", *FAST, home=home)
    assert result.returncode == 1
    assert "request refused by a guard" in result.stderr
    logs = "".join(p.read_text() for p in (home / "logs").iterdir())
    assert "NETWORK GUARD" in logs
