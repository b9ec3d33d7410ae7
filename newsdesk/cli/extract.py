"""``newsdesk extract FILE``: what article extraction reads from one saved page, as JSON."""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import click

from newsdesk.cli.options import home_option, resolve_home
from newsdesk.core.errors import NewsdeskError


class UnreadablePageError(NewsdeskError):
    """The page file cannot be read."""


def _iso(raw: str | None, zone: str | None) -> str | None:
    """A raw date as ISO 8601 with the offset it was read in (its own, else ``zone``'s).

    Without a zone of its own or ``zone``, the zone is unknown: a time of day is
    printed without an offset ("2024-05-14T10:00:00").  A day alone is printed as
    the day in any zone (never as its midnight).
    """
    from scraper.dates import get_zone, names_its_zone, parse_printed

    if zone is None and not names_its_zone(raw):
        wall = parse_printed(raw, "UTC")
        if wall is None:
            return None
        naive = wall.value.replace(tzinfo=None)
        return naive.isoformat() if re.search(r"\d:\d\d", raw or "") else naive.date().isoformat()
    parsed = parse_printed(raw, zone or "UTC")
    if parsed is None:
        return None
    offset = re.fullmatch(r"([+-])(\d\d):(\d\d)", parsed.zone)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        where: tzinfo = timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    elif parsed.zone == "UTC":
        where = timezone.utc
    else:
        where = get_zone(parsed.zone)
    local = parsed.value.astimezone(where)
    if not re.search(r"\d:\d\d", raw or "") and (local.hour, local.minute, local.second) == (0, 0, 0):
        return local.date().isoformat()  # a day without a time of day
    return local.isoformat()


def extraction_json(html: bytes, url: str | None, zone: str | None) -> dict[str, Any]:
    """The JSON object ``newsdesk extract`` prints for a page."""
    from scraper.extract import extract_article

    article = extract_article(html, url=url)
    return {
        "title": article.title,
        "authors": article.credits,
        "people": article.authors,
        "agency": article.agency,
        "published": _iso(article.published_raw, zone),
        "published_raw": article.published_raw,
        "updated": _iso(article.updated_raw, zone),
        "updated_raw": article.updated_raw,
        "language": article.language,
        "section": article.section,
        "tags": article.tags,
        "summary": article.summary,
        "body": article.body,
    }


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--url", help="The page's URL, if known (helps the generic extractor).")
@click.option("--tz", "tz_name", default=None,
              help="The page's zone, for dates it prints without one (default: none, they stay zoneless).")
@home_option
def extract(file: Path, url: str | None, tz_name: str | None, home: Path | None) -> None:
    """Print as JSON the title, authors, dates, body and language of a saved article page.

    Authors lists the people a byline credits, then its wire agency or desk.
    Dates are ISO 8601 with the offset the page gives (on the date, or on its
    other dates of the same day); a date printed without a zone is read in
    --tz, the zone of the site that printed it.  Without --tz such a date is
    printed without an offset: its zone is unknown, and never assumed (not
    this machine's, not UTC).  Reads no data home; --home is taken as everywhere.

    Example:

        newsdesk extract saved/article.html --url https://example.com/news/1 --tz Asia/Jerusalem
    """
    from newsdesk.core.timeparse import user_zone

    resolve_home(home)  # checked as in every command (it holds nothing extract needs)
    if tz_name is not None:
        user_zone(tz_name)  # a zone name checked as every typed zone is (exit 2, before the zone database)
    try:
        html = file.read_bytes()
    except OSError as exc:
        raise UnreadablePageError(f"cannot read {file}: {exc.strerror or exc}",
                                  hint="give the path of a saved HTML page") from None
    if b"\x00" in html[:4096] and not html.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs
        raise UnreadablePageError(f"{file} is not an HTML page (binary data)",
                                  hint="give the path of a saved HTML page")
    result = extraction_json(html, url or None, tz_name)
    if not (result["title"] or result["body"]):
        raise UnreadablePageError(f"no article found in {file}: no title and no text",
                                  hint="is it a saved HTML article page?")
    click.echo(json.dumps(result, ensure_ascii=False))
