"""Parsing: a page (text or bytes) as text without its XML declaration, and as a parsel Selector."""

from __future__ import annotations

import re

from parsel import Selector

from scraper.text import decode_html

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _to_text(html: str | bytes) -> str:
    """Page text (bytes decoded by ``scraper.text.decode_html``) without an XML declaration."""
    if isinstance(html, bytes):
        html = decode_html(html)
    return _XML_DECLARATION.sub("", html, count=1)


def _selector(text: str) -> Selector:
    return Selector(text=text or "<html></html>", type="html")
