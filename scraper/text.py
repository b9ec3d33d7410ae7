"""Text cleaning: markup to text, entities, whitespace, control characters."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

import html_text

# C0/C1 controls, zero-width and direction marks, bidi embeddings/overrides/isolates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LOOKS_LIKE_MARKUP = re.compile(r"<[a-zA-Z!/][^>]*>")
#: Printable ASCII words with single spaces between them, without "&" or "<": already a clean line.
_CLEAN_LINE = re.compile(r"[!-%'-;=-~]+(?: [!-%'-;=-~]+)*")


#: Cleaning repeats until the text stops changing ("&amp;lt;b&amp;gt;" takes three passes),
#: so cleaning clean text changes nothing; a text still changing after this many passes is
#: left as the last pass made it.
_MAX_PASSES = 8


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
    text = _CONTROL.sub("", unicodedata.normalize("NFC", html.unescape(text)))
    return " ".join(text.split()) or None


def _block_pass(text: str) -> str | None:
    if _LOOKS_LIKE_MARKUP.search(text):
        text = html_text.extract_text(text, guess_layout=True)
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
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
