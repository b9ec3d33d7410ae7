"""Outbox → index → archive.

Each outbox file (``<run-id>.jsonl``, or the complete lines of a ``.part`` whose
crawl died) is upserted into Whoosh by item key, committed, then written to
``<home>/archive/YYYY/MM/<run-id>.jsonl.gz`` (fsynced), and only then removed
from the outbox.  A crash anywhere repeats the last step next time; upserts by
key make the repeat harmless.  ``reindex`` rebuilds the index from the archive.

When a key is already indexed, the new record replaces it field by field: an
empty field in the new record keeps the old value (a feed entry without a body
does not erase the body a list crawl fetched).

A line that is JSON but not a record (a title that is a number, a body that is a
list) is set aside: written, with the reason, to ``<home>/quarantine/<run-id>.jsonl``
before the outbox file is archived (rewritten whole, so a repeat after a crash
changes nothing), and the rest of the file goes on.  The archive keeps the line
as it came; every reader of the archive skips it the same way.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from whoosh import index as whoosh_index

from index.schema import to_document
from index.store import INDEX_NAME, IndexDamaged, index_lock, new_writer, open_index, writer_procs
from newsdesk.core.home import Home
from newsdesk.core.record import NewsItem
from newsdesk.core.locks import is_locked
from newsdesk.core.runid import run_time

if TYPE_CHECKING:
    from index.afteringest import AfterIngest

logger = logging.getLogger(__name__)

BATCH = 10_000  # records per commit: bounds memory and the work a crash repeats
MAX_SEGMENTS = 16  # past this many segments, a commit also merges the small ones
PARALLEL_MIN = 50_000  # a smaller archive is rebuilt by one writer (starting workers costs more)
PARALLEL_BATCH = 5_000  # an ingest batch this big is written by worker processes (one segment each)

# The record's fields by the JSON type they must have, read from NewsItem (the key is checked on its own;
# ``dupgroup`` is the index's own field); a field left out, or null, is always allowed, and fields not
# named here are kept as they are.
_DECLARED = {f.name: str(f.type) for f in fields(NewsItem)}
TEXT_FIELDS = (*(name for name, kind in _DECLARED.items()
                 if kind in ("str | None", "datetime | None") and name != "key"), "dupgroup")
LIST_FIELDS = tuple(name for name, kind in _DECLARED.items() if kind.startswith("list["))


#: How a long job reports how far it is: (units done, units in all); the CLI draws it.
Progress = Callable[[int, int], None]


@dataclass
class IngestResult:
    """What one ingest did."""

    files: int = 0
    records: int = 0
    new: int = 0
    updated: int = 0
    bad_lines: int = 0
    quarantined: int = 0  # records that do not fit the schema, set aside (``record_problem``)
    quarantine_files: list[Path] = field(default_factory=list)  # written by this ingest
    skipped_live: list[str] = field(default_factory=list)  # .part files still being written
    after: AfterIngest | None = None  # near-duplicate groups and saved-search matches


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
                                         int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def record_problem(record: dict[str, Any]) -> str | None:
    """Why a JSON object cannot be indexed as a record (a field of the wrong type), or None."""
    key = record.get("key")
    if not isinstance(key, str) or not key.strip():
        return f"key is {_type_name(key)}, not a non-empty string"
    for name in TEXT_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} is {_type_name(value)}, not a string"
    for name in LIST_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f"{name} is {_type_name(value)}, not a list of strings"
    extra = record.get("extra")
    if extra is not None and not isinstance(extra, dict):
        return f"extra is {_type_name(extra)}, not an object"
    version = record.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return f"version is {_type_name(version)}, not a whole number"
    return None


def read_records(path: Path, result: IngestResult, rejects: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The complete JSON lines of an outbox or archive file that are records, one at a time.

    Streamed, so a batch that ends inside a file does not keep the whole next
    file in memory.  orjson parses a line in a third of ``json``'s time and
    memory; what it refuses and ``json`` reads (NaN, a lone surrogate escape)
    is read by ``json``.  A line that is not a JSON object is counted in
    ``bad_lines``; an object that is not a record (``record_problem``) in
    ``quarantined``, and appended to ``rejects`` as a quarantine line.
    """
    import orjson  # (not imported by the search path)

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # the torn last line of a killed writer
            line = line.strip()
            if not line:
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    result.bad_lines += 1
                    continue
            if not isinstance(record, dict):
                result.bad_lines += 1
                continue
            problem = record_problem(record)
            if problem is not None:
                result.quarantined += 1
                if rejects is not None:
                    rejects.append(json.dumps({"file": path.name, "reason": problem, "line": line},
                                              ensure_ascii=False))
                continue
            yield record


