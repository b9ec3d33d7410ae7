"""Checksums of the index's files: damage found at open (cheaply), in ``verify`` (fully), and on a read error.

Every commit (``index.store.new_writer``'s writers) ends by writing
``CHECKSUMS.json`` beside the index: the generation of the table of contents
(``_newsdesk_N.toc``) with its size and CRC-32, and the size and CRC-32 of every
file of every committed segment.  Whoosh never changes a segment's files once
they are committed (deletions live in the TOC), so a file already listed is
not read again: a commit hashes only the files it wrote.

- ``check_open`` (every ``open_index``): the TOC's bytes and every file's size.
  A truncated postings or terms file, a missing file or a bit-flipped TOC is
  found before a search reads it; a few ``stat`` calls and one small read.
- ``check_full`` (``newsdesk verify``, and ``damage_of`` after a read error):
  every file read whole against its CRC: a zeroed stored-fields column, a
  flipped bit anywhere.

A TOC newer than the checksums (a process killed between the commit and the
checksum write, or an index written before this module) is not damage: what
is listed is checked, and the next commit (or ``verify --repair``) writes them anew.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

CHECKSUMS = "CHECKSUMS.json"
INDEX_NAME = "newsdesk"  # the index's name in Whoosh (index.store.INDEX_NAME)
CHUNK = 1 << 20
READ_ATTEMPTS = 3  # a read that failed while commits replaced the index is tried this often in all
_TOC = re.compile(rf"^_{INDEX_NAME}_(\d+)\.toc$")
#: What Whoosh raises when it reads bytes that are not what it wrote (a damaged file, or a bug).
READ_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error, EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError, OSError,
    UnicodeDecodeError, AttributeError, __import__("pickle").UnpicklingError, __import__("struct").error)


class Damage(Exception):
    """What is wrong with one index: the first file found damaged, and how."""


class IndexDamaged(NewsdeskError):
    """The index's files cannot be read (a disk fault, or files changed by hand)."""


def damaged(index_dir: Path, what: BaseException | str) -> IndexDamaged:
    """The one line for a damaged index: where, what is wrong, and the command that repairs it."""
    index_dir = Path(index_dir)
    where = index_dir.parent if index_dir.name == "index" else index_dir
    if isinstance(what, BaseException):
        what = f"{type(what).__name__}: {what}"
    return IndexDamaged(f"the index under {where} is damaged ({what}): run `newsdesk verify --repair`")


def crc_of(path: Path) -> int:
    """CRC-32 of a file's bytes."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def latest_toc(index_dir: Path) -> tuple[int, str] | None:
    """The newest generation's number and TOC file name, or None."""
    best: tuple[int, str] | None = None
    try:
        names = os.listdir(index_dir)
    except OSError:
        return None
    for name in names:
        match = _TOC.match(name)
        if match and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), name)
    return best


