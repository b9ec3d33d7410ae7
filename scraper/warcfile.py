"""A run's capture as a WARC 1.1 file: written record by record during a crawl, read back for replay and display.

One file per run, ``<home>/archive/warc/YYYY/MM/<run-id>.warc.gz``: a
``warcinfo`` record (run id, source, spider, start URLs), then for every
fetched response a ``request`` record and its ``response`` record (HTTP
headers and body exactly as served: still content-encoded, as the download
handler got them).  Each record is its own gzip member, so standard tools
(warcio ``check``/``index``, pywb, replayweb.page) read the file.

The crash-safety order: a request/response pair is serialized in memory and
appended with a single ``write(2)`` on an ``O_APPEND`` descriptor before the
response reaches the spider, so a record's capture is in the file before the
record can be (a process killed at any moment leaves whole members only); on
close the file and its folder are fsynced, before the outbox file is
(:mod:`scraper.pipelines.outbox`).

This module imports nothing from Scrapy: the web app and ``reextract`` read
captures with it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from newsdesk.core.runid import run_time
from scraper.fixtures import Page, canonical

logger = logging.getLogger(__name__)

WARC_VERSION = "1.1"
SOFTWARE = "newsdesk/0.1 (warcio)"
SUFFIX = ".warc.gz"
#: zlib level of each record's gzip member: warcio's own 9 (or the usual 6) costs the crawl twice the
#: compression time for a few per cent less disk (measured in benchmarks/README.md, "Capture").
GZIP_LEVEL = 3
#: Response headers that describe the transfer, not the body: a replayed body is already whole.
TRANSFER_HEADERS = ("transfer-encoding",)


def warc_root(home: Home) -> Path:
    """Where a home keeps its captures."""
    return home.archive / "warc"


def warc_name(run_id: str) -> str:
    """A run's WARC file relative to :func:`warc_root`: ``YYYY/MM/<run-id>.warc.gz``."""
    moment = run_time(run_id) or datetime.now(timezone.utc)
    return f"{moment:%Y/%m}/{run_id}{SUFFIX}"


def warc_files(home: Home) -> list[Path]:
    """Every capture file of a home, oldest run first."""
    root = warc_root(home)
    if not root.is_dir():
        return []
    return sorted(root.glob(f"*/*/*{SUFFIX}"), key=lambda p: p.name)


def run_id_of(path: Path) -> str:
    """The run id a capture file is named after."""
    return path.name[: -len(SUFFIX)]


class WarcWriter:
    """Append request/response pairs to one run's WARC file (see the module docstring for the order)."""

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.records = 0
        self.bytes = 0
        self._append(self._build().create_warcinfo_record(path.name, _info_fields(info)))

    @staticmethod
    def _build() -> WARCWriter:
        return WARCWriter(io.BytesIO(), gzip=False, warc_version=WARC_VERSION)

    def write(self, url: str, method: str, request_headers: list[tuple[str, str]], request_body: bytes,
              status: int, protocol: str, response_headers: list[tuple[str, str]], body: bytes) -> str:
        """Capture one exchange; the response record's ``WARC-Record-ID``."""
        builder = self._build()
        target = url.split("#", 1)[0]
        response = builder.create_warc_record(
            target, "response", payload=io.BytesIO(body), length=len(body),
            http_headers=StatusAndHeaders(f"{status} {_reason(status)}", response_headers, protocol=protocol),
        )
        path = target.split("://", 1)[-1].partition("/")[2]
        request = builder.create_warc_record(
            target, "request", payload=io.BytesIO(request_body), length=len(request_body),
            http_headers=StatusAndHeaders(f"{method} /{path}", request_headers, protocol=protocol,
                                          is_http_request=True),
        )
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        request.rec_headers.replace_header("WARC-Date", response.rec_headers.get_header("WARC-Date"))
        request.rec_headers.add_header("WARC-Concurrent-To", record_id)
        self._append(response, request)
        return str(record_id)

    def _append(self, *records: Any) -> None:
        members = b"".join(_member(r) for r in records)
        if self.fd is None:
            raise ValueError(f"{self.path} is closed")
        os.write(self.fd, members)
        self.records += len(records)
        self.bytes += len(members)

    def close(self) -> None:
        """fsync the file and its folder, then close it (idempotent)."""
        if self.fd is None:
            return
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _member(record: Any) -> bytes:
    """One record as its own gzip member."""
    plain = io.BytesIO()
    WARCWriter(plain, gzip=False, warc_version=WARC_VERSION).write_record(record)
    data = plain.getvalue()
    # Window and hash table sized to the record (zlib's defaults for one of 32 kB or more): setting up
    # the default ones took longer than compressing a small record.
    window = max(9, min(zlib.MAX_WBITS, len(data).bit_length()))
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, window + 16, max(1, window - 7))
    return packer.compress(data) + packer.flush()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _info_fields(info: dict[str, Any]) -> dict[str, str]:
    fields = {"software": SOFTWARE, "format": f"WARC File Format {WARC_VERSION}"}
    fields.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()})
    return fields