def pending_files(home: Home, result: IngestResult) -> list[Path]:
    """Outbox files ready to ingest, oldest run first; live ``.part`` files are left alone."""
    if not home.outbox.is_dir():
        return []
    ready = []
    for path in sorted(home.outbox.iterdir()):
        if path.name.endswith(".jsonl"):
            ready.append(path)
        elif path.name.endswith(".jsonl.part"):
            if is_locked(path):
                result.skipped_live.append(path.name)
            else:
                ready.append(path)
    return ready


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(new)
    for name, value in old.items():
        if _empty(merged.get(name)) and not _empty(value):
            merged[name] = value
    return merged


def _abandon(writer: Any) -> None:
    """Cancel a failed writer; if cancelling fails too (the disk is still full), at least unlock the index."""
    try:
        writer.cancel()
    except Exception:  # the first error is the one to report
        lock = getattr(writer, "writelock", None)
        if lock is not None and getattr(lock, "fd", None) is not None:
            lock.release()


_SEGMENT_FILE = re.compile(rf"^{INDEX_NAME}_([a-z0-9]+)\.")
_TOC_TEMP = re.compile(rf"^_{INDEX_NAME}_\d+\.toc\.")


def remove_uncommitted(ix: Any, path: Path) -> None:
    """Delete what a failed write left in the index directory: files of segments no commit holds.

    Call under the index lock (no other writer can be writing them).
    """
    try:
        committed = {segment.segment_id() for segment in ix._segments()}
        for entry in path.iterdir():
            segment = _SEGMENT_FILE.match(entry.name)
            if (segment and f"{INDEX_NAME}_{segment.group(1)}" not in committed) or _TOC_TEMP.match(entry.name):
                entry.unlink(missing_ok=True)
    except (OSError, whoosh_index.IndexError) as exc:  # the error that brought us here is the one to report
        logger.warning("could not remove the files a failed write left in %s: %s", path, exc)
    shutil.rmtree(path / f"{INDEX_NAME}.tmp", ignore_errors=True)  # the writer's sorting runs