def read_checksums(index_dir: Path) -> dict[str, Any] | None:
    """The checksums last written, or None (none yet, or unreadable: then they are rewritten at the next commit)."""
    try:
        data = json.loads((Path(index_dir) / CHECKSUMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def record(ix: Any) -> None:
    """Write ``CHECKSUMS.json`` for the index's newest generation (after a commit, under the index lock)."""
    index_dir = Path(ix.storage.folder)
    toc = latest_toc(index_dir)
    if toc is None:
        return
    old = (read_checksums(index_dir) or {}).get("files", {})
    segments = [segment.segment_id() for segment in ix._segments()]
    names = os.listdir(index_dir)
    files: dict[str, list[int]] = {}
    for segment in segments:
        for name in names:
            if not name.startswith(segment + "."):
                continue
            path = index_dir / name
            size = path.stat().st_size
            known = old.get(name)
            if isinstance(known, list) and len(known) == 2 and known[0] == size:
                files[name] = known  # committed files never change: not read again
            else:
                files[name] = [size, crc_of(path)]
    toc_path = index_dir / toc[1]
    data = {"generation": toc[0], "toc": [toc[1], toc_path.stat().st_size, crc_of(toc_path)], "files": files}
    tmp = index_dir / f".{CHECKSUMS}.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, index_dir / CHECKSUMS)
    with _verdicts_lock:
        _verdicts.pop(index_dir.resolve(), None)


def _check(index_dir: Path, full: bool) -> None:
    """Damage if a listed file is missing, has another size, or (``full``) other bytes."""
    data = read_checksums(index_dir)
    if data is None:
        return
    toc = latest_toc(index_dir)
    current = toc is not None and data.get("generation") == toc[0]
    if current:
        name, size, crc = data["toc"]
        path = index_dir / name
        try:
            if path.stat().st_size != size or crc_of(path) != crc:
                raise Damage(f"{name} is not as written")
        except FileNotFoundError:
            return  # a commit replaced it meanwhile: the caller opens the new generation
    for name, (size, crc) in sorted(data["files"].items()):
        path = index_dir / name
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            if current and latest_toc(index_dir) == toc:
                raise Damage(f"{name} is missing") from None
            continue  # merged away by a commit since the checksums were written (or meanwhile)
        if actual != size:
            raise Damage(f"{name} is {actual} bytes, was written with {size}")
        if full and crc_of(path) != crc:
            raise Damage(f"{name} does not match its checksum")


def check_open(index_dir: Path) -> None:
    """Damage unless the TOC is as written and every segment file has its size (cheap: at every open)."""
    _check(Path(index_dir), full=False)


def check_full(index_dir: Path) -> str:
    """Why the index's files are not as written (every byte read), or "" if they are."""
    try:
        _check(Path(index_dir), full=True)
    except Damage as exc:
        return str(exc)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def current(index_dir: Path) -> bool:
    """Whether the checksums describe the newest generation (else verify --repair rewrites them)."""
    data = read_checksums(index_dir)
    toc = latest_toc(index_dir)
    return data is not None and toc is not None and data.get("generation") == toc[0]


_verdicts: dict[Path, tuple[Any, str]] = {}  # index dir → (its TOC, the full check's answer)
_verdicts_lock = threading.Lock()


def damage_of(index_dir: Path) -> str:
    """``check_full``'s answer, computed once per generation (a web server asked by every request)."""
    key = Path(index_dir).resolve()
    toc = latest_toc(key)
    with _verdicts_lock:
        seen = _verdicts.get(key)
    if seen is not None and seen[0] == toc:
        return seen[1]
    verdict = check_full(key)
    with _verdicts_lock:
        _verdicts[key] = (toc, verdict)
    return verdict


@contextmanager
def reading(index_dir: Path) -> Iterator[None]:
    """Turn a read error caused by damaged files into IndexDamaged (one line); anything else goes on up.

    The files are checked in full only when a read fails, so a bug is never reported as damage.
    """
    try:
        yield
    except NewsdeskError:
        raise
    except READ_ERRORS as exc:
        verdict = damage_of(index_dir)
        if not verdict:
            raise
        logger.debug("read error in a damaged index", exc_info=True)
        raise damaged(index_dir, verdict) from exc


F = TypeVar("F", bound=Callable[..., Any])


def guarded(read: F) -> F:
    """``read(index_dir, ...)`` under :func:`reading`: a read of damaged files raises IndexDamaged."""

    @functools.wraps(read)
    def wrapper(index_dir: Path, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(READ_ATTEMPTS):
            started = latest_toc(Path(index_dir))
            try:
                with reading(index_dir):
                    return read(index_dir, *args, **kwargs)
            except READ_ERRORS:
                # The files are as written (else ``reading`` said damaged).  If a commit came while
                # this read ran, a merge may have removed an old segment's file before the searcher
                # opened it (Whoosh opens some columns lazily): once more, on the new generation.
                if attempt + 1 == READ_ATTEMPTS or latest_toc(Path(index_dir)) == started:
                    raise
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]
