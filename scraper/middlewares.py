"""Downloader middlewares: where a crawl may connect, robots.txt, retries, lying charsets.

* :class:`OfflineGuardMiddleware` — under NEWSDESK_OFFLINE (the test suite) only
  the loopback may be reached.
* :class:`AddressGuardMiddleware` — only http(s); the host is resolved and a
  request (or redirect) to a private, loopback, link-local or otherwise
  non-global address is refused unless explicitly allowed (the ``--url`` host,
  a source's ``allow_private`` option, or NEWSDESK_ALLOW_PRIVATE).
* :class:`RobotsTxtMiddleware` — Scrapy's, with the 2.19 bug fixed: when three
  or more requests to one host wait for robots.txt, the third and later got
  ``None`` (allow everything) from the shared Deferred.
* :class:`BackoffRetryMiddleware` — Scrapy's retries (5xx, timeouts; never
  4xx, never a name that does not resolve), each retry waiting exponentially
  longer.
* :class:`CharsetCheckMiddleware` — a page whose declared charset lied (many
  U+FFFD after decoding, or UTF-8 bytes labelled as another charset) is
  counted, logged and, when its bytes read cleanly in UTF-8, the charset its
  own ``<meta>`` declares, or cp1252, re-decoded; the spiders pass the
  repaired text on (it is not decoded again).
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy import exceptions as scrapy_exceptions
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from scraper.text import CHARSET_LIE_MIN, CHARSET_LIE_RATIO, charset_lie

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_ALLOWED_SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OfflineGuardMiddleware:
    """With NEWSDESK_OFFLINE on (the test suite), refuse and loudly log any non-loopback request."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OfflineGuardMiddleware:
        if not crawler.settings.getbool("NEWSDESK_OFFLINE"):
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme not in _ALLOWED_SCHEMES:
            return None  # not the network: the address guard refuses file:, data: and the rest
        if not is_loopback_host(parts.hostname):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsdesk/offline_guard_blocked")
            logger.error("NETWORK GUARD: refused a request off the loopback: %s", request.url)
            raise IgnoreRequest(f"offline guard: {request.url}")
        return None


#: A host name that does not resolve: retrying within the run does not help (offline, or a typo).
DNS_FAILURES: tuple[type[Exception], ...] = (
    DNSLookupError, *((scrapy_exceptions.CannotResolveHostError,)  # Scrapy 2.14+ wraps DNSLookupError
                      if hasattr(scrapy_exceptions, "CannotResolveHostError") else ()))


