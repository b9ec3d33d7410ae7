"""The result of extracting an article page: what the page says about itself."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExtractedArticle:
    """What an article page says about itself; every field may be missing."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)  # cleaned person names
    published_raw: str | None = None  # as found; zone-less ones are read in the source's zone
    updated_raw: str | None = None
    body: str | None = None  # plain text, paragraphs separated by "\n"
    summary: str | None = None
    language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    agency: str | None = None  # wire agency or desk from the byline (scraper/bylines.py)
    byline: str | None = None  # the author text as found, before cleaning
    #: Everyone credited, in order: people (as in ``authors``), then agencies, desks and
    #: organisations named as authors, as printed ("The Associated Press").
    credits: list[str] = field(default_factory=list)

