"""The web server under load: many threads on a multi-segment index while an ingest commits; slow clients.

Runs the real waitress server of ``newsdesk serve`` (``newsdesk.cli.serve.make_server``) on a
loopback port, so what is tested is what a user runs.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from index.ingest import ingest
from index.store import open_index
from newsdesk.cli.serve import make_server
from newsdesk.core.home import Home
from newsdesk.web.app import create_app
from tests.records import record, write_outbox

WORDS = ["korea", "troops", "missile", "ceasefire", "grid", "power", "election", "storm", "market", "court"]
SEGMENTS = 6
PER_SEGMENT = 150
REQUESTS = 240
IN_FLIGHT = 24
QUERIES = ["korea", "troops missile", "ceasefire OR storm", '"power grid"', "mark*", "court -storm", ""]


def _records(batch: int, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        n = batch * 10_000 + i
        words = " ".join(WORDS[(n + j) % len(WORDS)] for j in range(4))
        out.append(record(f"https://example.org/{batch}/{i}", f"{WORDS[n % len(WORDS)]} headline {n}",
                          f"2024-10-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00", body=f"Story {n}: {words} " * 8,
                          agency=("Reuters", "AP", None)[n % 3], source=("wire-a", "wire-b")[n % 2]))
    return out


@pytest.fixture
def busy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose index has several segments (one ingest each)."""
    monkeypatch.setenv("NEWSDESK_PROCS", "1")
    root = tmp_path / "home"
    for batch in range(SEGMENTS):
        write_outbox(root, f"20241024T1{batch}0000Z-wire-{batch:06d}", _records(batch, PER_SEGMENT))
        ingest(Home(root))
    ix = open_index(root / "index")
    try:
        assert len(ix._segments()) >= 2  # a multi-segment index, or the test proves little
    finally:
        ix.close()
    return root


@pytest.fixture
def server(busy_home: Path) -> Iterator[tuple[str, Any]]:
    app = create_app(Home(busy_home), "UTC")
    srv = make_server(app, "127.0.0.1", 0, threads=8)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}", srv
    finally:
        srv.close()
        thread.join(10)


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_many_threads_during_ingest_get_no_errors(busy_home: Path, server: tuple[str, Any]) -> None:
    """240 API requests, 24 in flight, over 6+ segments, while ingests commit: every one answers 200."""
    base, _srv = server
    stop = threading.Event()
    commits = Counter[str]()

    def keep_ingesting() -> None:
        batch = SEGMENTS
        while not stop.is_set() and batch < SEGMENTS + 12:
            write_outbox(busy_home, f"20241025T0{batch % 10}{batch:04d}Z-wire-{batch:06d}",
                         _records(batch, 40) + _records(batch % SEGMENTS, 5))  # new keys and replaced ones
            ingest(Home(busy_home))
            commits["ingest"] += 1
            batch += 1

    writer = threading.Thread(target=keep_ingesting)
    writer.start()
    urls = []
    for n in range(REQUESTS):
        q = QUERIES[n % len(QUERIES)]
        sort = ("relevance", "newest", "oldest")[n % 3]
        path = "/api/timeline" if n % 5 == 4 else "/api/search"
        urls.append(f"{base}{path}?q={urllib.request.quote(q)}&sort={sort}&facets=1&page={1 + n % 3}"
                    + ("&collapse=1" if n % 7 == 0 else ""))
    try:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = list(pool.map(_get, urls))
    finally:
        stop.set()
        writer.join(120)
    statuses = Counter(status for status, _ in answers)
    errors = [body for status, body in answers if status != 200]
    assert statuses == {200: REQUESTS}, (statuses, errors[:3])
    assert commits["ingest"] >= 1  # the requests really ran while the index changed
    assert all(isinstance(body, dict) for _, body in answers)


def test_searches_in_threads_agree_with_one_thread(busy_home: Path) -> None:
    """The same query from 16 threads at once gives what one thread gets (no mixed-up segments)."""
    from index.search import search

    index = busy_home / "index"
    expected = {q: [h.record["key"] for h in search(index, q, limit=50).hits] for q in QUERIES}
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda q: (q, [h.record["key"] for h in search(index, q, limit=50).hits]),
                            QUERIES * 20))
    for q, keys in got:
        assert keys == expected[q], q


