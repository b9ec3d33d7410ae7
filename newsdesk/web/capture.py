"""A captured page served back from its WARC record, sandboxed: no script runs, nothing is fetched from elsewhere.

The page goes out as it was served (content-encoding undone) under a
Content-Security-Policy of its own: ``sandbox`` (no script, no forms, a
unique origin), ``default-src 'none'`` (no image, style sheet, font or frame
from the site or anywhere else; inline styles and ``data:`` images still
show).  A banner at the top says what it is and when it was fetched.
Anything but HTML goes out as plain text, so a feed's stylesheet or an
SVG's script is shown, not run.
"""

from __future__ import annotations

import html
import logging
import re

from flask import Response

from scraper.warcfile import Capture

logger = logging.getLogger(__name__)

CAPTURE_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
               "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
BANNER_STYLE = ("all:initial;display:block;font:14px/1.4 sans-serif;background:#fff3c4;color:#222;"
                "padding:6px 10px;border-bottom:2px solid #c9a227")
_BODY_TAG = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def banner_text(capture: Capture) -> str:
    """What the banner says."""
    return (f"Archived by newsdesk: {capture.url} as fetched {capture.fetched_at} (HTTP {capture.status}). "
            "Scripts and anything from other sites are blocked.")


def capture_response(capture: Capture) -> Response:
    """The sandboxed page for a captured response."""
    text = banner_text(capture)
    mime = capture.content_type.split(";", 1)[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        banner = (f'<div id="newsdesk-capture-banner" style="{BANNER_STYLE}">{html.escape(text)}</div>'
                  .encode("ascii", "xmlcharrefreplace"))
        tag = _BODY_TAG.search(capture.content)
        at = tag.end() if tag else 0
        body = capture.content[:at] + banner + capture.content[at:]
        content_type = capture.content_type
    else:
        charset = re.search(r"charset=([\w.:-]+)", capture.content_type)
        body = text.encode("utf-8") + b"\n\n" + capture.content
        content_type = f"text/plain; charset={charset.group(1) if charset else 'utf-8'}"
    response = Response(body, status=200, content_type=content_type)
    response.headers["Content-Security-Policy"] = CAPTURE_CSP
    return response
