"""Optional: every item of the real feeds in the measuring corpus, with correct UTC times.

Reads ``$NEWSDESK_CORPUS/feeds`` (or ``../shared/corpus/feeds`` beside the
checkout); skips cleanly where that folder is absent, as it is for users.
Times are checked against feedparser's own reading (and against the JSON Feed's
ISO strings), an independent parse of the same text.
"""

from __future__ import annotations

import calendar
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from scraper.offline import parse_page
from scraper.sources import Source
from tests.helpers import ROOT

CORPUS = Path(os.environ.get("NEWSDESK_CORPUS") or ROOT.parent / "shared" / "corpus")
FEEDS = sorted((CORPUS / "feeds").glob("*")) if (CORPUS / "feeds").is_dir() else []
SOURCE = Source(id="corpus-feed", spider="feed", urls=("https://feeds.example/feed",), timezone="UTC",
                options={"follow": False})


def _reference_times(body: bytes) -> list[datetime | None]:
    """Each entry's published time as feedparser (or the JSON Feed's ISO string) reads it."""
    if body.lstrip()[:1] == b"{":
        return [datetime.fromisoformat(i["date_published"]).astimezone(timezone.utc) if i.get("date_published")
                else None for i in json.loads(body)["items"]]
    out = []
    for entry in feedparser.parse(body).entries:
        parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        out.append(datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc) if parsed else None)
    return out


@pytest.mark.skipif(not FEEDS, reason=f"no corpus feeds at {CORPUS / 'feeds'} (set NEWSDESK_CORPUS)")
@pytest.mark.parametrize("path", FEEDS, ids=[p.name for p in FEEDS])
def test_every_corpus_feed_item_with_utc_times(path: Path) -> None:
    body = path.read_bytes()
    result = parse_page(SOURCE, body, SOURCE.urls[0])
    assert not result.dropped
    reference = _reference_times(body)
    assert len(result.records) == len(reference)  # these feeds repeat no link
    for record, expected in zip(result.records, reference):
        assert record["published"] is not None, record["published_raw"]
        if expected is not None:
            assert datetime.fromisoformat(record["published"]) == expected, record["published_raw"]