# --- reading -----------------------------------------------------------------------------

@dataclass
class WarcPage(Page):
    """A captured response as a replayable page: where in the WARC its record starts, and its id."""

    offset: int = 0
    record_id: str = ""


@dataclass
class Capture:
    """One captured response read back: what a person or a replay needs of it."""

    record_id: str
    url: str
    fetched_at: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as served (content-encoding kept)
    content: bytes  # the body decoded (chunking and content-encoding undone)
    offset: int = 0  # where its record starts in the WARC file (``warcio extract FILE OFFSET``)
    warc: Path | None = None  # the WARC file

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")


@dataclass
class WarcRun:
    """The pages of one run's WARC, served to a replay like a fixture folder (:class:`scraper.fixtures.Fixture`)."""

    path: Path
    run_id: str
    source: str
    spider: str
    starts: list[str]
    pages: list[WarcPage] = field(default_factory=list)
    complete: bool = True  # False: the file ends inside a record (a killed crawl)

    @classmethod
    def open(cls, path: Path) -> WarcRun:
        """Read a capture's warcinfo and the place of every response (bodies stay on disk)."""
        run = cls(path=path, run_id=run_id_of(path), source="", spider="", starts=[])
        with open(path, "rb") as stream:
            for offset, record in _records(stream, run):
                if record.rec_type == "warcinfo":
                    info = _parse_info(record.raw_stream.read())
                    run.source, run.spider = info.get("source", ""), info.get("spider", "")
                    run.starts = json.loads(info.get("starts", "[]"))
                elif record.rec_type == "response" and record.http_headers is not None:  # None: torn
                    headers = [(k, v) for k, v in record.http_headers.headers if k.lower() not in TRANSFER_HEADERS]
                    grouped: dict[str, list[str]] = {}
                    for name, value in headers:
                        grouped.setdefault(name, []).append(value)
                    run.pages.append(WarcPage(
                        url=record.rec_headers.get_header("WARC-Target-URI"),
                        status=int(record.http_headers.get_statuscode() or 0),
                        fetched_at=record.rec_headers.get_header("WARC-Date"),
                        headers={k: v[0] if len(v) == 1 else v for k, v in grouped.items()},
                        offset=offset, record_id=record.rec_headers.get_header("WARC-Record-ID")))
        return run

    @property
    def index_path(self) -> Path:
        """Where the replayed pages are listed (named in errors, like a fixture's index.json)."""
        return self.path

    def lookup(self) -> dict[tuple[str, str], Page]:
        """(method, URL) and (method, canonical URL) → page; the last capture of a URL wins (a retry's answer)."""
        table: dict[tuple[str, str], Page] = {(p.method, canonical(p.url)): p for p in self.pages}
        table.update({(p.method, p.url): p for p in self.pages})
        return table

    def fetched_at(self, url: str) -> str | None:
        """When a start page was fetched: the moment its replay's clock is frozen at."""
        return next((p.fetched_at for p in self.pages if p.url == url), None)

    def body(self, page: Page) -> bytes:
        """A page's body as served."""
        assert isinstance(page, WarcPage)
        capture = read_capture(self.path, page.offset)
        return capture.body if capture else b""

    def replay_settings(self) -> dict[str, str]:
        """The crawl settings that replay this capture."""
        return {"NEWSDESK_REPLAY_WARC": str(self.path.absolute())}


