"""``newsdesk show KEY``: one record, its versions, and what changed between them, field by field.

From the local index (earlier versions read from the JSONL archive) or, with
``--archive``, from PostgreSQL (its version history).  Both give the same
list: oldest version first, the current one last.  More views of a record
are options of this one command: ``--capture``, the archived page a version
was read from (:mod:`scraper.warcfile`), and ``--save``, that page itself.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsdesk.cli.options import home_option, resolve_home
from newsdesk.cli.scale import archive_option, chosen_archive
from newsdesk.core.errors import NewsdeskError

if TYPE_CHECKING:
    from scraper.warcfile import Capture

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
    from newsdesk.core.record import FIELD_NAMES

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


def _pick_version(versions: list[dict[str, Any]], wanted: int | None, key: str) -> dict[str, Any]:
    """The version asked for (the current one by default); a usage error naming the versions there are."""
    if wanted is None:
        return versions[-1]
    for version in versions:
        if int(version.get("version") or 1) == wanted:
            return version
    have = ", ".join(str(v.get("version") or 1) for v in versions)
    raise click.UsageError(f"{key} has no version {wanted} (it has {have})")


def _capture_dict(version: dict[str, Any], capture: Capture, saved: str | None) -> dict[str, Any]:
    return {"key": version.get("key"), "version": int(version.get("version") or 1),
            "warc": str(capture.warc), "capture_warc": version.get("capture_warc"),
            "record_id": capture.record_id, "offset": capture.offset, "url": capture.url,
            "fetched_at": capture.fetched_at, "status": capture.status, "content_type": capture.content_type,
            "headers": [list(pair) for pair in capture.headers], "bytes_served": len(capture.body),
            "bytes_decoded": len(capture.content), "saved": saved}


def _capture_lines(version: dict[str, Any], capture: Capture, saved: str | None) -> list[str]:
    """The archived page of a version: where it is, when and how it was served, and how to see it."""
    encoded = next((v for k, v in capture.headers if k.lower() == "content-encoding"), "")
    size = f"{len(capture.body):,} bytes as served"
    if encoded:
        size += f" ({encoded}), {len(capture.content):,} decoded"
    rows = [("url", capture.url), ("fetched", capture.fetched_at), ("status", str(capture.status)),
            ("warc", str(capture.warc)), ("record", f"{capture.record_id} at byte {capture.offset}"),
            ("body", size)]
    lines = [f"archived page of version {version.get('version') or 1}:"]
    lines += [f"{name + ':':<{WIDTH}}{value}" for name, value in rows]
    lines += ["headers:", *(f"  {name}: {value}" for name, value in capture.headers), ""]
    if saved:
        lines.append(f"saved the page ({len(capture.content):,} bytes, content-encoding undone) to {saved}")
    else:
        lines.append(f"the page itself: newsdesk show {shlex.quote(str(version.get('key')))} --save PAGE.html"
                     " (`--save -` prints it)")
    lines += ["sandboxed (no script runs): the record's archived page in the web app (`newsdesk serve`)",
              f"with warcio: warcio extract --payload {shlex.quote(str(capture.warc))} {capture.offset}"]
    return lines


def show_capture(key: str, versions: list[dict[str, Any]], version_number: int | None, save: str | None,
                 as_json: bool, home: Path | None) -> None:
    """``show --capture``: the captured page of one version of a record (and, with ``--save``, its body)."""
    from scraper.warcfile import record_capture

    version = _pick_version(versions, version_number, key)
    capture = record_capture(resolve_home(home), version)
    if save == "-":
        sys.stdout.buffer.write(capture.content)
        sys.stdout.buffer.flush()
        return
    if save:
        try:
            Path(save).write_bytes(capture.content)
        except OSError as exc:
            raise click.ClickException(f"cannot write {save}: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(_capture_dict(version, capture, save), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(_capture_lines(version, capture, save)))


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {record, versions (oldest first), changes (between each two)}; with --capture, "
                   "the capture's place, headers and sizes.")
@click.option("--capture", "capture", is_flag=True,
              help="Show where the page the record was read from is archived: WARC file and record, fetch time, "
                   "status, headers.")
@click.option("--version", "version_number", type=click.IntRange(1), metavar="N",
              help="With --capture or --save: the page of version N (default: the current version).")
@click.option("--save", metavar="FILE",
              help="Write the archived page (content-encoding undone) to FILE; `-` prints it. Implies --capture.")
@archive_option
@home_option
def show(key: str, as_json: bool, capture: bool, version_number: int | None, save: str | None,
         archive: str | None, home: Path | None) -> None:
    """Print one record, its versions, and what changed between them, field by field.

    With --capture, where the page it was read from is archived; with --save,
    the page itself (opened in a browser, a saved page runs its scripts: the
    web app's archived page shows it sandboxed).

    Example:

    \b
        newsdesk show https://www.jpost.com/breaking-news/article-825684
        newsdesk show https://www.jpost.com/breaking-news/article-825684 --capture
        newsdesk show https://www.jpost.com/breaking-news/article-825684 --version 1 --save v1.html
    """
    from index.records import changes

    if version_number is not None and not (capture or save):
        raise click.UsageError("--version needs --capture or --save")
    if save == "-" and as_json:
        raise click.UsageError("--save - prints the page itself: it cannot go with --json")
    versions = record_history(key, chosen_archive(archive, home))
    if capture or save:
        show_capture(key, versions, version_number, save, as_json, home)
        return
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
