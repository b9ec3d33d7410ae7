"""Small hand-made records for index tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from index.store import open_index


def record(key: str, title: str, published: str | None, source: str = "jpost-breaking", **extra: Any) -> dict[str, Any]:
    data = {"key": key, "url": key if key.startswith("http") else None, "source": source, "kind": "breaking",
            "title": title, "summary": None, "body": extra.pop("body", None), "byline": None, "authors": [],
            "agency": extra.pop("agency", None), "published": published, "published_raw": None,
            "published_tz": None, "updated": None, "updated_raw": None,
            "fetched_at": "2024-10-24T17:00:00+00:00", "language": "en", "section": None, "tags": [],
            "extra": {}, "fingerprint": "x", "version": extra.pop("version", 1)}
    data.update(extra)
    return data


ARCHIVE = [
    record("https://www.jpost.com/bn/1", "Putin does not deny reports about North Korea troops", "2024-10-24T16:25:00+00:00",
           body="North Korea had sent troops to Russia, US officials said.", agency="Reuters"),
    record("https://www.jpost.com/bn/2", "Trump says he'll fire Special Counsel Jack Smith", "2024-10-24T14:32:00+00:00",
           body="Trump spoke on a radio show."),
    record("https://www.jpost.com/bn/3", "EU will give Lebanese army 60 million euros", "2024-10-24T12:03:00+00:00"),
    record("https://www.jpost.com/bn/4", "South Korea summons Russian envoy over North Korean troops", "2024-10-01T08:00:00+00:00"),
    record("https://www.jpost.com/bn/5", "North Korea fires ballistic missile", "2024-09-15T02:00:00+00:00"),
    record("https://example.org/world/6", "Troops deployed as North Korea tensions rise", "2024-10-20T10:00:00+00:00",
           source="other-wire"),
    record("https://www.jpost.com/bn/7", "Undated item about troops in Korea", None),
]


def write_outbox(home: Path, run_id: str, records: list[dict[str, Any]], part: bool = False, torn: str = "") -> Path:
    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / (f"{run_id}.jsonl.part" if part else f"{run_id}.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + torn, encoding="utf-8")
    return path


def indexed_count(home: Path) -> int:
    """How many records the index in ``home`` holds."""
    ix = open_index(home / "index")
    try:
        return int(ix.doc_count())
    finally:
        ix.close()
