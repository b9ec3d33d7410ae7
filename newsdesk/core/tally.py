"""What a crawl's numbers say, read from its Scrapy stats: seen = new + updated + unchanged + dropped.

Every item a spider yields ends in one of three ways: *written* to the outbox
(``new`` or ``updated``), *unchanged* (the archive already has it as it is),
or *dropped* with a counted reason (``newsdesk/dropped/<reason>``).  Two more
reasons are not Scrapy drops but are counted all the same:

* ``unfinished``: a listed item whose article request never came back to the
  spider (the run was stopped first, or a request vanished: see
  :func:`Tally.problems`);
* ``pipeline_error``: a pipeline raised on the item (Scrapy's ``item_error``).

:meth:`Tally.problems` says where the numbers do not add up; the crawl's run
report logs each as an error, and the test suite checks every crawl it runs.
This module imports nothing of the project, so the CLI, the run history and
the crawl process all read the numbers the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: ``newsdesk/dropped/`` reasons that count a refused page (a feed or sitemap), not an item.
PAGE_DROPS = frozenset({"hostile_xml", "too_big"})
#: ``newsdesk/dropped/`` reasons a spider counts for entries it never yields (no DropItem raised).
SPIDER_DROPS = frozenset({"bad_feed_item"})

#: Exceptions as Scrapy counts them (or a spider's errback sees them) → what to tell a person.
NETWORK_ERRORS = {
    "DNSLookupError": "DNS lookup failed",
    "ConnectionRefusedError": "connection refused",
    "TCPTimedOutError": "connection timed out",
    "TimeoutError": "timed out",
    "ConnectError": "could not connect",
    "ConnectionLost": "connection lost",
    "ResponseNeverReceived": "no response",
    "NoRouteError": "no route to host",
    "SSLError": "TLS error",
    "IgnoreRequest": "request refused by a guard",
    # Scrapy 2.14+ wraps the Twisted errors in its own.
    "DownloadConnectionRefusedError": "connection refused",
    "DownloadTimeoutError": "timed out",
    "DownloadCancelledError": "download cancelled",
    "DownloadFailedError": "download failed",
    "CannotResolveHostError": "DNS lookup failed",
}


def stat(stats: Mapping[str, Any], name: str) -> int:
    """A counter of ``stats`` as an int (0 when absent or not a number)."""
    try:
        return int(stats.get(name, 0) or 0)
    except (TypeError, ValueError):
        return 0


def counted(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """Every counter under ``prefix``, by the rest of its name."""
    return {k[len(prefix):]: stat(stats, k) for k in stats if k.startswith(prefix)}


@dataclass(frozen=True)
class Tally:
    """The item counts of one crawl."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason → count (unchanged not included)
    scraped: int = 0  # Scrapy's item_scraped_count: items that passed every pipeline
    drops_raised: int = 0  # Scrapy's item_dropped_count: DropItem raised by a pipeline

    @classmethod
    def of(cls, stats: Mapping[str, Any]) -> Tally:
        """The tally of a crawl's stats."""
        dropped = {r: n for r, n in counted(stats, "newsdesk/dropped/").items() if r not in PAGE_DROPS and n}
        unchanged = dropped.pop("unchanged", 0)
        unfinished = stat(stats, "newsdesk/articles_followed") - stat(stats, "newsdesk/articles_done")
        if unfinished > 0:
            dropped["unfinished"] = unfinished
        errors = stat(stats, "newsdesk/item_errors")
        if errors:
            dropped["pipeline_error"] = errors
        return cls(new=stat(stats, "newsdesk/items_new"), updated=stat(stats, "newsdesk/items_updated"),
                   unchanged=unchanged, dropped=dropped, scraped=stat(stats, "item_scraped_count"),
                   drops_raised=stat(stats, "item_dropped_count"))

    @property
    def seen(self) -> int:
        """Items the spider yielded (or listed and sent for their article page)."""
        return self.new + self.updated + self.unchanged + sum(self.dropped.values())

    @property
    def kept(self) -> int:
        """Items that are in the archive after the run: written now or unchanged."""
        return self.new + self.updated + self.unchanged

    def problems(self, finish_reason: str = "finished") -> list[str]:
        """Where the numbers do not add up (empty when they do)."""
        found = []
        if self.scraped != self.new + self.updated:
            found.append(f"{self.scraped} items written but {self.new} new + {self.updated} updated counted")
        reasons = self.unchanged + sum(n for r, n in self.dropped.items()
                                       if r not in ("unfinished", "pipeline_error", *SPIDER_DROPS))
        if self.drops_raised != reasons:
            found.append(f"{self.drops_raised} items dropped but {reasons} drops counted with a reason")
        lost = self.dropped.get("unfinished", 0)
        if lost and finish_reason == "finished":
            found.append(f"{lost} listed items never came back from their article request")
        return found

    def describe(self) -> str:
        """``9 seen, 1 new, 0 updated, 7 unchanged, 1 dropped (1 missing title)``."""
        parts = [f"{self.seen} seen", f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.dropped:
            reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(self.dropped.items()))
            parts.append(f"{sum(self.dropped.values())} dropped ({reasons})")
        else:
            parts.append("0 dropped")
        return ", ".join(parts)


def future_dates(stats: Mapping[str, Any]) -> int:
    """Printed dates later than the fetch (beyond a small slack): not true, so set to null."""
    return sum(counted(stats, "newsdesk/date_future/").values())


def unreadable_dates(stats: Mapping[str, Any]) -> int:
    """Printed dates that could not be read, or read as before any news archive (set to null)."""
    return sum(counted(stats, "newsdesk/date_unreadable/").values()) + sum(
        counted(stats, "newsdesk/date_implausible/").values())