def _records(stream: BinaryIO, run: WarcRun | None = None) -> Iterator[tuple[int, Any]]:
    """(offset, record) of every whole record; a truncated tail ends the iteration (logged).

    warcio reads a record the file ends inside of without complaint, its
    block just shorter than its Content-Length: once the caller is done with
    a record, the rest of it is read, and a short one is the torn tail (of a
    crawl killed in mid-write): it ends the iteration, and a page
    :meth:`WarcRun.open` took from it is taken back.
    """
    records = ArchiveIterator(stream, check_digests=False)
    torn = -1  # where the torn record starts
    try:
        for record in records:
            # Where the record starts (``get_record_offset()`` would read the record to its end first).
            offset = records.offset
            yield offset, record
            records.read_to_end()
            missing = getattr(record.raw_stream, "limit", None)
            if missing != 0 or not (record.rec_headers.get_header("Content-Length") or "").isdigit():
                torn = offset
                raise EOFError(f"the record at byte {offset} is cut short"
                               + (f" by {missing} of its {record.length} bytes" if missing else ""))
        if run is not None and records.offset < os.fstat(stream.fileno()).st_size:
            # The start of a gzip member too short to give a byte, or the end of one whose record is whole.
            raise EOFError(f"bytes after the last whole record, from byte {records.offset}")
    # warcio raises AttributeError on a file that ends inside a record's WARC headers.
    except (ArchiveLoadFailed, EOFError, zlib.error, ValueError, AttributeError) as exc:
        logger.warning("%s ends inside a record (%s): read up to its last whole record",
                       getattr(stream, "name", "capture"), exc)
        if run is not None:
            run.complete = False
            if torn >= 0:
                run.pages = [p for p in run.pages if p.offset < torn]


def _parse_info(text: bytes) -> dict[str, str]:
    fields = {}
    for line in text.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def read_capture(path: Path, offset: int) -> Capture | None:
    """The response record starting at ``offset`` of a WARC file (None if there is none)."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        for _, record in _records(stream):
            if record.rec_type != "response":
                return None
            body = record.raw_stream.read()
            if getattr(record.raw_stream, "limit", None) != 0:
                logger.warning("%s: the response at byte %d is cut short (a torn tail)", path, offset)
                return None
            # A second reader for the decoded content (warcio decodes chunking and gzip/deflate/br).
            stream.seek(offset)
            decoded = next(iter(ArchiveIterator(stream, check_digests=False)))
            return Capture(record_id=record.rec_headers.get_header("WARC-Record-ID"),
                           url=record.rec_headers.get_header("WARC-Target-URI"),
                           fetched_at=record.rec_headers.get_header("WARC-Date"),
                           status=int(record.http_headers.get_statuscode() or 0),
                           headers=list(record.http_headers.headers), body=body,
                           content=decoded.content_stream().read(), offset=offset, warc=path)
    return None


def find_capture(path: Path, record_id: str) -> Capture | None:
    """The response record with this ``WARC-Record-ID`` in a WARC file (None if absent)."""
    with open(path, "rb") as stream:
        for offset, record in _records(stream):
            if record.rec_type == "response" and record.rec_headers.get_header("WARC-Record-ID") == record_id:
                return read_capture(path, offset)
    return None


class CaptureMissing(NewsdeskError):
    """A record has no captured page, or its capture is no longer on disk."""


def record_capture(home: Home, record: dict[str, Any]) -> Capture:
    """The captured response a record was read from; CaptureMissing saying why there is none."""
    record_id, name = record.get("capture"), record.get("capture_warc")
    if not record_id or not name:
        raise CaptureMissing(f"{record.get('key')} has no captured page",
                             "it was crawled before capture existed, or its source has capture = false")
    root = warc_root(home).resolve()
    path = (root / str(name)).resolve()
    if not path.is_relative_to(root) or not path.name.endswith(SUFFIX):
        raise CaptureMissing(f"{record.get('key')}: capture file {name!r} is not under {root}")
    if not path.is_file():
        raise CaptureMissing(f"{record.get('key')}: its capture {name} is no longer kept",
                             "see [capture] keep_days and max_gb in config.toml")
    found = find_capture(path, str(record_id))
    if found is None:
        raise CaptureMissing(f"{record.get('key')}: {name} holds no record {record_id}")
    return found
