"""Text cleaning: markup to text, entities, whitespace, invisible characters.

Invisible characters go by Unicode category, not by a list: every control
(Cc, apart from the whitespace ones), every format character (Cf: bidi marks,
embeddings, overrides and isolates, the Arabic letter mark, zero-width space,
word joiner, byte-order mark, soft hyphen, the tag characters U+E0000–E007F …)
and every lone surrogate (Cs).  The one exception: a zero-width joiner or
non-joiner between two letters (or emoji) stays, because there it is spelling
(Persian, the Indic scripts) or part of an emoji sequence.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from collections.abc import Callable

import html_text
import regex
from w3lib.encoding import html_body_declared_encoding, html_to_unicode

_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JOINED = r"[\p{L}\p{M}\p{Extended_Pictographic}]"  # what a ZWJ/ZWNJ may stand between
_INVISIBLE = regex.compile(
    rf"[[\p{{Cc}}\p{{Cf}}\p{{Cs}}]--[\t\n\r\u200c\u200d]]"
    rf"|(?<!{_JOINED})[\u200c\u200d]|[\u200c\u200d](?!{_JOINED})",
    regex.VERSION1,
)
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LOOKS_LIKE_MARKUP = re.compile(r"<[a-zA-Z!/][^>]*>")
#: Printable ASCII words with single spaces between them, without "&" or "<": already a clean line.
_CLEAN_LINE = re.compile(r"[!-%'-;=-~]+(?: [!-%'-;=-~]+)*")


#: Cleaning repeats until the text stops changing ("&amp;lt;b&amp;gt;" takes three passes),
#: so cleaning clean text changes nothing; a text still changing after this many passes is
#: left as the last pass made it.
_MAX_PASSES = 8


#: A page decoded with at least this many U+FFFD (and this share of its text) lied about its charset.
CHARSET_LIE_MIN = 8
CHARSET_LIE_RATIO = 0.001
_UNICODE_FAMILY = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def charset_lie(body: bytes, encoding: str, text: str, min_count: int = CHARSET_LIE_MIN,
                min_ratio: float = CHARSET_LIE_RATIO) -> tuple[bool, str | None]:
    """Whether ``body`` read as ``encoding`` (giving ``text``) lied, and the charset to read it in instead.

    Both directions: bytes that are UTF-8 (with non-ASCII characters) labelled as
    something else would read as mojibake ("CafÃ©"), so UTF-8 it is; a text with many
    U+FFFD was not in its label's charset, and is re-read in UTF-8, the charset the
    page's own ``<meta>`` names, or cp1252, the first that decodes cleanly (None if none).
    """
    declared = _codec(encoding)
    if declared not in _UNICODE_FAMILY and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return True, "utf-8"
    bad = text.count("\ufffd")
    if bad < min_count or bad < min_ratio * len(text):
        return False, None
    # cp1252 last: the usual truth behind a page labelled UTF-8; strict decoding rejects its 5 holes.
    for candidate in ("utf-8", html_body_declared_encoding(body), "cp1252"):
        if not candidate or _codec(candidate) == declared:
            continue
        try:
            body.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        return True, candidate
    return True, None


def decode_html(body: bytes) -> str:
    """Page bytes as text: BOM, then ``<meta charset>``, then UTF-8, with a lying charset repaired."""
    encoding, text = html_to_unicode(None, body)
    _, truer = charset_lie(body, encoding, text)
    return body.decode(truer) if truer else text


def strip_invisible(text: str) -> str:
    """``text`` without controls, format characters and lone surrogates (see the module docstring)."""
    if text.isascii():
        return _ASCII_CONTROL.sub("", text)
    # Printable text holds no Cc, Cf or Cs character (nor a joiner): the common case, checked in C.
    return text if text.isprintable() else _INVISIBLE.sub("", text)


def _settle(step: Callable[[str], str | None], text: str) -> str | None:
    """Apply ``step`` until the text stops changing (at most ``_MAX_PASSES`` times)."""
    for _ in range(_MAX_PASSES):
        cleaned = step(text)
        if cleaned is None or cleaned == text:
            return cleaned
        text = cleaned
    return text


def _line_pass(text: str) -> str | None:
    if _LOOKS_LIKE_MARKUP.search(text):
        text = html_text.extract_text(text, guess_layout=False)
    text = strip_invisible(unicodedata.normalize("NFC", html.unescape(text)))
    return " ".join(text.split()) or None


def _block_pass(text: str) -> str | None:
    if _LOOKS_LIKE_MARKUP.search(text):
        text = html_text.extract_text(text, guess_layout=True)
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = strip_invisible(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    text = "\n".join(line for line in lines if line)
    return _BLANK_LINES.sub("\n\n", text).strip() or None


def clean_line(text: str | None) -> str | None:
    """One line of text: entities decoded, tags dropped, whitespace folded; None if empty.

    Escaped markup (``&lt;b&gt;``) is markup once unescaped, and is stripped too.
    """
    if text is None:
        return None
    if _CLEAN_LINE.fullmatch(text):
        return text  # most headlines, bylines, links and printed dates: nothing to do
    return _settle(_line_pass, text)


def clean_block(text: str | None) -> str | None:
    """Multi-paragraph text: markup to text with a break at every block element.

    Paragraph breaks become one newline; runs of spaces fold; scripts and styles
    are dropped.  Plain text passes through with only whitespace folded.
    """
    return None if text is None else _settle(_block_pass, text)
