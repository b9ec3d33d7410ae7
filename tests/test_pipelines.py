"""Each pipeline alone, on plain dicts and NewsItems, with a crawler from get_crawler."""

from __future__ import annotations

import fcntl
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newsdesk.core.locks import is_locked
from newsdesk.core.record import NewsItem, adapt
from scraper.outcomes import ItemOutcomes
from scraper.pipelines.dedupe import DedupePipeline
from scraper.pipelines.normalize import NormalizePipeline
from scraper.pipelines.outbox import OutboxPipeline
from scraper.pipelines.validate import ValidatePipeline
from scraper.sources import get_source
from scraper.spiders.jpost import JPostBreakingSpider

FETCHED = datetime(2024, 10, 24, 17, 0, tzinfo=timezone.utc)


def _crawler(home: Path | None = None, **settings: Any) -> Any:
    values = {"TWISTED_REACTOR_ENABLED": False, **settings}
    if home is not None:
        values["NEWSDESK_HOME"] = str(home)
    crawler = get_crawler(JPostBreakingSpider, values)
    crawler.spider = JPostBreakingSpider.from_crawler(crawler, source=get_source("jpost-breaking"))
    return crawler


def _raw(**overrides: Any) -> dict[str, Any]:
    item = {"kind": "breaking", "url": "https://www.jpost.com/breaking-news/a-1?utm_source=x",
            "title": "  Rocket  alert &amp; <b>sirens</b> in the north ", "byline": "By  TOVAH LAZAROFF/REUTERS",
            "published_raw": " 10/24/2024 07:13 PM ", "fetched_at": FETCHED, "authors": [], "tags": []}
    item.update(overrides)
    return item


def test_normalize_cleans_keys_and_reads_dates_in_the_source_zone() -> None:
    item = NormalizePipeline.from_crawler(_crawler()).process_item(_raw())
    assert item["title"] == "Rocket alert & sirens in the north"
    assert item["key"] == "https://www.jpost.com/breaking-news/a-1"
    assert item["source"] == "jpost-breaking" and item["language"] == "en"
    assert item["authors"] == ["Tovah Lazaroff"] and item["agency"] == "Reuters"
    assert item["published"] == datetime(2024, 10, 24, 16, 13, tzinfo=timezone.utc)
    assert item["published_raw"] == "10/24/2024 07:13 PM" and item["published_tz"] == "Asia/Jerusalem"
    assert item["fingerprint"]


def test_normalize_is_idempotent() -> None:
    pipeline = NormalizePipeline.from_crawler(_crawler())
    once = pipeline.process_item(_raw())
    twice = pipeline.process_item(dict(once))
    assert once == twice


def test_unreadable_date_is_null_and_counted() -> None:
    crawler = _crawler()
    item = NormalizePipeline.from_crawler(crawler).process_item(_raw(published_raw="sometime soon"))
    assert item["published"] is None and item["published_raw"] == "sometime soon"
    assert crawler.stats.get_value("newsdesk/date_unreadable/published") == 1


def test_linkless_item_gets_a_source_key() -> None:
    item = NormalizePipeline.from_crawler(_crawler()).process_item(_raw(url=None))
    assert item["key"].startswith("jpost-breaking:")


@pytest.mark.parametrize(("field", "reason"), [("title", "missing_title"), ("key", "missing_key")])
def test_validate_drops_with_a_reason(field: str, reason: str) -> None:
    crawler = _crawler()
    item = NormalizePipeline.from_crawler(crawler).process_item(_raw())
    item[field] = None
    with pytest.raises(DropItem, match=reason.replace("_", " ")):
        ValidatePipeline.from_crawler(crawler).process_item(item)
    assert crawler.stats.get_value(f"newsdesk/dropped/{reason}") == 1


def test_validate_passes_a_good_record() -> None:
    crawler = _crawler()
    item = NormalizePipeline.from_crawler(crawler).process_item(_raw())
    assert ValidatePipeline.from_crawler(crawler).process_item(item) is item


def _dedupe(home: Path) -> tuple[Any, DedupePipeline]:
    crawler = _crawler(home)
    pipeline = DedupePipeline.from_crawler(crawler)
    pipeline.open_spider()
    return crawler, pipeline


def test_dedupe_across_runs_new_unchanged_changed(tmp_path: Path) -> None:
    crawler, first = _dedupe(tmp_path)
    item = {"key": "k1", "fingerprint": "f1", "version": 1}
    assert first.process_item(dict(item))["version"] == 1
    first.written(dict(item))  # reached the outbox
    with pytest.raises(DropItem, match="duplicate in run"):
        first.process_item(dict(item))
    first.close_spider()

    _, second = _dedupe(tmp_path)
    with pytest.raises(DropItem, match="unchanged"):
        second.process_item(dict(item))
    second.close_spider()

    crawler, third = _dedupe(tmp_path)  # the headline was corrected since
    corrected = third.process_item({"key": "k1", "fingerprint": "f2", "version": 1})
    assert corrected["version"] == 2
    assert crawler.stats.get_value("newsdesk/items_updated") == 1
    third.close_spider()


