"""Crash safety: SIGKILL a crawl or an ingest at chosen moments; a normal run then finishes the job.

Ingest kills are exact: a child process patches one step of ingest to
SIGKILL itself there (inside Whoosh's commit, after the commit, half-way
through writing the archive, after the archive and before the outbox file
is removed, in the middle of a reindex's swap).  Crawl kills hit a live
crawl subprocess once its outbox holds records.  After each, the checks:
every item exactly once, the index opens, ``verify`` finds archive and index
in agreement.  The long random version is ``stress/kill_test.py``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.ingest import ingest, reindex
from index.store import IngestBusy, open_index
from index.verify import verify
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from stress.kill_test import check, finish, start_crawl, start_ingest
from tests.generated_site import serve_generated
from tests.records import record, write_outbox

ROOT = Path(__file__).resolve().parent.parent

RECORDS = [record(f"https://example.org/crash/{i}", f"Crash test item {i}", "2024-10-24T12:00:00+00:00",
                  body=f"Body {i}") for i in range(300)]


def _child(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (with ``home`` and ``die()`` defined) in a fresh interpreter."""
    prelude = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from newsdesk.core.home import Home
        home = Home(Path({str(home)!r}))
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, check=False)


def _keys(home: Home) -> list[str]:
    ix = open_index(home.index)
    try:
        with ix.searcher() as searcher:
            return [fields["key"] for fields in searcher.all_stored_fields()]
    finally:
        ix.close()


def _assert_whole(home: Home, expected: int) -> None:
    keys = _keys(home)
    assert len(keys) == len(set(keys)) == expected
    report = verify(home)
    assert report.ok, report.lines()
    assert not [p for p in home.outbox.iterdir()] if home.outbox.is_dir() else True


