"""Index maintenance commands: ``newsdesk optimize``.

Ingest commits each batch as a new segment and merges only small ones, so a
crawl's ingest stays quick however big the index is; ``optimize`` merges
everything into one segment (the fastest to open and search) when convenient,
e.g. nightly from cron.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from newsdesk.cli.options import home_option, resolve_home

logger = logging.getLogger(__name__)


@click.command()
@home_option
def optimize(home: Path | None) -> None:
    """Merge the search index into one segment and drop replaced documents.

    Searches open and run fastest on one segment; ingest adds small ones.
    Run it when the index is idle (it waits for a running ingest).

    Example:

        newsdesk optimize --home ~/newsdesk-data
    """
    from index.ingest import optimize as do_optimize

    before = do_optimize(resolve_home(home))
    click.echo(f"optimize: {before} segment{'s' if before != 1 else ''} merged into 1")
