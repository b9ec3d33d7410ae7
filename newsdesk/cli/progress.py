"""Progress a person can watch: a line per source as its crawl starts and ends, bars for long jobs.

Only on a terminal: when the stream is not a TTY (piped, redirected, cron), or
under ``--quiet`` / ``--json``, every method here does nothing, so scripts see
exactly the output they saw before.  Lines and bars go to stderr, so stdout
stays the command's result.

The bars (ingest, reindex, verify) are click's progress bar with an ETA, shown
only once a job has run for :data:`BAR_AFTER` seconds: a quick ingest prints
no bar at all.  ``NEWSDESK_PROGRESS_AFTER`` (seconds) overrides that wait; the
tests set it to 0.
"""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType
from typing import IO, Any

import click

#: Seconds a job runs before its bar appears.
BAR_AFTER = 3.0


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def bar_after() -> float:
    """How long a job runs before its bar is shown (``NEWSDESK_PROGRESS_AFTER`` or :data:`BAR_AFTER`)."""
    try:
        return max(0.0, float(os.environ.get("NEWSDESK_PROGRESS_AFTER", BAR_AFTER)))
    except ValueError:
        return BAR_AFTER


class CrawlProgress:
    """A line per source when its crawl starts and when it ends (pages, items, errors); thread-safe."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream  # None: silent
        self.lock = threading.Lock()
        self.started_at: dict[str, float] = {}

    @classmethod
    def for_stream(cls, stream: IO[str], quiet: bool = False) -> CrawlProgress:
        """Live on ``stream`` if it is a terminal and the command is not quiet; silent otherwise."""
        return cls(stream if not quiet and _is_tty(stream) else None)

    @property
    def live(self) -> bool:
        return self.stream is not None

    def _line(self, text: str) -> None:
        if self.stream is None:
            return
        with self.lock:
            click.echo(text, file=self.stream)

    def started(self, source_id: str) -> None:
        self.started_at[source_id] = time.monotonic()
        self._line(f"▸ {source_id}: crawling …")

    def ended(self, outcome: Any) -> None:
        """The end line of one crawl (a :class:`newsdesk.ops.crawl.CrawlOutcome`)."""
        began = self.started_at.pop(outcome.source, None)
        took = f" in {time.monotonic() - began:.1f} s" if began is not None else ""
        if outcome.skipped:
            self._line(f"– {outcome.source}: skipped")
            return
        pages = outcome.stat("downloader/response_count")
        items = outcome.seen
        errors = outcome.errors
        mark = "✓" if outcome.ok else "✗"
        self._line(f"{mark} {outcome.source}: {_count(pages, 'page')}, {_count(items, 'item')}, "
                   f"{_count(errors, 'error')}{took}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Meter:
    """A job's progress bar: call it with (done, total) as work gets done; it appears after a while.

    On a terminal only, and only once the job has run :func:`bar_after` seconds;
    use as a context manager, so the bar (if shown) is closed on exit.
    """

    def __init__(self, label: str, stream: IO[str] | None, after: float | None = None) -> None:
        self.label = label
        self.stream = stream  # None: silent
        self.after = bar_after() if after is None else after
        self.began = time.monotonic()
        self.done = 0
        self.bar: Any = None

    @classmethod
    def for_stream(cls, label: str, stream: IO[str], quiet: bool = False) -> Meter:
        """Live on ``stream`` if it is a terminal and the command is not quiet; silent otherwise."""
        return cls(label, stream if not quiet and _is_tty(stream) else None)

    def __call__(self, done: int, total: int) -> None:
        if self.stream is None or total <= 0:
            return
        if self.bar is None:
            if time.monotonic() - self.began < self.after:
                return
            self.bar = click.progressbar(length=total, label=self.label, file=self.stream, show_eta=True,
                                         show_pos=True)
            self.bar.__enter__()
        self.bar.update(max(0, done - self.done))
        self.done = done

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, value, tb)
            self.bar = None
