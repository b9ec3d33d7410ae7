"""Generic fallbacks: trafilatura's reading of the page and htmldate's publication date."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from scraper.extract.printed_dates import _same_day

if TYPE_CHECKING:
    from scraper.extract.page import _Page

logger = logging.getLogger(__name__)


def _generic(text: str, url: str | None) -> dict[str, Any]:
    """trafilatura's reading of the page (body and metadata); {} if it finds nothing."""
    if not _has_markup(text):
        return {}
    import trafilatura  # lazy: only pages that need it pay the import

    try:
        doc = trafilatura.bare_extraction(
            text, url=url, with_metadata=True, include_comments=False, include_tables=False,
            favor_precision=True, deduplicate=False,
        )
    except Exception as exc:  # trafilatura can fail on odd markup; the other layers still count
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return {}
    if doc is None:
        return {}
    return doc if isinstance(doc, dict) else doc.as_dict()


def _has_markup(text: str) -> bool:
    """Whether a page has any markup or words at all (trafilatura logs errors on empty trees)."""
    return bool(re.search(r"<(?:html|body|head|p|div|article|main|h1|title)\b", text, re.IGNORECASE))


def _htmldate(text: str, url: str | None) -> str | None:
    """htmldate's reading of the original publication time ("2024-05-14T16:20:00+0200" or a day)."""
    from htmldate import find_date  # lazy, like trafilatura (which depends on it)

    try:
        found = find_date(text, url=url, original_date=True, extensive_search=True,
                          outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception as exc:  # htmldate can fail on odd markup; the date stays unknown
        logger.debug("htmldate failed on %s: %s", url, exc)
        return None
    if found and found.endswith("T00:00:00"):
        return found[:10]  # midnight without a zone: htmldate found a day only
    return found


def _generic_date(page: _Page) -> str | None:
    """A labelled "Published …" date or a printed <time> if htmldate's day agrees, else htmldate's reading."""
    found = _htmldate(page.text, page.url) if _has_markup(page.text) else None
    labelled = page.labelled.published
    if labelled and (not found or _same_day(labelled, found)):
        return labelled
    printed_at = next(iter(page.times[0]), None)
    if printed_at and (not found or _same_day(printed_at, found)):
        if re.search(r"\d:\d\d", printed_at) or not found or len(found) == 10:
            return printed_at  # it has a time of day, or htmldate has nothing better
    return found or printed_at
