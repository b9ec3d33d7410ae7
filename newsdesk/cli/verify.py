"""``newsdesk verify``: does the index agree with the archive? ``--repair`` makes it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from newsdesk.cli.options import home_option, resolve_home

logger = logging.getLogger(__name__)


@click.command()
@click.option("--repair", is_flag=True, help="Rewrite what differs from the archive (the archive is the truth).")
@click.option("--show", type=click.IntRange(0, 1000), default=5, show_default=True,
              help="Keys to show for each kind of difference.")
@home_option
def verify(repair: bool, show: int, home: Path | None) -> None:
    """Compare the search index with the archive; exit 1 if they differ.

    Reports keys missing from the index, keys the archive never had, keys
    indexed twice and records that differ.  With --repair, fixes them from the
    archive (or rebuilds an index that cannot be opened).

    Example:

        newsdesk verify --repair --home ~/newsdesk-data
    """
    from index.verify import repair as do_repair
    from index.verify import verify as do_verify

    from newsdesk.cli.progress import Meter

    where = resolve_home(home)
    with Meter.for_stream("verify", sys.stderr) as meter:
        report = do_repair(where) if repair else do_verify(where, progress=meter)
    for line in report.lines(show):
        click.echo(line)
    if report.ok:
        click.echo("verify: the index agrees with the archive")
        return
    if repair:
        click.echo(f"verify: repaired {report.repaired} keys from the archive")
        after = do_verify(where)
        if after.ok:
            return
        for line in after.lines(show):
            click.echo(line, err=True)
        click.echo("verify: differences remain after repair", err=True)
        sys.exit(1)
    click.echo("verify: the index differs from the archive; run `newsdesk verify --repair`", err=True)
    sys.exit(1)
