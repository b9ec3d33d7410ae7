"""NewsItem: the one record schema shared by spiders, pipelines, the index and the CLI.

A spider fills the raw fields (strings as printed on the page); the pipelines
derive the rest.  Serialized, a record is one JSON object a line: this file is
the only contract between ``scraper/`` and ``index/``.  No Scrapy import here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import orjson

#: Kinds of record: an item of a list page (a breaking-news ticker line),
#: an article page, an entry of a feed, an entry of a news sitemap.
KINDS = ("breaking", "article", "feed", "sitemap")

DATETIME_FIELDS = ("published", "updated", "fetched_at")


@dataclass
class NewsItem:
    """One news item as kept in the archive of record."""

    key: str | None = None  # canonical URL, or "<source>:<hash>" for link-less items
    url: str | None = None
    source: str | None = None  # source id from sources.toml
    kind: str | None = None  # one of KINDS
    title: str | None = None
    summary: str | None = None
    body: str | None = None
    byline: str | None = None  # as printed, e.g. "By REUTERS"
    authors: list[str] = field(default_factory=list)
    agency: str | None = None  # wire agency or desk named in the byline: "Reuters", "AP", ...
    published: datetime | None = None  # aware, UTC
    published_raw: str | None = None  # as printed
    published_tz: str | None = None  # the zone used to read published_raw
    updated: datetime | None = None  # aware, UTC
    updated_raw: str | None = None
    fetched_at: datetime | None = None  # aware, UTC
    language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # custom fields a source names
    fingerprint: str | None = None  # hash of the normalized content
    version: int = 1
    # The response this record was read from, in the run's WARC file (scraper.capture); None for
    # records made before capture existed or from a source with `capture = false`.
    capture: str | None = None  # its WARC-Record-ID, "<urn:uuid:…>"
    capture_warc: str | None = None  # the WARC file, relative to <home>/archive/warc/: "YYYY/MM/<run-id>.warc.gz"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (datetimes as ISO 8601 UTC)."""
        return _iso_times(asdict(self))

    def to_json(self) -> str:
        """One line of JSONL, no trailing newline (``to_dict``'s values, without its deep copy).

        orjson writes the same text as ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))``
        (compared on 20,000 random records) in a fifth of the time, except that a NaN in
        ``extra`` becomes ``null``; what it refuses (a non-string key, an integer past
        64 bits in ``extra``) goes through ``json``.
        """
        data = _iso_times({name: getattr(self, name) for name in FIELD_NAMES})
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # orjson.JSONEncodeError
            return _JSONL.encode(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NewsItem:
        """Rebuild a record from ``to_dict`` output; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in DATETIME_FIELDS:
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(NewsItem))
#: For what orjson refuses (``json.dumps`` with these options would build an encoder per call).
_JSONL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FIELD_NAMES = frozenset(FIELD_NAMES)


def _iso_times(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its datetime fields as ISO 8601 strings (changed in place)."""
    for name in DATETIME_FIELDS:
        if isinstance(data[name], datetime):
            data[name] = data[name].isoformat()
    return data


class _ItemFields:
    """``ItemAdapter``'s mapping interface over a :class:`NewsItem`, without its per-item set-up.

    Each pipeline wraps every item; ``ItemAdapter`` inspects the item's type and
    fields each time (benchmarks/code_figures.py measures the difference); this wrapper only checks the name.
    """

    __slots__ = ("item",)

    def __init__(self, item: NewsItem) -> None:
        self.item = item

    def __getitem__(self, name: str) -> Any:
        if name not in _FIELD_NAMES:
            raise KeyError(name)
        return getattr(self.item, name)

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _FIELD_NAMES:
            raise KeyError(f"{type(self.item).__name__} does not support field: {name}")
        setattr(self.item, name, value)

    def __contains__(self, name: object) -> bool:
        return name in _FIELD_NAMES

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self.item, name) if name in _FIELD_NAMES else default


def adapt(item: Any) -> Any:
    """A mapping view of an item: cheap for a :class:`NewsItem`, ``ItemAdapter`` for anything else."""
    if isinstance(item, NewsItem):
        return _ItemFields(item)
    from itemadapter import ItemAdapter

    return ItemAdapter(item)
