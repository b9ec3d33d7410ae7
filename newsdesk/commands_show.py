"""``newsdesk show KEY``: one record, its versions, and what changed between them, field by field.

From the local index (earlier versions read from the JSONL archive) or, with
``--archive``, from PostgreSQL (its version history).  Both give the same
list: oldest version first, the current one last.  More views of a record
(its capture, …) are options of this one command.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from newsdesk.cliutils import home_option
from newsdesk.commands_scale import archive_option, chosen_archive
from newsdesk.errors import NewsdeskError

logger = logging.getLogger(__name__)

WIDTH = 14  # the field-name column


class RecordNotFound(NewsdeskError):
    """No record has this key."""


def record_history(key: str, archive: Any) -> list[dict[str, Any]]:
    """Every version of ``key`` in ``archive`` (index.archive), oldest first, current last; RecordNotFound if none."""
    found = archive.history(key)
    if not found:
        raise RecordNotFound(f"no record with key {key!r} in {archive.name}",
                             "find its key with `newsdesk search WORDS --fields key,title`")
    return found


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _field_lines(record: dict[str, Any]) -> list[str]:
    from scraper.items import FIELD_NAMES

    names = [*FIELD_NAMES, *(n for n in record if n not in FIELD_NAMES)]
    lines = []
    for name in names:
        value = record.get(name)
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = _value(value)
        if name == "body":
            text = " ".join(text.split())
        lines.append(f"{name + ':':<{WIDTH}}{text}")
    return lines


def _change_lines(changed: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, change in changed.items():
        if "lines" in change:
            lines.append(f"  {name}:")
            lines.extend(f"    {line[0]} {line[1:]}" for line in change["lines"])
        else:
            old = "(none)" if change["old"] in (None, "", [], {}) else _value(change["old"])
            new = "(none)" if change["new"] in (None, "", [], {}) else _value(change["new"])
            lines.append(f"  {name + ':':<{WIDTH}}{old}  →  {new}")
    return lines


def _label(record: dict[str, Any]) -> str:
    return f"version {record.get('version') or 1}, fetched {record.get('fetched_at') or '(unknown)'}"


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {record, versions (oldest first), changes (between each two)}.")
@archive_option
@home_option
def show(key: str, as_json: bool, archive: str | None, home: Path | None) -> None:
    """Print one record, its versions, and what changed between them, field by field.

    Example:

        newsdesk show https://www.jpost.com/breaking-news/article-825684
    """
    from index.records import changes

    versions = record_history(key, chosen_archive(archive, home))
    steps = [{"from": _label(old), "to": _label(new), "fields": changes(old, new)}
             for old, new in zip(versions, versions[1:])]
    if as_json:
        click.echo(json.dumps({"record": versions[-1], "versions": versions, "changes": steps}, indent=2,
                              ensure_ascii=False))
        return
    lines = _field_lines(versions[-1])
    count = len(versions)
    lines += ["", f"{count} version{'s' if count != 1 else ''}:"]
    lines += [f"  {_label(v)}: {v.get('title') or '(no title)'}" for v in versions]
    for step in steps:
        lines += ["", f"{step['from']}  →  {step['to']}:"]
        lines += _change_lines(step["fields"]) or ["  (no field changed)"]
    click.echo("\n".join(lines))
