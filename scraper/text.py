"""Text cleaning: markup to text, entities, whitespace, control characters."""

from __future__ import annotations

import html
import re
import unicodedata

import html_text

# C0/C1 controls, zero-width and direction marks, bidi embeddings/overrides/isolates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LOOKS_LIKE_MARKUP = re.compile(r"<[a-zA-Z!/][^>]*>")


def clean_line(text: str | None) -> str | None:
    """One line of text: entities decoded, tags dropped, whitespace folded; None if empty."""
    if text is None:
        return None
    for _ in range(3):  # escaped markup ("&lt;b&gt;") is markup once unescaped: strip it again
        if _LOOKS_LIKE_MARKUP.search(text):
            text = html_text.extract_text(text, guess_layout=False)
        unescaped = html.unescape(text)
        if unescaped == text or not _LOOKS_LIKE_MARKUP.search(unescaped):
            text = unescaped
            break
        text = unescaped
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = " ".join(text.split())
    return text or None


def clean_block(text: str | None) -> str | None:
    """Multi-paragraph text: markup to text with a break at every block element.

    Paragraph breaks become one newline; runs of spaces fold; scripts and styles
    are dropped.  Plain text passes through with only whitespace folded.
    """
    if text is None:
        return None
    if _LOOKS_LIKE_MARKUP.search(text):
        text = html_text.extract_text(text, guess_layout=True)
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    text = "\n".join(line for line in lines if line)
    return _BLANK_LINES.sub("\n\n", text).strip() or None
