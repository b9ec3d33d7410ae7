"""Item keys and content fingerprints.

The key identifies an item across runs: the canonical URL (w3lib's
``canonicalize_url`` minus tracking parameters), or, for an item with no link
of its own, the source id plus a hash of its headline and printed time.
Invisible characters (``scraper.text.strip_invisible``) are no part of a key.
"""

from __future__ import annotations

import functools
import hashlib
import re

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from scraper.text import strip_invisible

#: Query parameters that only track the reader; they never change the page.
TRACKING_PARAMS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "utm_name", "utm_reader", "utm_brand", "utm_social-type", "fbclid", "gclid",
    "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ocid",
    "cmpid", "CMP", "traffic_source", "maca", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3",
    "at_custom4", "ito", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
    "ns_fee", "smid", "smtyp", "xtor", "__twitter_impression", "s_cid",
)
_TRACKING_PREFIXES = ("utm_",)
_TRACKING = {name.lower() for name in TRACKING_PARAMS}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=8192)
def canonical_url(url: str) -> str:
    """The canonical form of a URL: sorted query, no fragment, no tracking parameters.

    Memoized: a crawl canonicalizes each link several times (following it, keying
    its record, checking it was seen), and w3lib's canonicalization is slow.
    """
    cleaned = strip_invisible(url.strip())
    if "?" in cleaned or "#" in cleaned:
        cleaned = url_query_cleaner(cleaned, TRACKING_PARAMS, remove=True, keep_fragments=False)
        parts = urlsplit(cleaned)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k.lower() not in _TRACKING and not k.lower().startswith(_TRACKING_PREFIXES)]
        if len(query) != len(parse_qsl(parts.query, keep_blank_values=True)):  # UTM_Source, FBCLID …
            cleaned = urlunsplit(parts._replace(query=urlencode(query)))
    canonical = canonicalize_url(cleaned)
    port = canonical.partition("://")[2].partition("/")[0].rpartition(":")[2]
    if not (port.isdigit() and int(port) in _DEFAULT_PORTS.values()):
        return canonical  # no default port to drop
    parts = urlsplit(canonical)
    if parts.port is not None and _DEFAULT_PORTS.get(parts.scheme) == parts.port:  # http://x:80/ is http://x/
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.username or parts.password:
            netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
        canonical = urlunsplit(parts._replace(netloc=netloc))
    return canonical


def _digest(text: str, size: int = 10) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def linkless_key(source: str, title: str, printed_time: str | None) -> str:
    """Key for an item without a link: source id plus a hash of headline and printed time."""
    headline = _SPACE.sub(" ", strip_invisible(title)).strip().casefold()
    basis = f"{headline}\x1f{strip_invisible(printed_time or '').strip()}"
    return f"{source}:{_digest(basis)}"


def fingerprint(*parts: str | None) -> str:
    """Hash of the normalized content (case and whitespace folded)."""
    text = "\x1f".join(" ".join(p.split()).casefold() if p else "" for p in parts)  # split() folds what \s+ did
    return _digest(text, 12)