KILL_POINTS = {
    # Whoosh writes the new segment, then renames the new TOC into place: die before the rename.
    "inside the commit": """
        from whoosh.filedb.filestore import FileStorage
        real = FileStorage.rename_file
        def rename(self, old, new, safe=False):
            if new.endswith(".toc"):
                die()
            return real(self, old, new, safe)
        FileStorage.rename_file = rename
    """,
    "after the commit, before the archive": """
        import index.ingest as m
        m._archive = die
    """,
    "half-way through writing the archive": """
        import shutil
        def half(src, dst, length=0):
            dst.write(src.read(5000))
            dst.flush()
            die()
        shutil.copyfileobj = half
    """,
    "after the archive, before the outbox file goes": """
        import pathlib
        real = pathlib.Path.unlink
        def unlink(self, missing_ok=False):
            if self.parent.name == "outbox":
                die()
            return real(self, missing_ok)
        pathlib.Path.unlink = unlink
    """,
    "while the Whoosh write lock is held": """
        import index.schema as schema, index.ingest as m
        real = schema.to_document
        count = [0]
        def to_document(record):
            count[0] += 1
            if count[0] == 150:
                die()
            return real(record)
        m.to_document = to_document
    """,
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_ingest_killed_at_a_chosen_moment_then_a_normal_ingest_finishes(point: str, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-a", RECORDS[:100])
    ingest(home)  # an index already holds earlier runs
    write_outbox(home.root, "20241024T130000Z-b", RECORDS[100:])
    killed = _child(textwrap.dedent(KILL_POINTS[point]) + "\nfrom index.ingest import ingest\ningest(home)\n", home.root)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    ingest(home)
    _assert_whole(home, len(RECORDS))


@pytest.mark.e2e
def test_crawl_killed_mid_run_then_a_normal_run_finishes(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with serve_generated(60, delay=0.05) as site:
        url = site.url("/breaking-news")
        crawl = start_crawl(home, url, {"CONCURRENT_REQUESTS_PER_DOMAIN": "4"})
        deadline = time.monotonic() + 60
        parts: list[Path] = []
        while time.monotonic() < deadline:
            parts = list(home.outbox.glob("*.jsonl.part")) if home.outbox.is_dir() else []
            if parts and parts[0].read_text().count("\n") >= 10:
                break
            time.sleep(0.05)
        assert parts, "the crawl wrote nothing in 60 s"
        crawl.send_signal(signal.SIGKILL)
        assert crawl.wait() == -signal.SIGKILL
        written = parts[0].read_text().count("\n")
        assert 10 <= written < 60, "the kill must land mid-crawl"
        # An ingest killed at once, then the normal crawl + ingest.
        ingesting = start_ingest(home)
        time.sleep(0.3)
        ingesting.send_signal(signal.SIGKILL)
        ingesting.wait()
        finish(home, url)
        result = check(home, site)
    assert result.ok, result
    assert result.indexed_docs == 60


def test_reindex_killed_between_the_two_renames_is_finished_by_the_next_ingest(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-a", RECORDS)
    ingest(home)
    killed = _child("""
        import os
        real = os.replace
        def replace(src, dst):
            if str(src).endswith("index.new"):
                die()
            return real(src, dst)
        os.replace = replace
        from index.ingest import reindex
        reindex(home)
    """, home.root)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not home.index.exists() and (home.root / "index.old").exists()
    ingest(home)
    _assert_whole(home, len(RECORDS))


def test_a_stale_whoosh_write_lock_is_cleared_only_when_its_holder_is_gone(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-a", RECORDS[:10])
    ingest(home)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from index.store import open_index
        ix = open_index(Path({str(home.index)!r}))
        writer = ix.writer()
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        lock_files = [p.name for p in home.index.iterdir() if "LOCK" in p.name.upper()]
        assert lock_files, "Whoosh keeps its write lock in a file"
        ix = open_index(home.index)
        try:
            from whoosh.index import LockError

            with pytest.raises(LockError):
                ix.writer()  # a live holder keeps it
        finally:
            ix.close()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    write_outbox(home.root, "20241024T130000Z-b", RECORDS[10:20])
    ingest(home, wait=5)  # the kernel dropped the dead holder's flock: the leftover file is no obstacle
    _assert_whole(home, 20)
    assert [p.name for p in home.index.iterdir() if "LOCK" in p.name.upper()] == lock_files


def test_two_ingests_started_together_serialize_without_an_error(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    many = [record(f"https://example.org/pair/{i}", f"Paired ingest item {i}", None) for i in range(3000)]
    write_outbox(home.root, "20241024T120000Z-a", many[:1500])
    write_outbox(home.root, "20241024T120001Z-b", many[1500:])
    first, second = start_ingest(home), start_ingest(home)
    outputs = [proc.communicate(timeout=120) for proc in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert all(not err for _, err in outputs), outputs
    _assert_whole(home, 3000)


def test_an_ingest_that_waits_too_long_is_one_line(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    from newsdesk.core.locks import FileLock

    with FileLock(home.locks / "index.lock"):
        with pytest.raises(IngestBusy, match="busy"):
            ingest(home, wait=0.2)


# --- verify -----------------------------------------------------------------------------

def test_verify_reports_every_kind_of_difference_and_repair_fixes_them(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-a", RECORDS[:50])
    ingest(home)
    from index.schema import to_document

    ix = open_index(home.index)
    writer = ix.writer()
    writer.delete_by_term("key", RECORDS[0]["key"])  # missing
    writer.add_document(**to_document(record("https://example.org/ghost", "Never archived", None)))  # extra
    writer.add_document(**to_document(RECORDS[1]))  # duplicate
    writer.update_document(**to_document({**RECORDS[2], "title": "Tampered"}))  # stale
    writer.commit()
    ix.close()

    found = CliRunner().invoke(cli, ["verify", "--home", str(home.root)])
    assert found.exit_code == 1
    assert "1 missing from the index: https://example.org/crash/0" in found.output
    assert "1 in the index but not the archive: https://example.org/ghost" in found.output
    assert "1 indexed more than once: https://example.org/crash/1" in found.output
    assert "1 differ from the archive: https://example.org/crash/2" in found.output

    fixed = CliRunner().invoke(cli, ["verify", "--repair", "--home", str(home.root)])
    assert fixed.exit_code == 0, fixed.output
    assert "repaired 4 keys" in fixed.output
    _assert_whole(home, 50)


def test_verify_repairs_a_lost_or_unreadable_index(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-a", RECORDS[:40])
    ingest(home)
    for toc in home.index.glob("*.toc"):
        toc.write_bytes(b"garbage")
    for command in (["search", "crash"], ["ingest"]):
        damaged = CliRunner().invoke(cli, [*command, "--home", str(home.root)])
        assert damaged.exit_code == 1 and "is damaged" in damaged.output, damaged.output
        assert "verify --repair" in damaged.output and damaged.exception is None or isinstance(
            damaged.exception, SystemExit)
    result = CliRunner().invoke(cli, ["verify", "--home", str(home.root)])
    assert result.exit_code == 1 and "index cannot be read" in result.output
    assert CliRunner().invoke(cli, ["verify", "--repair", "--home", str(home.root)]).exit_code == 0
    _assert_whole(home, 40)

    import shutil

    shutil.rmtree(home.index)
    result = CliRunner().invoke(cli, ["verify", "--home", str(home.root)])
    assert result.exit_code == 1 and "40 missing from the index" in result.output
    assert CliRunner().invoke(cli, ["verify", "--repair", "--home", str(home.root)]).exit_code == 0
    _assert_whole(home, 40)
    reindex(home)
    _assert_whole(home, 40)


def test_verify_on_an_empty_home_agrees(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", "--home", str(tmp_path / "nothing")])
    assert result.exit_code == 0 and "agrees" in result.output
    assert not (tmp_path / "nothing").exists()
