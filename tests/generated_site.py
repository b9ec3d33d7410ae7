"""A loopback site of N made-up breaking-news items in the JPost page structure.

Used by the crash tests and by ``stress/kill_test.py``: a list page at
``/breaking-news`` links every item's article page
(``/breaking-news/item-<n>``).  Pages are generated, never copied from a
real site.  ``delay`` slows every article response, so a crawl of a few
hundred items lasts long enough to be killed in the middle.  ``extra`` maps
paths to (status, headers, body) for hostile pages.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from tests.helpers import NOT_FOUND, Answer, LoopbackSite

START = datetime(2024, 10, 24, 19, 0)
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def item_title(n: int, revision: int = 0) -> str:
    """The headline of item ``n``; from revision 1 on, every tenth item is corrected."""
    title = f"Generated report number {n} on regional weather and roads"
    if revision and n % 10 == 0:
        title += f" (corrected {revision})"
    return title


def item_time(n: int) -> datetime:
    """Item ``n``'s printed time (Israel clock), one minute apart, newest first."""
    return START - timedelta(minutes=n)


def list_page(count: int, revision: int = 0, article_path: str = "/breaking-news/item-{n}") -> bytes:
    """The list page: ``count`` items in the JPost breaking-news markup."""
    rows = []
    for n in range(count):
        title = html.escape(item_title(n, revision))
        rows.append(
            f'<div class="breaking-news-link-container"><a href="{article_path.format(n=n)}" title="{title}">'
            f'<span class="breaking-news-ticker-date">{title}</span>'
            f'<ul class="breaking-news-reporter-date"><li>By <span class="article-reporter">REUTERS</span></li>'
            f"<li>{item_time(n):%m/%d/%Y %I:%M %p}</li></ul></a></div>"
        )
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Breaking news</title></head><body>"
            + "\n".join(rows) + "</body></html>").encode()


def article_page(n: int, revision: int = 0) -> bytes:
    """Item ``n``'s article page."""
    title = html.escape(item_title(n, revision))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        f'<h1 class="article-title">{title}</h1>'
        '<div class="author">By <span class="article-reporter">REUTERS</span></div>'
        f'<div class="article-subline-name">{item_time(n):%B %d, %Y %H:%M}</div>'
        f'<div class="article-inner-content-breaking-news">Body of generated item {n}.'
        '<div class="fake-br-for-article-body"></div>Roads in the north are wet.</div>'
        "</body></html>"
    ).encode()


class GeneratedSite(LoopbackSite):
    """Serves the generated list and article pages on 127.0.0.1."""

    def __init__(self, count: int, delay: float = 0.0,
                 extra: dict[str, tuple[int, dict[str, str], Any]] | None = None) -> None:
        super().__init__()
        self.count = count
        self.delay = delay
        self.extra = extra or {}
        self.requests: list[str] = []
        self._list = list_page(count)
        self._revision = 0

    def answer(self, path: str, headers: Any) -> Answer:
        self.requests.append(path)
        return self.response(path)

    def response(self, path: str) -> tuple[int, dict[str, str], Any]:
        """(status, headers, body) for a path; body is bytes or a callable yielding chunks."""
        path = path.split("?", 1)[0]
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        if path in self.extra:
            return self.extra[path]
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, ROBOTS
        if path == "/breaking-news":
            return 200, html_type, self._list
        prefix = "/breaking-news/item-"
        if path.startswith(prefix) and path[len(prefix):].isdigit() and int(path[len(prefix):]) < self.count:
            if self.delay:
                time.sleep(self.delay)
            return 200, html_type, article_page(int(path[len(prefix):]), self._revision)
        return NOT_FOUND

    @property
    def revision(self) -> int:
        return self._revision

    @revision.setter
    def revision(self, value: int) -> None:
        """Correct every tenth headline (a new version of those items)."""
        self._revision = value
        self._list = list_page(self.count, value)

    def key(self, n: int) -> str:
        """Item ``n``'s expected key (its canonical URL)."""
        return f"{self.base}/breaking-news/item-{n}"



@contextmanager
def serve_generated(count: int, delay: float = 0.0,
                    extra: dict[str, tuple[int, dict[str, str], Any]] | None = None) -> Iterator[GeneratedSite]:
    """Run a :class:`GeneratedSite` for the length of a ``with`` block."""
    with GeneratedSite(count, delay, extra) as site:
        yield site  # type: ignore[misc]
