"""``newsdesk serve``: the read-only web page and JSON API over the archive (``newsdesk.web``).

Flask and waitress are imported inside the command, so registering it costs
the CLI nothing at start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from newsdesk.cliutils import home_option, resolve_home

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the archive to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--tz", "tz_name", help="Zone for shown times and typed dates (default: local; ?tz= overrides).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Requests served at once.")
@home_option
def serve(host: str, port: int, tz_name: str | None, threads: int, home: Path | None) -> None:
    """Serve a read-only web page for the archive: search, timeline chart, records, saved searches, sources.

    Pages at /, /record?key=…, /saved, /sources; the same data as JSON under /api/
    (/api/search takes the search command's options and answers its --json --facets shape).
    Only GET and HEAD; binds to 127.0.0.1 unless told otherwise.  Stop it with Ctrl-C.

    Example:

        newsdesk serve --port 8080 --tz Asia/Jerusalem
    """
    from waitress import create_server

    from newsdesk.web.app import create_app

    where = resolve_home(home)
    app = create_app(where, tz_name)
    if host not in LOOPBACK:
        click.echo(f"warning: serving on {host}: anyone who can reach it can read the archive", err=True)
    server = create_server(app, host=host, port=port, threads=threads, ident="newsdesk")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"newsdesk: serving {where.root} on http://{shown}:{server.effective_port}/ (Ctrl-C stops)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