def _half_open(port: int) -> socket.socket:
    """A client that connects and sends half a request line, then hangs."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /api/search?q=korea HTTP/1.1\r\nHost: x\r\n")
    return sock


def test_new_request_answered_while_slow_clients_hang(busy_home: Path, server: tuple[str, Any]) -> None:
    """100 clients that send half a request and hang do not stop a new request being answered."""
    base, srv = server
    port = srv.effective_port
    slow = [_half_open(port) for _ in range(100)]
    try:
        status, body = _get(f"{base}/api/search?q=korea")
        assert status == 200 and body["total"] > 0
    finally:
        for sock in slow:
            sock.close()


def test_serve_on_a_port_in_use_is_one_line_exit_2(tmp_path: Path) -> None:
    """`newsdesk serve` on a taken port: one line naming the port and suggesting --port, exit 2."""
    from click.testing import CliRunner

    from newsdesk.cli.main import cli

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--home", str(tmp_path / "home")])
    finally:
        taken.close()
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0] and "--port" in lines[0]


def test_slow_client_is_disconnected_after_the_channel_timeout(busy_home: Path) -> None:
    """A client that never finishes its request is closed by the server (here after 1 s, not 30)."""
    srv = make_server(create_app(Home(busy_home), "UTC"), "127.0.0.1", 0, channel_timeout=1, cleanup_interval=1)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        half = _half_open(srv.effective_port)
        idle = socket.create_connection(("127.0.0.1", srv.effective_port), timeout=10)  # sends nothing at all
        for sock in (half, idle):
            sock.settimeout(30)  # the server closes it long before; a hang here fails the test
            assert sock.recv(100) == b""  # closed by the server, nothing answered
            sock.close()
    finally:
        srv.close()
        thread.join(10)


def test_serve_bounds_slow_clients() -> None:
    """The limits ``serve`` runs with: a stalled request is dropped, and 100 stalled ones leave room."""
    from newsdesk.cli import serve as commands_serve

    srv = make_server(create_app(Home(Path("/nonexistent-home")), "UTC"), "127.0.0.1", 0)
    try:
        assert srv.adj.channel_timeout == commands_serve.CHANNEL_TIMEOUT == 30
        assert srv.adj.connection_limit == commands_serve.CONNECTION_LIMIT > 100
        assert srv.adj.cleanup_interval <= srv.adj.channel_timeout
    finally:
        srv.close()


def test_request_headers_are_bounded(server: tuple[str, Any]) -> None:
    """A request line and headers past 64 KiB are refused with 431, not read on and on."""
    _base, srv = server
    sock = socket.create_connection(("127.0.0.1", srv.effective_port), timeout=30)
    try:
        sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        assert sock.recv(100).split(b"\r\n")[0].endswith(b"431 Request Header Fields Too Large")
    finally:
        sock.close()


def test_docs_state_the_server_limits() -> None:
    """docs/limits.md gives the numbers serve runs with."""
    from newsdesk.cli import serve as commands_serve
    from newsdesk.web.forms import MAX_URL_QUERY

    text = " ".join((Path(__file__).parent.parent / "docs" / "limits.md").read_text().split())
    assert f"within {commands_serve.CHANNEL_TIMEOUT} seconds" in text
    assert f"Up to {commands_serve.CONNECTION_LIMIT} connections" in text
    assert f"at most {commands_serve.MAX_REQUEST_HEADER // 1024} KiB" in text
    assert f"query string at most {MAX_URL_QUERY} characters" in text


def test_the_server_answers_when_its_descriptors_are_numbered_past_1023(busy_home: Path) -> None:
    """select() cannot watch a descriptor numbered 1024 or more; the server polls, so it still answers."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine allows only {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # the server's sockets come after these
    srv = make_server(create_app(Home(busy_home), "UTC"), "127.0.0.1", 0, threads=2)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        status, body = _get(f"http://127.0.0.1:{srv.effective_port}/api/search?q=korea")
        assert status == 200 and body["total"] > 0
    finally:
        srv.close()
        thread.join(10)
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
