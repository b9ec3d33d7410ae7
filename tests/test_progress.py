"""Progress on a terminal only: crawl lines per source, bars for ingest, reindex and verify.

The commands run as a user runs them, in a subprocess whose stdout and stderr
are a pseudo-terminal (``pty``), or pipes for the "nothing when piped" side.
The crawl replays the demo's saved pages (no network).  ``NEWSDESK_PROGRESS_AFTER``
sets how long a job runs before its bar shows: 0 to see it on a small job,
an hour to check that a quick job shows none.
"""

from __future__ import annotations

import io
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.cli.demo import ADDON, demo_pages
from newsdesk.cli.progress import CrawlProgress, Meter

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def crawl_args(home: Path) -> list[str]:
    """``newsdesk crawl meridian-news`` replayed from the demo's pages, clock at their fetch time."""
    return ["crawl", "meridian-news", "--home", str(home), "-s", f"ADDONS={ADDON}",
            "-s", f"NEWSDESK_REPLAY_DIR={demo_pages()}", "-s", "NEWSDESK_FROZEN_AT=2024-10-24T22:00:00+00:00"]


def make_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(demo_pages() / "sources.toml", home / "sources.toml")
    return home


def env(after: str) -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT), NEWSDESK_PROGRESS_AFTER=after, COLUMNS="100")
    e.pop("NEWSDESK_HOME", None)
    return e


def on_terminal(args: list[str], after: str = "0") -> tuple[int, str]:
    """Run ``newsdesk ARGS`` with a pseudo-terminal for stdout and stderr; exit code and all it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "newsdesk", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env(after))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "\n")


def piped(args: list[str], after: str = "0") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args], capture_output=True, text=True,
                          env=env(after), timeout=120, stdin=subprocess.DEVNULL)


def test_crawl_ingest_reindex_verify_on_a_terminal(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    code, out = on_terminal(crawl_args(home))
    assert code == 0, out
    assert "▸ meridian-news: crawling …" in out
    assert re.search(r"✓ meridian-news: \d+ pages, 2 items, 0 errors in \d+\.\d s", out), out
    assert re.search(r"ingest .*1/1", out), out  # the ingest's bar, with its position
    assert "meridian-news: 2 seen, 2 new" in out  # the summary is still there
    code, out = on_terminal(["reindex", "--home", str(home)])
    assert code == 0 and re.search(r"reindex .*1/1", out), out
    code, out = on_terminal(["verify", "--home", str(home)])
    assert code == 0 and re.search(r"verify .*1/1", out), out
    assert "verify: the index agrees with the archive" in out


def test_a_quick_job_shows_no_bar(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    code, out = on_terminal(crawl_args(home), after="3600")
    assert code == 0, out
    assert "▸ meridian-news" in out  # the crawl lines do not wait
    assert "1/1" not in out


def test_nothing_when_piped_or_quiet(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    done = piped(crawl_args(home))
    assert done.returncode == 0, done.stderr
    assert "meridian-news: 2 seen, 2 new" in done.stdout
    for text in (done.stdout, done.stderr):
        assert "▸" not in text and "✓" not in text and "1/1" not in text
    code, out = on_terminal([*crawl_args(home), "--quiet"])
    assert code == 0
    assert out.strip() == ""  # quiet and healthy: nothing at all, on a terminal too
    for command in ("reindex", "verify"):
        done = piped([command, "--home", str(home)])
        assert done.returncode == 0 and "1/1" not in done.stdout + done.stderr


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Outcome:
    source, skipped, seen, errors, ok = "s", "", 1, 1, False

    def stat(self, name: str) -> int:
        return {"downloader/response_count": 1}.get(name, 0)


def test_line_words_and_silence() -> None:
    term = FakeTerminal()
    progress = CrawlProgress.for_stream(term)
    progress.started("s")
    progress.ended(Outcome())
    assert "▸ s: crawling …" in term.getvalue()
    assert re.search(r"✗ s: 1 page, 1 item, 1 error in", term.getvalue())
    for stream, quiet in ((io.StringIO(), False), (FakeTerminal(), True)):
        silent = CrawlProgress.for_stream(stream, quiet=quiet)
        silent.started("s")
        silent.ended(Outcome())
        assert stream.getvalue() == ""


@pytest.mark.parametrize("after", [0.0, 3600.0])
def test_meter_waits_before_drawing(after: float) -> None:
    term = FakeTerminal()
    with Meter("job", term, after=after) as meter:
        for done in range(1, 4):
            meter(done, 3)
    assert ("job" in term.getvalue()) == (after == 0.0)
