"""Test helpers: fixture files, a loopback site that serves them, JSON expectations."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

#: Fields that depend on when a test runs, not on the page.
VOLATILE = ("fetched_at",)


def get_fixture(*parts: str) -> bytes:
    """The bytes of ``fixtures/<parts…>``."""
    return FIXTURES.joinpath(*parts).read_bytes()


def load_expected(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def stable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the fields that change from run to run."""
    return {k: v for k, v in record.items() if k not in VOLATILE}


class FixtureSite:
    """Serves a fixture folder on 127.0.0.1 through its ``pages.json`` map (path → file)."""

    def __init__(self, folder: Path, pages: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.pages = pages if pages is not None else {
            k: v for k, v in json.loads((folder / "pages.json").read_text()).items() if not k.startswith("_")
        }
        self.requests: list[str] = []
        self.overrides: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                site.requests.append(self.path)
                body = site.body_for(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                kind = "application/xml" if body.lstrip()[:5] in (b"<?xml", b"<rss ", b"<feed") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def body_for(self, path: str) -> bytes | None:
        path = path.split("?", 1)[0]
        if path in self.overrides:
            return self.overrides[path]
        name = self.pages.get(path)
        return (self.folder / name).read_bytes() if name else None

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def fetched(self, path: str) -> int:
        return sum(1 for p in self.requests if p.split("?", 1)[0] == path)


@contextmanager
def serve(folder: Path, pages: dict[str, str] | None = None) -> Iterator[FixtureSite]:
    site = FixtureSite(folder, pages)
    site.thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


def only_source(source_id: str, **keys: str) -> str:
    """A user sources.toml that changes ``keys`` of one shipped source and disables all the others."""
    from scraper.sources import load_sources

    lines = [f"[sources.{source_id}]"] + [f'{k} = "{v}"' if k != "urls" else f'urls = ["{v}"]' for k, v in keys.items()]
    for other in load_sources():
        if other != source_id:
            lines += ["", f"[sources.{other}]", "enabled = false"]
    return "\n".join(lines) + "\n"