def test_dedupe_marks_only_what_reached_the_outbox(tmp_path: Path) -> None:
    _, first = _dedupe(tmp_path)
    first.process_item({"key": "k1", "fingerprint": "f1", "version": 1})
    first.close_spider()  # killed before the outbox wrote it: never marked
    _, second = _dedupe(tmp_path)
    assert second.process_item({"key": "k1", "fingerprint": "f1", "version": 1})["version"] == 1
    second.close_spider()


def test_outbox_writes_flushed_locked_lines_then_renames(tmp_path: Path) -> None:
    crawler = _crawler(tmp_path, NEWSDESK_RUN_ID="20241024T170000Z-jpost-breaking-abc123")
    outbox = OutboxPipeline.from_crawler(crawler)
    outbox.open_spider()
    part = tmp_path / "outbox" / "20241024T170000Z-jpost-breaking-abc123.jsonl.part"
    told: list[tuple[str, int]] = []  # (key told written, lines in the file at that moment)
    ItemOutcomes.of(crawler).on_written(
        lambda item: told.append((adapt(item)["key"], len(part.read_text().splitlines()))))
    record = NewsItem(key="k1", title="t", kind="breaking", published=FETCHED)
    outbox.process_item(record)
    assert told == [("k1", 1)]  # its line was in the file before it counted as seen
    outbox.process_item({"key": "k2", "title": "u", "kind": "breaking"})
    lines = part.read_text().splitlines()  # visible before close: flushed per record
    assert [json.loads(line)["key"] for line in lines] == ["k1", "k2"] and told[1] == ("k2", 2)
    assert json.loads(lines[0])["published"] == "2024-10-24T17:00:00+00:00"
    assert is_locked(part)
    outbox.process_item({"key": "k3", "title": "v", "kind": "breaking"})
    outbox.close_spider()
    assert not part.exists()
    done = tmp_path / "outbox" / "20241024T170000Z-jpost-breaking-abc123.jsonl"
    assert done.read_text().splitlines()[:2] == lines
    assert [json.loads(line)["key"] for line in done.read_text().splitlines()] == ["k1", "k2", "k3"]
    assert not is_locked(done)


def test_outbox_without_records_leaves_nothing(tmp_path: Path) -> None:
    outbox = OutboxPipeline.from_crawler(_crawler(tmp_path))
    outbox.open_spider()
    outbox.close_spider()
    assert list((tmp_path / "outbox").iterdir()) == []


def test_outbox_lock_is_exclusive(tmp_path: Path) -> None:
    outbox = OutboxPipeline.from_crawler(_crawler(tmp_path, NEWSDESK_RUN_ID="r1"))
    outbox.open_spider()
    with open(tmp_path / "outbox" / "r1.jsonl.part") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    outbox.close_spider()


def test_the_spider_and_the_dedupe_pipeline_share_one_store_and_one_lookup(tmp_path: Path) -> None:
    import sqlite3

    from scraper.seen import SeenStore

    path = tmp_path / "seen.sqlite"
    spider_side, pipeline_side = SeenStore.open(path), SeenStore.open(path)
    assert spider_side is pipeline_side
    spider_side.mark("k1", "f1", 1)
    spider_side.flush()
    assert spider_side.get("k1", keep=True) == ("f1", 1)  # the spider's look, before following the link
    with sqlite3.connect(path) as other:  # another crawl rewrites the row meanwhile
        other.execute("UPDATE seen SET fingerprint = 'f9' WHERE key = 'k1'")
    assert pipeline_side.get("k1") == ("f1", 1)  # answered from memory, once
    assert pipeline_side.get("k1") == ("f9", 1)
    assert spider_side.get("k1", keep=True) == ("f9", 1)
    spider_side.mark("k1", "f2", 2)  # a mark replaces a kept answer
    spider_side.flush()
    assert pipeline_side.get("k1") == ("f2", 2)

    pipeline_side.close()
    assert spider_side.get("k1") == ("f2", 2)  # still open for its other user
    spider_side.close()
    with pytest.raises(sqlite3.ProgrammingError):
        spider_side.get("k2")
    again = SeenStore.open(path)
    assert again is not spider_side and again.get("k1") == ("f2", 2)
    again.close()


def test_a_record_is_one_json_line_whatever_its_extra_holds() -> None:
    from newsdesk.core.record import _JSONL, _iso_times

    odd = NewsItem(key="k", title="Tïtle\u2028with\x00controls 😀", extra={"n": 2**70, 3: "int key", "nan": float("nan")},
                   published=FETCHED)
    plain = NewsItem(key="k", title="Tïtle\u2028with\x00controls 😀", extra={"n": 12, "l": [1, None, True]},
                     published=FETCHED)
    for item in (odd, plain):
        line = item.to_json()
        assert "\n" not in line and json.loads(line)["title"] == item.title
    assert plain.to_json() == _JSONL.encode(_iso_times(plain.to_dict()))  # orjson writes what json would
    assert json.loads(odd.to_json())["extra"]["3"] == "int key"  # refused by orjson, written by json
