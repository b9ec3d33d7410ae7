"""``newsdesk demo``: see newsdesk work in a minute, offline, in a throw-away data home.

The saved pages shipped in ``newsdesk/demo/`` (a JPost breaking-news list
page, the JPost headlines RSS feed, a news sitemap of a fictional outlet, and
the article pages they link to) are replayed through the real spiders and
pipelines: real ``scrapy crawl`` processes with the replay add-on
(:mod:`scraper.replay`), whose download handler answers every request from the
saved pages, so no socket is opened.  The clock of each crawl stands at its
start page's fetch time, as in ``newsdesk check``.  Then the records are
ingested, three searches are run, and the commands to try next are printed.

The demo never writes to the user's data home: by default it makes a fresh
directory under the system's temp dir, and a ``--home`` must be empty or an
earlier demo home (it carries :data:`MARKER`).  ``$NEWSDESK_HOME`` is not read.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import click

from newsdesk.cli.options import HomePath
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home, default_home

#: The sources the demo crawls, each from its first URL's saved page.
DEMO_SOURCES = ("jpost-breaking", "jpost-headlines", "meridian-news")
#: The example searches, each expected to find something in the demo's pages.
DEMO_QUERIES = ("north korea", "ceasefire", "trump")
#: A file that marks a directory as a demo home (safe to fill again).
MARKER = ".newsdesk-demo"
CRAWL_TIMEOUT = 120.0
ADDON = json.dumps({"scraper.replay.FixturesAddon": 0})


class DemoError(NewsdeskError):
    """The demo could not run (exit 1)."""


class DemoHomeRefused(NewsdeskError):
    """A --home the demo must not write to: a usage mistake (exit 2)."""

    exit_code = 2


def demo_pages() -> Path:
    """The folder of saved pages shipped with the package."""
    return Path(str(resources.files("newsdesk").joinpath("demo")))


def prepare_home(home: Path | None) -> Home:
    """A demo home: a fresh temp dir, or ``home`` if it is empty or an earlier demo home."""
    if home is None:
        root = Path(tempfile.mkdtemp(prefix="newsdesk-demo-"))
    else:
        root = home.expanduser().absolute()
        real = default_home().expanduser().absolute()
        if root == real:
            raise DemoHomeRefused(f"{root} is your newsdesk data home; the demo needs a directory of its own",
                            hint="leave out --home (a fresh temp dir is used) or name an empty directory")
        if root.exists() and any(root.iterdir()) and not (root / MARKER).is_file():
            raise DemoHomeRefused(f"{root} is not empty and is not a demo home; the demo writes only to its own",
                            hint="leave out --home (a fresh temp dir is used) or name an empty directory")
    where = Home.resolve(root)
    where.ensure()
    (where.root / MARKER).write_text("made by `newsdesk demo`; safe to delete\n", encoding="utf-8")
    shutil.copyfile(demo_pages() / "sources.toml", where.sources_file)
    return where


def _print_hits(where: Home, query: str) -> int:
    """Run one example search and print its hits as `newsdesk search` would; the number of matches."""
    from index.search import search
    from newsdesk.cli import output
    from newsdesk.core.timeparse import user_zone

    result = search(where.index, query, limit=3)
    click.echo(f"\n$ newsdesk search {shlex.quote(query)} --limit 3 --home {shlex.quote(str(where.root))}")
    if result.hits:
        click.echo(output.render_table(result.hits, user_zone(None), None))
    shown = len(result.hits)
    click.echo(f"({shown} of {result.total} {'match' if result.total == 1 else 'matches'} shown)")
    return result.total


@click.command()
@click.option("--home", "home", type=HomePath(file_okay=False, path_type=Path), default=None,
              help="Demo data directory (default: a fresh one under the temp dir). Must be empty or an "
                   "earlier demo's; never your real data home.")
def demo(home: Path | None) -> None:
    """Crawl saved pages (no network), index them, and run three searches.

    A first look at newsdesk in under a minute: three sources (a list page,
    an RSS feed, a news sitemap) replayed from pages shipped with newsdesk
    through the real spiders and pipelines into a throw-away data home, then
    ingested and searched.  Prints the commands to explore the result.

    Example:

        newsdesk demo --home /tmp/newsdesk-demo
    """
    from newsdesk.ops.crawl import run_crawl
    from newsdesk.cli.progress import CrawlProgress
    from scraper.fixtures import load_fixture
    from scraper.sources import load_sources

    where = prepare_home(home)
    # The saved pages lack most linked articles on purpose (see the note printed below): the
    # health check's warning about them would only alarm a first-time user.
    logging.getLogger("newsdesk.ops.health").setLevel(logging.ERROR)
    click.echo(f"demo home: {where.root} (a throw-away data home; your own archive is not touched)")
    fixture = load_fixture(demo_pages())
    sources = load_sources(where.sources_file)
    progress = CrawlProgress.for_stream(sys.stderr)

    def one(source_id: str):  # type: ignore[no-untyped-def]
        source = sources[source_id]
        frozen = fixture.fetched_at(source.urls[0])
        assert frozen is not None, f"no saved page for {source.urls[0]}"
        settings = {"ADDONS": ADDON, **fixture.replay_settings(), "NEWSDESK_FROZEN_AT": frozen}
        progress.started(source_id)
        outcome = run_crawl(where, source, settings=settings, timeout=CRAWL_TIMEOUT)
        progress.ended(outcome)
        return outcome

    click.echo(f"crawling {len(DEMO_SOURCES)} sources from saved pages (no network) …")
    with ThreadPoolExecutor(max_workers=len(DEMO_SOURCES)) as pool:
        outcomes = list(pool.map(one, DEMO_SOURCES))
    for outcome in outcomes:
        click.echo(outcome.describe(), err=not outcome.ok)
    click.echo("(the saved pages hold only some of the articles the list page and the feed link to; the\n"
               " others answer 404, as an article taken down would: their records keep what the listing said)")

    from index.ingest import ingest
    from newsdesk.cli.progress import Meter

    with Meter.for_stream("ingest", sys.stderr) as meter:
        result = ingest(where, progress=meter)
    click.echo(f"ingest: {result.records} records from {result.files} files "
               f"({result.new} new, {result.updated} updated in the index)")
    totals = [_print_hits(where, query) for query in DEMO_QUERIES]

    root = shlex.quote(str(where.root))
    click.echo("\nTry next:")
    click.echo(f"  newsdesk search 'north korea' --home {root}")
    click.echo(f"  newsdesk timeline --home {root} --since 2024-10-20 --until 2024-10-25")
    click.echo(f"  newsdesk runs --home {root}")
    click.echo(f"  newsdesk serve --home {root}      (then open http://127.0.0.1:8080/)")
    click.echo(f"  rm -rf {root}      (when done: the demo home is yours to delete)")
    failed = [o.source for o in outcomes if not o.ok]
    if failed:
        raise DemoError(f"the demo crawl of {', '.join(failed)} failed; see the lines above")
    if not all(totals):
        raise DemoError("an example search found nothing: the demo pages did not index as expected")
