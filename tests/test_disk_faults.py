"""A full disk and a read-only home: one line, exit 1, nothing lost, no partial files left.

The real faults need a file system of their own (a tiny tmpfs, a read-only bind mount), which only
root may mount: those tests are skipped elsewhere.  The same failure raised from Whoosh's file
writes runs everywhere.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from whoosh.filedb.structfile import StructFile

from index.ingest import ingest
from index.store import INDEX_NAME, open_index
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from tests.records import indexed_count, record, write_outbox

RUN = "20241024T170000Z-jpost-breaking-aaaaaa"
FULL = "Error: no space left on the device holding {home}\n" \
       "Hint: free some space there and run the command again; what was not yet indexed waits in the outbox\n"


def _records(count: int) -> list[dict[str, Any]]:
    return [record(f"https://x.test/{i}", f"headline {i} " + "word " * 40, "2024-10-24T16:25:00+00:00",
                   body=f"story {i} " * 300) for i in range(count)]


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _mount(*args: str) -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None and \
        subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _uncommitted(index_dir: Path) -> list[str]:
    """Files in the index directory that no committed segment owns."""
    ix = open_index(index_dir)
    committed = {segment.segment_id() for segment in ix._segments()}
    ix.close()
    left = []
    for entry in index_dir.iterdir():
        segment = re.match(rf"{INDEX_NAME}_([a-z0-9]+)\.", entry.name)
        if (segment and f"{INDEX_NAME}_{segment.group(1)}" not in committed) or entry.name.endswith(".tmp"):
            left.append(entry.name)
    return sorted(left)



@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_exit_1_and_leaves_no_partial_files(small_disk: Path) -> None:
    home = small_disk / "home"
    write_outbox(home, RUN, _records(300))
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 200 * 1024))  # 200 KiB left: the index does not fit
    result = _run("ingest", "--home", str(home))
    assert result.exit_code == 1
    assert result.stderr == FULL.format(home=home) and "Traceback" not in result.output
    assert (home / "outbox" / f"{RUN}.jsonl").exists()  # nothing lost
    assert _uncommitted(home / "index") == [] and not list((home / "index").glob("*.tmp"))
    assert not list((home / "archive").rglob("*.tmp")) if (home / "archive").exists() else True
    (small_disk / "filler").unlink()
    again = _run("ingest", "--home", str(home))
    assert again.exit_code == 0, again.output
    assert indexed_count(home) == 300


def _fill_after(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """Whoosh's file writes fail for space once ``limit`` bytes were written."""
    written = {"bytes": 0}
    real_write = StructFile.write

    def write(self: StructFile, data: bytes) -> Any:
        written["bytes"] += len(data)
        if written["bytes"] > limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    monkeypatch.setattr(StructFile, "write", write)


def test_a_write_refused_for_space_anywhere_in_the_index_gets_the_same_line(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write_outbox(tmp_path, RUN, _records(50))
    ingest(Home(tmp_path))  # a committed segment, which must survive the cleanup
    write_outbox(tmp_path, "20241024T171000Z-jpost-breaking-bbbbbb", _records(80)[50:])
    _fill_after(monkeypatch, 20_000)
    result = _run("ingest", "--home", str(tmp_path))
    assert result.exit_code == 1 and result.stderr == FULL.format(home=tmp_path)
    assert _uncommitted(tmp_path / "index") == [] and not (tmp_path / "index" / f"{INDEX_NAME}.tmp").exists()
    assert indexed_count(tmp_path) == 50  # the earlier commit is whole
    monkeypatch.undo()
    assert _run("ingest", "--home", str(tmp_path)).exit_code == 0
    assert indexed_count(tmp_path) == 80


def test_a_full_disk_during_reindex_keeps_the_old_index_and_removes_the_new_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_outbox(tmp_path, RUN, _records(50))
    ingest(Home(tmp_path))
    _fill_after(monkeypatch, 20_000)
    result = _run("reindex", "--home", str(tmp_path))
    assert result.exit_code == 1 and result.stderr == FULL.format(home=tmp_path)
    assert not (tmp_path / "index.new").exists()
    monkeypatch.undo()
    assert indexed_count(tmp_path) == 50


def test_a_full_disk_while_archiving_removes_the_half_written_archive_file(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write_outbox(tmp_path, RUN, _records(5))
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl.gz.tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = _run("ingest", "--home", str(tmp_path))
    assert result.exit_code == 1 and result.stderr == FULL.format(home=tmp_path)
    assert [p.name for p in (tmp_path / "archive").rglob("*") if p.is_file()] == []
    assert (tmp_path / "outbox" / f"{RUN}.jsonl").exists()


@pytest.fixture
def read_only_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    write_outbox(home, RUN, _records(3))
    assert _run("ingest", "--home", str(home)).exit_code == 0
    (home / "state").mkdir(exist_ok=True)
    if os.geteuid() != 0:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield home
        for path in [home, *home.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return
    if not (_mount("--bind", str(home), str(home)) and _mount("-o", "remount,ro,bind", str(home))):
        pytest.skip("a read-only bind mount needs root")
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=True)


@pytest.mark.parametrize("args", [["watch", "add", "grid", "power grid"], ["ingest"], ["reindex"],
                                  ["crawl", "jpost-breaking", "--url", "http://127.0.0.1:9/"]])
def test_a_read_only_home_is_one_line(read_only_home: Path, args: list[str]) -> None:
    result = _run(*args, "--home", str(read_only_home))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(rf"Error: {re.escape(str(read_only_home))}(/\w+)? is not writable.*", first), first


def test_searching_a_read_only_home_still_works(read_only_home: Path) -> None:
    result = _run("search", "headline", "--json", "--home", str(read_only_home))
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
