"""Outbox → index → archive: idempotent, crash-tolerant, rebuildable."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from index.ingest import ingest, reindex
from index.store import IngestBusy, index_lock, open_index
from index.search import search
from index.workers import CleanWorkersWriter
from newsdesk.core.home import Home
from tests.records import ARCHIVE, record, write_outbox

RUN1 = "20241024T170000Z-jpost-breaking-aaaaaa"
RUN2 = "20241024T171000Z-jpost-breaking-bbbbbb"


def _keys(home: Home) -> list[str]:
    ix = open_index(home.index)
    with ix.searcher() as s:
        keys = sorted(doc["key"] for doc in s.all_stored_fields())
    ix.close()
    return keys


def test_ingest_indexes_then_archives(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    result = ingest(home)
    assert (result.files, result.records, result.new) == (1, len(ARCHIVE), len(ARCHIVE))
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)
    assert list((tmp_path / "outbox").iterdir()) == []
    archived = tmp_path / "archive" / "2024" / "10" / f"{RUN1}.jsonl.gz"
    with gzip.open(archived, "rt") as fh:
        assert [json.loads(line)["key"] for line in fh] == [r["key"] for r in ARCHIVE]


def test_ingesting_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    ingest(home)
    write_outbox(tmp_path, RUN1, ARCHIVE)  # as if a crash had left it behind after indexing
    again = ingest(home)
    assert again.new == 0 and again.updated == len(ARCHIVE)
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)  # once each


def test_part_left_by_a_killed_crawl_gives_its_complete_lines(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE[:2], part=True, torn='{"key": "https://www.jpost.com/bn/torn", "ti')
    result = ingest(home)
    assert result.records == 2
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE[:2])


def test_part_still_being_written_is_left_alone(tmp_path: Path) -> None:
    home = Home(tmp_path)
    path = write_outbox(tmp_path, RUN1, ARCHIVE[:2], part=True)
    with open(path) as live:
        fcntl.flock(live.fileno(), fcntl.LOCK_EX)
        result = ingest(home)
        assert result.records == 0 and result.skipped_live == [path.name]
        assert path.exists()
    assert ingest(home).records == 2


def test_bad_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    home = Home(tmp_path)
    path = write_outbox(tmp_path, RUN1, ARCHIVE[:1])
    path.write_text(path.read_text() + "not json\n[1, 2]\n" + json.dumps({"title": "no key"}) + "\n")
    result = ingest(home)
    assert result.records == 1 and result.bad_lines == 2 and result.quarantined == 1  # the object without a key


def test_lines_orjson_refuses_but_json_reads_are_read(tmp_path: Path) -> None:
    from index.ingest import IngestResult, read_records

    path = tmp_path / "run.jsonl"
    path.write_text('{"key": "k1", "score": NaN}\n{"key": "k2", "title": "a\\ud800b"}\n{"key": \n',
                    encoding="utf-8")
    result = IngestResult()
    records = list(read_records(path, result))
    assert [r["key"] for r in records] == ["k1", "k2"] and result.bad_lines == 1
    assert records[0]["score"] != records[0]["score"] and records[1]["title"] == "a\ud800b"  # NaN; lone surrogate


def test_a_later_record_without_body_keeps_the_body(tmp_path: Path) -> None:
    home = Home(tmp_path)
    key = "https://www.jpost.com/bn/1"
    write_outbox(tmp_path, RUN1, [record(key, "Old headline", "2024-10-24T16:25:00+00:00", body="The full story.")])
    write_outbox(tmp_path, RUN2, [record(key, "Corrected headline", "2024-10-24T16:25:00+00:00", version=2)])
    ingest(home)
    hits = search(home.index, "story").hits
    assert len(hits) == 1
    assert hits[0].record["title"] == "Corrected headline" and hits[0].record["body"] == "The full story."
    assert hits[0].record["version"] == 2


def test_reindex_rebuilds_the_same_view(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE[:4])
    write_outbox(tmp_path, RUN2, ARCHIVE[3:])
    ingest(home)
    before = [(h.record["key"], h.record["title"]) for h in search(home.index, "", sort="newest", limit=100).hits]
    result = reindex(home)
    assert result.files == 2
    after = [(h.record["key"], h.record["title"]) for h in search(home.index, "", sort="newest", limit=100).hits]
    assert before == after and len(after) == len(ARCHIVE)


def test_reindex_recovers_a_lost_index(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    ingest(home)
    import shutil

    shutil.rmtree(home.index)
    reindex(home)
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)


def test_second_ingest_waits_then_reports_busy(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    with index_lock(home, wait=0):
        with pytest.raises(IngestBusy, match="busy"):
            ingest(home, wait=0.3)
    assert ingest(home).records == len(ARCHIVE)


def test_reindex_merges_repeated_keys_in_archive_order(tmp_path: Path) -> None:
    home = Home(tmp_path)
    key = "https://www.jpost.com/bn/1"
    write_outbox(tmp_path, RUN1, [record(key, "Old headline", "2024-10-24T16:25:00+00:00", body="The full story.")]
                 + ARCHIVE[1:3])
    write_outbox(tmp_path, RUN2, [record(key, "Corrected headline", "2024-10-24T16:25:00+00:00", version=2)])
    ingest(home)
    result = reindex(home)
    assert (result.records, result.new, result.updated) == (4, 3, 1)
    hits = search(home.index, "story").hits
    assert [(h.record["title"], h.record["body"], h.record["version"]) for h in hits] == [
        ("Corrected headline", "The full story.", 2)]
    assert len(search(home.index, "", sort="newest", limit=100).hits) == 3


def test_optimize_merges_segments_and_keeps_every_item(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from newsdesk.cli.main import cli

    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE[:4])
    ingest(home)
    write_outbox(tmp_path, RUN2, ARCHIVE[2:])  # two records replaced: deleted docs in the first segment
    ingest(home)
    assert len(open_index(home.index)._segments()) == 2
    out = CliRunner().invoke(cli, ["optimize", "--home", str(tmp_path)], catch_exceptions=False)
    assert out.exit_code == 0 and "2 segments merged into 1" in out.output
    ix = open_index(home.index)
    assert len(ix._segments()) == 1 and ix.doc_count_all() == ix.doc_count() == len(ARCHIVE)
    ix.close()
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)


def test_an_index_of_another_schema_version_asks_for_reindex(tmp_path: Path) -> None:
    from index.store import IndexOutdated

    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    ingest(home)
    (home.index / "SCHEMA_VERSION").write_text("1\n")
    with pytest.raises(IndexOutdated) as info:
        search(home.index, "korea")
    assert "newsdesk reindex" in info.value.hint
    reindex(home)
    assert len(search(home.index, "korea").hits) == 5


def test_parallel_reindex_writes_a_segment_per_worker_and_the_same_view(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("index.ingest.PARALLEL_MIN", 0)
    monkeypatch.setattr("index.store.JOB_DOCS", 2)  # several job files, so both workers get some
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE[:4])
    write_outbox(tmp_path, RUN2, ARCHIVE[3:])
    ingest(home)
    before = [(h.record["key"], h.record["title"]) for h in search(home.index, "", sort="newest", limit=100).hits]
    words = [h.record["key"] for h in search(home.index, "troops OR israel", limit=100).hits]
    assert len(words) >= 3
    result = reindex(home, procs=2)
    assert (result.records, result.new) == (len(ARCHIVE) + 1, len(ARCHIVE))
    ix = open_index(home.index)
    assert len(ix._segments()) == 2 and ix.doc_count() == len(ARCHIVE)
    ix.close()
    assert [(h.record["key"], h.record["title"]) for h in
            search(home.index, "", sort="newest", limit=100).hits] == before
    assert sorted(h.record["key"] for h in search(home.index, "troops OR israel", limit=100).hits) == sorted(words)


def _kill_first_worker(monkeypatch) -> None:
    """The first worker process a parallel writer starts is killed at once (as by the OOM killer)."""
    started = CleanWorkersWriter._new_task

    def start_and_kill(writer: CleanWorkersWriter) -> Any:
        task = started(writer)
        if len(writer.tasks) == 1:
            os.kill(task.pid, signal.SIGKILL)
        return task

    monkeypatch.setattr(CleanWorkersWriter, "_new_task", start_and_kill)


def test_a_failed_reindex_worker_is_an_error_and_keeps_the_old_index(tmp_path: Path, monkeypatch) -> None:
    from index.store import IndexDamaged

    monkeypatch.setattr("index.ingest.PARALLEL_MIN", 0)
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    ingest(home)
    _kill_first_worker(monkeypatch)
    with pytest.raises(IndexDamaged, match="worker"):
        reindex(home, procs=2)
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)


def test_a_big_batch_is_written_by_workers_and_updates_merge(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("index.ingest.PARALLEL_BATCH", 2)
    monkeypatch.setattr("index.store.JOB_DOCS", 2)
    monkeypatch.setenv("NEWSDESK_PROCS", "2")
    home = Home(tmp_path)
    key = ARCHIVE[0]["key"]
    write_outbox(tmp_path, RUN1, ARCHIVE)
    ingest(home)
    write_outbox(tmp_path, RUN2, [record(key, "Corrected headline", "2024-10-24T16:25:00+00:00", version=2)]
                 + ARCHIVE[1:3])
    result = ingest(home)
    assert (result.new, result.updated) == (0, 3)
    ix = open_index(home.index)
    assert len(ix._segments()) >= 3 and ix.doc_count() == len(ARCHIVE)
    ix.close()
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)
    hits = search(home.index, "corrected").hits
    assert [(h.record["key"], h.record["body"]) for h in hits] == [(key, ARCHIVE[0]["body"])]


def test_a_failed_ingest_worker_is_an_error_and_keeps_the_outbox(tmp_path: Path, monkeypatch) -> None:
    from index.store import IndexDamaged

    monkeypatch.setattr("index.ingest.PARALLEL_BATCH", 2)
    monkeypatch.setenv("NEWSDESK_PROCS", "2")
    home = Home(tmp_path)
    write_outbox(tmp_path, RUN1, ARCHIVE)
    _kill_first_worker(monkeypatch)
    with pytest.raises(IndexDamaged, match="worker"):
        ingest(home)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [f"{RUN1}.jsonl"]
    monkeypatch.undo()
    assert ingest(home).records == len(ARCHIVE)
    assert _keys(home) == sorted(r["key"] for r in ARCHIVE)
