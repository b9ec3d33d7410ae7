"""Shared fixtures: a network guard, a temporary data home, a loopback fixture site."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
