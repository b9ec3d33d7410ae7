"""The body's edges: a repeated headline, a byline or credit printed as a line of the text, captions, paragraph breaks."""

from __future__ import annotations

import re

from parsel import Selector

from scraper.bylines import parse_byline
from scraper.titles import fold, squash


def _without_headline(body: str | None, title: str | None) -> str | None:
    """The body without the headline repeated at its top (and a kicker line above it)."""
    if not body or not title:
        return body
    lines = body.split("\n")
    for i, line in enumerate(lines[:3]):
        if fold(line) == fold(title):
            above = lines[:i]
            if all(len(x.split()) <= 4 for x in above) and len(lines) > i + 1:
                return "\n".join(lines[i + 1:])
            break
    return body


#: A line that is only a byline: names (capitalized words, initials) joined by separators.
_BYLINE_LINE = re.compile(
    r"(?:(?:by|par|por|von)\s+)?[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,3}"
    r"(?:\s*(?:/|,|&|\band\b|\bund\b|\bet\b|\by\b)\s*[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,3}){0,4}",
    re.IGNORECASE,
)


def _byline_line(line: str) -> list[str]:
    """People named by a line that is only a byline ("By A and B, Reuters", "A / B"), else []."""
    line = line.strip()
    if len(line) > 100 or not _BYLINE_LINE.fullmatch(line):
        return []
    joiners = {"and", "und", "et", "y", "by", "par", "por", "von"}
    words = re.findall(r"[^\W\d_][\w'’-]*", line)
    if not all(w[0].isupper() for w in words if w.casefold() not in joiners):
        return []
    people = parse_byline(line).authors
    if re.match(r"(?:by|par|por|von)\s", line, re.IGNORECASE):
        return people
    # Without "By", only full names joined by "/", "&" or "and" ("A B / C D"; not "Paris, France").
    if re.search(r"/|&|\band\b", line) and len(people) > 1 and all(len(p.split()) >= 2 for p in people):
        return people
    return []


def _body_byline(body: str | None) -> tuple[str | None, str | None]:
    """A byline naming people printed among the body's first lines, and the body without it."""
    if not body or "\n" not in body:
        return None, body
    lines = body.split("\n")
    for i, line in enumerate(lines[:3]):
        if _byline_line(line):
            return line.strip(), "\n".join(lines[:i] + lines[i + 1:])
    return None, body


def _without_credit_lines(body: str | None, credits: list[str]) -> str | None:
    """The body without a first or last line that is only a credited name ("IN-Redaktion")."""
    if not body or not credits or "\n" not in body:
        return body
    names = {fold(c) for c in credits}
    lines = body.split("\n")
    if fold(lines[0]) in names:
        lines = lines[1:]
    if len(lines) > 1 and fold(lines[-1]) in names:
        lines = lines[:-1]
    return "\n".join(lines)


def _paragraphs_like(flat: str, page_text: str | None) -> str:
    """Break a one-line JSON-LD body where the page's own paragraphs start."""
    if "\n" in flat or not page_text or "\n" not in page_text:
        return flat
    cuts = set()
    for paragraph in page_text.split("\n")[1:]:
        start = paragraph.strip()[:40]
        if len(start) >= 20:
            at = flat.find(start)
            if at > 0:
                cuts.add(at)
    if not cuts:
        return flat
    pieces, last = [], 0
    for at in sorted(cuts):
        pieces.append(flat[last:at].strip())
        last = at
    pieces.append(flat[last:].strip())
    return "\n".join(p for p in pieces if p)


def _without_captions(body: str | None, sel: Selector) -> str | None:
    """The body without a line that is exactly an image's caption (a ``<figcaption>`` or ``<figure>`` text).

    JSON-LD bodies and some main texts carry the captions of the article's images
    as lines of their own ("The harbour on Monday (Picture: Jane Roe)"); a
    caption describes a picture, it is not the article's text.
    """
    if not body:
        return body
    captions = {squash(" ".join(n.xpath(".//text()").getall())) for n in sel.xpath("//figcaption | //figure")}
    captions.discard("")
    if not captions:
        return body
    return "\n".join(line for line in body.split("\n") if squash(line) not in captions)
