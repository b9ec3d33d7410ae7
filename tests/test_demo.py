"""``newsdesk demo``: the offline first look, end to end through the CLI.

The demo runs as a user runs it: ``python -m newsdesk demo`` in a subprocess
whose crawl processes inherit a ``sitecustomize`` socket guard (any IPv4/IPv6
connect or DNS lookup is written down and refused), with ``$NEWSDESK_HOME``
and the platform data dir pointing at directories that must stay untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from newsdesk.cli.main import cli
from newsdesk.cli.demo import MARKER

ROOT = Path(__file__).resolve().parent.parent

GUARD = '''
import os, socket
_log = os.environ["DEMO_SOCKET_LOG"]

def _note(what):
    with open(_log, "a", encoding="utf-8") as out:
        out.write(f"{os.getpid()} {what}\\n")

_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _note(f"connect {address!r}")
        raise OSError("socket guard: the demo must not use the network")
    return _connect(self, address)

def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _note(f"connect_ex {address!r}")
        return 111
    return _connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    _note(f"getaddrinfo {host!r}")
    raise socket.gaierror("socket guard: the demo must not resolve names")

socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''


def guarded_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python processes (and their children) refuse the network and note every try."""
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.pop("NEWSDESK_OFFLINE", None)  # the demo must be offline by itself, not by the suite's setting
    env.update(PYTHONPATH=os.pathsep.join([str(guard), str(ROOT)]), DEMO_SOCKET_LOG=str(tmp_path / "sockets.log"),
               NEWSDESK_HOME=str(tmp_path / "real-home"), HOME=str(tmp_path / "user"),
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), TMPDIR=str(tmpdir), TZ="UTC")
    return env


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", "demo", *args], env=guarded_env(tmp_path),
                          capture_output=True, text=True, timeout=110, stdin=subprocess.DEVNULL)


def test_the_guard_notes_and_refuses_a_connection(tmp_path: Path) -> None:
    """The guard the demo test relies on does catch a process that reaches out (and its children)."""
    code = "import urllib.request; urllib.request.urlopen('http://example.org/', timeout=2)"
    done = subprocess.run([sys.executable, "-c", code], env=guarded_env(tmp_path), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "getaddrinfo 'example.org'" in (tmp_path / "sockets.log").read_text(encoding="utf-8")


def test_demo_end_to_end_offline(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # the run summary: a line per source, then the ingest
    for source in ("jpost-breaking", "jpost-headlines", "meridian-news"):
        assert f"\n{source}: " in out
    assert "meridian-news: 2 seen, 2 new" in out
    assert "ingest: 21 records from 3 files (21 new, 0 updated in the index)" in out
    # three searches and their hits, from each kind of source
    assert out.count("$ newsdesk search ") == 3
    assert "Putin does not deny reports about North Korea troops" in out  # the list page's article
    assert "Ceasefire talks resume in Cairo as mediators press for a deal" in out  # the news sitemap's
    assert "Trump says he'll fire Special Counsel Jack Smith if elected president" in out
    # no socket, no write to the real home or the platform data dir
    assert not (tmp_path / "sockets.log").exists(), (tmp_path / "sockets.log").read_text(encoding="utf-8")
    assert not (tmp_path / "real-home").exists()
    assert not (tmp_path / "xdg-data").exists()
    # the demo home: a fresh dir under the temp dir, named in the next commands
    homes = list((tmp_path / "tmpdir").glob("newsdesk-demo-*"))
    assert len(homes) == 1 and (homes[0] / MARKER).is_file() and (homes[0] / "index").is_dir()
    assert f"newsdesk search 'north korea' --home {homes[0]}" in out
    assert f"newsdesk serve --home {homes[0]}" in out
    # piped: no progress lines
    assert "▸" not in done.stderr and "✓" not in done.stderr
    # every next command printed is one the CLI accepts
    from tests.test_docs_commands import _commands_in, check_parses

    shown = [args for line in out.split("\n") if line.startswith("  newsdesk ") for args in _commands_in(line)]
    assert len(shown) == 4
    for args in shown:
        check_parses(args)
    # the printed next command works on that home
    again = subprocess.run([sys.executable, "-m", "newsdesk", "search", "north korea", "--home", str(homes[0])],
                           env=guarded_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "Putin does not deny" in again.stdout


def test_demo_refuses_the_real_home_and_a_foreign_directory(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = tmp_path / "real"
    (real / "archive").mkdir(parents=True)
    monkeypatch.setenv("NEWSDESK_HOME", str(real))
    runner = CliRunner()
    out = runner.invoke(cli, ["demo", "--home", str(real)])
    assert out.exit_code == 2
    assert f"{real} is your newsdesk data home" in out.output and "Traceback" not in out.output
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me\n", encoding="utf-8")
    out = runner.invoke(cli, ["demo", "--home", str(other)])
    assert out.exit_code == 2 and "is not empty and is not a demo home" in out.output
    assert sorted(p.name for p in other.iterdir()) == ["todo.txt"]
    assert sorted(p.name for p in real.iterdir()) == ["archive"]
