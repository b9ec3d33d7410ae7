"""Near-duplicate groups: the same wire story from several sources groups; other stories do not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.ingest import ingest
from index.store import open_index
from index.neardup import GroupStore, normalize, shingles, signature
from newsdesk.core.home import Home
from tests.records import ARCHIVE, record, write_outbox
from tests.records_search import GRID_BODY, OTHER_GRID, WIRE_A, WIRE_B


def _groups(path: Path, *batches: list[dict]) -> dict[str, str]:
    changed: dict[str, str] = {}
    with GroupStore(path / "nd.sqlite") as store:
        for batch in batches:
            changed.update(store.assign(batch))
    return changed


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize({"title": "Café  SAYS:", "body": "“Hello,” world!"}) == "cafe says hello world"


def test_two_copies_of_a_wire_story_group_under_the_first(tmp_path: Path) -> None:
    changed = _groups(tmp_path, [WIRE_A], [WIRE_B, OTHER_GRID])
    assert changed == {WIRE_A["key"]: WIRE_A["key"], WIRE_B["key"]: WIRE_A["key"]}


def test_copies_in_one_batch_group_too(tmp_path: Path) -> None:
    assert _groups(tmp_path, [WIRE_B, WIRE_A])[WIRE_A["key"]] == WIRE_B["key"]


def test_a_third_copy_joins_the_existing_group(tmp_path: Path) -> None:
    third = record("https://wire-c.example/a", "Russia hits Ukraine power grid with drones and missiles",
                   "2024-10-24T07:00:00+00:00", source="wire-c", body=GRID_BODY)
    changed = _groups(tmp_path, [WIRE_A, WIRE_B], [third])
    assert changed[third["key"]] == WIRE_A["key"]


def test_the_same_text_a_month_later_is_a_new_story(tmp_path: Path) -> None:
    later = {**WIRE_B, "key": "https://wire-b.example/later", "published": "2024-11-24T05:40:00+00:00"}
    assert _groups(tmp_path, [WIRE_A], [later]) == {}


def test_short_texts_and_different_stories_stay_alone(tmp_path: Path) -> None:
    assert _groups(tmp_path, ARCHIVE) == {}  # Korea headlines share words, not text
    short = [record(f"https://x.example/{i}", "Breaking news", "2024-10-24T05:00:00+00:00") for i in range(2)]
    assert _groups(tmp_path / "short", short) == {}


def test_a_key_seen_again_keeps_its_group(tmp_path: Path) -> None:
    _groups(tmp_path, [WIRE_A, WIRE_B])
    assert _groups(tmp_path, [WIRE_A, WIRE_B]) == {}


def test_signatures_estimate_similarity() -> None:
    a, b = signature(normalize(WIRE_A)), signature(normalize(WIRE_B))
    c = signature(normalize(OTHER_GRID))
    assert (a == b).mean() > 0.7 > (a == c).mean()


def _group_of(home: Home, group: str) -> list[str]:
    """The keys of the indexed records in near-duplicate group ``group``."""
    ix = open_index(home.index)
    try:
        with ix.searcher() as searcher:
            return sorted(doc["key"] for doc in searcher.documents(dupgroup=group))
    finally:
        ix.close()


def test_ingest_writes_group_ids_into_the_index(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_outbox(tmp_path, "20241024T170000Z-a-aaaaaa", [WIRE_A])
    assert ingest(home).after.grouped == 0
    write_outbox(tmp_path, "20241024T180000Z-b-bbbbbb", [WIRE_B, OTHER_GRID])
    assert ingest(home).after.grouped == 2
    assert _group_of(home, WIRE_A["key"]) == sorted([WIRE_A["key"], WIRE_B["key"]])


def test_ingest_summary_reports_grouping(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from newsdesk.cli.main import cli

    write_outbox(tmp_path, "20241024T170000Z-a-aaaaaa", [WIRE_A, WIRE_B])
    result = CliRunner().invoke(cli, ["ingest", "--home", str(tmp_path)], catch_exceptions=False)
    assert "near-duplicates: 2 records grouped" in result.stdout


def test_verify_accepts_groups_and_repair_restores_them(tmp_path: Path) -> None:
    from index.verify import repair, verify

    home = Home(tmp_path)
    write_outbox(tmp_path, "20241024T120000Z-wires-aaaaaa", [WIRE_A, WIRE_B])
    ingest(home)
    report = verify(home)
    assert report.ok, report.lines()  # dupgroup is the index's own field, not a difference
    ix = open_index(home.index)
    writer = ix.writer()
    writer.delete_by_term("key", WIRE_B["key"])
    writer.commit()
    ix.close()
    assert verify(home).missing == [WIRE_B["key"]]
    assert repair(home).repaired == 1
    assert verify(home).ok
    ix = open_index(home.index)
    with ix.searcher() as searcher:
        groups = {doc["key"]: json.loads(doc["record"]).get("dupgroup") for doc in searcher.all_stored_fields()}
    ix.close()
    assert groups == {WIRE_A["key"]: WIRE_A["key"], WIRE_B["key"]: WIRE_A["key"]}


def test_one_ingest_grouped_batch_by_batch_equals_one_go(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("index.ingest.BATCH", 1)  # WIRE_A and WIRE_B land in different batches
    home = Home(tmp_path)
    write_outbox(tmp_path, "20241024T170000Z-a-aaaaaa", [WIRE_A, OTHER_GRID, WIRE_B])
    assert ingest(home).after.grouped == 2
    assert _group_of(home, WIRE_A["key"]) == sorted([WIRE_A["key"], WIRE_B["key"]])


def test_signatures_are_datasketchs_affine32_minhash_bit_for_bit() -> None:
    """Signatures stored in state/ by earlier releases (made by datasketch) still compare."""
    import random

    from datasketch import MinHash

    from index.neardup import NUM_PERM, SEED

    draw = random.Random(5)
    words = [WIRE_A["title"], OTHER_GRID["title"], "north korea troops russia kursk", "café ünïcode naïve"]
    texts = [normalize(WIRE_A), normalize(OTHER_GRID), "x"]
    for _ in range(200):
        length = draw.choice([3, 10, 29, 30, 80, 300])  # character and word shingles
        texts.append(" ".join(draw.choice(" ".join(words).split()) for _ in range(length)))
    for text in texts:
        reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")  # sha1_hash32, its default
        reference.update_batch(shingles(text))
        ours = signature(text)
        assert ours.dtype == np.uint32
        assert ours.tolist() == reference.hashvalues.tolist(), text