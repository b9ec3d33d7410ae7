"""Check that the index agrees with the archive of record, and repair it from the archive.

The archive is the truth (DESIGN); the index is a view of it.  ``verify``
folds every archived record by key, in run order, exactly as ingest does,
and compares that with the index: keys missing from the index, keys the
archive never had, keys indexed more than once, and records that differ.
``repair`` rewrites just those documents (or rebuilds the whole index when it
cannot be opened) under the index lock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from whoosh import index as whoosh_index

from index.ingest import IngestResult, Progress, _merge, archive_files, read_records, reindex
from index.store import INDEX_NAME, index_lock, new_writer, open_index
from index import integrity
from index.integrity import check_full
from index.schema import to_document
from newsdesk.core.home import Home

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    """Differences between the archive and the index."""

    archived: int = 0  # distinct keys in the archive
    indexed: int = 0  # documents in the index
    missing: list[str] = field(default_factory=list)  # archived, not indexed
    extra: list[str] = field(default_factory=list)  # indexed, never archived
    duplicates: list[str] = field(default_factory=list)  # indexed more than once
    stale: list[str] = field(default_factory=list)  # indexed record differs from the archive's
    unreadable_index: str = ""  # why the index could not be read, if it could not
    bad_lines: int = 0  # archive lines that are not records (torn or corrupt)
    waiting: int = 0  # outbox files not yet ingested (not a difference)
    checksums_current: bool = True  # CHECKSUMS.json describes the newest commit (else --repair writes it)
    repaired: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.duplicates or self.stale or self.unreadable_index)

    def lines(self, show: int = 5) -> list[str]:
        """A report for a person: one line per kind of difference, with a few keys."""
        out = [f"archive: {self.archived} items; index: {self.indexed} documents"]
        if self.unreadable_index:
            out.append(f"index cannot be read: {self.unreadable_index}")
        for label, keys in (("missing from the index", self.missing), ("in the index but not the archive", self.extra),
                            ("indexed more than once", self.duplicates), ("differ from the archive", self.stale)):
            if keys:
                sample = ", ".join(keys[:show]) + (" …" if len(keys) > show else "")
                out.append(f"{len(keys)} {label}: {sample}")
        if self.bad_lines:
            out.append(f"{self.bad_lines} unreadable archive lines skipped")
        if not self.checksums_current and not self.unreadable_index:
            out.append("the index's checksums are older than its last commit (every file was read instead); "
                       "`newsdesk verify --repair` writes them")
        if self.waiting:
            out.append(f"{self.waiting} outbox files waiting for ingest (run `newsdesk ingest`)")
        return out


def archived_records(home: Home, result: IngestResult | None = None,
                     progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Every key's current record, folded from the archive in run order as ingest folds it.

    :param progress: called with (archive files read, files in all) after each file.
    """
    result = result or IngestResult()
    current: dict[str, dict[str, Any]] = {}
    files = list(archive_files(home))
    for done, path in enumerate(files, 1):
        for record in read_records(path, result):
            key = record["key"]
            current[key] = _merge(current[key], record) if key in current else record
        if progress is not None:
            progress(done, len(files))
    return current


def indexed_records(ix: Any) -> dict[str, list[dict[str, Any]]]:
    """Every live document's record, by key (a list: a healthy index has one per key)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with ix.searcher() as searcher:
        for stored in searcher.all_stored_fields():
            record = json.loads(stored["record"])
            found.setdefault(stored.get("key") or record.get("key"), []).append(record)
    return found


#: Fields the index adds to a record that the archive does not hold (index.neardup's groups).
DERIVED_FIELDS = ("dupgroup",)


def _archived_part(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in DERIVED_FIELDS}


def _compare(report: VerifyReport, expected: dict[str, dict[str, Any]],
             actual: dict[str, list[dict[str, Any]]]) -> None:
    report.archived = len(expected)
    report.indexed = sum(len(v) for v in actual.values())
    for key, record in expected.items():
        docs = actual.get(key)
        if not docs:
            report.missing.append(key)
        elif len(docs) > 1:
            report.duplicates.append(key)
        elif _archived_part(docs[0]) != record:
            report.stale.append(key)
    report.extra = [key for key in actual if key not in expected]


def verify(home: Home, progress: Progress | None = None) -> VerifyReport:
    """Compare the archive with the index; changes nothing.

    :param progress: told how far the read of the archive is (its larger half of the work).
    """
    report = VerifyReport()
    result = IngestResult()
    expected = archived_records(home, result, progress)
    report.bad_lines = result.bad_lines
    if home.outbox.is_dir():
        report.waiting = sum(1 for p in home.outbox.iterdir() if p.name.endswith((".jsonl", ".jsonl.part")))
    try:
        if not whoosh_index.exists_in(home.index, indexname=INDEX_NAME):
            _compare(report, expected, {})  # no index yet: everything archived is missing
            return report
        ix = open_index(home.index)
    except Exception as exc:  # a missing or damaged index is a finding, not a crash
        report.unreadable_index = f"{type(exc).__name__}: {exc}"
        report.archived = len(expected)
        return report
    try:
        damage = check_full(home.index) if integrity.current(home.index) else read_everything(ix)
        actual = {} if damage else indexed_records(ix)
    except Exception as exc:
        damage = f"{type(exc).__name__}: {exc}"
    finally:
        ix.close()
    if damage:
        report.unreadable_index = damage
        report.archived = len(expected)
        return report
    report.checksums_current = integrity.current(home.index)
    _compare(report, expected, actual)
    return report


def read_everything(ix: Any) -> str:
    """Why some posting list or stored record of the index cannot be read, or "" (every byte is read)."""
    try:
        with ix.reader() as reader:
            for leaf, _offset in reader.leaf_readers():
                for fieldname, text in leaf.all_terms():
                    for _ in leaf.postings(fieldname, text).all_ids():
                        pass
                for name in (n for n in leaf.schema.names() if leaf.has_column(n)):
                    list(leaf.column_reader(name, translate=False))
                for docnum in range(leaf.doc_count_all()):
                    leaf.stored_fields(docnum)
    except Exception as exc:  # what a damaged file raises varies: every kind is damage here
        return f"{type(exc).__name__}: {exc}"
    return ""


def repair(home: Home, wait: float = 120.0) -> VerifyReport:
    """Make the index agree with the archive; returns what was found (``repaired`` counts fixes)."""
    report = verify(home)
    if report.ok and not report.checksums_current:
        with index_lock(home, wait):
            ix = open_index(home.index)
            try:
                integrity.record(ix)
            finally:
                ix.close()
        report.checksums_current = True
    if report.ok:
        return report
    if report.unreadable_index:
        rebuilt = reindex(home, wait=wait)
        report.repaired = rebuilt.new
        return report
    expected = archived_records(home)
    with index_lock(home, wait):
        ix = open_index(home.index, create=True)
        try:
            writer = new_writer(ix)
            for key in report.missing + report.duplicates + report.stale:
                # Not update_document: it deletes only one of several documents with a key.
                writer.delete_by_term("key", key)
                writer.add_document(**to_document(expected[key]))
            for key in report.extra:
                writer.delete_by_term("key", key)
            writer.commit(merge=False)
            from index.afteringest import restore_groups

            restore_groups(home, ix)  # rewritten documents get their near-duplicate group back
        finally:
            ix.close()
    report.repaired = len(report.missing) + len(report.duplicates) + len(report.stale) + len(report.extra)
    logger.info("repaired %d keys in %s", report.repaired, INDEX_NAME)
    return report
