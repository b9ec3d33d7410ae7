"""One list of queries, three readers of the same records: a brute-force oracle, the local index, PostgreSQL.

The oracle is plain Python over the archived JSONL: each case carries its own
predicate, written from what docs/search.md says the query means.  The local
index must agree with it on every case (totals and hit sets, or the same
refusal); the PostgreSQL archive must agree with the local index.  The
PostgreSQL half skips, with the reason, unless NEWSDESK_TEST_PG names a
reachable server (``.ci/run`` starts one).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.helpers import postgres_reason
from tests.records import write_outbox

PG = os.environ.get("NEWSDESK_TEST_PG", "")
RECORDS = 3000
# Words that are their own stem, so the oracle can compare words as typed.
VOCABULARY = ("korea north south troop grid bank england power drone talk summit rain storm court vote port "
              "strike market oil gold trade border river rocket flood fire ship coast truce deal tax wage bond "
              "steel coal farm wheat rice corn lake island desert").split()
STOP = ("the", "of", "and", "to", "in")  # stop words of the local index, skipped by phrases
AGENCIES = ("Reuters", "REUTERS", "AP", "AFP", None)
AUTHORS = (["Smith, John"], ["Jane Doe"], ["Omar Haddad", "Smith, John"], [], ["John  Smith"])
START = datetime(2024, 10, 1, tzinfo=timezone.utc)


def _text(rng: random.Random, low: int, high: int) -> str:
    words = []
    for _ in range(rng.randint(low, high)):
        words.append(rng.choice(VOCABULARY))
        if rng.random() < 0.25:
            words.append(rng.choice(STOP))
    return " ".join(words)


def make_records() -> list[dict[str, Any]]:
    """Deterministic records: every time distinct, a few undated, names in mixed case."""
    rng = random.Random(17)
    records = []
    for i in range(RECORDS):
        title = _text(rng, 3, 6)
        body = _text(rng, 0, 30)
        if i % 97 == 0:
            title, body = title + " bank of england", body + " england bank"
        elif i % 89 == 0:
            title = title + " bank the england"
        published = None if i % 37 == 5 else (START + timedelta(minutes=7 * i, seconds=i % 60)).isoformat()
        records.append({
            "key": f"https://news.example/{i:05d}", "url": f"https://news.example/{i:05d}",
            "source": ("wire-a", "wire-b", "jpost-breaking")[i % 3], "kind": ("breaking", "article")[i % 2],
            "title": title.capitalize(), "summary": None, "body": body or None, "byline": None,
            "authors": AUTHORS[i % len(AUTHORS)], "agency": AGENCIES[i % len(AGENCIES)],
            "published": published, "updated": None, "fetched_at": "2024-12-01T00:00:00+00:00",
            "language": ("en", "EN", "fr")[i % 3], "tags": [], "extra": {}, "fingerprint": str(i), "version": 1,
        })
    return records


# --- the oracle ----------------------------------------------------------------------------

def words(text: str | None) -> list[str]:
    """A field's words as the local index keeps them: lower case, stop words and 1-letter words out."""
    return [w for w in re.findall(r"\w+", (text or "").lower()) if len(w) > 1 and w not in STOP]


def body_of(r: dict[str, Any]) -> str:
    return "\n".join(p for p in (r.get("summary"), r.get("body")) if p)


def has(r: dict[str, Any], word: str, fields: tuple[str, ...] = ("title", "body")) -> bool:
    return any(word in words(r["title"] if f == "title" else body_of(r)) for f in fields)


def starts(r: dict[str, Any], prefix: str, fields: tuple[str, ...] = ("title", "body")) -> bool:
    return any(w.startswith(prefix) for f in fields for w in words(r["title"] if f == "title" else body_of(r)))


def phrase(r: dict[str, Any], *seq: str) -> bool:
    for text in (r["title"], body_of(r)):
        found = words(text)
        if any(found[i:i + len(seq)] == list(seq) for i in range(len(found))):
            return True
    return False


def name(value: str | None) -> str:
    return " ".join((value or "").replace(",", " ").split()).lower()


def author(r: dict[str, Any], who: str) -> bool:
    return name(who) in {name(a) for a in r["authors"]}


