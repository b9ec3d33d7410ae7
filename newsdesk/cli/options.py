"""What every CLI module shares: the error-to-exit-code group and the ``--home`` option.

Command modules import from here (never from ``cli``) and are registered in
``newsdesk/cli/main.py`` with one ``cli.add_command`` line each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import ENV_VAR, Home, default_home, write_problem

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """A NewsdeskError shown as ``Error: …`` plus a hint, with its exit code."""

    def __init__(self, error: NewsdeskError) -> None:
        message = str(error) + (f"\nHint: {error.hint}" if error.hint else "")
        super().__init__(message)
        self.exit_code = error.exit_code


_HOME_KEY = "newsdesk.core.home"  # in the click context's meta, shared by every nested context


class Group(click.Group):
    """Turns every NewsdeskError, and a write that failed on a full or read-only home, into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsdeskError as exc:
            raise UserError(exc) from None
        except (OSError, sqlite3.Error) as exc:
            home = ctx.meta.get(_HOME_KEY)
            problem = write_problem(exc, home.root if home is not None else default_home())
            if problem is None:
                raise
            raise UserError(problem) from None


class HomePath(click.Path):
    """A directory path; refuses text no file system accepts before click stats it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = value if isinstance(value, str) else str(value)
        if "\x00" in text:
            self.fail(f"{text!r} is not a valid path (it holds a NUL byte)", param, ctx)
        try:
            return super().convert(value, param, ctx)
        except (ValueError, OSError) as exc:  # too long, a loop of links …
            self.fail(f"{text[:80]!r} cannot be used: {exc}", param, ctx)


def home_option(func: F) -> F:
    """``--home DIR`` (or $NEWSDESK_HOME) on every command."""
    return click.option(
        "--home", "home", type=HomePath(file_okay=False, path_type=Path), envvar=ENV_VAR,
        default=None, help=f"Data directory (default: the platform data dir; env {ENV_VAR}).",
    )(func)


def resolve_home(path: Path | None) -> Home:
    """The data home a command works in (checked, not yet created)."""
    home = Home.resolve(path)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_HOME_KEY] = home  # named by the one line a full or read-only disk gets
    return home


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


def source_option(help_text: str = "Only this source (repeatable: any of them).") -> Callable[[F], F]:
    """``--source ID`` (repeatable), as the tuple ``sources_``; check it with :func:`check_sources`."""
    return click.option("--source", "sources_", multiple=True, metavar="SOURCE", help=help_text)


def check_sources(where: Home, source_ids: tuple[str, ...] | list[str], indexed: bool = False) -> None:
    """Refuse a source id that is not configured in ``where``: one line with "did you mean …", exit 2.

    Every command that takes a source name calls this before doing anything else with it.
    :param indexed: also accept a source the index holds records of (a search may ask
        for a source since removed from sources.toml); looked up only for an id not configured.
    """
    if not source_ids:
        return
    from scraper.sources import load_sources, unknown_source

    known = list(load_sources(where.sources_file))
    missing = [s for s in source_ids if s not in known]
    if missing and indexed:
        # A search's --source ignores case, as its other field filters do (`source:WIRE-B` finds wire-b).
        known += [s for s in _indexed_sources(where) if s not in known]
        folded = {s.casefold() for s in known}
        missing = [s for s in missing if s.casefold() not in folded]
    if missing:
        raise unknown_source(missing[0], known)


def _indexed_sources(where: Home) -> list[str]:
    """The sources the index holds records of (none when there is no index yet)."""
    from index.search import search

    try:
        return list(search(where.index, "", limit=1, facets=True).facets.get("source", {}))
    except NewsdeskError:
        return []


def keep_examples_whole(command: click.Command) -> None:
    """Mark the example paragraphs (lines starting ``newsdesk ``) of a command's help, and its
    subcommands', not to be rewrapped.

    click rewraps help paragraphs to the terminal, breaking a long example inside a
    source id or URL (``jpost-`` / ``breaking``); a paragraph after a ``\\b`` line is kept as written.
    """
    if command.help and "\b" not in command.help:
        import inspect

        paragraphs = inspect.cleandoc(command.help).split("\n\n")  # dedented first: the mark sits in column 0
        command.help = "\n\n".join("\b\n" + p if p.strip().startswith("newsdesk ") else p for p in paragraphs)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            keep_examples_whole(sub)
