"""Words in what newsdesk prints: a count and its noun ("1 match", "2 matches")."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 match``, ``2 matches``, ``0 pages``: a count and its noun (``many`` for irregular plurals)."""
    if count == 1:
        return f"{count} {word}"
    if many is None:
        many = word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{count} {many}"
