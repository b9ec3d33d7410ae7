"""Safe XML for feeds and sitemaps: no entity expansion, no external files, no network.

A feed or sitemap has no business declaring entities: RSS, Atom and the
sitemap protocol define none.  A ``<!DOCTYPE … [<!ENTITY …>]>`` is how a
billion-laughs feed (entities nesting entities, gigabytes once expanded) and
an XXE feed (``<!ENTITY x SYSTEM "file:///etc/passwd">``) work, so
:func:`check_xml` refuses any document that declares one, and
:func:`safe_parser` never resolves entities, loads a DTD or reaches the
network even if one slips through.  Feed and sitemap spiders call
``check_xml(response.body)`` before parsing and count a refusal as a drop
(``newsdesk/dropped/hostile_xml``).
"""

from __future__ import annotations

import logging
import re

from lxml import etree

from newsdesk.errors import NewsdeskError

logger = logging.getLogger(__name__)

#: A DOCTYPE must come before the root element, so it sits in the head of a document.
_HEAD_BYTES = 64 * 1024
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)  # entities live in the [ … ] subset
_EXTERNAL_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*\b(SYSTEM|PUBLIC)\b", re.IGNORECASE)


class HostileXML(NewsdeskError):
    """A document declares entities or an external DTD: refused unparsed."""


def _head(body: bytes) -> bytes:
    """The first bytes of a document, as ASCII-compatible bytes even if it is UTF-16."""
    head = body[:_HEAD_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        return head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    return head


def check_xml(body: bytes) -> None:
    """Raise HostileXML if ``body`` declares entities (a DTD subset) or an external DTD."""
    head = _head(body)
    if _DOCTYPE_SUBSET.search(head):
        raise HostileXML("the document declares a DTD subset (entities: billion laughs / XXE)")
    if _EXTERNAL_DOCTYPE.search(head):
        raise HostileXML("the document points at an external DTD")


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD, reads no network and no huge trees."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, recover=True, remove_comments=True)


def parse_xml(body: bytes) -> etree._Element | None:
    """``check_xml`` then parse with :func:`safe_parser`; None for an empty or unparseable document."""
    check_xml(body)
    try:
        return etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError:
        return None