def when(r: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(r["published"]) if r["published"] else None


def between(r: dict[str, Any], since: datetime | None, until: datetime | None) -> bool:
    moment = when(r)
    return moment is not None and (since is None or moment >= since) and (until is None or moment <= until)


Pred = Callable[[dict[str, Any]], bool]
ALL: Pred = lambda r: True  # noqa: E731


@dataclass
class Case:
    """A query, what it means (``pred``), and how it is run; ``refused``: words of the refusal instead."""

    text: str
    pred: Pred = ALL
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    limit: int = 1000
    refused: str = ""

    def __str__(self) -> str:
        return f"{self.text!r} {self.filters or ''} sort={self.sort} page={self.page}"


T1, T2, T3 = START + timedelta(days=3), START + timedelta(days=9), START + timedelta(minutes=7 * 700, seconds=700 % 60)
CASES = [
    # words, case, stop words, OR
    Case("korea", lambda r: has(r, "korea")),
    Case("KOREA Troop", lambda r: has(r, "korea") and has(r, "troop")),
    Case("the korea", lambda r: has(r, "korea")),
    Case("korea troop grid", lambda r: has(r, "korea") and has(r, "troop") and has(r, "grid")),
    Case("korea OR grid", lambda r: has(r, "korea") or has(r, "grid")),
    Case("korea AND (grid OR rain)", lambda r: has(r, "korea") and (has(r, "grid") or has(r, "rain"))),
    # phrases, with and without a stop word inside
    Case('"north korea"', lambda r: phrase(r, "north", "korea")),
    Case('"bank of england"', lambda r: phrase(r, "bank", "england")),
    Case('"england bank"', lambda r: phrase(r, "england", "bank")),
    Case('"north korea" troop', lambda r: phrase(r, "north", "korea") and has(r, "troop")),
    # prefixes
    Case("tro*", lambda r: starts(r, "tro")),
    Case("coa* korea", lambda r: starts(r, "coa") and has(r, "korea")),
    Case("title:riv*", lambda r: starts(r, "riv", ("title",))),
    Case("ko*", refused="too short"),
    Case("k?rea", refused="wildcard"),
    Case("[a TO b]", refused="ranges"),
    # every NOT form
    Case("korea NOT troop", lambda r: has(r, "korea") and not has(r, "troop")),
    Case("korea -troop", lambda r: has(r, "korea") and not has(r, "troop")),
    Case("korea ANDNOT troop", lambda r: has(r, "korea") and not has(r, "troop")),
    Case('korea -"north korea"', lambda r: has(r, "korea") and not phrase(r, "north", "korea")),
    Case("korea -(troop OR grid)", lambda r: has(r, "korea") and not (has(r, "troop") or has(r, "grid"))),
    Case("korea -agency:reuters", lambda r: has(r, "korea") and name(r["agency"]) != "reuters"),
    Case("-korea", lambda r: not has(r, "korea")),
    Case("NOT korea", lambda r: not has(r, "korea")),
    Case("korea OR -grid", lambda r: has(r, "korea") or not has(r, "grid")),
    Case("south-korea", lambda r: any(phrase({"title": t, "body": None}, "south") and has({"title": t, "body": None},
                                                                                              "korea")
                                      for t in (r["title"], body_of(r)))),
    # field queries, mixed case
    Case("title:korea", lambda r: has(r, "korea", ("title",))),
    Case("Title:Korea body:grid", lambda r: has(r, "korea", ("title",)) and has(r, "grid", ("body",))),
    Case("agency:Reuters", lambda r: name(r["agency"]) == "reuters"),
    Case("AGENCY:reuters grid", lambda r: name(r["agency"]) == "reuters" and has(r, "grid")),
    Case("agency:reu*", lambda r: name(r["agency"]).startswith("reu")),
    Case("source:Wire-A korea", lambda r: r["source"] == "wire-a" and has(r, "korea")),
    Case("kind:ARTICLE storm", lambda r: r["kind"] == "article" and has(r, "storm")),
    Case("language:en truce", lambda r: r["language"].lower() == "en" and has(r, "truce")),
    Case('authors:"Smith, John"', lambda r: author(r, "smith john")),
    Case("korea OR agency:AFP", lambda r: has(r, "korea") or name(r["agency"]) == "afp"),
    # filters
    Case("grid", lambda r: has(r, "grid") and name(r["agency"]) == "reuters", {"agencies": ["REUTERS"]}),
    Case("", lambda r: author(r, "Smith, John"), {"authors": ["Smith, John"]}),
    Case("rain", lambda r: has(r, "rain") and author(r, "john smith"), {"authors": ["john smith"]}),
    Case("korea", lambda r: has(r, "korea") and r["source"] in ("wire-b", "wire-a"),
         {"sources": ["wire-b", "wire-a"]}),
    Case("", lambda r: r["kind"] == "article", {"kinds": ["article"]}),
    # dates: open and closed ranges (bounds included), with and without words
    Case("", lambda r: between(r, T2, None), {"since": T2}),
    Case("", lambda r: between(r, None, T1), {"until": T1}),
    Case("korea", lambda r: has(r, "korea") and between(r, T1, T2), {"since": T1, "until": T2}),
    Case("", lambda r: between(r, T3, T3), {"since": T3, "until": T3}),
    Case("storm", lambda r: has(r, "storm") and between(r, T1, None) and r["source"] == "wire-b",
         {"since": T1, "sources": ["wire-b"]}),
    # sorts and pages
    Case("korea", lambda r: has(r, "korea"), sort="newest", page=2, limit=10),
    Case("korea", lambda r: has(r, "korea"), sort="oldest", page=3, limit=25),
    Case("", ALL, sort="oldest", page=4, limit=50),
    Case("", lambda r: between(r, T1, None), {"since": T1}, sort="newest", page=2, limit=20),
    Case("grid -rain", lambda r: has(r, "grid") and not has(r, "rain"), sort="oldest", limit=1000),
    Case("storm", lambda r: has(r, "storm"), sort="oldest", page=1, limit=1000),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from index.ingest import ingest
    from newsdesk.core.home import Home

    where = Home.resolve(tmp_path_factory.mktemp("cross") / "home")
    write_outbox(where.root, "20241201T000000Z-cross", make_records())
    ingest(where)
    return where


@pytest.fixture(scope="module")
def archived(home: Any) -> list[dict[str, Any]]:
    """The records as the JSONL archive holds them (what the oracle reads)."""
    found = []
    for path in sorted(home.archive.rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            found.extend(json.loads(line) for line in handle if line.strip())
    assert len(found) == RECORDS
    return found


def _check(got: tuple[int, list[str]] | str, case: Case, records: list[dict[str, Any]]) -> None:
    """``got`` (total, keys of the page) is what the oracle finds for ``case``.

    By relevance the page's keys are compared as a set, and only when every match fits on it
    (scores differ between backends: a longer list is only checked to hold matches); by time,
    in order, the undated ones (last) as a set.
    """
    assert not isinstance(got, str), got
    matched = [r for r in records if case.pred(r)]
    assert 0 < len(matched) < RECORDS or case.text == "", f"{case}: a case that tells nothing"
    total, keys = got
    assert total == len(matched)
    if case.sort == "relevance":
        if total > case.limit:
            assert len(keys) == case.limit and set(keys) <= {r["key"] for r in matched}
        else:
            assert sorted(keys) == sorted(r["key"] for r in matched)
        return
    dated = sorted((r for r in matched if when(r)), key=when, reverse=case.sort == "newest")  # type: ignore[arg-type]
    ordered = dated + [r for r in matched if not when(r)]  # undated last in every order
    start = (case.page - 1) * case.limit
    expected = ordered[start:start + case.limit]
    dated_keys = {r["key"] for r in dated}
    assert [k for k in keys if k in dated_keys] == [r["key"] for r in expected if when(r)]
    assert sorted(keys) == sorted(r["key"] for r in expected)


def _run(search: Callable[..., Any], where: Any, case: Case) -> tuple[int, list[str]] | str:
    from index.query import QueryError

    try:
        found = search(where, case.text, sort=case.sort, page=case.page, limit=case.limit, **case.filters)
    except QueryError as exc:
        return str(exc)
    return found.total, [h.record["key"] for h in found.hits]


def test_the_list_covers_every_kind_of_query() -> None:
    assert len(CASES) >= 40
    texts = " ".join(c.text for c in CASES)
    for needle in ('"', "*", " NOT ", " -", "ANDNOT", "NOT korea", "-(", "AGENCY:", "Title:", " OR "):
        assert needle in f" {texts} ", needle
    assert {c.sort for c in CASES} == {"relevance", "newest", "oldest"} and any(c.page > 1 for c in CASES)
    assert any("since" in c.filters and "until" not in c.filters for c in CASES)
    assert any("until" in c.filters and "since" not in c.filters for c in CASES)
    assert any({"since", "until"} <= set(c.filters) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_local_index_agrees_with_the_oracle(case: Case, home: Any, archived: list[dict[str, Any]]) -> None:
    from index.search import search

    got = _run(search, home.index, case)
    if case.refused:
        assert isinstance(got, str) and case.refused in got, got
        return
    _check(got, case, archived)


PG_REASON = postgres_reason(PG)


@pytest.fixture(scope="module")
def pg_loaded(home: Any) -> str:
    import psycopg

    from index import pg

    with psycopg.connect(PG) as conn:
        conn.execute("DROP TABLE IF EXISTS newsdesk_records, newsdesk_record_versions")
    assert pg.load_archive(home, PG).new == RECORDS
    return PG


@pytest.mark.skipif(bool(PG_REASON), reason=PG_REASON or "PostgreSQL present")
@pytest.mark.parametrize("case", CASES, ids=str)
def test_postgresql_agrees_with_the_local_index(case: Case, home: Any, archived: list[dict[str, Any]],
                                                pg_loaded: str) -> None:
    from index import pg
    from index.search import search

    local = _run(search, home.index, case)
    shared = _run(pg.search, pg_loaded, case)
    if isinstance(local, str):
        assert shared == local  # the same refusal, word for word
        return
    _check(shared, case, archived)
