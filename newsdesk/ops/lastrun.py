"""The last run of each source, read from the run reports ``<home>/runs/<run-id>.json``.

Run ids start with the UTC start time and the source id
(``20241024T220000Z-bbc-world-1a2b3c``), so the newest report of a source is
found from the file names alone; only that one file is opened.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from newsdesk.core.home import Home
from newsdesk.core.runid import run_time

logger = logging.getLogger(__name__)

_REPORT = re.compile(r"^(\d{8}T\d{6}Z)-(.+)-[0-9a-f]+\.json$")


@dataclass(frozen=True)
class LastRun:
    """When a source last ran and how it ended."""

    run_id: str
    started: datetime | None
    finish_reason: str
    new: int
    updated: int
    errors: int

    def describe(self) -> str:
        """One short cell for `newsdesk sources`: '2024-10-24 22:00Z finished, 3 new'."""
        when = f"{self.started:%Y-%m-%d %H:%MZ}" if self.started else self.run_id
        parts = [f"{self.new} new"]
        if self.updated:
            parts.append(f"{self.updated} updated")
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return f"{when} {self.finish_reason or '?'}, {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started": self.started.isoformat() if self.started else None,
                "finish_reason": self.finish_reason, "new": self.new, "updated": self.updated,
                "errors": self.errors}


def last_runs(home: Home, source_ids: list[str]) -> dict[str, LastRun]:
    """The newest readable run report of each of ``source_ids`` (absent if it never ran)."""
    if not home.runs.is_dir():
        return {}
    wanted = set(source_ids)
    newest: dict[str, list[Path]] = {}
    for path in home.runs.glob("*.json"):
        match = _REPORT.match(path.name)
        if match and match.group(2) in wanted:
            newest.setdefault(match.group(2), []).append(path)
    found: dict[str, LastRun] = {}
    for source_id, paths in newest.items():
        for path in sorted(paths, key=lambda p: p.name, reverse=True):
            run = _read(path)
            if run is not None:
                found[source_id] = run
                break
    return found


def _read(path: Path) -> LastRun | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.info("run report %s unreadable: %s", path, exc)
        return None
    stats = data.get("stats") or {}
    run_id = str(data.get("run_id") or path.stem)

    def count(name: str) -> int:
        try:
            return int(stats.get(name) or 0)
        except (TypeError, ValueError):
            return 0

    return LastRun(
        run_id=run_id,
        started=run_time(run_id),
        finish_reason=str(data.get("finish_reason") or ""),
        new=count("newsdesk/items_new"),
        updated=count("newsdesk/items_updated"),
        errors=count("newsdesk/article_failed") + count("newsdesk/page_failed") + count("log_count/ERROR"),
    )
