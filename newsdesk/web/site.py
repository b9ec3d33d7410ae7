"""What the web app reads: the archive (through its backend seam) and the home's saved searches and runs."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from flask import current_app

from index.archive import Archive
from index.search import SearchResult
from newsdesk.core.home import Home
from newsdesk.web.forms import (
    AUTO_HOURLY_DAYS,
    AUTO_WEEKLY_DAYS,
    MAX_SAVED_MATCHES,
    NotFound,
    SearchForm,
    WebInputError,
)
from scraper.warcfile import Capture, CaptureMissing, record_capture


class Site:
    """The app's one way into the archive and the home: searches and records through the archive's
    backend (index.archive: the local index or PostgreSQL), saved searches and run history from the home."""

    def __init__(self, home: Home, archive: Archive, default_zone: tzinfo, tz_name: str | None) -> None:
        self.home = home
        self.archive = archive
        self.default_zone = default_zone  # times shown, and typed dates read, in this zone unless ?tz=
        self.tz_name = tz_name

    def search(self, form: SearchForm, zone: tzinfo, facets: bool) -> SearchResult:
        """``newsdesk search`` with the form's options."""
        return self.archive.search(form.q, form.filters(zone), sort=form.sort, limit=form.limit, page=form.page,
                                   facets=facets, collapse=form.collapse)

    def timeline(self, form: SearchForm, zone: tzinfo) -> Any:
        """``newsdesk timeline`` with the form's options; ``by=auto`` picks hours for a short span."""
        from index.timeline import BY

        if form.by not in ("auto", *BY):
            raise WebInputError(f"unknown bucket {form.by!r}", f"use one of: auto, {', '.join(BY)}")
        filters = form.filters(zone)
        if form.by != "auto":
            return self.archive.timeline(form.q, filters, by=form.by, zone=zone)
        result = self.archive.timeline(form.q, filters, by="day", zone=zone)
        if result.buckets and len(result.buckets) <= AUTO_HOURLY_DAYS:
            return self.archive.timeline(form.q, filters, by="hour", zone=zone)
        if len(result.buckets) > AUTO_WEEKLY_DAYS:
            return self.archive.timeline(form.q, filters, by="week", zone=zone)
        return result

    def record(self, key: str) -> dict[str, Any]:
        """One record with its archived versions and its near-duplicates."""
        versions = self.archive.history(key)
        if not versions:
            raise self._unknown(key)
        record = versions[-1]
        return {"record": record, "versions": versions if len(versions) > 1 else [],
                "duplicates": self.archive.near_duplicates(record)}

    def capture(self, key: str, version: int | None = None) -> Capture:
        """The page a record (or one of its versions) was read from, as captured in its run's WARC file."""
        record = self.archive.record(key)
        if record is None:
            raise self._unknown(key)
        if version is not None and version != int(record.get("version") or 1):
            record = next((v for v in self.archive.history(key) if int(v.get("version") or 1) == version), None)
            if record is None:
                raise NotFound(f"{key} has no version {version} in {self.archive.name}", "see its record page")
        try:
            return record_capture(self.home, record)
        except CaptureMissing as exc:
            raise NotFound(str(exc), exc.hint) from None

    def _unknown(self, key: str) -> NotFound:
        return NotFound(f"no record with key {key!r} in {self.archive.name}", "search for it instead")

    def saved(self) -> list[dict[str, Any]]:
        """Saved searches with their matches not yet shown (read only: nothing is marked shown)."""
        from index.watch import matches, saved_searches
        from newsdesk.ops.alerts import public_search

        rows = []
        for saved, total, new in saved_searches(self.home.state):
            found = matches(self.home.state, saved.name, new_only=True, mark_shown=False)
            rows.append({**public_search(saved), "matches": total, "new": new, "describe": saved.describe(),
                         "new_matches": [{**m.record, "matched_at": m.matched_at}
                                         for m in found[:MAX_SAVED_MATCHES]]})
        return rows

    def sources(self) -> dict[str, Any]:
        """What ``newsdesk status --json`` prints: each source's last run, next run and health."""
        from newsdesk.ops.config import load_config
        from newsdesk.ops.runs import utcnow
        from newsdesk.ops.status import source_status

        return source_status(self.home, load_config(self.home.config_file), utcnow())


def site() -> Site:
    """The running app's :class:`Site` (``create_app`` puts it there)."""
    return current_app.extensions["newsdesk"]