def system_resolve(host: str) -> list[str]:
    """Every address the system resolver gives for ``host`` (blocking; run it in a thread)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_kind(address: IPAddress) -> str | None:
    """Why an address is off limits ("loopback", "private" …), or None for a public one."""
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-global"


class AddressGuardMiddleware:
    """Refuse non-http(s) URLs and hosts that resolve to non-public addresses, unless allowed.

    Allowed: hosts in NEWSDESK_ALLOWED_HOSTS (``crawl --url`` puts its host
    there), every host if NEWSDESK_ALLOW_PRIVATE or the source's option
    ``allow_private = true``, loopback addresses if NEWSDESK_ALLOW_LOOPBACK.
    A host that does not resolve is a DNS error at once (DNSLookupError, not
    retried): the download is never tried.  NEWSDESK_RESOLVER names the
    resolver (a function host → addresses; default :func:`system_resolve`).
    """

    def __init__(self, crawler: Crawler, resolver: Resolver = system_resolve) -> None:
        settings = crawler.settings
        self.crawler = crawler
        named = settings.get("NEWSDESK_RESOLVER")
        self.resolver = load_object(named) if named else resolver
        self.allowed_hosts = {h.strip().lower().strip("[]") for h in settings.getlist("NEWSDESK_ALLOWED_HOSTS")
                              if h.strip()}
        self.allow_private = settings.getbool("NEWSDESK_ALLOW_PRIVATE")
        self.allow_loopback = settings.getbool("NEWSDESK_ALLOW_LOOPBACK")
        self.cache: dict[str, list[str]] = {}
        self.unresolved: dict[str, str] = {}  # host → why it did not resolve

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def _refuse(self, request: Request, reason: str) -> IgnoreRequest:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsdesk/refused/{reason.split(' ', 1)[0]}")
        logger.warning("refused %s: %s", request.url, reason)
        return IgnoreRequest(f"address guard: {reason}: {request.url}")

    def _source_allows(self) -> bool:
        source = getattr(self.crawler.spider, "source", None)
        options = getattr(source, "options", None) or {}
        return bool(options.get("allow_private"))

    async def _addresses(self, host: str) -> list[str]:
        if host in self.unresolved:
            raise DNSLookupError(self.unresolved[host])
        if host in self.cache:
            return self.cache[host]
        if is_loopback_host(host) or host.endswith(".localhost"):  # RFC 6761: never leaves the machine
            return ["127.0.0.1"]
        try:
            _address(host)
            addresses = [host]
        except ValueError:
            try:
                if self.resolver is system_resolve:  # blocking: keep it off the reactor thread
                    from twisted.internet.threads import deferToThread

                    addresses = await maybe_deferred_to_future(deferToThread(self.resolver, host))
                else:
                    addresses = self.resolver(host)
            except socket.gaierror as exc:  # the name does not resolve: offline, or no such host
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("newsdesk/dns_failed")
                self.unresolved[host] = f"DNS lookup failed for {host}: {exc.strerror or exc}"
                raise DNSLookupError(self.unresolved[host]) from None
            except (OSError, UnicodeError):
                addresses = []
        if len(self.cache) > 10000:
            self.cache.clear()
        self.cache[host] = addresses
        return addresses

    async def process_request(self, request: Request) -> None:
        parts = urlparse_cached(request)
        if parts.scheme not in _ALLOWED_SCHEMES:
            raise self._refuse(request, f"scheme {parts.scheme or '(none)'}: only http(s) is fetched")
        host = (parts.hostname or "").lower()
        if not host:
            raise self._refuse(request, "no-host in the URL")
        if self.allow_private or host in self.allowed_hosts or self._source_allows():
            return None
        for text in await self._addresses(host):
            try:
                address = _address(text)
            except ValueError:
                continue
            kind = address_kind(address)
            if kind is None or (kind == "loopback" and self.allow_loopback):
                continue
            raise self._refuse(request, f"{kind} address {address} for {host}")
        return None


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware; every waiter gets the parser, not just the first two.

    Scrapy 2.19 parks waiters on one Deferred; the first waiter's callback
    returns None, so the third and later waiters receive None ("no robots.txt:
    allow").  The parser is stored before the Deferred fires, so each waiter
    reads it back from ``_parsers`` after the wait.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        if stored is not None and not isinstance(stored, Deferred):
            return stored
        return parser


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 5xx responses and timeouts (never 4xx), waiting longer before each retry.

    The wait before retry n is NEWSDESK_RETRY_BACKOFF × 2^(n-1) seconds, with
    ±25 % jitter, at most NEWSDESK_RETRY_BACKOFF_MAX.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.backoff = crawler.settings.getfloat("NEWSDESK_RETRY_BACKOFF", 1.0)
        middleware.backoff_max = crawler.settings.getfloat("NEWSDESK_RETRY_BACKOFF_MAX", 60.0)
        middleware.retry_http_codes = {c for c in middleware.retry_http_codes if not 400 <= c < 500}
        return middleware

    def delay_for(self, retry: Request) -> float:
        """Seconds to wait before sending ``retry`` (its meta holds the retry count)."""
        times = int(retry.meta.get("retry_times", 1))
        base = min(self.backoff * 2 ** (times - 1), self.backoff_max)
        return base * random.uniform(0.75, 1.25)

    async def _wait(self, result: Any) -> Any:
        if isinstance(result, Request) and self.backoff > 0:
            from twisted.internet import reactor
            from twisted.internet.task import deferLater

            delay = self.delay_for(result)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsdesk/retry_backoff_seconds", round(delay, 2))
            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))  # type: ignore[arg-type]
        return result

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        return await self._wait(super().process_response(request, response))

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if isinstance(exception, DNS_FAILURES):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsdesk/dns_not_retried")
            return None  # the name does not resolve: asking again in a few seconds does not help
        return await self._wait(super().process_exception(request, exception))


class CharsetCheckMiddleware:
    """Count (and where possible repair) text whose declared charset lied (``scraper.text.charset_lie``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.min_count = crawler.settings.getint("NEWSDESK_CHARSET_LIE_MIN", CHARSET_LIE_MIN)
        self.min_ratio = crawler.settings.getfloat("NEWSDESK_CHARSET_LIE_RATIO", CHARSET_LIE_RATIO)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetCheckMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse) or not response.body:
            return response
        lied, truer = charset_lie(response.body, response.encoding, response.text, self.min_count, self.min_ratio)
        if not lied:
            return response
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsdesk/charset_lied")
        request.meta["newsdesk_charset_lied"] = True
        if truer is None:
            logger.warning("charset lied on %s: declared %s; text kept with replacement characters",
                           response.url, response.encoding)
            return response
        self.crawler.stats.inc_value("newsdesk/charset_repaired")
        logger.warning("charset lied on %s: declared %s, read as %s", response.url, response.encoding, truer)
        return response.replace(encoding=truer)
