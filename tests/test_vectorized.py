"""index.vectorized gives exactly what Whoosh's own matchers give: the same (score, docnum) list and total."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.synth import Archive
from index import vectorized
from index.ingest import ingest
from index.search import StableTopCollector, _searcher, build_query, search
from newsdesk.core.home import Home
from tests.records import write_outbox

UTC = timezone.utc


def _queries(words: list[str], records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    w = words
    body = records[7]["body"].lower().replace(".", "").split()
    phrase = next(f'"{a} {b}"' for a, b in zip(body, body[1:]) if a not in w[:20] and b not in w[:20])
    three = next(f'"{a} {b} {c}"' for a, b, c in zip(body, body[1:], body[2:])
                 if a not in w[:20] and b not in w[:20] and c not in w[:20])
    return [
        (w[21], {}), (w[25], {}), (w[150], {}), (w[3000], {}), ("zzzunknownword", {}),
        (f"{w[30]} {w[45]}", {}), (f"{w[22]} {w[23]} {w[24]}", {}), (phrase, {}), (three, {}),
        (f"{w[40]} OR {w[300]}", {}), (f"({w[40]} OR {w[41]}) {w[60]}", {}), (f"title:{w[50]}", {}),
        (f"body:{w[50]} title:{w[51]}", {}),
        (w[25], {"since": datetime(2024, 3, 1, tzinfo=UTC), "until": datetime(2024, 3, 31, 12, tzinfo=UTC)}),
        (w[35], {"since": datetime(2024, 11, 1, 8, 30, tzinfo=UTC)}),
        (w[28], {"sources": ["jpost-breaking"]}),
        (w[28], {"sources": ["reuters-world", "bbc-politics"], "agencies": ["reuters", "ap"]}),
        (f"{w[31]} {w[90]}", {"since": datetime(2024, 1, 1, tzinfo=UTC), "until": datetime(2024, 6, 30, tzinfo=UTC),
                             "sources": ["afp-world", "toi-breaking", "cnn-world"]}),
        (phrase, {"sources": ["jpost-breaking", "afp-world"]}),
    ]


def _whoosh(searcher: Any, q: Any, limit: int, sort: str = "relevance") -> tuple[list[tuple[float, int]], int]:
    if sort == "relevance":
        top = StableTopCollector(limit, usequality=False, replace=0)
    else:
        top = searcher.collector(limit=limit, sortedby="published", reverse=sort == "newest")
    searcher.search_with_collector(q, top)
    results = top.results()
    return [(hit.score, hit.docnum) for hit in results], len(results)


def _home(root: Path, records: list[dict[str, Any]], runs: int) -> Path:
    size = len(records) // runs
    for n in range(runs):
        write_outbox(root, f"2025010{n + 1}T000000Z-synth-{n:06d}", records[n * size:(n + 1) * size])
        ingest(Home(root))
    if runs > 1:  # re-send some records: their old documents are deleted, new ones added
        write_outbox(root, "20250201T000000Z-synth-resend", [dict(r, version=2) for r in records[::7]])
        ingest(Home(root))
    return root / "index"


@pytest.mark.parametrize("runs", [1, 3])
def test_same_scores_docnums_and_totals_as_whoosh(tmp_path: Path, runs: int) -> None:
    archive = Archive(seed=5)
    records = list(archive.records(6000))  # over 5,000 documents: Whoosh's Or builds union trees
    index_dir = _home(tmp_path, records, runs)
    vectorized.clear_cache()
    searcher = _searcher(index_dir)
    assert len(list(searcher.leaf_searchers())) >= runs
    if runs > 1:
        assert searcher.doc_count_all() > searcher.doc_count()  # deleted documents in the segments
    compared = 0
    for text, filters in _queries(archive.words, records):
        q = build_query(searcher.schema, text, filters.get("since"), filters.get("until"),
                        filters.get("sources", ()), agencies=filters.get("agencies", ()))
        for limit in (1, 20, 300):
            fast = vectorized.top_docs(searcher, q, limit)
            assert fast is not None, text
            assert fast == _whoosh(searcher, q, limit), (text, filters, limit)
            compared += len(fast[0])
            for sort in ("newest", "oldest"):
                by_time = vectorized.top_docs(searcher, q, limit, sortedby="published", reverse=sort == "newest")
                assert by_time == _whoosh(searcher, q, limit, sort), (text, filters, limit, sort)
    assert compared > 2000  # the queries do match


def test_unsupported_parts_fall_back_to_whoosh(tmp_path: Path) -> None:
    archive = Archive(seed=5)
    records = list(archive.records(300))
    index_dir = _home(tmp_path, records, 1)
    searcher = _searcher(index_dir)
    w = archive.words
    for text in (f"{w[22]} NOT {w[23]}", f"{w[30][:4]}*", f"{w[30]}^2"):
        assert vectorized.top_docs(searcher, build_query(searcher.schema, text), 20) is None, text
        assert search(index_dir, text).total > 0


def test_repeated_query_reads_postings_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(seed=5)
    index_dir = _home(tmp_path, list(archive.records(300)), 1)
    vectorized.clear_cache()
    searcher = _searcher(index_dir)
    q = build_query(searcher.schema, f"{archive.words[25]} {archive.words[26]}")
    first = vectorized.top_docs(searcher, q, 20)
    reads: list[Any] = []
    monkeypatch.setattr(vectorized, "_read_blocks", lambda *a: reads.append(a))
    assert vectorized.top_docs(searcher, q, 20) == first and reads == []


def test_positions_decoded_in_bulk_equal_whooshs_decoder() -> None:
    from whoosh import formats

    fmt = formats.Positions()
    lists = [[0], [3], [1, 2, 3], [255], [256], [0, 300, 301, 70000], [5, 9], [7] * 0 + [2**20], [4, 260, 261]]
    values = [fmt.encode(p) for p in lists]
    sizes = np.array([len(v) for v in values])
    joined = np.frombuffer(b"".join(values) + bytes(16), dtype=np.uint8)
    counts, positions = vectorized._positions(joined, np.cumsum(sizes) - sizes, sizes)
    assert counts.tolist() == [len(p) for p in lists]
    assert positions.tolist() == [q for v in values for q in fmt.decode_positions(v)]
    assert positions.tolist() == [q for p in lists for q in p]
    some = np.array([1, 5, 8])  # a few values, picked from the joined ones
    counts, positions = vectorized._positions(joined, (np.cumsum(sizes) - sizes)[some], sizes[some])
    assert positions.tolist() == [q for i in some for q in lists[i]]


def test_positions_values_are_read_once_then_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(seed=5)
    records = list(archive.records(300))
    index_dir = _home(tmp_path, records, 1)
    vectorized.clear_cache()
    searcher = _searcher(index_dir)
    words = records[3]["body"].lower().replace(".", "").split()
    q = build_query(searcher.schema, f'"{words[4]} {words[5]}"')
    first = vectorized.top_docs(searcher, q, 20)
    assert first is not None and first[1] >= 1
    decoded: list[Any] = []
    monkeypatch.setattr(vectorized, "_read_blocks", lambda *a: decoded.append(a))
    assert vectorized.top_docs(searcher, q, 20) == first and decoded == []
