"""Run ids: ``<UTC time>-<source>-<random>``, sortable by start time."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

_PATTERN = re.compile(r"^(\d{8}T\d{6}Z)-")


def new_run_id(source: str, now: datetime | None = None) -> str:
    """A fresh run id for one crawl of ``source``."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%SZ}-{source}-{secrets.token_hex(3)}"


def run_time(run_id: str) -> datetime | None:
    """The start time encoded in a run id, or None for a foreign name."""
    match = _PATTERN.match(run_id)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
