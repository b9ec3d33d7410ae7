"""Where a user's data lives: the home directory and its layout.

The home defaults to the platform's data dir (platformdirs) and is overridden by
``--home`` or ``NEWSDESK_HOME``.  Both the scraper and the index find their
files through :class:`Home`, so the layout is written down once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from newsdesk.errors import NewsdeskError

ENV_VAR = "NEWSDESK_HOME"


class HomeError(NewsdeskError):
    """The data directory cannot be used (not a directory, not writable)."""


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

    def ensure(self, *dirs: Path) -> None:
        """Create the named directories (or the root), with a clear error if impossible."""
        for directory in dirs or (self.root,):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeError(f"cannot create {directory}: {exc.strerror}") from None
            if not os.access(directory, os.W_OK):
                raise HomeError(f"{directory} is not writable")
