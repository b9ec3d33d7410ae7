"""Shared fixtures: a network guard, a temporary data home, a loopback fixture site.

Every crawl the suite runs leaves a run report under a temporary home; after
each test (and, for homes shared by a module, at the end of the session) the
numbers of every report are checked to add up (:mod:`newsdesk.core.tally`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsdesk.core.tally import Tally
from tests.helpers import FIXTURES, FixtureSite, serve

# Crawl subprocesses inherit this: any request off the loopback fails loudly.
os.environ["NEWSDESK_OFFLINE"] = "1"
os.environ.pop("NEWSDESK_HOME", None)


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", None, ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuardError(RuntimeError):
    """A test tried to reach the internet."""


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection or DNS lookup that leaves the loopback."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise NetworkGuardError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            raise NetworkGuardError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data home, also exported as NEWSDESK_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("NEWSDESK_HOME", str(path))
    return path


@pytest.fixture
def jpost_site() -> Iterator[FixtureSite]:
    """fixtures/jpost served on 127.0.0.1."""
    with serve(FIXTURES / "jpost") as site:
        yield site


def tally_problems(root: Path) -> list[str]:
    """Every run report under ``root`` whose numbers do not add up, with what is wrong."""
    found = []
    for report in root.rglob("runs/*.json"):
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a test writing a damaged report on purpose
        if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
            continue
        for problem in Tally.of(data["stats"]).problems(str(data.get("finish_reason") or "finished")):
            found.append(f"{report}: {problem}")
    return found


@pytest.fixture(autouse=True)
def crawl_numbers_add_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test: every crawl it ran under its tmp_path says seen = new + updated + unchanged + dropped."""
    yield
    root = request.node.funcargs.get("tmp_path")
    if isinstance(root, Path):
        problems = tally_problems(root)
        assert not problems, "a crawl's numbers do not add up:\n" + "\n".join(problems)


@pytest.fixture(autouse=True, scope="session")
def every_crawl_numbers_add_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: the same for crawls under homes shared by a module or the session."""
    yield
    problems = tally_problems(tmp_path_factory.getbasetemp())
    assert not problems, "a crawl's numbers do not add up:\n" + "\n".join(problems)
