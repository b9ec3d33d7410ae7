"""Pathological query texts, as measured against Whoosh's stock parser (issue 8).

Shared by tests/test_hostile_queries.py and benchmarks/hostile_queries.py.
"""

from __future__ import annotations

from index.query import MAX_DEPTH

PATHOLOGICAL = {
    "star": "*",
    "every": "*:*",
    "one letter prefix": "a*",
    "question marks": "??*",
    "inner wildcard": "ab*cd",
    "range": "body:{a TO z]",
    "date range": "published:[2000 TO 3000]",
    "five short prefixes": "a* b* c* d* e*",
    "four long prefixes": "korea* troop* missi* rocke*",
    "fuzzy": "korea~2",
    "3,000-term OR": " OR ".join(f"w{i}" for i in range(3000)),
    "2,000 nested parentheses": "(" * 2000 + "korea" + ")" * 2000,
    "nine nested parentheses": "(" * (MAX_DEPTH + 1) + "korea" + ")" * (MAX_DEPTH + 1),
    "NOT NOT NOT": "NOT NOT NOT",
    "100k-character token": "x" * 100_000,
    "300-character word": "y" * 300,
    "200 words": " ".join(["troops"] * 200),
    "unknown field": "nosuchfield:korea",
    "stored-only field": "record:korea",
    "operators only": "AND OR NOT",
    "lone quote": '"',
    "lone parenthesis": ")",
    "operator soup": "(( OR AND ) NOT\" ^^ :: [ TO } ~ *",
    "control characters": "\x00\x01\x02 korea \x7f",
}
#: Inputs that, fenced, become a harmless word search instead of an error.
RUN_AS_WORDS = {"control characters", "fuzzy"}
