"""``newsdesk serve``: the read-only web page and JSON API over the archive (``newsdesk.web``).

Flask and waitress are imported inside the command, so registering it costs
the CLI nothing at start-up.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import click

from newsdesk.cli.options import home_option, resolve_home
from newsdesk.cli.scale import archive_option, resolve_archive
from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: How a slow or stalled client is bounded (waitress's own settings; docs/limits.md).
CHANNEL_TIMEOUT = 30  # seconds a connection may sit idle (a request half sent, or none) before it is closed
CLEANUP_INTERVAL = 5  # seconds between checks for such connections
CONNECTION_LIMIT = 1000  # connections open at once; past it new ones wait in the listen backlog
MAX_REQUEST_HEADER = 65536  # bytes of request line + headers
MAX_REQUEST_BODY = 1024  # bytes of body (the server takes only GET and HEAD)


class PortUnavailable(NewsdeskError):
    """The address to serve on is taken (or not ours to take): a usage mistake, exit 2."""

    exit_code = 2

    def __init__(self, host: str, port: int, exc: OSError) -> None:
        why = {errno.EADDRINUSE: f"port {port} on {host} is already in use",
               errno.EACCES: f"port {port} on {host} needs privileges to be bound",
               errno.EADDRNOTAVAIL: f"{host} is not an address of this machine (port {port})"}
        what = why.get(exc.errno or 0, f"port {port} on {host} cannot be bound ({exc.strerror or exc})")
        super().__init__(f"{what}: pick another with --port (or --port 0 for any free one)")


def make_server(app: Any, host: str, port: int, threads: int = 4, **overrides: Any) -> Any:
    """The waitress server ``serve`` runs: ``threads`` workers, slow clients bounded as above."""
    from waitress import create_server

    settings: dict[str, Any] = {
        "threads": threads, "ident": "newsdesk", "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL, "connection_limit": CONNECTION_LIMIT,
        "max_request_header_size": MAX_REQUEST_HEADER, "max_request_body_size": MAX_REQUEST_BODY,
        # poll(), not select(): select() fails ("filedescriptor out of range") once a descriptor is
        # numbered past 1023 — a thousand connections, or a long-lived process's open index files.
        "asyncore_use_poll": True,
    }
    settings.update(overrides)
    return create_server(app, host=host, port=port, **settings)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the archive to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--tz", "tz_name", help="Zone for shown times and typed dates (default: local; ?tz= overrides).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Requests served at once.")
@archive_option
@home_option
def serve(host: str, port: int, tz_name: str | None, threads: int, archive: str | None, home: Path | None) -> None:
    """Serve a read-only web page for the archive: search, timeline chart, records, saved searches, sources.

    Pages at /, /record?key=…, /saved, /sources; the same data as JSON under /api/
    (/api/search takes the search command's options and answers its --json --facets shape).
    Only GET and HEAD; binds to 127.0.0.1 unless told otherwise.  Stop it with Ctrl-C.
    With --archive, searches and records come from the PostgreSQL archive (saved searches
    and sources still from the home).

    Example:

        newsdesk serve --port 8080 --tz Asia/Jerusalem
    """
    from newsdesk.web.app import create_app

    where = resolve_home(home)
    archive_url = resolve_archive(archive, home)
    app = create_app(where, tz_name, archive_url)
    if host not in LOOPBACK:
        click.echo(f"warning: serving on {host}: anyone who can reach it can read the archive", err=True)
    try:
        server = make_server(app, host, port, threads)
    except OSError as exc:
        raise PortUnavailable(host, port, exc) from None
    shown = f"[{host}]" if ":" in host else host
    served = "the PostgreSQL archive" if archive_url else where.root
    click.echo(f"newsdesk: serving {served} on http://{shown}:{server.effective_port}/ (Ctrl-C stops)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
