"""The index on disk: opening it (checked), its writers, and the lock every writer takes.

Everything that reads or writes the Whoosh index opens it here, so the search path
needs nothing of the write path (``index.ingest``).
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index import integrity
from index.integrity import Damage, IndexDamaged, check_open, damaged
from index.schema import SCHEMA_VERSION, PlainCodec, make_schema
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock, LockBusy

logger = logging.getLogger(__name__)

INDEX_NAME = integrity.INDEX_NAME  # "newsdesk": the files are newsdesk_<segment>.*
LIMIT_MB = 128  # a writer's posting buffer; past it, sorted runs spill to disk
JOB_DOCS = 1_000  # documents per job file handed to a reindex worker process


class IngestBusy(NewsdeskError):
    """Another ingest or reindex held the index lock for longer than we waited."""


class IndexMissing(NewsdeskError):
    """No index exists yet in this home."""


class IndexOutdated(NewsdeskError):
    """The index was built with another schema version; it must be rebuilt from the archive."""


OPEN_ATTEMPTS = 5  # a commit can remove the files an open was about to read: look again, this often


def open_index(path: Path, create: bool = False) -> Any:
    """Open the index at ``path`` (creating it if asked).

    IndexMissing if absent, IndexOutdated if built by another schema version,
    IndexDamaged if unreadable.
    """
    for attempt in range(OPEN_ATTEMPTS):
        try:
            check_open(path)  # before Whoosh reads the TOC: a flipped bit there can unpickle anything
            if whoosh_index.exists_in(path, indexname=INDEX_NAME):
                marker = path / "SCHEMA_VERSION"
                version = marker.read_text().strip() if marker.exists() else "1"
                if version != str(SCHEMA_VERSION):
                    raise IndexOutdated(f"the index in {path} has schema version {version}, this newsdesk needs "
                                        f"{SCHEMA_VERSION}", "run `newsdesk reindex` to rebuild it from the archive")
                return whoosh_index.open_dir(path, indexname=INDEX_NAME)
            break
        except FileNotFoundError as exc:
            # A commit in another process or thread removed the generation (or a merged segment's
            # files) between finding it and opening it: the next look finds the new one.
            if attempt + 1 < OPEN_ATTEMPTS:
                continue
            raise damaged(path, exc) from None
        except Damage as exc:
            raise damaged(path, str(exc)) from None
        except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError, ImportError, EOFError,
                pickle.UnpicklingError, struct.error, whoosh_index.IndexError) as exc:
            raise damaged(path, exc) from None
    if not create:
        raise IndexMissing(f"no index in {path} yet", "run `newsdesk crawl` (or `newsdesk ingest`) first")
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(path, make_schema(), indexname=INDEX_NAME)
    (path / "SCHEMA_VERSION").write_text(f"{SCHEMA_VERSION}\n")
    return ix


def writer_procs() -> int:
    """Worker processes a big ingest or a reindex uses: one per core, at most 4 (``NEWSDESK_PROCS`` overrides)."""
    value = os.environ.get("NEWSDESK_PROCS", "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def new_writer(ix: Any, procs: int = 1) -> Any:
    """A writer with our settings: bounded posting buffer, PlainCodec, separate files.

    Uncompressed posting blocks make the index about 40 % bigger and term reads
    about twice as fast (no zlib per block at search time).  A compound segment
    (Whoosh's default: all files in one) is read at open by copying its term and
    posting files into memory; separate files are read in place, so opening the
    index costs milliseconds instead of seconds.  See benchmarks/README.md.

    With ``procs`` > 1, documents go in job files to ``procs`` worker processes
    (``index.workers.CleanWorkersWriter``), each writing its own segment, and the segments are
    committed side by side (``multisegment``: no merge of their postings).  Each
    worker has its own posting buffer of ``LIMIT_MB``.

    Its ``commit`` ends by writing the index's checksums (``index.integrity.record``).
    """
    settings = {"limitmb": LIMIT_MB, "codec": PlainCodec(), "compound": False}
    if procs > 1:
        from index.workers import CleanWorkersWriter  # (not imported by the search path)

        writer = CleanWorkersWriter(ix, procs=procs, multisegment=True, batchsize=JOB_DOCS, **settings)
    else:
        writer = ix.writer(**settings)
    commit = writer.commit

    def commit_and_record(*args: Any, **kwargs: Any) -> None:
        commit(*args, **kwargs)
        try:
            integrity.record(ix)
        except OSError as exc:  # the commit holds: checksums one commit behind are not damage (index.integrity)
            logger.warning("could not write the index's checksums in %s: %s", ix.storage.folder, exc)

    writer.commit = commit_and_record
    return writer


@contextmanager
def index_lock(home: Home, wait: float) -> Iterator[None]:
    """Hold the lock every index writer takes, waiting up to ``wait`` seconds; IngestBusy past that."""
    lock = FileLock(home.lock("index"), wait=wait)
    try:
        lock.acquire()
    except LockBusy:
        raise IngestBusy(f"the index is busy (another ingest or reindex ran for over {wait:.0f} s)") from None
    try:
        yield
    finally:
        lock.release()


__all__ = ["INDEX_NAME", "IndexDamaged", "IndexMissing", "IndexOutdated", "IngestBusy", "index_lock", "new_writer",
           "open_index", "writer_procs"]
