"""How search hits are printed: a terminal table with marked terms, or JSON, JSON lines, CSV.

Machine formats carry every record field (times as stored: ISO 8601 UTC) plus
``snippet`` (plain text, ``…`` at cuts) and ``score``; ``--fields`` picks and
orders columns in every format.  The table shows times in the user's zone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

import click

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.words import plural  # noqa: F401  (re-exported for the commands)
from newsdesk.core.timeparse import local_time
from newsdesk.core.record import FIELD_NAMES

logger = logging.getLogger(__name__)

FORMATS = ("table", "json", "jsonl", "csv")
#: Record fields in the order NewsItem declares them.
RECORD_FIELDS = FIELD_NAMES
EXTRA_FIELDS = ("dupgroup", "snippet", "score", "duplicates")
TIME_FIELDS = ("published", "updated", "fetched_at")


class FieldsError(NewsdeskError):
    """``--fields`` names a field that does not exist."""

    exit_code = 2


def parse_fields(text: str | None) -> list[str] | None:
    """``--fields title,url`` as a list, checked against the known fields."""
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = RECORD_FIELDS + EXTRA_FIELDS
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise FieldsError(f"unknown field {unknown[0]!r}" if unknown else "--fields names no field",
                          f"fields: {', '.join(known)}")
    return names


def styled_snippet(snippet: str, bold: bool = False) -> str:
    """A snippet (or title) with its [[marked]] terms in bold yellow, the rest bold if ``bold``
    (plain when not on a terminal)."""
    from index.search import marked_parts

    def plain(text: str) -> str:
        return click.style(text, bold=True) if bold else text

    return "".join(click.style(text, bold=True, fg="yellow") if hit else plain(text)
                   for text, hit in marked_parts(snippet))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(v.get("key", "") if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def render_csv(rows: list[dict[str, Any]], fields: Sequence[str] | None) -> str:
    """Rows as CSV with a header; lists joined by '; ', objects as JSON."""
    columns = list(fields) if fields else list(RECORD_FIELDS) + ["dupgroup", "snippet", "score", "duplicates"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def render_table(hits: list[Any], zone: tzinfo, fields: Sequence[str] | None) -> str:
    """Hits for a terminal: time, source, title, URL, the snippet, and near-duplicates beneath."""
    lines: list[str] = []
    for hit in hits:
        record = hit.record
        if fields:
            values = [local_time(record.get(f), zone) if f in TIME_FIELDS else
                      (styled_snippet(hit.snippet) if f == "snippet" else _cell(hit.to_dict([f])[f]))
                      for f in fields]
            lines.append("  ".join(values))
        else:
            when = local_time(record.get("published") or record.get("updated"), zone)
            title = styled_snippet(getattr(hit, "title", "") or record.get("title") or "", bold=True)
            lines.append(f"{when}  {record.get('source') or '':<16} {title}")
            if record.get("url"):
                lines.append(f"{'':<18}{record['url']}")
            if hit.snippet and hit.plain_snippet != record.get("title"):
                lines.append(f"{'':<18}{styled_snippet(hit.snippet)}")
        for dup in hit.duplicates:
            dwhen = local_time(dup.get("published") or dup.get("updated"), zone)
            lines.append(f"{'':<18}↳ {dwhen}  {dup.get('source') or '':<16} {dup.get('title') or ''}")
            if dup.get("url"):
                lines.append(f"{'':<20}{dup['url']}")
        if not fields:
            lines.append("")
    return "\n".join(lines).rstrip("\n")


def render_facets(facets: dict[str, dict[str, int]]) -> str:
    """Facet counts as two small columns."""
    lines = []
    for name, counts in facets.items():
        lines.append(f"by {name}:")
        width = max((len(label) for label in counts), default=0)
        lines.extend(f"  {label:<{width}}  {count:>6}" for label, count in counts.items())
    return "\n".join(lines)
