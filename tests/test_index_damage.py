"""A damaged index: found at open or at the first bad read, one line with the repair command, exit 1 (503 on
the web); ``verify`` never "agrees" over it, and ``verify --repair`` rebuilds it so search answers again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import integrity
from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.web.app import create_app
from tests.records import record, write_outbox

RECORDS = [record(f"https://example.org/d/{i}", f"Harbour storm item {i}", f"2024-10-{1 + i % 20:02d}T08:00:00+00:00",
                  body=f"The harbour storm closed the port, report {i}. " * 20, agency="Reuters")
           for i in range(300)]
KEY = RECORDS[7]["key"]


def _segment_file(index: Path, suffix: str) -> Path:
    """The biggest file of the index ending with ``suffix`` (the first segment's, for a fresh index)."""
    return max(index.glob(f"newsdesk_*{suffix}"), key=lambda p: p.stat().st_size)


def truncate_postings(index: Path) -> None:
    path = _segment_file(index, ".pst")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def truncate_terms(index: Path) -> None:
    path = _segment_file(index, ".trm")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def zero_stored_column(index: Path) -> None:
    path = _segment_file(index, "._stored.col")
    path.write_bytes(bytes(path.stat().st_size))  # same size, every byte zero


def flip_toc_bit(index: Path) -> None:
    toc = max(index.glob("_newsdesk_*.toc"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    data = bytearray(toc.read_bytes())
    data[len(data) // 2] ^= 0x10
    toc.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated postings": truncate_postings,
    "truncated terms": truncate_terms,
    "zeroed stored column": zero_stored_column,
    "bit-flipped toc": flip_toc_bit,
}


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    write_outbox(home.root, "20241024T120000Z-wire-aaaaaa", RECORDS[:200])
    ingest(home)
    write_outbox(home.root, "20241024T130000Z-wire-bbbbbb", RECORDS[200:])
    ingest(home)
    return home


def run(home: Home, *args: str) -> object:
    return CliRunner().invoke(cli, [*args, "--home", str(home.root)])


def _one_damage_line(result: object, home: Home) -> None:
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # type: ignore[attr-defined]
    lines = [line for line in result.output.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    assert f"the index under {home.root} is damaged (" in lines[0]
    assert lines[0].endswith("run `newsdesk verify --repair`")


def test_a_healthy_index_has_current_checksums(tmp_path: Path) -> None:
    home = _home(tmp_path)
    data = json.loads((home.index / integrity.CHECKSUMS).read_text())
    assert integrity.current(home.index)
    assert {name.split(".", 1)[1] for name in data["files"]} >= {"pst", "trm", "_stored.col"}
    assert integrity.check_full(home.index) == ""
    result = run(home, "verify")
    assert result.exit_code == 0 and "agrees" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damage_is_one_line_then_verify_repair_rebuilds(tmp_path: Path, how: str) -> None:
    home = _home(tmp_path)
    before = run(home, "search", "harbour", "--json", "--limit", "1000")
    assert before.exit_code == 0  # type: ignore[attr-defined]
    DAMAGE[how](home.index)

    # A timeline reads postings and the time column, not the stored records: with only those
    # zeroed it counts right (verify still finds the damage, below).
    reads_damage = how != "zeroed stored column"
    for command in (["search", "harbour"], ["search", "storm", "--sort", "newest"], ["show", KEY],
                    *([["timeline", "harbour"]] if reads_damage else [])):
        _one_damage_line(run(home, *command), home)
    if not reads_damage:
        assert run(home, "timeline", "harbour").exit_code == 0  # type: ignore[attr-defined]

    client = create_app(home, "UTC").test_client()
    for url in ("/api/search?q=harbour", f"/api/record?key={KEY}",
                *(["/api/timeline?q=harbour"] if reads_damage else [])):
        answer = client.get(url)
        assert answer.status_code == 503, (url, answer.status_code, answer.get_data(as_text=True)[:300])
        assert "is damaged" in answer.json["error"] and "verify --repair" in answer.json["error"]
    assert client.get("/?q=harbour").status_code == 503

    found = run(home, "verify")
    assert found.exit_code == 1 and "agrees" not in found.output, found.output  # type: ignore[attr-defined]
    assert "index cannot be read" in found.output  # type: ignore[attr-defined]

    fixed = run(home, "verify", "--repair")
    assert fixed.exit_code == 0, fixed.output  # type: ignore[attr-defined]
    assert run(home, "verify").exit_code == 0  # type: ignore[attr-defined]
    after = run(home, "search", "harbour", "--json", "--limit", "1000")
    assert after.exit_code == 0, after.output  # type: ignore[attr-defined]
    keys = sorted(h["key"] for h in json.loads(after.stdout))  # type: ignore[attr-defined]
    assert keys == sorted(h["key"] for h in json.loads(before.stdout))  # type: ignore[attr-defined]
    assert len(keys) == len(RECORDS)


def test_truncated_postings_found_without_checksums(tmp_path: Path) -> None:
    """An index written before checksums (or whose checksums were lost): verify reads every posting list."""
    home = _home(tmp_path)
    (home.index / integrity.CHECKSUMS).unlink()
    truncate_postings(home.index)
    found = run(home, "verify")
    assert found.exit_code == 1 and "agrees" not in found.output, found.output  # type: ignore[attr-defined]
    assert run(home, "verify", "--repair").exit_code == 0  # type: ignore[attr-defined]
    assert integrity.current(home.index)
    assert run(home, "search", "harbour").exit_code == 0  # type: ignore[attr-defined]


def test_stale_checksums_are_not_damage(tmp_path: Path) -> None:
    """A kill between a commit and its checksum write: search works, verify agrees, --repair writes them."""
    home = _home(tmp_path)
    data = json.loads((home.index / integrity.CHECKSUMS).read_text())
    data["generation"] -= 1
    (home.index / integrity.CHECKSUMS).write_text(json.dumps(data))
    assert not integrity.current(home.index)
    assert run(home, "search", "harbour").exit_code == 0  # type: ignore[attr-defined]
    found = run(home, "verify")
    assert found.exit_code == 0 and "checksums are older" in found.output, found.output  # type: ignore[attr-defined]
    assert run(home, "verify", "--repair").exit_code == 0  # type: ignore[attr-defined]
    assert integrity.current(home.index)


def test_a_read_error_in_a_healthy_index_is_not_called_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only files that fail their checksum are reported as damage: a bug stays a bug."""
    home = _home(tmp_path)
    import index.search

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug, not damage")

    monkeypatch.setattr(index.search, "build_query", broken)
    with pytest.raises(ValueError, match="a bug"):  # and not retried: no commit came meanwhile
        index.search.search(home.index, "harbour")


def test_a_checksum_write_that_fails_does_not_fail_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk after the commit: the records are indexed, the checksums stay one commit behind."""
    home = _home(tmp_path)

    def full(ix: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(integrity, "record", full)
    write_outbox(home.root, "20241024T140000Z-wire-cccccc", [record("https://example.org/d/new", "Harbour reopens",
                                                                    "2024-10-24T09:00:00+00:00")])
    assert run(home, "ingest").exit_code == 0  # type: ignore[attr-defined]
    assert not integrity.current(home.index)
    found = run(home, "search", "reopens", "--json")
    assert found.exit_code == 0 and "https://example.org/d/new" in found.output  # type: ignore[attr-defined]


def test_a_file_a_merge_removed_mid_search_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read error in a healthy index while a commit replaced it (a merge removed a file) is retried, not an error."""
    home = _home(tmp_path)
    import index.search

    real = index.search.build_query
    calls = []

    def once_missing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:  # as if an ingest committed (and merged) while this search read
            write_outbox(home.root, "20241024T150000Z-wire-dddddd", RECORDS[:3])
            ingest(home)
            raise TypeError("'NoneType' object is not subscriptable")  # a column file a merge removed
        return real(*args, **kwargs)

    monkeypatch.setattr(index.search, "build_query", once_missing)
    assert index.search.search(home.index, "harbour").total == len(RECORDS)
    assert len(calls) == 2
