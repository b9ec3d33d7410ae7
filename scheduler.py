"""The scheduler's entry point: ``python scheduler.py [--home DIR] [-s NAME=VALUE]…`` (or ``newsdesk schedule``).

It only reads its arguments; the scheduler itself (one APScheduler job per enabled source, the runners,
housekeeping, the clean stop) is :mod:`newsdesk.ops.scheduling`.
"""

from __future__ import annotations

import argparse
import os
import sys

from newsdesk.core.errors import NewsdeskError
from newsdesk.ops.scheduling import run


def _settings(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise NewsdeskError(f"-s/--set takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """``python scheduler.py [--home DIR] [-s NAME=VALUE]…``; returns an exit code."""
    parser = argparse.ArgumentParser(prog="scheduler.py", description="Run crawls on each enabled source's schedule.")
    parser.add_argument("home_pos", nargs="?", help=argparse.SUPPRESS)  # the old positional form
    parser.add_argument("--home", help="data directory (default: $NEWSDESK_HOME or the platform data dir)")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a Scrapy setting for every crawl (repeatable)")
    args = parser.parse_args(argv)
    try:
        return run(args.home or args.home_pos or os.environ.get("NEWSDESK_HOME") or None, _settings(args.settings))
    except NewsdeskError as exc:
        print(f"Error: {exc}" + (f"\nHint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
