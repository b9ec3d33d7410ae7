"""Safe XML for feeds and sitemaps: no DTD, no entities, no external files, no network, no bombs.

A feed or sitemap has no business declaring a DTD: RSS, Atom and the sitemap
protocol define none (a bare ``<!DOCTYPE name>``, which declares nothing, passes).  A ``<!DOCTYPE … [<!ENTITY …>]>`` is how a
billion-laughs feed (entities nesting entities, gigabytes once expanded) and
an XXE feed (``<!ENTITY x SYSTEM "file:///etc/passwd">``) work, so
:func:`check_xml` refuses any document that declares one — wherever it sits
(after a long comment, too): the whole document is read by defusedxml's
expat parser with DTDs, entity declarations and external references
forbidden, and then by lxml (:func:`safe_parser`: no entities resolved, no
DTD loaded, no network), whose parse must hold no DTD either.

Bodies are checked after decompression: :func:`inflate` gunzips a gzip body
(a ``.xml.gz`` sitemap, a server that gzips unasked) up to the same limit
Scrapy applies to ``Content-Encoding`` (``DOWNLOAD_MAXSIZE``), and refuses
anything bigger.  Feed and sitemap spiders count a refusal as a drop
(``newsdesk/dropped/hostile_xml``, ``newsdesk/dropped/too_big``).
"""

from __future__ import annotations

import logging
import zlib
from io import BytesIO
from xml.sax import SAXException
from xml.sax.handler import ContentHandler, ErrorHandler
from xml.sax.xmlreader import InputSource

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.expatreader import DefusedExpatParser
from lxml import etree

from newsdesk.core.errors import NewsdeskError

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"


class HostileXML(NewsdeskError):
    """A document declares a DTD, entities or an external reference: refused unparsed."""


class TooLarge(NewsdeskError):
    """A compressed body inflates past the size limit."""


def inflate(body: bytes, limit: int) -> bytes:
    """``body`` gunzipped if it is gzip data, else as it is; TooLarge past ``limit`` bytes.

    A gzip body that does not inflate (truncated, not really gzip) is returned as it is.
    """
    if body[:2] != _GZIP_MAGIC:
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        return body
    if len(data) > limit:
        raise TooLarge(f"the body inflates past {limit} bytes (DOWNLOAD_MAXSIZE)")
    return data


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD, reads no network and no huge trees."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, recover=True, remove_comments=True)


def check_xml(body: bytes) -> None:
    """Raise HostileXML if ``body`` declares a DTD, entities or an external reference, anywhere."""
    _expat_check(body)
    _tree(body)


def parse_xml(body: bytes) -> etree._Element | None:
    """The root of a checked document (:func:`check_xml`); None for an empty or unparseable one."""
    _expat_check(body)
    return _tree(body)


class _DTDRefusingParser(DefusedExpatParser):
    """defusedxml's expat reader, refusing any DOCTYPE that declares something or points outside."""

    def __init__(self) -> None:
        super().__init__(forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self.setContentHandler(ContentHandler())
        self.setErrorHandler(ErrorHandler())

    def defused_start_doctype_decl(self, name: str, sysid: str | None, pubid: str | None,
                                   has_internal_subset: bool) -> None:
        if sysid or pubid or has_internal_subset:
            raise DTDForbidden(name, sysid, pubid)


def _expat_check(body: bytes) -> None:
    source = InputSource()
    source.setByteStream(BytesIO(body))
    try:
        _DTDRefusingParser().parse(source)
    except DefusedXmlException as exc:
        raise HostileXML(f"the document declares a DTD or entities ({type(exc).__name__})") from None
    except (SAXException, ValueError, LookupError):
        pass  # not well-formed (expat stops there): lxml's reading below still must hold no DTD


def _tree(body: bytes) -> etree._Element | None:
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    declares = dtd is not None and (any(True for _ in dtd.iterentities()) or any(True for _ in dtd.iterelements()))
    if declares or docinfo.externalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise HostileXML("the document declares a DTD")
    return root