class Upserter:
    """Writes records into an index in bounded batches, merging with what is there.

    Each key is looked up once, directly in the segments' term tables; a key
    already indexed has its old document deleted by number at commit (no second
    lookup by ``update_document``), a new key is simply added.
    """

    def __init__(self, ix: Any, merge_existing: bool = True, batch: int | None = None, procs: int = 1,
                 prepare: Callable[[list[dict[str, Any]]], Any] | None = None,
                 after: Callable[[list[dict[str, Any]], Any], None] | None = None) -> None:
        """
        :param prepare: called with a batch's records once they are handed to the writer, before
            the commit (while worker processes index them); what it returns goes to ``after``.
        :param after: called with a batch's records as committed, and what ``prepare`` returned.
        """
        self.ix = ix
        self.merge_existing = merge_existing
        self.batch_size = batch or BATCH
        self.procs = procs
        self.prepare = prepare
        self.after = after
        self.reader: Any = None
        self.leaves: list[tuple[Any, int]] = []
        self.batch: dict[str, dict[str, Any]] = {}
        self.replaced: dict[str, list[int]] = {}  # key → docnums of its committed documents

    def _lookup(self, key: str) -> dict[str, Any] | None:
        """The committed record of ``key`` (remembering its docnums), or None."""
        if self.reader is None:
            self.reader = self.ix.reader()
            self.leaves = list(self.reader.leaf_readers())
        docnums: list[int] = []
        stored = None
        for reader, offset in self.leaves:
            if ("key", key) in reader:
                for docnum in reader.postings("key", key).all_ids():
                    docnums.append(docnum + offset)
                    stored = reader.stored_fields(docnum)
        if not docnums or stored is None:
            return None
        self.replaced[key] = docnums
        return json.loads(stored["record"])

    def _current(self, key: str) -> dict[str, Any] | None:
        if key in self.batch:
            return self.batch[key]
        if not self.merge_existing:
            return None
        return self._lookup(key)

    def add(self, records: Iterable[dict[str, Any]], result: IngestResult) -> None:
        for record in records:
            key = record["key"]
            old = self._current(key)
            if old is None:
                result.new += 1
            else:
                result.updated += 1
                record = _merge(old, record)
            self.batch[key] = record
            result.records += 1
            if len(self.batch) >= self.batch_size:
                self.commit()

    def commit(self) -> None:
        """Write the batch as a new segment; merge small segments only when they have piled up."""
        if not self.batch:
            return
        self._close_reader()
        parallel = self.procs > 1 and len(self.batch) >= PARALLEL_BATCH
        before = {segment.segment_id() for segment in self.ix._segments()}
        writer = new_writer(self.ix, self.procs if parallel else 1)
        for docnums in self.replaced.values():
            for docnum in docnums:
                writer.delete_document(docnum)
        records = list(self.batch.values())
        try:
            for record in records:
                writer.add_document(**to_document(record))
            prepared = self.prepare(records) if self.prepare else None
            writer.commit(merge=len(before) >= MAX_SEGMENTS)
        except BaseException:
            _abandon(writer)
            self.batch.clear()  # still in its outbox file, which stays until a commit holds it
            self.replaced.clear()
            raise
        if parallel:
            self._check_written(before)
        self.batch.clear()
        self.replaced.clear()
        if self.after:
            self.after(records, prepared)

    def _check_written(self, before: set[str]) -> None:
        """IndexDamaged unless every key of the batch is in a segment this commit wrote.

        Whoosh's MpWriter drops the segment of a worker process that died, without a word.
        """
        with self.ix.reader() as reader:
            fresh = [leaf for leaf, _ in reader.leaf_readers()
                     if leaf.segment() is not None and leaf.segment().segment_id() not in before]
            missing = sum(1 for key in self.batch if not any(("key", key) in leaf for leaf in fresh))
        if missing:
            raise IndexDamaged(f"{missing} of the {len(self.batch)} records of a batch are not in the index "
                               "(a worker process failed)",
                               "run `newsdesk ingest` again: the outbox files are kept until they are indexed")

    def _close_reader(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
            self.leaves = []

    def close(self) -> None:
        self.commit()
        self._close_reader()


def build_fresh(ix: Any, files: list[Path], result: IngestResult, groups: dict[str, str] | None = None,
                procs: int = 1, parallel_min: int | None = None, progress: Progress | None = None) -> None:
    """Write every record of ``files`` into an empty index: one segment per worker, no merges.

    A first pass counts each key, so the records of a key met more than once are
    merged in order (as ``ingest`` would have) and written when its last one is read.

    :param groups: near-duplicate group of each grouped key (``index.neardup``).
    :param procs: worker processes (``new_writer``); the index ends with that many segments.
    :param parallel_min: fewer records than this (default ``PARALLEL_MIN``) are written by one
        writer in this process.
    :param progress: called with (files done, files in all) after each file.
    :raises IndexDamaged: if the committed index does not hold every document written
        (a worker process died): the caller keeps the old index.
    """
    groups = groups or {}

    def document(record: dict[str, Any]) -> dict[str, Any]:
        group = groups.get(record["key"])
        return to_document({**record, "dupgroup": group} if group else record)

    seen, repeated = _repeated_keys(files)
    pending: dict[str, dict[str, Any]] = {}
    written = 0
    writer = new_writer(ix, procs if seen >= (PARALLEL_MIN if parallel_min is None else parallel_min) else 1)
    try:
        for path in files:
            for record in read_records(path, result):
                result.records += 1
                key = record["key"]
                h = hash(key)
                if h not in repeated:
                    result.new += 1
                    writer.add_document(**document(record))
                    written += 1
                    continue
                if key in pending:
                    result.updated += 1
                    record = _merge(pending[key], record)
                else:
                    result.new += 1
                pending[key] = record
                repeated[h] -= 1
                if repeated[h] == 0:
                    writer.add_document(**document(pending.pop(key)))
                    written += 1
            result.files += 1
            if progress is not None:
                progress(result.files, len(files))
        for record in pending.values():  # only if two keys shared a hash
            writer.add_document(**document(record))
            written += 1
    except BaseException:
        _abandon(writer)
        raise
    writer.commit()
    committed = ix.doc_count_all()
    if committed != written:  # MpWriter drops the segment of a worker that died, without a word
        raise IndexDamaged(f"the rebuilt index holds {committed} of the {written} records written "
                           "(a worker process failed)", "run `newsdesk reindex` again; the old index is kept")


def _repeated_keys(files: list[Path]) -> tuple[int, dict[int, int]]:
    """How many records ``files`` hold, and how often each key met more than once is (by its hash).

    The hashes go in an array of 64-bit integers (8 bytes a record), counted by
    sorting: a set of a million Python ints would take about 70 MB.
    """
    import numpy as np

    hashes = array("q")
    scratch = IngestResult()
    for path in files:
        hashes.extend(hash(record["key"]) for record in read_records(path, scratch))
    values, counts = np.unique(np.frombuffer(hashes, dtype=np.int64), return_counts=True)
    several = counts > 1
    return len(hashes), dict(zip(values[several].tolist(), counts[several].tolist()))


def archive_path(home: Home, outbox_file: Path) -> Path:
    """Where an outbox file is kept for good: ``archive/YYYY/MM/<run-id>.jsonl.gz``."""
    run_id = outbox_file.name.removesuffix(".part").removesuffix(".jsonl")
    started = run_time(run_id)
    if started is None:
        from datetime import datetime, timezone

        started = datetime.fromtimestamp(outbox_file.stat().st_mtime, timezone.utc)
    return home.archive / f"{started:%Y}" / f"{started:%m}" / f"{run_id}.jsonl.gz"


def _replace_with(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``target`` through a temporary file, fsynced and renamed into place.

    On any failure (a full disk) the temporary file is removed, so it does not hold the space.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, "wb") as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _archive(home: Home, outbox_file: Path) -> None:
    def compress(raw: BinaryIO) -> None:
        with open(outbox_file, "rb") as src, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
            shutil.copyfileobj(src, gz)

    _replace_with(archive_path(home, outbox_file), compress)
    outbox_file.unlink()
    _fsync_dir(outbox_file.parent)


def quarantine_path(home: Home, outbox_file: Path) -> Path:
    """Where the records of an outbox file that do not fit the schema are set aside."""
    return home.quarantine / (outbox_file.name.removesuffix(".part").removesuffix(".jsonl") + ".jsonl")


def _quarantine(home: Home, outbox_file: Path, rejects: list[str]) -> Path:
    """Write the set-aside lines of one outbox file, whole (a repeat after a crash rewrites the same file)."""
    target = quarantine_path(home, outbox_file)
    _replace_with(target, lambda raw: raw.write("".join(line + "\n" for line in rejects).encode("utf-8")))
    logger.warning("%d records of %s do not fit the record schema; set aside in %s",
                   len(rejects), outbox_file.name, target)
    return target


def quarantined_records(home: Home) -> tuple[int, int]:
    """How many records are set aside in the quarantine, and in how many files."""
    if not home.quarantine.is_dir():
        return 0, 0
    files = sorted(home.quarantine.glob("*.jsonl"))
    lines = 0
    for path in files:
        with open(path, "rb") as handle:
            lines += sum(1 for _ in handle)
    return lines, len(files)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_swap(home: Home) -> None:
    """Complete a reindex killed between moving the old index aside and the new one in.

    Call under the index lock.  ``index.old`` without ``index`` means the kill
    hit that gap, so ``index.new`` is complete (it was built before the swap).
    """
    old, fresh = home.root / "index.old", home.root / "index.new"
    if not home.index.exists() and old.exists():
        if whoosh_index.exists_in(fresh, indexname=INDEX_NAME):
            os.replace(fresh, home.index)
        else:
            os.replace(old, home.index)
        logger.warning("finished an interrupted index swap in %s", home.root)


def ingest(home: Home, wait: float = 120.0, progress: Progress | None = None) -> IngestResult:
    """Ingest every ready outbox file; idempotent, safe to run at any time.

    :param progress: called with (files done, files in all) after each file.
    """
    result = IngestResult()
    home.ensure(home.root)
    with index_lock(home, wait):
        finish_swap(home)
        files = pending_files(home, result)
        ix = open_index(home.index, create=True)  # IndexDamaged, with a hint, if unreadable
        if not files:
            ix.close()
            return result
        from index import afteringest

        after = afteringest.AfterIngest()  # near-duplicate groups and saved searches, batch by batch
        upserter = Upserter(ix, procs=writer_procs(), prepare=lambda batch: afteringest.signatures(ix, batch),
                            after=lambda batch, sigs: after.add(afteringest.after_batch(home, ix, batch, sigs)))
        try:
            for path in files:
                rejects: list[str] = []
                upserter.add(read_records(path, result, rejects), result)
                if rejects:
                    result.quarantine_files.append(_quarantine(home, path, rejects))
                result.files += 1
                if progress is not None:
                    progress(result.files, len(files))
            upserter.commit()  # the index holds them: now the archive may take the files
            result.after = after
        except BaseException:
            remove_uncommitted(ix, home.index)
            raise
        finally:
            upserter.close()
            ix.close()
        for path in files:
            _archive(home, path)
    return result


def archive_files(home: Home) -> Iterator[Path]:
    """Every archive file, in run order (run ids start with their UTC start time)."""
    if not home.archive.is_dir():
        return iter(())
    return iter(sorted(home.archive.glob("*/*/*.jsonl.gz"), key=lambda p: p.name))


def reindex(home: Home, wait: float = 120.0, procs: int | None = None,
            progress: Progress | None = None) -> IngestResult:
    """Rebuild the index from the archive into a fresh directory, then swap it in.

    :param procs: worker processes writing segments in parallel (default: ``writer_procs()``).
    :param progress: called with (archive files done, files in all) after each file.
    """
    result = IngestResult()
    home.ensure(home.root)
    fresh = home.root / "index.new"
    with index_lock(home, wait):
        finish_swap(home)
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            ix = open_index(fresh, create=True)
            try:
                from index.neardup import known_groups

                # One segment, the fastest to open and search; near-duplicate groups live in
                # state/, not in the archive, so they are written back as the records go in.
                build_fresh(ix, list(archive_files(home)), result, groups=known_groups(home.state),
                            procs=procs or writer_procs(), progress=progress)
            finally:
                ix.close()
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)  # a half-built index holds the space a retry needs
            raise
        old = home.root / "index.old"
        shutil.rmtree(old, ignore_errors=True)
        if home.index.exists():
            os.replace(home.index, old)
        os.replace(fresh, home.index)
        shutil.rmtree(old, ignore_errors=True)
    return result


def optimize(home: Home, wait: float = 120.0) -> int:
    """Merge the index into one segment and drop deleted documents; returns the segments before."""
    home.ensure(home.root)
    with index_lock(home, wait):
        ix = open_index(home.index)
        try:
            before = len(ix._segments())
            if before > 1 or ix.doc_count_all() != ix.doc_count():
                new_writer(ix).commit(optimize=True)
        finally:
            ix.close()
    return before
