"""Every ``newsdesk …`` command line the README and docs/ show goes through the CLI's own parser.

A line is found in a fenced code block (shell, crontab, a systemd unit: any
block but TOML/JSON/Python/text; an unlabelled one counts) or in an inline code span, wherever a token is
``newsdesk`` (or a path ending in ``/newsdesk``).  It is split as a shell
would (continuations joined, comments and everything after ``&&``, ``|``,
``>`` … dropped), then resolved command by command through click's groups and
parsed by the command's own option parser, with the values of choice and
number options converted too: an unknown command or option, a missing option
value, a stray argument or a bad choice fails the test, naming the file and
line.  Nothing runs.  Inline spans that are usage synopses rather than
command lines (``[--url URL]``, ``hour|day|week``, ``…``) are left out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from newsdesk.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_SHELL = {"toml", "json", "python", "py", "jsonc", "html", "text"}  # "text": a diagram, an output
OPERATORS = {"&&", "||", "|", ";", ">", ">>", "<", "&", "2>", "2>&1", "(", ")"}
SYNOPSIS = re.compile(r"\[|\||…|\.\.\.")


@dataclass(frozen=True)
class Shown:
    """One command line as shown in a doc."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _commands_in(text: str) -> list[list[str]]:
    """The newsdesk invocations on one (joined) shell line, as argument lists after ``newsdesk``."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unclosed quote: not a shell line
        return []
    found, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        if token == "newsdesk" or token.endswith("/newsdesk"):
            args = []
            i += 1
            while i < len(tokens) and tokens[i] not in OPERATORS:
                args.append(tokens[i])
                i += 1
            found.append(args)
        i += 1
    return found


def shown_commands() -> list[tuple[Shown, list[str]]]:
    """Every newsdesk command line in the docs, with its arguments."""
    out: list[tuple[Shown, list[str]]] = []
    for path in DOCS:
        name = str(path.relative_to(ROOT))
        lines = path.read_text(encoding="utf-8").split("\n")
        fence: str | None = None
        pending, pending_at = "", 0
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = None if fence is not None else stripped[3:].strip().lower()
                continue
            if fence is not None and fence not in NOT_SHELL:
                text = stripped.removeprefix("$ ")
                if pending:
                    text = pending + " " + text
                else:
                    pending_at = number
                if text.endswith("\\"):
                    pending = text[:-1]
                    continue
                pending = ""
                for args in _commands_in(text):
                    out.append((Shown(name, pending_at, text), args))
            elif fence is None:
                for span in re.findall(r"`([^`]*\bnewsdesk [^`]+)`", line):
                    if SYNOPSIS.search(span):
                        continue
                    for args in _commands_in(span):
                        out.append((Shown(name, number, span), args))
    return out


def check_parses(args: list[str]) -> None:
    """Resolve ``args`` through the groups and parse them with the command's parser; click errors propagate."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="newsdesk")
    while True:
        parser = command.make_parser(ctx)
        opts, rest, order = parser.parse_args(args=list(args))
        for param in order:
            value = opts.get(param.name) if param.name else None
            if value is None or isinstance(param.type, (click.Path, click.File)):
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, str):
                    param.type.convert(item, param, ctx)
        if isinstance(command, click.Group):
            if not rest:
                return  # a group alone shows its help
            name, sub, args = command.resolve_command(ctx, rest)
            assert sub is not None, name
            ctx = click.Context(sub, info_name=name, parent=ctx)
            command = sub
            continue
        if rest:
            raise click.UsageError(f"unexpected extra arguments: {' '.join(rest)}", ctx=ctx)
        return


SHOWN = shown_commands()


def test_the_docs_show_commands() -> None:
    """The extraction finds the command lines (a broken extractor would make every other test vacuous)."""
    files = {shown.file for shown, _ in SHOWN}
    assert "README.md" in files and len(files) >= 8
    first = {args[0] for _, args in SHOWN if args}
    assert {"demo", "crawl", "search", "serve", "schedule", "check", "record", "worker"} <= first


@pytest.mark.parametrize(("shown", "args"), SHOWN, ids=[str(s) for s, _ in SHOWN])
def test_shown_command_parses(shown: Shown, args: list[str]) -> None:
    try:
        check_parses(args)
    except click.ClickException as exc:
        pytest.fail(f"{shown}\n  {exc.format_message()}")


@pytest.mark.parametrize("line", [
    "newsdesk serch korea",                      # no such command
    "newsdesk search korea --sorted newest",     # no such option
    "newsdesk search korea --sort newst",        # not one of the choices
    "newsdesk crawl --parallel",                 # an option without its value
    "newsdesk parse jpost-breaking a.html b.html",  # a stray argument
    "newsdesk watch ad korea x",                 # no such subcommand
])
def test_a_wrong_line_fails_the_parser(line: str) -> None:
    (args,) = _commands_in(line)
    with pytest.raises(click.ClickException):
        check_parses(args)


def test_extraction_handles_shell_forms() -> None:
    assert _commands_in("newsdesk check jpost-breaking --dir fixtures/ && newsdesk check --live --json") == [
        ["check", "jpost-breaking", "--dir", "fixtures/"], ["check", "--live", "--json"]]
    assert _commands_in("*/10 * * * * /home/me/.venv/bin/newsdesk crawl --quiet  # cron") == [["crawl", "--quiet"]]
    assert _commands_in("newsdesk search korea --format csv > korea.csv") == [["search", "korea", "--format", "csv"]]


def test_readme_test_command_is_what_ci_runs() -> None:
    """The README's second command is, verbatim, the last line of .ci/run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)
    assert blocks[0] == "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/newsdesk demo"
    ci_last = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().split("\n")[-1]
    assert blocks[1] == ci_last


def test_readme_is_a_first_page() -> None:
    assert len((ROOT / "README.md").read_bytes()) < 8 * 1024
