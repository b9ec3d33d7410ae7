"""``newsdesk record`` and ``newsdesk check``: offline spider testing with recorded fixtures.

Thin over :mod:`newsdesk.ops.fixtures`; Scrapy is only loaded by the crawl
subprocesses, never at import time here.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from newsdesk.cli.options import check_sources, home_option, resolve_home

logger = logging.getLogger(__name__)

dir_option = click.option(
    "--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=Path("fixtures"),
    show_default=True, help="Folder holding one fixture folder per source.",
)
set_option = click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
    help="A Scrapy setting for the live crawl (repeatable), e.g. -s DOWNLOAD_DELAY=1.",
)


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as a dict; a usage error for anything else."""
    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"-s/--set takes NAME=VALUE, not {pair!r}")
        settings[name.strip()] = value
    return settings


@click.command()
@click.argument("source_id", metavar="SOURCE")
@dir_option
@click.option("--url", help="Record from this start URL instead of the source's (may be 127.0.0.1).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Follow at most N links from each page (the first N, in page order).")
@click.option("--update", is_flag=True,
              help="Re-record the start URLs this fixture was recorded from (or --url), overwriting their pages.")
@click.option("--from-warc", "warc", metavar="FILE|RUN",
              help="Save the pages a past run captured (its WARC file, or its run id) instead of fetching them.")
@set_option
@home_option
def record(source_id: str, root: Path, url: str | None, limit: int | None, update: bool, warc: str | None,
           settings: tuple[str, ...], home: Path | None) -> None:
    """Save what SOURCE's pages look like today, and the records they yield, as fixtures.

    Crawls the source like `newsdesk crawl` does (same settings and politeness),
    saves every response it used under DIR/<source>/ (index.json, pages/…,
    expected.json) and never touches your archive, outbox or seen store.
    Add-only: start URLs already recorded are kept.  --update re-records the
    start URLs the fixture was recorded from (a local copy too; the source's
    URLs when there is no fixture yet, --url for another) and prints which
    pages and record fields changed.  --from-warc saves the pages a past run
    captured (see `newsdesk show KEY --capture`) without fetching anything.

    Example:

        newsdesk record jpost-breaking --dir fixtures/ --limit 5
    """
    from newsdesk.ops.fixtures import record as do_record
    from newsdesk.ops.fixtures import record_from_warc

    if url and not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url must be an http(s) URL, not {url!r}")
    where = resolve_home(home)
    check_sources(where, [source_id])
    if warc:
        if url or limit or settings:
            raise click.UsageError("--from-warc saves the pages the run fetched: --url, --limit and --set do not apply")
        for line in record_from_warc(where, source_id, root, warc, update=update).describe(update):
            click.echo(line)
        return
    result = do_record(where, source_id, root, url=url, limit=limit, update=update,
                       settings=_settings(settings))
    for line in result.describe(update):
        click.echo(line)


@click.command()
@click.argument("source_ids", metavar="[SOURCE]...", nargs=-1)
@dir_option
@click.option("--live", is_flag=True, help="Fetch the recorded start URLs anew instead of replaying the saved pages.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per fixture folder.")
@set_option
@home_option
def check(source_ids: tuple[str, ...], root: Path, live: bool, as_json: bool, settings: tuple[str, ...],
          home: Path | None) -> None:
    """Replay saved pages through the spiders and pipelines; report every record that drifted.

    No network and no writes to your data: the clock stands at each page's
    recorded fetch time.  Prints, per record, `- missing`, `+ extra` or
    `~ key` with `field: old → new`.  Exit 0 when clean, 1 on any drift,
    2 for a usage error.  --live crawls the recorded start URLs today and
    compares with the same expectations.

    Example:

        newsdesk check jpost-breaking --dir fixtures/ && newsdesk check --live --json
    """
    from newsdesk.ops.fixtures import check as do_check

    where = resolve_home(home)
    check_sources(where, source_ids)
    results = do_check(where, root, list(source_ids), live=live, settings=_settings(settings))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    else:
        for result in results:
            for line in result.describe():
                click.echo(line, err=not result.ok and line.startswith("  !"))
    if not all(r.ok for r in results):
        sys.exit(1)
