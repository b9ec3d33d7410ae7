"""Capture every response of a crawl in the run's WARC file, and link each record to the response it came from.

* :class:`CaptureMiddleware` (a downloader middleware next to the downloader,
  so it sees responses as served: before redirect, retry and decompression)
  writes a request/response pair for every response except robots.txt, and
  notes the response record's ``WARC-Record-ID`` in the request's meta.
* :class:`CaptureLinkMiddleware` (a spider middleware) copies that id, and the
  WARC file's name, into every :class:`~newsdesk.core.record.NewsItem` the response's
  callback yields (``capture``, ``capture_warc``), and into a record handed
  on to the next page in a request's ``cb_kwargs["item"]``.  A replay of a WARC
  (:mod:`scraper.replay`) puts the original capture's id in the meta, so
  re-derived records keep their link.
* :class:`RunCapture` is the crawl's one writer; the outbox pipeline closes it
  (fsync) before it closes its own file.

On unless ``NEWSDESK_CAPTURE`` is off (a replay turns it off) or the source
says ``capture = false``.  The file format and the write order:
:mod:`scraper.warcfile`.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from newsdesk.core.runid import new_run_id
from newsdesk.core.record import NewsItem
from scraper.settings import home_of
from scraper.warcfile import WarcWriter, warc_name, warc_root

logger = logging.getLogger(__name__)

#: request.meta key: (WARC-Record-ID, WARC file relative to <home>/archive/warc/) of the response.
CAPTURE_META = "newsdesk_capture"
CAPTURE_PRIORITY = 960  # outside RecordMiddleware (950): both see the response as served
LINK_PRIORITY = 960

_CAPTURES: weakref.WeakKeyDictionary[Crawler, RunCapture] = weakref.WeakKeyDictionary()


class RunCapture:
    """The WARC writer of one crawl, opened at its first response."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.writer: WarcWriter | None = None
        self.name = ""
        self.off = False
        self.cpu = 0.0  # seconds this process spent capturing (the run report's newsdesk/capture/cpu_seconds)

    @classmethod
    def of(cls, crawler: Crawler) -> RunCapture:
        """The crawler's capture, made on first use (asked for twice a crawl: by the middleware and the outbox)."""
        return _CAPTURES.setdefault(crawler, cls(crawler))

    def open(self) -> WarcWriter | None:
        """The writer (None when this crawl's source does not capture)."""
        if self.writer is not None or self.off:
            return self.writer
        spider = self.crawler.spider
        source = getattr(spider, "source", None)
        if source is not None and not getattr(source, "capture", True):
            self.off = True
            logger.info("capture: off for source %s", source.id)
            return None
        assert self.crawler.stats is not None
        # The outbox pipeline names the run when the spider opens, before any response arrives.
        run_id = (self.crawler.stats.get_value("newsdesk/run_id") or self.crawler.settings.get("NEWSDESK_RUN_ID")
                  or new_run_id(getattr(source, "id", "run")))
        home = home_of(self.crawler.settings)
        self.name = warc_name(run_id)
        info = {"run-id": run_id, "source": getattr(source, "id", ""), "spider": getattr(spider, "name", ""),
                "starts": list(getattr(spider, "start_urls", []))}
        self.writer = WarcWriter(warc_root(home) / self.name, info)
        self.crawler.stats.set_value("newsdesk/capture/warc", self.name)
        return self.writer

    def close(self) -> None:
        """Make the capture durable (before the outbox file is); idempotent."""
        if self.writer is None or self.writer.fd is None:
            return
        self.writer.close()
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("newsdesk/capture/records", self.writer.records)
        stats.set_value("newsdesk/capture/bytes", self.writer.bytes)
        stats.set_value("newsdesk/capture/cpu_seconds", round(self.cpu, 3))
        logger.info("capture: %d WARC records, %d bytes in %s", self.writer.records, self.writer.bytes, self.name)


class CaptureMiddleware:
    """Write each downloaded response, with its request, to the run's WARC file."""

    def __init__(self, crawler: Crawler) -> None:
        self.capture = RunCapture.of(crawler)
        crawler.signals.connect(self.capture.close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        if not crawler.settings.getbool("NEWSDESK_CAPTURE", True):
            raise NotConfigured("NEWSDESK_CAPTURE is off")
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if urlsplit(response.url).path == "/robots.txt":
            return response
        started = time.process_time()
        writer = self.capture.open()
        if writer is None:
            return response
        record_id = writer.write(
            url=response.url, method=request.method,
            request_headers=_header_list(request.headers, host=urlsplit(request.url).netloc),
            request_body=request.body, status=response.status, protocol=response.protocol or "HTTP/1.1",
            response_headers=_header_list(response.headers), body=response.body,
        )
        request.meta[CAPTURE_META] = (record_id, self.capture.name)
        self.capture.cpu += time.process_time() - started
        return response


def _header_list(headers: Any, host: str | None = None) -> list[tuple[str, str]]:
    """Scrapy headers as (name, value) pairs, latin-1 as on the wire; ``Host`` first when given."""
    pairs = [("Host", host)] if host and b"Host" not in headers else []
    for name, values in headers.items():
        pairs += [(name.decode("latin-1"), v.decode("latin-1")) for v in values]
    return pairs


class CaptureLinkMiddleware:
    """Give every record the capture of the response its callback read."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureLinkMiddleware:
        return cls()

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        capture = _capture_of(response)
        for output in result:
            yield _linked(output, capture)

    async def process_spider_output_async(self, response: Response,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        capture = _capture_of(response)
        async for output in result:
            yield _linked(output, capture)


def _capture_of(response: Any) -> tuple[str, str] | None:
    """The capture of a response records are read from; an error page (an errback's) is not one."""
    if getattr(response, "status", 200) >= 400:
        return None
    request = getattr(response, "request", None)
    meta = getattr(request, "meta", None) if request is not None else None
    return meta.get(CAPTURE_META) if meta else None


def _linked(output: Any, capture: tuple[str, str] | None) -> Any:
    """A record yielded here was read from this response; one riding in a request was, so far, too.

    The second case keeps the list page's capture on a listed record whose
    article page then fails (the errback yields it as listed).
    """
    if capture is None:
        return output
    if isinstance(output, NewsItem):
        output.capture, output.capture_warc = capture
    elif isinstance(output, Request):
        item = output.cb_kwargs.get("item")
        if isinstance(item, NewsItem) and not item.capture:
            item.capture, item.capture_warc = capture
    return output
