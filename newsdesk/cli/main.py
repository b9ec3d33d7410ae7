"""The ``newsdesk`` command: thin over ``scraper``, ``index`` and the crawl runner.

Each command parses its options, calls one library function and formats the
result.  Heavy imports (Scrapy, Whoosh) happen inside the commands that need
them, so ``newsdesk search`` never loads Scrapy.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from newsdesk import __version__
from newsdesk.cli import indexing as commands_index
from newsdesk.cli.options import (Group, check_sources, home_option, keep_examples_whole, resolve_home, settings_option,
                               source_option)
from newsdesk.cli.extract import extract
from newsdesk.cli.scale import archive_option, chosen_archive
from newsdesk.core.home import Home
from newsdesk.core.words import plural

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
@click.option("--refresh", is_flag=True,
              help="Fetch article pages again even when their items are already archived.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems (for cron).")
@click.option("--parallel", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Crawls run at once.")
@settings_option("A Scrapy setting for this run (repeatable), e.g. -s DOWNLOAD_DELAY=1.")
@home_option
def crawl(source_ids: tuple[str, ...], url: str | None, no_ingest: bool, refresh: bool, quiet: bool,
          parallel: int, settings: dict[str, str], home: Path | None) -> None:
    """Crawl sources once (all enabled ones by default), ingest, print a summary.

    With --quiet a healthy run prints nothing; a failed run or a new alert prints
    one line.  Exit code 1 if a run failed, 130 after Ctrl-C (see docs/runs.md).

    Example:

        newsdesk crawl jpost-breaking --url http://127.0.0.1:8000/breaking-news
    """
    from newsdesk.ops.config import load_config
    from newsdesk.ops.crawl import StopRequest, run_crawls
    from newsdesk.cli.progress import CrawlProgress
    from scraper.sources import load_sources

    where = resolve_home(home)
    where.ensure()
    sources = load_sources(where.sources_file)
    if source_ids:
        check_sources(where, source_ids)
        chosen = [sources[s] for s in source_ids]
    else:
        chosen = [s for s in sources.values() if s.enabled]
    if url and len(chosen) != 1:
        raise click.UsageError("--url needs exactly one SOURCE")
    if url and not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url must be an http(s) URL, not {url!r}")
    if not chosen:
        raise click.UsageError("no enabled sources; see `newsdesk sources`")

    overrides = dict(settings)
    if refresh:
        overrides["NEWSDESK_REFRESH"] = "1"
    config = load_config(where.config_file)
    stop = StopRequest(grace=0.0, kill_after=config.kill_timeout)
    outcomes = run_crawls(where, chosen, url=url, settings=overrides, parallel=parallel,
                          trigger="cron" if quiet else "manual", config=config, stop=stop,
                          progress=CrawlProgress.for_stream(sys.stderr, quiet=quiet))
    offline = len(outcomes) > 1 and all(o.status == "unreachable" for o in outcomes)
    for outcome in outcomes:
        if (not quiet or outcome.problem) and not offline:  # offline: one line at the end says it all
            click.echo(outcome.describe(), err=not outcome.ok)
            for alert in outcome.alerts:
                click.echo(f"alert: {alert}", err=True)
    if stop.requested:
        not_started = len(chosen) - len(outcomes)
        if not_started:
            click.echo(f"stopped on request: {plural(not_started, 'source')} not started", err=True)
    if not no_ingest and not stop.urgent.is_set():  # a second Ctrl-C: the outbox waits for the next ingest
        _run_ingest(where, quiet)
    if offline:
        causes = sorted({o.network_problem or "not fetched" for o in outcomes})
        click.echo(f"no source could be reached ({len(outcomes)} sources: {', '.join(causes)}): "
                   "this machine may be offline; each run's log is in `newsdesk runs`", err=True)
    if stop.requested:
        sys.exit(130)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


def _run_ingest(where: Home, quiet: bool) -> None:
    from index.ingest import ingest as do_ingest
    from newsdesk.ops.alerts import after_ingest
    from newsdesk.cli.progress import Meter

    with Meter.for_stream("ingest", sys.stderr, quiet=quiet) as meter:
        result = do_ingest(where, progress=meter)
    if not quiet:
        click.echo(f"ingest: {plural(result.records, 'record')} from {plural(result.files, 'file')} "
                   f"({result.new} new, {result.updated} updated in the index)")
    if result.bad_lines:
        click.echo(f"ingest: {plural(result.bad_lines, 'unreadable line')} skipped (kept in the archive)", err=True)
    if result.quarantined:
        names = ", ".join(str(path) for path in result.quarantine_files)
        click.echo(f"ingest: {plural(result.quarantined, 'record')} "
                   f"{'does' if result.quarantined == 1 else 'do'} not fit the record schema, set aside in {names}",
                   err=True)
    if result.after is not None and not quiet:
        from newsdesk.cli.search import describe_after_ingest

        for line in describe_after_ingest(result.after):
            click.echo(line)
    sent = after_ingest(where)
    if sent.failed:
        click.echo(f"alerts: {sent.failed} deliveries failed (newsdesk watch deliveries)", err=True)
    elif sent.sent and not quiet:
        click.echo(f"alerts: {sent.sent} sent")


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
@click.option("--procs", type=click.IntRange(1, 16), default=None,
              help="Worker processes writing the index (default: one per core, at most 4).")
def reindex(home: Path | None, procs: int | None) -> None:
    """Rebuild the search index from the archive (after a crash or a schema change).

    Example:

        newsdesk reindex --home ~/newsdesk-data
    """
    from index.ingest import reindex as do_reindex
    from newsdesk.cli.progress import Meter

    with Meter.for_stream("reindex", sys.stderr) as meter:
        result = do_reindex(resolve_home(home), procs=procs, progress=meter)
    click.echo(f"reindex: {plural(result.records, 'record')} from {plural(result.files, 'archive file')} "
               f"into {plural(result.new, 'item')}")


# --- sources ---------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def sources(as_json: bool, home: Path | None) -> None:
    """List configured sources: id, kind, schedule, zone, enabled, last run.

    Example:

        newsdesk sources --json
    """
    from newsdesk.ops.lastrun import last_runs
    from scraper.sources import load_sources

    where = resolve_home(home)
    items = load_sources(where.sources_file)
    runs = last_runs(where, list(items))
    if as_json:
        rows = [{"id": s.id, "name": s.name, "kind": s.kind, "spider": s.spider, "urls": list(s.urls),
                 "timezone": s.timezone, "schedule": s.schedule, "enabled": s.enabled,
                 "last_run": runs[s.id].to_dict() if s.id in runs else None}
                for s in items.values()]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    # Every column as wide as its longest value: a long id, schedule or zone keeps the columns in line.
    width = max([len(s.id) for s in items.values()] + [6])
    kind = max([len(s.kind) for s in items.values()] + [8])
    cron = max([len(s.schedule) for s in items.values()] + [14])
    zone = max([len(s.timezone) for s in items.values()] + [18])
    click.echo(f"{'SOURCE':<{width}}  {'KIND':<{kind}} {'SCHEDULE':<{cron}} {'ZONE':<{zone}} {'ENABLED':<8} LAST RUN")
    for s in items.values():
        state = "yes" if s.enabled else "no"
        last = runs[s.id].describe() if s.id in runs else "never"
        click.echo(f"{s.id:<{width}}  {s.kind:<{kind}} {s.schedule:<{cron}} {s.timezone:<{zone}} {state:<8} {last}")


# --- search ----------------------------------------------------------------------------

@cli.command()
@click.argument("query", default="")
@click.option("--since", help="At or after this time: 2024-10-01, 2024-10-01T12:00, 2h, 3d, 1w, today, yesterday.")
@click.option("--until", help="At or before this time; a bare day (or today/yesterday) includes the whole day.")
@click.option("--on", "on_day", metavar="DAY", help="Only this day, in --tz: 2024-10-24, today, yesterday.")
@source_option()
@click.option("--agency", "agencies", multiple=True, help="Only this wire agency, e.g. Reuters (repeatable).")
@click.option("--author", "authors", multiple=True, help="Only this author, full name (repeatable).")
@click.option("--kind", "kinds", multiple=True, help="Only this kind: breaking, article, feed, sitemap (repeatable).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance",
              show_default=True, help="Order of the hits; with no words, relevance is newest first.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Hits per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Which page of hits.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default=None,
              help="Output format (default: table). json/jsonl/csv carry every record field.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--fields", metavar="A,B,…", help="Only these fields, in this order (e.g. published,source,title).")
@click.option("--facets", is_flag=True, help="Also count the matches by source and by agency.")
@click.option("--collapse", is_flag=True, help="Fold near-duplicates (same wire story) into the earliest record.")
@click.option("--explain", is_flag=True, help="Print how the query and filters are understood; do not search.")
@click.option("--tz", "tz_name", help="Zone for typed dates and shown times (default: local; JSON is always UTC).")
@archive_option
@home_option
def search(query: str, since: str | None, until: str | None, on_day: str | None, sources_: tuple[str, ...],
           agencies: tuple[str, ...], authors: tuple[str, ...], kinds: tuple[str, ...], sort: str, limit: int,
           page: int, fmt: str | None, as_json: bool, fields: str | None, facets: bool, collapse: bool,
           explain: bool, tz_name: str | None, archive: str | None, home: Path | None) -> None:
    """Search the archive: words (AND), OR, NOT, "phrases", title:word.

    Matched words are highlighted in the snippets; the total number of matches
    goes to stderr.  --format json with --facets prints one object
    {total, page, pages, hits, facets}.

    Example:

        newsdesk search "north korea troops" --since 3d --source jpost-breaking --agency Reuters --facets
    """
    from index.search import Filters
    from newsdesk.cli import output
    from newsdesk.core.timeparse import resolve_range, user_zone

    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json and --format disagree; use one of them")
    fmt = "json" if as_json else (fmt or "table")
    zone = user_zone(tz_name)
    chosen = output.parse_fields(fields)
    since_at, until_at = resolve_range(since, until, on_day, zone)
    where = resolve_home(home)
    check_sources(where, sources_, indexed=not archive)
    filters = Filters(since=since_at, until=until_at, sources=sources_, agencies=agencies, authors=authors,
                      kinds=kinds)
    backend = chosen_archive(archive, home)
    if explain:
        click.echo("\n".join(backend.explain(query, filters)))
        return
    result = backend.search(query, filters, sort=sort, limit=limit, page=page, facets=facets, collapse=collapse)
    rows = [h.to_dict(chosen) for h in result.hits]
    if fmt == "json":
        if facets:
            payload: Any = {"total": result.total, "page": result.page, "pages": result.pages, "hits": rows,
                            "facets": result.facets}
        else:
            payload = rows
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(output.render_csv(rows, chosen), nl=False)
    elif result.hits:
        click.echo(output.render_table(result.hits, zone, chosen))
    if facets and (fmt != "json"):
        click.echo(output.render_facets(result.facets), err=fmt != "table")
    click.echo(_summary(result, limit), err=True)


def _summary(result: Any, limit: int) -> str:
    if not result.total:
        return "no matches"
    first = (result.page - 1) * limit + 1
    if not result.hits:
        verb = "makes" if result.total == 1 else "make"
        return f"no hits on page {result.page}: {plural(result.total, 'match')} {verb} {plural(result.pages, 'page')}"
    last = first + len(result.hits) - 1
    return f"{first}–{last} of {plural(result.total, 'match')} (page {result.page} of {result.pages})"


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
        click.echo(f"{plural(len(result.not_followed), 'link')} not followed (offline)", err=True)
    if not result.records:
        click.echo(f"no records found in {file} by spider {source.spider}", err=True)
        sys.exit(1)


from newsdesk.cli import runs as commands_runs  # noqa: E402  (run history, status, the scheduler)
from newsdesk.cli import search as commands_search  # noqa: E402  (timeline, saved searches)
from newsdesk.cli import show as commands_show  # noqa: E402  (one record and its versions)

cli.add_command(commands_runs.runs)
cli.add_command(commands_runs.status)
cli.add_command(commands_runs.schedule)
cli.add_command(extract)

cli.add_command(commands_search.timeline)
cli.add_command(commands_show.show)
cli.add_command(commands_search.watch)

from newsdesk.cli import fixtures as commands_fixtures  # noqa: E402 (registered below, imports nothing heavy)

cli.add_command(commands_fixtures.record)
cli.add_command(commands_fixtures.check)

from newsdesk.cli import serve as commands_serve  # noqa: E402  (the read-only web app)

cli.add_command(commands_serve.serve)

from newsdesk.cli import verify as commands_verify  # noqa: E402  (archive ↔ index check)

cli.add_command(commands_verify.verify)

from newsdesk.cli import scale as commands_scale  # noqa: E402  (Redis workers, the PostgreSQL archive)

cli.add_command(commands_scale.worker)
cli.add_command(commands_scale.archive)
cli.add_command(commands_index.optimize)  # index maintenance: merge segments

from newsdesk.cli import capture as commands_capture  # noqa: E402  (re-deriving records from captured pages)

cli.add_command(commands_capture.reextract)

from newsdesk.cli import demo as commands_demo  # noqa: E402  (an offline first look: saved pages, crawled and searched)

cli.add_command(commands_demo.demo)


keep_examples_whole(cli)  # last: after every command is registered


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="newsdesk")


if __name__ == "__main__":
    main()
