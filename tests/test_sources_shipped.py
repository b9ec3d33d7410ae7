"""The shipped sources, `newsdesk sources` with each one's last run, and `newsdesk parse` on a feed."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner
from scrapy.spiderloader import get_spider_loader

from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.ops.lastrun import last_runs
from scraper.offline import _settings
from scraper.sources import load_sources
from tests.helpers import FIXTURES


def test_shipped_sources_cover_jpost_and_eight_other_outlets() -> None:
    sources = load_sources()
    spiders = set(get_spider_loader(_settings()).list())
    for source in sources.values():
        assert source.spider in spiders, source.id
        assert source.timezone and source.name and source.language == "en"
        CronTrigger.from_crontab(source.schedule, timezone=source.timezone)
        assert all(u.startswith("https://") for u in source.urls), source.id
    jpost_feeds = [s for s in sources.values() if s.kind == "feed" and "jpost.com" in s.urls[0]]
    assert len(jpost_feeds) >= 4
    assert sources["jpost-breaking"].kind == "list" and sources["jpost-breaking"].enabled
    others = {urlsplit(s.urls[0]).hostname.split(".")[-2] for s in sources.values()  # type: ignore[union-attr]
              if "jpost.com" not in s.urls[0]}
    assert len(others) >= 8
    enabled_others = {s.id for s in sources.values() if s.enabled and "jpost.com" not in s.urls[0]}
    assert len(enabled_others) >= 8


def _report(home: Path, run_id: str, source: str, new: int, reason: str = "finished") -> None:
    (home / "runs").mkdir(parents=True, exist_ok=True)
    (home / "runs" / f"{run_id}.json").write_text(json.dumps({
        "run_id": run_id, "source": source, "finish_reason": reason,
        "stats": {"item_scraped_count": new, "newsdesk/items_new": new, "newsdesk/article_failed": 1}}))


def test_sources_lists_kind_schedule_zone_and_last_run(tmp_path: Path) -> None:
    _report(tmp_path, "20241024T200000Z-bbc-world-0a0a0a", "bbc-world", 7)
    _report(tmp_path, "20241024T201500Z-bbc-world-0b0b0b", "bbc-world", 2)
    _report(tmp_path, "20241024T201500Z-jpost-breaking-0c0c0c", "jpost-breaking", 5)
    (tmp_path / "runs" / "20241024T203000Z-jpost-breaking-0d0d0d.json").write_text("{not json")
    runs = last_runs(Home(tmp_path), ["bbc-world", "jpost-breaking", "npr-news"])
    assert runs["bbc-world"].new == 2 and runs["jpost-breaking"].new == 5  # an unreadable newest report is skipped
    assert "npr-news" not in runs

    result = CliRunner().invoke(cli, ["sources", "--home", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["bbc-world"].split()[1:2] == ["feed"]
    assert "Europe/London" in lines["bbc-world"] and "2024-10-24 20:15Z finished, 2 new, 1 error" in lines["bbc-world"]
    assert lines["npr-news"].rstrip().endswith("never")
    assert "sitemap" in lines["ap-sitemap"] and " no " in lines["ap-sitemap"]

    rows = json.loads(CliRunner().invoke(cli, ["sources", "--json", "--home", str(tmp_path)]).output)
    bbc = next(r for r in rows if r["id"] == "bbc-world")
    assert bbc["kind"] == "feed" and bbc["last_run"]["started"] == "2024-10-24T20:15:00+00:00"


def test_parse_a_saved_feed_yields_each_link_once(tmp_path: Path) -> None:
    feed = FIXTURES / "outlets" / "jpost-headlines.rss"
    result = CliRunner().invoke(cli, ["parse", "jpost-headlines", str(feed), "--home", str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["extra"]["itemID"] for r in records] == ["826101", "826102", "826099"]
    assert records[0]["published"] == "2024-10-24T19:52:00+00:00"
    assert records[0]["summary"].startswith("The military said")  # escaped HTML and its <img> are gone
    assert "3 links not followed" in result.stderr


def test_option_mistakes_name_the_file_source_and_key(tmp_path: Path) -> None:
    import pytest

    from scraper.sources import SourceConfigError

    user = tmp_path / "sources.toml"
    cases = {
        "[sources.bbc-world.options]\nfolow = false\n": "unknown option 'folow'",
        "[sources.bbc-world.options]\nextra_fields = \"itemID\"\n": "'extra_fields' must be a list",
        "[sources.bbc-sitemap.options]\nallow = \"((\"\n": "not a regular expression",
        "[sources.x]\nspider = \"list\"\nurls = [\"https://x.example/\"]\n": "needs options.item",
        "[sources.jpost-headlines.options]\ndates_from = \"page\"\n": "'dates_from' must be",
    }
    for text, message in cases.items():
        user.write_text(text)
        with pytest.raises(SourceConfigError, match=message) as info:
            load_sources(user)
        assert str(user) in str(info.value)
