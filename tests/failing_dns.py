"""Resolvers for crawls of a machine without a network: every name fails, as offline.

``NEWSDESK_RESOLVER=tests.failing_dns.no_such_name`` (the address guard) and
``DNS_RESOLVER=tests.failing_dns.FailingResolver`` (Twisted, for a host the guard
lets through unresolved): no lookup leaves the process, no connection is made.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

OFFLINE_SETTINGS = {
    "NEWSDESK_OFFLINE": "0",  # the offline guard would refuse first; nothing is reachable anyway
    "NEWSDESK_RESOLVER": "tests.failing_dns.no_such_name",
    "DNS_RESOLVER": "tests.failing_dns.FailingResolver",
}


def no_such_name(host: str) -> list[str]:
    """What getaddrinfo says on a machine with no network."""
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


@implementer(IResolverSimple)
class FailingResolver:
    """A Twisted resolver for which no name resolves."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> FailingResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:  # noqa: N802 (Twisted's name)
        return defer.fail(DNSLookupError(f"no network: {name}"))
