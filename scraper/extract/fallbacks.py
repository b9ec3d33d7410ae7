"""Generic fallbacks: trafilatura's reading of the page and htmldate's publication date."""

from __future__ import annotations

import copy
import logging
import re
from typing import TYPE_CHECKING, Any

from scraper.extract.printed_dates import _same_day
from scraper.extract.teasers import without_teasers

if TYPE_CHECKING:
    from scraper.extract.page import _Page

logger = logging.getLogger(__name__)


_OPTIONS = {"include_comments": False, "include_tables": False, "deduplicate": False}


def _tree(text: str) -> Any:
    """The page's lxml tree as trafilatura reads it, without other articles' teasers (None if unreadable)."""
    from trafilatura.utils import load_html

    tree = load_html(text)
    return None if tree is None else without_teasers(tree)


def _generic(text: str, url: str | None) -> tuple[dict[str, Any], Any]:
    """trafilatura's reading of the page (body and metadata) in precision mode ({} if it finds nothing),
    and an unread copy of the page's tree for a second reading (None if there is none)."""
    if not _has_markup(text):
        return {}, None
    import trafilatura  # lazy: only pages that need it pay the import

    try:
        tree = _tree(text)
        if tree is None:
            return {}, None
        spare = copy.deepcopy(tree)  # trafilatura prunes the tree it reads
        doc = trafilatura.bare_extraction(tree, url=url, with_metadata=True, favor_precision=True, **_OPTIONS)
    except Exception as exc:  # trafilatura can fail on odd markup; the other layers still count
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return {}, None
    if doc is None:
        return {}, None
    return (doc if isinstance(doc, dict) else doc.as_dict()), spare


def _main_text(tree: Any, url: str | None, precise: str | None) -> str | None:
    """The precise reading of the page's text with its inner gaps filled from trafilatura's default reading.

    ``tree`` is the unread copy ``_generic`` kept.  Costs a second reading of the
    page: only asked for when that text becomes the body.
    """
    if not precise or tree is None:
        return precise
    import trafilatura

    try:
        whole = trafilatura.bare_extraction(tree, url=url, with_metadata=False, **_OPTIONS)
    except Exception as exc:  # as above: the precise reading stands
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return precise
    whole = whole if isinstance(whole, dict) or whole is None else whole.as_dict()
    return _with_inner_gaps_filled(precise, (whole or {}).get("text"))


def _with_inner_gaps_filled(precise: str, whole: str | None) -> str:
    """The precise reading, with the paragraphs the whole reading has between two of its lines.

    trafilatura's precision mode keeps the page's edges out (teasers, notes, share
    lines) but also drops a paragraph inside the article that is mostly a link
    ("In 2008 the alliance said that <a>Ukraine could eventually join</a>.").
    A paragraph the default mode reads *between* two paragraphs both modes keep
    is inside the article; what it reads before the first or after the last is
    not taken.
    """
    if not whole:
        return precise
    lines, full = precise.split("\n"), whole.split("\n")
    keys = [_squashed(x) for x in full]
    at, placed = 0, []  # each precise line's place in the whole reading, in order
    for line in lines:
        key = _squashed(line)
        found = next((j for j in range(at, len(full)) if key and keys[j] == key), None)
        placed.append(found)
        if found is not None:
            at = found + 1
    merged: list[str] = []
    previous = None
    for line, found in zip(lines, placed):
        if found is not None:
            if previous is not None:
                merged.extend(full[previous + 1: found])
            previous = found
        merged.append(line)
    return "\n".join(merged)


def _squashed(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


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
