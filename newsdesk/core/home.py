"""Where a user's data lives: the home directory and its layout.

The home defaults to the platform's data dir (platformdirs) and is overridden by
``--home`` or ``NEWSDESK_HOME``.  Both the scraper and the index find their
files through :class:`Home`, so the layout is written down once.

A write that fails because the home's disk is full or the home is read-only is
explained by :func:`write_problem` in one line, whichever part of newsdesk
(a file, SQLite, the index writer) hit it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from newsdesk.core.errors import NewsdeskError

ENV_VAR = "NEWSDESK_HOME"


class HomeError(NewsdeskError):
    """The data directory cannot be used (not a directory, not writable)."""


_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
FULL_HINT = "free some space there and run the command again; what was not yet indexed waits in the outbox"


def _device_full(root: Path) -> bool:
    try:
        stats = os.statvfs(root)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024  # less than a page of SQLite or Whoosh can be written


def _read_only(root: Path) -> bool:
    try:
        return bool(os.statvfs(root).f_flag & os.ST_RDONLY) or not os.access(root, os.W_OK)
    except OSError:
        return False


def write_problem(exc: BaseException, root: Path) -> HomeError | None:
    """The one-line error for a write that failed because ``root``'s disk is full or read-only; else None."""
    full = read_only = False
    if isinstance(exc, OSError) and exc.errno is not None:
        full, read_only = exc.errno in _FULL, exc.errno in _READ_ONLY
    elif isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        full = "disk is full" in text or ("disk i/o error" in text and _device_full(root))
        read_only = "readonly" in text or (("unable to open" in text or "disk i/o error" in text) and _read_only(root))
    if full:
        return HomeError(f"no space left on the device holding {root}", FULL_HINT)
    if read_only:
        return HomeError(f"{root} is not writable (read-only, or not yours)",
                         "use a writable --home (or NEWSDESK_HOME), or fix the permissions of this one")
    return None


def default_home() -> Path:
    """``$NEWSDESK_HOME`` if set, else the platform's user data dir."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("newsdesk", appauthor=False))


@dataclass(frozen=True)
class Home:
    """The layout of one data directory."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> Home:
        """The home at ``path`` (or the default), checked to be a usable directory."""
        if path is not None and "\x00" in os.fspath(path):
            raise HomeError(f"{os.fspath(path)!r} is not a valid path (it holds a NUL byte)")
        root = Path(path).expanduser() if path else default_home()
        try:
            root.exists()
        except OSError as exc:  # too long, or a loop of links
            raise HomeError(f"{root} cannot be used: {exc.strerror}") from None
        if root.exists() and not root.is_dir():
            raise HomeError(f"{root} is not a directory")
        return cls(root.absolute())

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def quarantine(self) -> Path:
        """Records an ingest set aside because they do not fit the record schema."""
        return self.root / "quarantine"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def sources_file(self) -> Path:
        """The user's sources.toml: overrides the shipped sources key by key."""
        return self.root / "sources.toml"

    @property
    def config_file(self) -> Path:
        """The user's config.toml: overrides newsdesk's shipped settings key by key."""
        return self.root / "config.toml"

    # The SQLite files of state/: each belongs to one module, named here so no one else spells them out.
    @property
    def runs_db(self) -> Path:
        """Run history (newsdesk.ops.runs)."""
        return self.state / "runs.sqlite"

    @property
    def alerts_db(self) -> Path:
        """Problems and the alerts delivered for them (newsdesk.ops.alerts)."""
        return self.state / "alerts.sqlite"

    @property
    def seen_db(self) -> Path:
        """Keys and fingerprints already delivered (scraper.seen)."""
        return self.state / "seen.sqlite"

    @property
    def crawl_db(self) -> Path:
        """Conditional-request validators and sitemap state (scraper.crawlstate)."""
        return self.state / "crawl.sqlite"

    def lock(self, name: str) -> Path:
        """The lock file ``name`` ("index", "scheduler", "crawl-<source>", …) under locks/."""
        return self.locks / f"{name}.lock"

    def ensure(self, *dirs: Path) -> None:
        """Create the named directories (or the root), with a clear error if impossible."""
        for directory in dirs or (self.root,):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeError(f"cannot create {directory}: {exc.strerror}") from None
            if not os.access(directory, os.W_OK):
                raise HomeError(f"{directory} is not writable")
