"""Offline: a name that does not resolve is not retried, and a crawl of every source gives up fast, in one line."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
import scrapy
from click.testing import CliRunner
from scrapy import Request
from scrapy.utils.test import get_crawler
from twisted.internet.error import DNSLookupError, TCPTimedOutError

from newsdesk.cli.main import cli
from scraper.middlewares import AddressGuardMiddleware, BackoffRetryMiddleware
from scraper.sources import load_sources
from tests.failing_dns import OFFLINE_SETTINGS


def test_a_name_that_does_not_resolve_is_not_retried_a_timeout_is() -> None:
    crawler = get_crawler(scrapy.Spider, {"NEWSDESK_RETRY_BACKOFF": 0})
    crawler.spider = crawler._create_spider("t")
    retry = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("https://news.example/")
    assert asyncio.run(retry.process_exception(request, DNSLookupError("news.example"))) is None
    again = asyncio.run(retry.process_exception(request, TCPTimedOutError()))
    assert isinstance(again, Request) and again.meta["retry_times"] == 1
    assert crawler.stats.get_value("newsdesk/dns_not_retried") == 1


def test_the_address_guard_fails_an_unresolvable_host_once_and_fast() -> None:
    asked: list[str] = []

    def offline(host: str) -> list[str]:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    crawler = get_crawler(scrapy.Spider, {"NEWSDESK_ALLOW_LOOPBACK": False})
    crawler.spider = scrapy.Spider("t")
    guard = AddressGuardMiddleware(crawler, resolver=offline)
    for path in ("/robots.txt", "/news"):
        with pytest.raises(DNSLookupError, match="news.example"):
            asyncio.run(guard.process_request(Request(f"https://news.example{path}")))
    assert asked == ["news.example"]  # the second request did not ask again


def test_an_offline_crawl_of_every_source_ends_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    enabled = [s.id for s in load_sources().values() if s.enabled]
    settings = [arg for name, value in OFFLINE_SETTINGS.items() for arg in ("-s", f"{name}={value}")]
    result = CliRunner().invoke(cli, ["crawl", *settings, "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == (f"no source could be reached ({len(enabled)} sources: DNS lookup failed): this machine "
                         "may be offline; each run's log is in `newsdesk runs`")
    assert not any("could not reach the site" in line for line in lines)  # no line per source
    runs = json.loads(CliRunner().invoke(cli, ["runs", "--json", "--limit", "100", "--home", str(home)]).stdout)
    assert sorted(r["source"] for r in runs) == sorted(enabled)
    assert {r["status"] for r in runs} == {"unreachable"}
    # Bound work, not time: few sources start Scrapy at all, and none of them retried a lookup.
    reports = [json.loads(p.read_text())["stats"] for p in (home / "runs").glob("*.json")]
    assert 1 <= len(reports) <= 3, len(reports)
    for stats in reports:
        assert stats.get("newsdesk/dns_failed", 0) >= 1 and not stats.get("retry/count")
        assert not stats.get("downloader/response_count")
    not_crawled = [r for r in runs if "not crawled" in (r.get("message") or "")]
    assert len(not_crawled) == len(enabled) - len(reports)
