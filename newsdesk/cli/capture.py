"""``newsdesk reextract``: re-derive archived records from the pages their crawls captured."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from newsdesk.cli.options import check_sources, home_option, resolve_home

logger = logging.getLogger(__name__)


@click.command()
@click.argument("source_ids", metavar="[SOURCE]...", nargs=-1)
@click.option("--since", help="Only captures of runs started at this time or later (2024-10-24, 7d, ...).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--tz", "tz_name", help="Zone --since is read in (default: this machine's).")
@home_option
def reextract(source_ids: tuple[str, ...], since: str | None, dry_run: bool, as_json: bool, tz_name: str | None,
              home: Path | None) -> None:
    """Run captured pages through today's spiders; a record whose fields changed gets a new version.

    Every run's WARC file (all sources by default) is replayed offline; each
    record is compared with the archived record read from the same page, and
    a new version is written and indexed only where a field differs.  Exits 1
    if a replay failed.

    Example:

        newsdesk reextract jpost-breaking --since 2024-10-01 --dry-run
    """
    from newsdesk.ops.fixtures import Drift, FieldChange, RecordChange, describe_drift
    from newsdesk.ops.reextract import reextract as run
    from newsdesk.core.timeparse import parse_user_time, user_zone

    where = resolve_home(home)
    check_sources(where, source_ids)
    start = parse_user_time(since, user_zone(tz_name), option="--since") if since else None
    result = run(where, list(source_ids) or None, since=start, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        drift = Drift(changed=[RecordChange(c.key, c.title, [FieldChange(n, o, v) for n, (o, v) in c.fields.items()])
                               for c in result.changes])
        for line in describe_drift(drift):
            click.echo(line)
        verb = "would get" if dry_run else "got"
        click.echo(f"reextract: {result.captures} captures, {result.records} records re-derived; "
                   f"{len(result.changes)} {verb} a new version, {result.unchanged} unchanged, "
                   f"{result.newer} archived from a later fetch, {result.not_archived} not archived")
        for name, count in sorted(result.by_field.items()):
            click.echo(f"  {name}: {count} changed")
        if result.ingest is not None:
            click.echo(f"ingest: {result.ingest.records} records ({result.ingest.updated} updated)")
    for problem in result.problems:
        click.echo(f"reextract: {problem}", err=True)
    if result.problems:
        sys.exit(1)
