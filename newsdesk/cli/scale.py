"""``newsdesk worker`` and ``newsdesk archive …``: crawling on many machines, one shared archive.

Thin over :mod:`newsdesk.ops.worker`, :mod:`scraper.distributed` and
:mod:`index.pg`; nothing heavy is imported at module level.  The Redis and
PostgreSQL client libraries come with ``pip install 'newsdesk[scale]'``.
"""

from __future__ import annotations

import logging
from typing import Any
from pathlib import Path

import click

from newsdesk.cli.options import Group, check_sources, home_option, resolve_home, settings_option
from newsdesk.core.words import plural

logger = logging.getLogger(__name__)

REDIS_ENV = "NEWSDESK_REDIS"
ARCHIVE_ENV = "NEWSDESK_ARCHIVE"


def archive_option(func: object) -> object:
    """``--archive postgresql://…`` (or $NEWSDESK_ARCHIVE, or [scale] archive in config.toml)."""
    return click.option("--archive", "archive", envvar=ARCHIVE_ENV, metavar="URL",
                        help=f"PostgreSQL archive, postgresql://user@host/db (env {ARCHIVE_ENV}; "
                             "default: [scale] archive in config.toml, else the local index).")(func)


def resolve_archive(option: str | None, home: Path | None) -> str | None:
    """The archive URL a command uses, or None for the local Whoosh index."""
    from index.pg import archive_url
    from newsdesk.ops.config import load_config

    if option:
        return archive_url(option)
    config = load_config(resolve_home(home).config_file)
    return archive_url(None, str(config.get("scale", "archive")))


def chosen_archive(option: str | None, home: Path | None) -> Any:
    """The archive a reading command uses (index.archive): PostgreSQL when one is given, else the local index."""
    from index.archive import open_archive

    return open_archive(resolve_home(home), resolve_archive(option, home))


def resolve_redis(option: str | None, home: Path | None) -> str | None:
    """The Redis URL a command uses: --redis, else [scale] redis in config.toml; None: not distributed."""
    from newsdesk.ops.config import load_config

    if option:
        return option
    return str(load_config(resolve_home(home).config_file).get("scale", "redis")) or None


@click.command()
@click.option("--redis", "redis_url", envvar=REDIS_ENV, metavar="URL",
              help=f"Redis holding the request queues, redis://host:6379/0 (env {REDIS_ENV}).")
@archive_option
@click.option("--source", "sources_", multiple=True, help="Work only on this source (repeatable; default: all enabled).")
@click.option("--deliver-every", type=click.FloatRange(1), default=10.0, show_default=True,
              help="Seconds between deliveries of the outbox to the archive.")
@settings_option("A Scrapy setting (repeatable), e.g. -s CONCURRENT_REQUESTS=32.")
@home_option
def worker(redis_url: str | None, archive: str | None, sources_: tuple[str, ...], deliver_every: float,
           settings: dict[str, str], home: Path | None) -> None:
    """Crawl requests from Redis until stopped; deliver records to the PostgreSQL archive.

    Run any number of workers on any machines against one Redis; `newsdesk schedule
    --redis URL` queues each source's runs.  An idle worker waits for work.  A killed
    worker's unfinished requests are put back by the others within ~20 s; restart it
    on the same --home to deliver what it wrote before it died.  Scrapy's log goes to
    <home>/logs/worker-<id>.log; when stopped, it prints a line per source (pages,
    items, errors).

    Example:

        newsdesk worker --redis redis://10.0.0.5:6379/0 --archive postgresql://news@10.0.0.6/newsdesk
    """
    from newsdesk.ops.worker import run_worker

    where = resolve_home(home)
    check_sources(where, sources_)
    redis_url = resolve_redis(redis_url, home)
    if not redis_url:
        raise click.UsageError("no Redis given: use --redis redis://host:6379/0 or [scale] redis in config.toml")
    raise SystemExit(run_worker(where, redis_url, resolve_archive(archive, home), sources_, settings,
                                deliver_every, report=click.echo))


@click.group(cls=Group)
def archive() -> None:
    """The shared PostgreSQL archive: deliver the outbox, load a local archive.

    Example:

        newsdesk archive load --archive postgresql://news@db/newsdesk
    """


@archive.command("deliver")
@archive_option
@home_option
def archive_deliver(archive: str | None, home: Path | None) -> None:
    """Ship the outbox (including files a killed crawl or worker left) to the PostgreSQL archive.

    Example:

        newsdesk archive deliver --archive postgresql://news@db/newsdesk --home /var/lib/newsdesk
    """
    from index.pg import ArchiveError, deliver

    url = resolve_archive(archive, home)
    if not url:
        raise ArchiveError("no archive given", "use --archive postgresql://… or [scale] archive in config.toml")
    result = deliver(resolve_home(home), url)
    click.echo(f"delivered {plural(result.records, 'record')} from {plural(result.files, 'file')} "
               f"({result.counts()})")


@archive.command("load")
@archive_option
@home_option
def archive_load(archive: str | None, home: Path | None) -> None:
    """Upsert every record of this home's JSONL archive into PostgreSQL (safe to repeat).

    Example:

        newsdesk archive load --archive postgresql://news@db/newsdesk
    """
    from index.pg import ArchiveError, load_archive

    url = resolve_archive(archive, home)
    if not url:
        raise ArchiveError("no archive given", "use --archive postgresql://… or [scale] archive in config.toml")
    result = load_archive(resolve_home(home), url)
    click.echo(f"loaded {plural(result.records, 'record')} from {plural(result.files, 'file')} "
               f"({result.counts()})")
