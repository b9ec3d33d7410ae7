"""Test helpers: fixture files, a loopback site that serves them, JSON expectations."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

#: Fields that depend on when a test runs, not on the page (the capture names the run's WARC record).
VOLATILE = ("fetched_at", "capture", "capture_warc")


def postgres_reason(url: str) -> str:
    """Why tests cannot use the PostgreSQL server at ``url`` (NEWSDESK_TEST_PG), or "" if they can."""
    if not url:
        return "no PostgreSQL: run `eval \"$(.ci/services.sh start /tmp/newsdesk-services)\"` first"
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 (any failure means: skip, with the reason)
        return f"PostgreSQL not reachable: {exc}"
    return ""


def get_fixture(*parts: str) -> bytes:
    """The bytes of ``fixtures/<parts…>``."""
    return FIXTURES.joinpath(*parts).read_bytes()


def load_expected(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def archived_records(home: Path) -> list[dict[str, Any]]:
    """Every record in a home's archive files, in run order."""
    records = []
    for path in sorted(home.glob("archive/*/*/*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            records += [json.loads(line) for line in fh]
    return records


def stable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the fields that change from run to run."""
    return {k: v for k, v in record.items() if k not in VOLATILE}


class _QuietServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a killed client hangs up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


#: What a loopback site answers: (status, headers, body); body is bytes or a callable yielding chunks.
Answer = tuple[int, dict[str, str], Any]


class LoopbackSite:
    """An HTTP server on 127.0.0.1 (a free port) in a thread; subclasses say what each GET answers."""

    protocol_version = "HTTP/1.1"  # keep-alive; "HTTP/1.0" makes every request a new connection

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = site.protocol_version

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, headers, body = site.answer(self.path, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.end_headers()  # a generator: streamed until the client hangs up
                try:
                    for chunk in body():
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, headers: Any) -> Answer:
        """(status, headers, body) for a GET of ``path`` with request ``headers``."""
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LoopbackSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path


NOT_FOUND: Answer = (404, {"Content-Type": "text/plain"}, b"not found")


class FixtureSite(LoopbackSite):
    """Serves a fixture folder on 127.0.0.1 through its ``pages.json`` map (path → file)."""

    protocol_version = "HTTP/1.0"  # a connection per page, like http.server's default

    def __init__(self, folder: Path, pages: dict[str, str] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.pages = pages if pages is not None else {
            k: v for k, v in json.loads((folder / "pages.json").read_text()).items() if not k.startswith("_")
        }
        self.requests: list[str] = []
        self.overrides: dict[str, bytes] = {}

    def answer(self, path: str, headers: Any) -> Answer:
        self.requests.append(path)
        body = self.body_for(path)
        if body is None:
            return NOT_FOUND
        kind = "application/xml" if body.lstrip()[:5] in (b"<?xml", b"<rss ", b"<feed") else "text/html"
        return 200, {"Content-Type": f"{kind}; charset=utf-8"}, body

    def body_for(self, path: str) -> bytes | None:
        path = path.split("?", 1)[0]
        if path in self.overrides:
            return self.overrides[path]
        name = self.pages.get(path)
        return (self.folder / name).read_bytes() if name else None

    def fetched(self, path: str) -> int:
        return sum(1 for p in self.requests if p.split("?", 1)[0] == path)


@contextmanager
def serve(folder: Path, pages: dict[str, str] | None = None) -> Iterator[FixtureSite]:
    with FixtureSite(folder, pages) as site:
        yield site  # type: ignore[misc]


def only_source(source_id: str, **keys: str) -> str:
    """A user sources.toml that changes ``keys`` of one shipped source and disables all the others."""
    from scraper.sources import load_sources

    lines = [f"[sources.{source_id}]"] + [f'{k} = "{v}"' if k != "urls" else f'urls = ["{v}"]' for k, v in keys.items()]
    for other in load_sources():
        if other != source_id:
            lines += ["", f"[sources.{other}]", "enabled = false"]
    return "\n".join(lines) + "\n"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")
