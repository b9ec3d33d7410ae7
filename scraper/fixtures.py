"""The recorded-fixture format: saved responses plus the records expected from them.

A fixture folder (``fixtures/<name>/``) holds plain files a person can open,
edit and diff in git; nothing is pickled::

    index.json      what was fetched: the start URLs, and one line per response
                    (URL, status, the headers that matter, content type, fetch time,
                    and the file its body is in)
    pages/<host>/<path>.html|xml|json|txt   each body as served (content-encoding
                    removed, the site's charset kept, so decoding is exercised on replay)
    expected.json   the normalized records the spider yields from those pages,
                    sorted by key, without ``fetched_at`` (the one volatile field)

This module only reads and writes that format; it imports nothing from Scrapy,
so the replay download handler (``scraper.replay``) and the ``newsdesk record``
/ ``check`` commands share it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url

from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

FORMAT = "newsdesk-fixtures/1"
INDEX = "index.json"
EXPECTED = "expected.json"
PAGES = "pages"

#: Record fields that depend on when a run happens, not on the pages: never compared.
VOLATILE = ("fetched_at", "capture", "capture_warc")

#: Response headers worth keeping (besides Content-Type, kept in its own field):
#: they change what Scrapy or a spider does with the response.
KEPT_HEADERS = (
    "Location", "Content-Language", "Content-Disposition", "Last-Modified", "ETag",
    "Link", "Refresh", "Retry-After", "X-Robots-Tag", "Content-Encoding",
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FixtureError(NewsdeskError):
    """A fixture folder is missing, unreadable or inconsistent: a usage error (exit 2)."""

    exit_code = 2


@dataclass
class Page:
    """One saved response."""

    url: str
    status: int
    fetched_at: str  # ISO 8601, UTC
    file: str | None = None  # relative to the fixture folder; None for an empty body
    content_type: str | None = None
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    method: str = "GET"

    def to_dict(self) -> dict[str, Any]:
        """The index line for this page (GET and empty headers left out)."""
        data: dict[str, Any] = {"url": self.url}
        if self.method != "GET":
            data["method"] = self.method
        data.update(status=self.status, file=self.file, content_type=self.content_type)
        if self.headers:
            data["headers"] = self.headers
        data["fetched_at"] = self.fetched_at
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Page:
        """A page from its index line; FixtureError naming the line's problem."""
        try:
            page = cls(url=str(data["url"]), status=int(data["status"]), fetched_at=str(data["fetched_at"]),
                       file=data.get("file"), content_type=data.get("content_type"),
                       headers=dict(data.get("headers") or {}), method=str(data.get("method", "GET")).upper())
        except (KeyError, TypeError, ValueError) as exc:
            raise FixtureError(f"{where}: a page needs url, status and fetched_at ({exc})") from None
        if page.file is not None and (PurePosixPath(page.file).is_absolute() or ".." in PurePosixPath(page.file).parts):
            raise FixtureError(f"{where}: page file {page.file!r} must stay inside the fixture folder")
        return page


