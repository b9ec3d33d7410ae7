"""``newsdesk timeline`` and ``newsdesk watch …``: a story's growth over time, and saved searches.

Thin over ``index.timeline`` and ``index.watch``; Whoosh is imported inside the
commands, so loading this module costs nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from newsdesk.cli.options import Group, check_sources, home_option, resolve_home, source_option
from newsdesk.cli.scale import archive_option, chosen_archive
from newsdesk.core.words import plural

logger = logging.getLogger(__name__)

BAR_WIDTH = 40


def describe_after_ingest(after: Any) -> list[str]:
    """Lines for the ingest summary: near-duplicates grouped, saved-search matches."""
    lines = []
    if after.grouped:
        lines.append(f"near-duplicates: {after.grouped} records grouped with copies of the same story")
    for name, count in sorted(after.watch_matches.items()):
        lines.append(f"watch {name}: {count} new match{'es' if count != 1 else ''} "
                     f"(newsdesk watch show {name} --new)")
    return lines


def _filter_options(func: Any) -> Any:
    """--source/--agency/--author/--kind, shared by timeline and watch add."""
    for option in reversed([
        source_option(),
        click.option("--agency", "agencies", multiple=True, help="Only this wire agency, e.g. Reuters (repeatable)."),
        click.option("--author", "authors", multiple=True, help="Only this author, full name (repeatable)."),
        click.option("--kind", "kinds", multiple=True, help="Only this kind of record (repeatable)."),
    ]):
        func = option(func)
    return func


def _bar(count: int, top: int) -> str:
    if not count:
        return ""
    return "█" * max(1, round(count / top * BAR_WIDTH))


@click.command()
@click.argument("query", default="")
@click.option("--by", type=click.Choice(["hour", "day", "week"]), default="day", show_default=True,
              help="Bucket size, in --tz.")
@click.option("--since", help="At or after this time: 2024-10-01, 2h, 3d, 1w, today, yesterday.")
@click.option("--until", help="At or before this time; a bare day includes the whole day.")
@click.option("--on", "on_day", metavar="DAY", help="Only this day, in --tz (use with --by hour).")
@_filter_options
@click.option("--tz", "tz_name", help="Zone of the buckets and of typed dates (default: local).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default=None,
              help="Output format (default: table, a bar chart). Each bucket: UTC start, local label, count.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@archive_option
@home_option
def timeline(query: str, by: str, since: str | None, until: str | None, on_day: str | None,
             sources_: tuple[str, ...], agencies: tuple[str, ...], authors: tuple[str, ...],
             kinds: tuple[str, ...], tz_name: str | None, fmt: str | None, as_json: bool, archive: str | None,
             home: Path | None) -> None:
    """Count matches per hour, day or week, as a bar chart: when a story broke and how it grew.

    Empty buckets over the asked window are shown too: from --since (else the
    first match) to --until (else the last match).

    Example:

        newsdesk timeline "north korea troops" --by day --since 2024-10-01 --tz Asia/Jerusalem
    """
    from datetime import timezone

    from index.search import Filters
    from index.timeline import label
    from newsdesk.core.timeparse import resolve_range, user_zone

    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json and --format disagree; use one of them")
    fmt = "json" if as_json else (fmt or "table")
    zone = user_zone(tz_name)
    since_at, until_at = resolve_range(since, until, on_day, zone)
    check_sources(resolve_home(home), sources_, indexed=not archive)
    filters = Filters(since=since_at, until=until_at, sources=sources_, agencies=agencies, authors=authors,
                      kinds=kinds)
    result = chosen_archive(archive, home).timeline(query, filters, by=by, zone=zone)
    buckets = [{"start": start.astimezone(timezone.utc).isoformat(), "label": label(start, by), "count": count}
               for start, count in result.buckets]
    if fmt == "json":
        click.echo(json.dumps({"query": query, "by": by, "total": result.total, "undated": result.undated,
                               "buckets": buckets}, indent=2, ensure_ascii=False))
        return
    if fmt == "jsonl":
        for bucket in buckets:
            click.echo(json.dumps(bucket, ensure_ascii=False))
    elif fmt == "csv":
        from newsdesk.cli.output import render_csv

        click.echo(render_csv(buckets, ["start", "label", "count"]), nl=False)
    if fmt != "table":
        click.echo(f"{plural(result.total, 'match')}" + (f", {result.undated} without a date" if result.undated
                                                           else ""), err=True)
        return
    if not result.total:
        click.echo("no matches", err=True)
        return
    top = max((count for _, count in result.buckets), default=0)
    width = max((len(label(start, by)) for start, _ in result.buckets), default=0)
    for start, count in result.buckets:
        bar = click.style(_bar(count, top), fg="cyan") if count else ""
        click.echo(f"{label(start, by):<{width}}  {count:>5}  {bar}".rstrip())
    undated = f", {result.undated} without a date" if result.undated else ""
    click.echo(f"{plural(result.total, 'match')}{undated}", err=True)


# --- watch -----------------------------------------------------------------------------

@click.group(cls=Group)
def watch() -> None:
    """Saved searches: matched against every new record after each ingest.

    New matches are recorded once per search, shown by `watch show NAME --new`,
    followed as an Atom feed (`watch feed NAME`), and sent to the channels of
    `[alerts] urls` in <home>/config.toml, the search's own --notify URLs and
    `alert_command` (docs/alerts.md); `watch deliveries` shows what was sent.

    Example:

        newsdesk watch add korea-troops "north korea troops" --agency Reuters
    """


@watch.command("add")
@click.argument("name")
@click.argument("query")
@_filter_options
@click.option("--notify", "notify", multiple=True, metavar="URL",
              help="Also send this search's alerts to this Apprise URL (repeatable), e.g. ntfy://ntfy.sh/topic.")
@click.option("--cooldown", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="At least this long between two messages about this search (default: [alerts] cooldown).")
@click.option("--replace", is_flag=True, help="Overwrite a saved search of the same name (and forget its matches).")
@home_option
def watch_add(name: str, query: str, sources_: tuple[str, ...], agencies: tuple[str, ...],
              authors: tuple[str, ...], kinds: tuple[str, ...], notify: tuple[str, ...], cooldown: float | None,
              replace: bool, home: Path | None) -> None:
    """Save a search; from the next ingest on, new records that match it are recorded and sent.

    Example:

        newsdesk watch add hezbollah "hezbollah OR nasrallah" --source jpost-breaking --notify ntfy://ntfy.sh/my-topic
    """
    from index.watch import SavedSearch, add
    from newsdesk.ops.alerts import check_url

    where = resolve_home(home)
    check_sources(where, sources_, indexed=True)
    shown = [check_url(url) for url in notify]
    saved = add(where.state, SavedSearch(name=name, query=query, sources=list(sources_), agencies=list(agencies),
                                         authors=list(authors), kinds=list(kinds), notify=list(notify),
                                         cooldown=cooldown), replace=replace)
    click.echo(f"saved {saved.name}: {saved.describe()}")
    for url in shown:
        click.echo(f"  alerts also to {url}")


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def watch_list(as_json: bool, home: Path | None) -> None:
    """List saved searches with their numbers of matches (all, and not yet shown).

    Example:

        newsdesk watch list --json
    """
    from index.watch import saved_searches
    from newsdesk.ops.alerts import public_search

    rows = saved_searches(resolve_home(home).state)
    if as_json:
        click.echo(json.dumps([{**public_search(s), "matches": total, "new": new} for s, total, new in rows],
                              indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no saved searches; add one with `newsdesk watch add NAME QUERY`", err=True)
        return
    width = max(len(s.name) for s, _, _ in rows)
    for saved, total, new in rows:
        noun = "match  " if total == 1 else "matches"
        channels = f"  (+{len(saved.notify)} channel{'s' if len(saved.notify) != 1 else ''})" if saved.notify else ""
        click.echo(f"{saved.name:<{width}}  {total:>5} {noun}  {new:>4} new  {saved.describe()}{channels}")


@watch.command("rm")
@click.argument("name")
@home_option
def watch_rm(name: str, home: Path | None) -> None:
    """Delete a saved search and its recorded matches.

    Example:

        newsdesk watch rm korea-troops
    """
    from index.watch import remove

    remove(resolve_home(home).state, name)
    click.echo(f"removed {name}")


@watch.command("show")
@click.argument("name")
@click.option("--new", "new_only", is_flag=True, help="Only matches not shown before (each is shown once).")
@click.option("--tz", "tz_name", help="Zone for shown times (default: local; JSON is always UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def watch_show(name: str, new_only: bool, tz_name: str | None, as_json: bool, home: Path | None) -> None:
    """Show what a saved search matched, newest first, with each record's current headline.

    Example:

        newsdesk watch show korea-troops --new
    """
    from index.records import current_records
    from index.watch import get, matches
    from newsdesk.core.timeparse import local_time
    from newsdesk.core.timeparse import user_zone

    zone = user_zone(tz_name)
    where = resolve_home(home)
    saved = get(where.state, name)
    found = matches(where.state, name, new_only=new_only, mark_shown=new_only)
    current = current_records(where.index, [m.record["key"] for m in found]) if found else {}

    def now(record: dict[str, Any]) -> dict[str, Any]:
        """The record as matched, with its current headline (and the first one, if it changed since)."""
        latest = current.get(record["key"], {})
        title = latest.get("title") or record.get("title")
        changed = {"title_when_matched": record.get("title")} if title != record.get("title") else {}
        return {**record, "title": title, **changed}

    if as_json:
        click.echo(json.dumps([{**now(m.record), "matched_at": m.matched_at} for m in found], indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"{saved.name}: {saved.describe()}", err=True)
    if not found:
        click.echo("no new matches" if new_only else "no matches yet (matched at each ingest from now on)",
                   err=True)
        return
    for match in found:
        record = now(match.record)
        when = local_time(record.get("published"), zone)
        click.echo(f"{when}  {record.get('source') or '':<16} {record.get('title') or ''}")
        if "title_when_matched" in record:
            click.echo(f"{'':<18}(headline changed; first matched as: {record['title_when_matched'] or '(none)'})")
        if record.get("url"):
            click.echo(f"{'':<18}{record['url']}")
    click.echo(f"{len(found)} {'new ' if new_only else ''}match{'es' if len(found) != 1 else ''}", err=True)


@watch.command("feed")
@click.argument("name", required=False)
@click.option("--base-url", default="", metavar="URL",
              help="The address `newsdesk serve` answers on (e.g. http://localhost:8080/), for absolute links: "
                   "the document is then the one the server gives.")
@home_option
def watch_feed(name: str | None, base_url: str, home: Path | None) -> None:
    """Write a saved search's Atom feed to stdout (no NAME: one feed of every saved search).

    Example:

        newsdesk watch feed korea-troops > korea-troops.atom
    """
    from newsdesk.ops.savedfeed import all_feed, search_feed

    state = resolve_home(home).state
    document = search_feed(state, name, base_url) if name else all_feed(state, base_url)
    click.echo(document.decode("utf-8"), nl=False)


@watch.command("deliveries")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only deliveries in this state.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="The newest this many.")
@click.option("--tz", "tz_name", help="Zone for shown times (default: local; JSON is always UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def watch_deliveries(status: str | None, limit: int, tz_name: str | None, as_json: bool, home: Path | None) -> None:
    """Show the alerts sent, pending (with their next try) and failed, newest first, for every channel.

    Example:

        newsdesk watch deliveries --status pending
    """
    from dataclasses import asdict

    from newsdesk.ops.alerts import DeliveryLog
    from newsdesk.core.timeparse import local_time
    from newsdesk.core.timeparse import user_zone

    zone = user_zone(tz_name)
    rows = DeliveryLog(resolve_home(home)).deliveries(status, limit)
    if as_json:
        click.echo(json.dumps([asdict(d) for d in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {status + ' ' if status else ''}deliveries", err=True)
        return
    for d in rows:
        when = local_time(d.sent_at or d.created, zone)
        click.echo(f"{when}  {d.status:<7}  {d.channel}  {d.title}")
        if d.status == "pending":
            click.echo(f"{'':<18}try {d.attempts + 1} after {local_time(d.next_try, zone).strip()}"
                       + (f"; last error: {d.error}" if d.error else ""))
        elif d.status == "failed":
            click.echo(f"{'':<18}given up after {d.attempts} tries: {d.error}")
