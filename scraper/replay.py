"""Record a crawl's responses, and replay them to Scrapy itself: the engine of ``record`` / ``check``.

One add-on, :class:`FixturesAddon` (``ADDONS``), switches the parts on from
``NEWSDESK_*`` settings, so a plain ``scrapy crawl`` can record or replay too::

    NEWSDESK_RECORD_DIR=<dir>    RecordMiddleware saves every response as downloaded
    NEWSDESK_REPLAY_DIR=<dir>    ReplayDownloadHandler answers http(s) from a fixture folder
    NEWSDESK_REPLAY_WARC=<file>  … or from a run's WARC capture (``newsdesk reextract``)
    NEWSDESK_FROZEN_AT=<iso>     FrozenClock: ``now`` stands still at the recorded fetch time
    NEWSDESK_FOLLOW_LIMIT=<n>    FollowLimitMiddleware: follow at most n links per page

Replay is a *download handler*: it sits where the HTTP client sits, below
every downloader middleware, so robots.txt, retries, redirects (a recorded 301
is served as a 301), HTTP-error filtering, stats and the response-class and
encoding detection all run exactly as in a live crawl, while URLs stay the
real ones (a loopback server would change every URL and key).  No socket is
ever opened.  Recording is the matching downloader middleware at the
downloader's edge (950), so it sees responses before redirect, retry and
decompression handle them.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.settings import BaseSettings

from scraper.capture import CAPTURE_META
from scraper.fixtures import KEPT_HEADERS, Fixture, canonical, load_fixture
from scraper.warcfile import WarcPage, WarcRun, warc_name

logger = logging.getLogger(__name__)

RECORD_PRIORITY = 950  # next to the downloader: raw responses, before redirect/retry/decompression
LIMIT_PRIORITY = 900
REPLAYED_SCHEMES = ("http", "https", "ftp", "s3")


class FixturesAddon:
    """Turns recording, replay, the frozen clock and the follow limit on from their settings."""

    def update_settings(self, settings: BaseSettings) -> None:
        if settings.get("NEWSDESK_RECORD_DIR"):
            settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RecordMiddleware, RECORD_PRIORITY)
        if settings.get("NEWSDESK_FOLLOW_LIMIT"):
            settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", FollowLimitMiddleware, LIMIT_PRIORITY)
        if settings.get("NEWSDESK_FROZEN_AT"):
            settings.set_in_component_priority_dict("EXTENSIONS", FrozenClock, 0)
        if settings.get("NEWSDESK_REPLAY_DIR") or settings.get("NEWSDESK_REPLAY_WARC"):
            handlers = settings.getdict("DOWNLOAD_HANDLERS")
            handlers.update({scheme: f"{__name__}.ReplayDownloadHandler" for scheme in REPLAYED_SCHEMES})
            settings.set("DOWNLOAD_HANDLERS", handlers, priority="cmdline")
            # Nothing leaves the process, so the loopback guard and the address guard have
            # nothing to guard (the latter would resolve every host: a DNS lookup, slow or
            # failing offline), and politeness delays would only slow the replay (and need
            # a running clock).  A replay fetches nothing new, so it captures nothing.
            for name, value in (("NEWSDESK_OFFLINE", False), ("NEWSDESK_ALLOW_PRIVATE", True), ("DOWNLOAD_DELAY", 0),
                                ("AUTOTHROTTLE_ENABLED", False), ("NEWSDESK_CAPTURE", False)):
                settings.set(name, value, priority="cmdline")


# --- recording -------------------------------------------------------------------------

class RecordMiddleware:
    """Append every downloaded response to ``<NEWSDESK_RECORD_DIR>/responses.jsonl`` (+ its body)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.bodies = directory / "bodies"
        self.bodies.mkdir(parents=True, exist_ok=True)
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordMiddleware:
        directory = crawler.settings.get("NEWSDESK_RECORD_DIR")
        if not directory:
            raise NotConfigured
        return cls(Path(directory))

    def process_response(self, request: Request, response: Response) -> Response:
        self.count += 1
        headers = {k.decode("latin-1"): [v.decode("latin-1") for v in vs] for k, vs in response.headers.items()}
        body, decoded = _decode(response.body, response.headers.getlist("Content-Encoding"))
        kept: dict[str, str | list[str]] = {}
        for name in KEPT_HEADERS:
            values = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
            if values and not (decoded and name == "Content-Encoding"):
                kept[name] = values[0] if len(values) == 1 else values
        content_type = response.headers.get("Content-Type")
        name = f"{self.count:05d}"
        (self.bodies / name).write_bytes(body)
        line = {
            "url": request.url, "method": request.method, "status": response.status,
            "content_type": content_type.decode("latin-1") if content_type else None,
            "headers": kept, "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "body": f"bodies/{name}" if body else None,
        }
        with open(self.directory / "responses.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return response


def _decode(body: bytes, encodings: list[bytes]) -> tuple[bytes, bool]:
    """The body without its content-encoding (gzip, deflate, br, zstd); as served if that fails."""
    data = body
    try:
        for encoding in reversed([e.strip().lower() for raw in encodings for e in raw.split(b",")]):
            if encoding in (b"gzip", b"x-gzip"):
                data = gzip.decompress(data)
            elif encoding == b"deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif encoding == b"br":
                import brotli

                data = brotli.decompress(data)
            elif encoding == b"zstd":
                try:
                    from compression import zstd  # type: ignore[import-not-found]
                except ImportError:
                    from backports import zstd  # type: ignore[no-redef]
                data = zstd.decompress(data)
            elif encoding != b"identity":
                return body, False
    except Exception as exc:  # noqa: BLE001 (any codec's error: keep the bytes as served)
        logger.warning("record: cannot decode %s body (%s); saved as served", encodings, exc)
        return body, False
    return data, bool(encodings)


# --- replay ----------------------------------------------------------------------------

class ReplayDownloadHandler(BaseDownloadHandler):
    """Answer every request from a fixture folder or a WARC capture; a URL not recorded gets an empty 404.

    A page served from a WARC carries its capture's id in the request's meta
    (``CAPTURE_META``), so the records re-derived from it link to it.
    """

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        directory = crawler.settings.get("NEWSDESK_REPLAY_DIR")
        warc = crawler.settings.get("NEWSDESK_REPLAY_WARC")
        if not directory and not warc:
            raise NotConfigured("neither NEWSDESK_REPLAY_DIR nor NEWSDESK_REPLAY_WARC is set")
        self.fixture: Fixture | WarcRun = load_fixture(Path(directory)) if directory else WarcRun.open(Path(warc))
        self.pages = self.fixture.lookup()
        self.served: list[str] = []
        self.unrecorded: list[str] = []

    async def download_request(self, request: Request) -> Response:
        page = self.pages.get((request.method, request.url)) or self.pages.get((request.method, canonical(request.url)))
        if page is None and urlsplit(request.url).path == "/robots.txt":
            # No robots.txt was saved (or the site had none): everything is allowed, as it was.
            return Response(url=request.url, status=404, request=request, flags=["replay"])
        if page is None:
            self.unrecorded.append(request.url)
            self._stats()
            logger.warning("replay: no recorded response for %s %s; answering 404", request.method, request.url)
            return Response(url=request.url, status=404, request=request, flags=["replay", "unrecorded"])
        self.served.append(page.url)
        self._stats()
        if isinstance(page, WarcPage):
            assert isinstance(self.fixture, WarcRun)
            request.meta[CAPTURE_META] = (page.record_id, warc_name(self.fixture.run_id))
        headers = Headers()
        for name, value in page.headers.items():
            headers.setlist(name, value if isinstance(value, list) else [value])
        if page.content_type:
            headers["Content-Type"] = page.content_type
        body = self.fixture.body(page)
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return respcls(url=request.url, status=page.status, headers=headers, body=body, request=request,
                       flags=["replay"])

    def _stats(self) -> None:
        """Keep what was served in the stats (as it goes: the run report is written on close)."""
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("newsdesk/replay/served", len(self.served))
        stats.set_value("newsdesk/replay/served_urls", sorted(set(self.served)))
        stats.set_value("newsdesk/replay/unrecorded", len(self.unrecorded))
        stats.set_value("newsdesk/replay/unrecorded_urls", sorted(set(self.unrecorded)))


class FrozenClock:
    """Stop the clock at ``NEWSDESK_FROZEN_AT`` for the whole crawl (time-machine)."""

    def __init__(self, crawler: Crawler, at: datetime) -> None:
        import time_machine

        self.traveller = time_machine.travel(at, tick=False)
        self.traveller.start()
        self.reactor = _installed_reactor()
        if self.reactor is not None:
            # Twisted schedules delayed calls on time.time(): it keeps the real clock,
            # or a callLater(…) would wait forever while "now" stands still.
            self.reactor.seconds = time_machine.escape_hatch.time.time
        logger.info("clock frozen at %s", at.isoformat())
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrozenClock:
        text = crawler.settings.get("NEWSDESK_FROZEN_AT")
        if not text:
            raise NotConfigured
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        return cls(crawler, at)

    def engine_stopped(self) -> None:
        self.traveller.stop()
        if self.reactor is not None:
            vars(self.reactor).pop("seconds", None)


def _installed_reactor() -> Any:
    """The Twisted reactor if one is installed (Scrapy may run without one)."""
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        return None
    from twisted.internet import reactor

    return reactor


class FollowLimitMiddleware:
    """Let through at most ``NEWSDESK_FOLLOW_LIMIT`` requests from each response, in the order yielded.

    Counted per response, so the same pages are followed on every run whatever
    the download order; items pass untouched.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FollowLimitMiddleware:
        limit = crawler.settings.getint("NEWSDESK_FOLLOW_LIMIT")
        if limit < 1:
            raise NotConfigured
        return cls(limit)

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        followed = 0
        async for output in result:
            if isinstance(output, Request):
                followed += 1
                if followed > self.limit:
                    continue
            yield output
