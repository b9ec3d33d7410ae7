"""Several processes opening one new SQLite state file at once: WAL is switched on without 'database is locked'."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from newsdesk.core.sqlite import connect_wal


def test_wal_switch_waits_for_another_connections_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # what a second process switching the mode looks like
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    started = time.monotonic()
    db = connect_wal(path, timeout=10)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert time.monotonic() - started >= 0.2
    db.close()
    holder.close()


def test_a_lock_held_past_the_timeout_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        connect_wal(path, timeout=0.3)
    holder.execute("COMMIT")
    holder.close()
