"""The ``newsdesk`` command: thin over ``scraper``, ``index`` and the crawl runner.

Each command parses its options, calls one library function and formats the
result.  Heavy imports (Scrapy, Whoosh) happen inside the commands that need
them, so ``newsdesk search`` never loads Scrapy.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from newsdesk import __version__, commands_index
from newsdesk.cliutils import Group, home_option, resolve_home
from newsdesk.home import Home

logger = logging.getLogger(__name__)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdesk")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Watch breaking-news sources and keep a searchable archive of every item.

    Example:

        newsdesk crawl && newsdesk search "north korea troops" --since 2024-10-01
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


# --- crawl -----------------------------------------------------------------------------

@cli.command()
@click.argument("source_ids", metavar="[SOURCE]...", nargs=-1)
@click.option("--url", help="Start from this URL instead of the source's (one source only; may be 127.0.0.1).")
@click.option("--no-ingest", is_flag=True, help="Leave the records in the outbox; do not index them.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems (for cron).")
@click.option("--parallel", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Crawls run at once.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="A Scrapy setting for this run (repeatable), e.g. -s DOWNLOAD_DELAY=1.")
@home_option
def crawl(source_ids: tuple[str, ...], url: str | None, no_ingest: bool, quiet: bool,
          parallel: int, settings: tuple[str, ...], home: Path | None) -> None:
    """Crawl sources once (all enabled ones by default), ingest, print a summary.

    Example:

        newsdesk crawl jpost-breaking --url http://127.0.0.1:8000/breaking-news
    """
    from newsdesk.crawl import run_crawls
    from scraper.sources import load_sources

    where = resolve_home(home)
    where.ensure()
    sources = load_sources(where.sources_file)
    if source_ids:
        unknown = [s for s in source_ids if s not in sources]
        if unknown:
            raise click.UsageError(f"unknown source {unknown[0]!r} (known: {', '.join(sources)})")
        chosen = [sources[s] for s in source_ids]
    else:
        chosen = [s for s in sources.values() if s.enabled]
    if url and len(chosen) != 1:
        raise click.UsageError("--url needs exactly one SOURCE")
    if url and not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url must be an http(s) URL, not {url!r}")
    if not chosen:
        raise click.UsageError("no enabled sources; see `newsdesk sources`")

    overrides = {}
    for pair in settings:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"-s/--set takes NAME=VALUE, not {pair!r}")
        overrides[name.strip()] = value
    outcomes = run_crawls(where, chosen, url=url, settings=overrides, parallel=parallel)
    for outcome in outcomes:
        if not quiet or not outcome.ok or outcome.errors:
            click.echo(outcome.describe(), err=not outcome.ok)
    if not no_ingest:
        _run_ingest(where, quiet)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


def _run_ingest(where: Home, quiet: bool) -> None:
    from index.ingest import ingest as do_ingest

    result = do_ingest(where)
    if not quiet:
        click.echo(f"ingest: {result.records} records from {result.files} files "
                   f"({result.new} new, {result.updated} updated in the index)")
    if result.bad_lines:
        click.echo(f"ingest: {result.bad_lines} unreadable lines skipped (kept in the archive)", err=True)


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
@home_option
def ingest(quiet: bool, home: Path | None) -> None:
    """Index what crawls left in the outbox, then archive it.

    Safe to run at any time; a record already indexed is not added twice.

    Example:

        newsdesk ingest
    """
    _run_ingest(resolve_home(home), quiet)


@cli.command()
@home_option
def reindex(home: Path | None) -> None:
    """Rebuild the search index from the archive (after a crash or a schema change).

    Example:

        newsdesk reindex --home ~/newsdesk-data
    """
    from index.ingest import reindex as do_reindex

    result = do_reindex(resolve_home(home))
    click.echo(f"reindex: {result.records} records from {result.files} archive files "
               f"into {result.new} items")


@cli.command()
@home_option
def schedule(home: Path | None) -> None:
    """Run crawls on each enabled source's cron schedule until stopped.

    Example:

        newsdesk schedule --home /var/lib/newsdesk
    """
    import scheduler

    sys.exit(scheduler.main(str(home) if home else None))


# --- sources ---------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def sources(as_json: bool, home: Path | None) -> None:
    """List configured sources: id, spider, schedule, zone, enabled.

    Example:

        newsdesk sources --json
    """
    from scraper.sources import load_sources

    where = resolve_home(home)
    items = load_sources(where.sources_file)
    if as_json:
        rows = [{"id": s.id, "name": s.name, "spider": s.spider, "urls": list(s.urls),
                 "timezone": s.timezone, "schedule": s.schedule, "enabled": s.enabled}
                for s in items.values()]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for s in items.values():
        state = "enabled" if s.enabled else "disabled"
        click.echo(f"{s.id:<24} {s.spider:<18} {s.schedule:<14} {s.timezone:<18} {state}")


# --- search ----------------------------------------------------------------------------

@cli.command()
@click.argument("query", default="")
@click.option("--since", help="Items at or after this time (2024-10-01, 2024-10-01T12:00 …).")
@click.option("--until", help="Items at or before this time; a bare day includes the whole day.")
@click.option("--source", "sources_", multiple=True, help="Only this source (repeatable).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance",
              show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--tz", "tz_name", help="Zone for typed dates and shown times (default: local).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@home_option
def search(query: str, since: str | None, until: str | None, sources_: tuple[str, ...], sort: str,
           limit: int, tz_name: str | None, as_json: bool, home: Path | None) -> None:
    """Search the archive: words (AND), OR, NOT, "phrases", title:word.

    Example:

        newsdesk search "north korea troops" --since 2024-10-01 --until 2024-10-31 --source jpost-breaking --sort newest
    """
    from index.search import search as run_search
    from newsdesk.timeparse import parse_user_time, user_zone

    zone = user_zone(tz_name)
    since_at = parse_user_time(since, zone, option="--since") if since else None
    until_at = parse_user_time(until, zone, end=True, option="--until") if until else None
    result = run_search(resolve_home(home).index, query, since=since_at, until=until_at,
                        sources=list(sources_), sort=sort, limit=limit)
    if as_json:
        click.echo(json.dumps([_hit_json(h) for h in result.hits], indent=2, ensure_ascii=False))
        return
    if not result.hits:
        click.echo("no matches", err=True)
        return
    for hit in result.hits:
        record = hit.record
        click.echo(f"{_local(record.get('published') or record.get('updated'), zone)}  "
                   f"{record.get('source', ''):<16} {record.get('title', '')}")
        if record.get("url"):
            click.echo(f"{'':<34}{record['url']}")
    shown = len(result.hits)
    click.echo(f"{shown} of {result.total} matches", err=True)


def _hit_json(hit: Any) -> dict[str, Any]:
    r = hit.record
    return {"key": r.get("key"), "url": r.get("url"), "title": r.get("title"), "source": r.get("source"),
            "published": r.get("published"), "updated": r.get("updated"), "authors": r.get("authors", []),
            "agency": r.get("agency"), "snippet": hit.snippet}


def _local(iso: str | None, zone: Any) -> str:
    if not iso:
        return f"{'(no date)':<16}"
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- parse -----------------------------------------------------------------------------

@cli.command()
@click.argument("source_id", metavar="SOURCE")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="The page's URL (resolves relative links; default: the source's URL).")
@home_option
def parse(source_id: str, file: Path, url: str | None, home: Path | None) -> None:
    """Print, as JSON lines, the records SOURCE's spider yields from a saved page.

    No network, no archive writes: the offline view for writing or fixing a source.

    Example:

        newsdesk parse jpost-breaking saved/breaking-news.html --url https://www.jpost.com/breaking-news
    """
    from scraper.offline import parse_page
    from scraper.sources import get_source

    source = get_source(source_id, resolve_home(home).sources_file)
    result = parse_page(source, file.read_bytes(), url)
    for record in result.records:
        click.echo(json.dumps(record, ensure_ascii=False))
    for reason in result.dropped:
        click.echo(f"dropped: {reason}", err=True)
    if result.not_followed:
        click.echo(f"{len(result.not_followed)} links not followed (offline)", err=True)
    if not result.records:
        click.echo(f"no records found in {file} by spider {source.spider}", err=True)
        sys.exit(1)


cli.add_command(commands_index.optimize)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="newsdesk")


if __name__ == "__main__":
    main()