@dataclass
class Fixture:
    """A fixture folder: its index, read or about to be written."""

    directory: Path
    source: str
    spider: str = ""
    starts: list[str] = field(default_factory=list)
    limit: int | None = None
    pages: list[Page] = field(default_factory=list)

    @property
    def index_path(self) -> Path:
        return self.directory / INDEX

    @property
    def expected_path(self) -> Path:
        return self.directory / EXPECTED

    def find(self, url: str, method: str = "GET") -> Page | None:
        """The saved response for a request: exact URL first, then its canonical form."""
        method = method.upper()
        for page in self.pages:
            if page.url == url and page.method == method:
                return page
        wanted = canonical(url)
        for page in self.pages:
            if page.method == method and canonical(page.url) == wanted:
                return page
        return None

    def lookup(self) -> dict[tuple[str, str], Page]:
        """(method, URL) → page, with canonical URLs as a fallback: for answering many requests fast."""
        table = {(p.method, canonical(p.url)): p for p in reversed(self.pages)}
        table.update({(p.method, p.url): p for p in reversed(self.pages)})
        return table

    def fetched_at(self, url: str) -> str | None:
        """When a start page was fetched: the moment its replay's clock is frozen at."""
        page = self.find(url)
        return page.fetched_at if page else None

    def replay_settings(self) -> dict[str, str]:
        """The crawl settings that replay this fixture."""
        return {"NEWSDESK_REPLAY_DIR": str(self.directory.absolute())}

    def body(self, page: Page) -> bytes:
        """The saved body of a page (empty when it has no file)."""
        if page.file is None:
            return b""
        path = self.directory / page.file
        try:
            return path.read_bytes()
        except OSError as exc:
            raise FixtureError(f"{self.index_path}: cannot read {page.file}: {exc.strerror}") from None

    def to_text(self) -> str:
        """index.json: pretty at the top, one line per page so that git diffs show pages."""
        head = {"format": FORMAT, "source": self.source, "spider": self.spider,
                "starts": self.starts, "limit": self.limit}
        lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
        pages = [f"    {json.dumps(p.to_dict(), ensure_ascii=False)}" for p in self.pages]
        return "{\n" + "\n".join(lines) + '\n  "pages": [\n' + ",\n".join(pages) + "\n  ]\n}\n"

    def save(self) -> None:
        """Write index.json (atomically)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.index_path, self.to_text())


def load_fixture(directory: Path) -> Fixture:
    """Read ``<directory>/index.json``; FixtureError with the file and the problem."""
    path = directory / INDEX
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"{directory} has no {INDEX}",
                           hint="record one with `newsdesk record SOURCE --dir DIR`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FixtureError(f"{path}: not a newsdesk fixture index (expected \"format\": \"{FORMAT}\")")
    source = data.get("source")
    starts = data.get("starts")
    if not isinstance(source, str) or not source:
        raise FixtureError(f"{path}: 'source' must name a source id")
    if not isinstance(starts, list) or not starts or not all(isinstance(s, str) for s in starts):
        raise FixtureError(f"{path}: 'starts' must be a non-empty list of URLs")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise FixtureError(f"{path}: 'limit' must be a positive integer or null")
    pages = [Page.from_dict(p, f"{path}: page {i + 1}") for i, p in enumerate(data.get("pages") or [])]
    absent = next((p.file for p in pages if p.file and not (directory / p.file).is_file()), None)
    if absent:
        raise FixtureError(f"{path}: page file {absent} does not exist")
    return Fixture(directory=directory, source=source, spider=str(data.get("spider", "")),
                   starts=list(starts), limit=limit, pages=pages)


def find_fixtures(root: Path, sources: list[str] | None = None) -> list[Fixture]:
    """Every fixture folder directly under ``root`` (those with an index.json), for ``sources`` if given."""
    if not root.is_dir():
        raise FixtureError(f"fixture folder {root} does not exist", hint="pass --dir, e.g. --dir fixtures/")
    found = [load_fixture(d) for d in sorted(root.iterdir()) if (d / INDEX).is_file()]
    if sources:
        unknown = [s for s in sources if not any(f.source == s for f in found)]
        if unknown:
            have = ", ".join(sorted({f.source for f in found})) or "none"
            raise FixtureError(f"no fixtures for source {unknown[0]!r} in {root} (have: {have})",
                               hint=f"record them with `newsdesk record {unknown[0]} --dir {root}`")
        found = [f for f in found if f.source in sources]
    return found


def load_expected(fixture: Fixture) -> list[dict[str, Any]]:
    """The expected records of a fixture ([] if none were saved yet)."""
    path = fixture.expected_path
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and r.get("key") for r in data):
        raise FixtureError(f"{path}: expected a JSON list of records, each with a 'key'")
    return data


def save_expected(fixture: Fixture, records: list[dict[str, Any]]) -> None:
    """Write expected.json: records sorted by key, volatile fields left out, one field a line."""
    text = json.dumps(sorted((stable(r) for r in records), key=lambda r: r["key"]),
                      indent=2, ensure_ascii=False)
    _write_atomic(fixture.expected_path, text + "\n")


def stable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the fields that change from run to run."""
    return {k: v for k, v in record.items() if k not in VOLATILE}


def page_file(url: str, content_type: str | None, taken: set[str]) -> str:
    """A readable relative path for a saved body: ``pages/<host>/<path>.<ext>``, unique in ``taken``."""
    parts = urlsplit(url)
    host = _safe(parts.hostname or "host") + (f"_{parts.port}" if parts.port else "")
    segments = [_safe(s) for s in parts.path.split("/") if s]
    if not segments or parts.path.endswith("/"):
        segments.append("index")
    name = "/".join(segments)
    if parts.query:
        name += "--" + hashlib.sha1(parts.query.encode()).hexdigest()[:8]
    ext = extension(content_type)
    if not name.lower().endswith("." + ext):
        name += "." + ext
    candidate, n = f"{PAGES}/{host}/{name}", 2
    while candidate in taken:
        stem, dot, suffix = name.rpartition(".")
        candidate, n = f"{PAGES}/{host}/{stem}-{n}{dot}{suffix}", n + 1
    return candidate


def extension(content_type: str | None) -> str:
    """The file extension for a content type: html, xml, json, txt, or what mimetypes knows."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if "html" in mime:
        return "html"
    if "json" in mime:
        return "json"
    if "xml" in mime or mime.endswith(("rss", "atom")):
        return "xml"
    if mime.startswith("text/") or not mime:
        return "txt"
    guessed = mimetypes.guess_extension(mime)
    return guessed.lstrip(".") if guessed else "bin"


def _safe(segment: str) -> str:
    cleaned = _UNSAFE.sub("_", segment)[:120]
    return "_" if set(cleaned) <= {"."} else cleaned


def canonical(url: str) -> str:
    """w3lib's canonical form of a URL (sorted query, no fragment), or the URL if it cannot be parsed."""
    try:
        return canonicalize_url(url)
    except ValueError:
        return url


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
