"""What every CLI module shares: the error-to-exit-code group and the ``--home`` option.

Command modules import from here (never from ``cli``) and are registered in
``newsdesk/cli.py`` with one ``cli.add_command`` line each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from newsdesk.errors import NewsdeskError
from newsdesk.home import ENV_VAR, Home

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """A NewsdeskError shown as ``Error: …`` plus a hint, with its exit code."""

    def __init__(self, error: NewsdeskError) -> None:
        message = str(error) + (f"\nHint: {error.hint}" if error.hint else "")
        super().__init__(message)
        self.exit_code = error.exit_code


class Group(click.Group):
    """Turns every NewsdeskError into a clean message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsdeskError as exc:
            raise UserError(exc) from None


def home_option(func: F) -> F:
    """``--home DIR`` (or $NEWSDESK_HOME) on every command."""
    return click.option(
        "--home", "home", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_VAR,
        default=None, help=f"Data directory (default: the platform data dir; env {ENV_VAR}).",
    )(func)


def resolve_home(path: Path | None) -> Home:
    """The data home a command works in (checked, not yet created)."""
    return Home.resolve(path)


def _parse_settings(ctx: click.Context, param: click.Parameter, pairs: tuple[str, ...]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"takes NAME=VALUE, not {pair!r}", ctx=ctx, param=param)
        settings[name.strip()] = value
    return settings


def settings_option(help_text: str) -> Callable[[F], F]:
    """``-s/--set NAME=VALUE`` (repeatable): Scrapy settings, passed on as a dict."""
    return click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
                        callback=_parse_settings, help=help_text)
