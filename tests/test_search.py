"""The query API over a small index: keywords, phrases, dates with open ends, source, sort."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from index.ingest import ingest
from index.store import IndexMissing
from index.search import QueryError, search
from newsdesk.core.home import Home
from tests.records import ARCHIVE, write_outbox

UTC = timezone.utc


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("home")
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", ARCHIVE)
    ingest(Home(root))
    return root / "index"


def _titles(result: object) -> list[str]:
    return [h.record["title"] for h in result.hits]  # type: ignore[attr-defined]


def test_words_are_anded_over_title_and_body(index_dir: Path) -> None:
    result = search(index_dir, "north korea troops")
    assert set(_titles(result)) == {
        "Putin does not deny reports about North Korea troops",
        "South Korea summons Russian envoy over North Korean troops",
        "Troops deployed as North Korea tensions rise",
    }
    assert result.total == 3


def test_or_not_and_phrases(index_dir: Path) -> None:
    assert len(search(index_dir, "trump OR lebanese").hits) == 2
    assert "North Korea fires ballistic missile" not in _titles(search(index_dir, "korea NOT missile"))
    phrase = _titles(search(index_dir, '"north korea troops"'))
    assert phrase == ["Putin does not deny reports about North Korea troops"]
    assert _titles(search(index_dir, "title:trump")) == ["Trump says he'll fire Special Counsel Jack Smith"]


def test_stemming_matches_word_forms(index_dir: Path) -> None:
    assert "Putin does not deny reports about North Korea troops" in _titles(search(index_dir, "report"))


def test_date_range_both_ends_and_open_ends(index_dir: Path) -> None:
    october = search(index_dir, "korea", since=datetime(2024, 10, 1, tzinfo=UTC), until=datetime(2024, 10, 31, 23, 59, tzinfo=UTC))
    assert "North Korea fires ballistic missile" not in _titles(october)
    assert len(october.hits) == 3
    since_only = search(index_dir, "korea", since=datetime(2024, 10, 21, tzinfo=UTC))
    assert _titles(since_only) == ["Putin does not deny reports about North Korea troops"]
    until_only = search(index_dir, "korea", until=datetime(2024, 9, 30, tzinfo=UTC))
    assert _titles(until_only) == ["North Korea fires ballistic missile"]


def test_aware_bounds_in_other_zones(index_dir: Path) -> None:
    from dateutil import tz

    jerusalem = tz.gettz("Asia/Jerusalem")
    # 19:25 Israel time is 16:25Z: a range ending at 19:24 Israel time excludes the Putin item.
    result = search(index_dir, "korea", since=datetime(2024, 10, 24, 0, 0, tzinfo=jerusalem),
                    until=datetime(2024, 10, 24, 19, 24, tzinfo=jerusalem))
    assert result.hits == []


def test_source_filter(index_dir: Path) -> None:
    assert _titles(search(index_dir, "troops", sources=["other-wire"])) == ["Troops deployed as North Korea tensions rise"]
    assert len(search(index_dir, "troops", sources=["other-wire", "jpost-breaking"]).hits) == 4


def test_sort_newest_and_oldest(index_dir: Path) -> None:
    newest = search(index_dir, "korea", sort="newest", since=datetime(2024, 1, 1, tzinfo=UTC))
    published = [h.record["published"] for h in newest.hits]
    assert published == sorted(published, reverse=True)
    oldest = search(index_dir, "korea", sort="oldest", since=datetime(2024, 1, 1, tzinfo=UTC))
    assert [h.record["key"] for h in oldest.hits] == [h.record["key"] for h in newest.hits][::-1]


def test_limit_and_total(index_dir: Path) -> None:
    result = search(index_dir, "korea", limit=2)
    assert len(result.hits) == 2 and result.total == 5


def test_snippets_carry_the_terms(index_dir: Path) -> None:
    hit = search(index_dir, "russia").hits[0]
    assert "[[Russia]]" in hit.snippet


def test_empty_query_lists_by_date(index_dir: Path) -> None:
    result = search(index_dir, "", sort="newest", limit=100)
    assert result.total == len(ARCHIVE)


@pytest.mark.parametrize("bad", ["NOT NOT NOT", "(((", "x" * 1001])
def test_bad_queries_raise_query_error(index_dir: Path, bad: str) -> None:
    with pytest.raises(QueryError) as info:
        search(index_dir, bad)
    assert info.value.exit_code == 2


def test_inverted_range_is_an_error(index_dir: Path) -> None:
    with pytest.raises(QueryError, match="after"):
        search(index_dir, "korea", since=datetime(2024, 11, 1, tzinfo=UTC), until=datetime(2024, 10, 1, tzinfo=UTC))


def test_missing_index_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing) as info:
        search(tmp_path / "index", "korea")
    assert "newsdesk crawl" in info.value.hint


def test_the_shared_searcher_sees_later_ingests_and_optimize(tmp_path: Path) -> None:
    from index.ingest import optimize

    write_outbox(tmp_path, "20241024T170000Z-mixed-aaaaaa", ARCHIVE[:3])
    ingest(Home(tmp_path))
    assert search(tmp_path / "index", "korea").total == 1
    write_outbox(tmp_path, "20241024T171000Z-mixed-bbbbbb", ARCHIVE[3:])
    ingest(Home(tmp_path))  # a new segment: the kept searcher must refresh
    assert search(tmp_path / "index", "korea").total == 5
    optimize(Home(tmp_path))
    assert search(tmp_path / "index", "korea").total == 5
    assert len(search(tmp_path / "index", "", sort="newest", limit=100,
                      since=datetime(2024, 1, 1, tzinfo=UTC)).hits) == 6
