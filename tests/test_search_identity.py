"""Search results stay the same across index/search optimizations.

A fixed set of queries runs over a seeded synthetic archive (``benchmarks.synth``,
2,000 records); the keys and totals of the hits must equal those recorded in
``fixtures/search/expected_hits.json``, which was written by the code *before*
the issue-7 performance work (``python -m tests.test_search_identity record``),
and written again when issue 17 ordered equal scores by time: 14 queries'
pages changed, each only in the order of hits with equal scores (same totals,
same sequence of scores).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synth import Archive
from index.ingest import ingest, optimize, reindex
from index.search import search
from newsdesk.core.home import Home
from tests.records import write_outbox

EXPECTED = Path(__file__).resolve().parent.parent / "fixtures" / "search" / "expected_hits.json"
RECORDS = 2000
UTC = timezone.utc
JERUSALEM = timezone(timedelta(hours=3))


def _queries(words: list[str], sample: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The query set: every class the benchmark measures, plus operators and odd bounds."""
    w = words
    body = sample[5]["body"].lower().replace(".", "").split()
    phrase = next(f'"{a} {b}"' for a, b in zip(body, body[1:]) if a not in w[:20] and b not in w[:20])
    title = sample[9]["title"].lower().split()
    title_phrase = next(f'"{a} {b}"' for a, b in zip(title, title[1:]) if a not in w[:20] and b not in w[:20])
    return [
        {"q": w[25]}, {"q": w[60]}, {"q": w[150]}, {"q": w[400]}, {"q": w[900]}, {"q": w[2500]},
        {"q": f"{w[30]} {w[45]}"}, {"q": f"{w[70]} {w[120]}"}, {"q": f"{w[200]} {w[33]}"},
        {"q": phrase}, {"q": title_phrase},
        {"q": f"{w[40]} OR {w[300]}"}, {"q": f"{w[22]} NOT {w[23]}"}, {"q": f"title:{w[50]}"},
        {"q": w[25], "since": "2024-03-01T00:00:00+00:00", "until": "2024-03-31T00:00:00+00:00"},
        {"q": w[80], "since": "2023-06-10T00:00:00+00:00", "until": "2023-07-10T23:59:59+00:00"},
        {"q": w[35], "since": "2024-11-01T08:30:00+03:00"},
        {"q": w[35], "until": "2023-02-01T12:15:00+03:00"},
        {"q": "", "since": "2024-05-01T00:00:00+00:00", "until": "2024-05-31T00:00:00+00:00", "sort": "newest"},
        {"q": "", "since": "2023-09-01T00:00:00+00:00", "until": "2023-09-30T00:00:00+00:00", "sort": "oldest"},
        {"q": w[28], "sources": ["jpost-breaking"]},
        {"q": w[28], "sources": ["reuters-world", "bbc-politics"], "sort": "newest"},
        {"q": w[26], "sort": "newest"}, {"q": w[26], "sort": "oldest", "limit": 5},
        {"q": "", "sort": "newest", "limit": 50},
        {"q": w[31], "since": "2024-01-01T00:00:00+00:00", "until": "2024-06-30T00:00:00+00:00",
         "sources": ["afp-world", "toi-breaking", "cnn-world"], "sort": "newest"},
    ]


def _build(root: Path) -> tuple[Path, list[dict[str, Any]]]:
    archive = Archive()
    records = list(archive.records(RECORDS))
    write_outbox(root, "20250101T000000Z-synth-aaaaaa", records)
    ingest(Home(root))
    return root / "index", _queries(archive.words, records)


def _run(index_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
    result = search(
        index_dir, spec["q"],
        since=datetime.fromisoformat(spec["since"]) if spec.get("since") else None,
        until=datetime.fromisoformat(spec["until"]) if spec.get("until") else None,
        sources=spec.get("sources", []), sort=spec.get("sort", "relevance"), limit=spec.get("limit", 20),
    )
    return {"query": spec, "total": result.total, "keys": [h.record["key"] for h in result.hits]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    return _build(tmp_path_factory.mktemp("identity"))


def test_hits_match_those_recorded_before_the_optimizations(built: tuple[Path, list[dict[str, Any]]]) -> None:
    index_dir, queries = built
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert [e["query"] for e in expected] == queries  # same generator, same query set
    for want in expected:
        got = _run(index_dir, want["query"])
        assert (got["total"], got["keys"]) == (want["total"], want["keys"]), want["query"]
    assert sum(1 for e in expected if e["total"]) >= len(expected) - 1  # the set exercises real hits


def test_same_hits_after_more_segments_reindex_and_optimize(tmp_path: Path) -> None:
    archive = Archive()
    records = list(archive.records(RECORDS))
    for n, start in enumerate(range(0, RECORDS, 1000)):  # two runs → two segments
        write_outbox(tmp_path, f"20250101T00000{n}Z-synth-aaaaaa", records[start:start + 1000])
        ingest(Home(tmp_path))
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    index_dir = tmp_path / "index"
    for step in ("segments", "reindex", "optimize"):
        if step == "reindex":
            reindex(Home(tmp_path))
        elif step == "optimize":
            optimize(Home(tmp_path))
        for want in expected:
            got = _run(index_dir, want["query"])
            assert (got["total"], got["keys"]) == (want["total"], want["keys"]), (step, want["query"])


def record(root: Path) -> None:
    """Write the expectations from the code as it is now."""
    index_dir, queries = _build(root)
    EXPECTED.write_text(json.dumps([_run(index_dir, q) for q in queries], indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record(Path(tmp))


def test_day_walk_equals_whoosh_sorted_search(built: tuple[Path, list[dict[str, Any]]]) -> None:
    """The no-words fast path returns what Whoosh's own sorted search returns, ties included."""
    from whoosh import query

    from index.search import _searcher
    from index.timequery import newest_in_range, time_range

    searcher = _searcher(built[0])
    start = datetime(2023, 1, 1)
    windows = [(start + timedelta(days=d, hours=h), start + timedelta(days=d + span, hours=h + 5, minutes=7))
               for d, h, span in ((0, 0, 30), (100, 7, 0), (200, 23, 1), (365, 12, 45), (700, 3, 60))]
    windows += [(None, start + timedelta(days=40)), (start + timedelta(days=690), None)]
    for since, until in windows:
        for newest in (True, False):
            docnums, total = newest_in_range(searcher, since, until, 20, newest=newest)
            whoosh = searcher.search(query.And([query.Every(), time_range(since, until)]), limit=20,
                                     sortedby="published", reverse=newest)
            assert (docnums, total) == ([hit.docnum for hit in whoosh], len(whoosh)), (since, until, newest)
