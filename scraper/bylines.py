"""Bylines as printed ("By TOVAH LAZAROFF/REUTERS") → person names and the agency or desk.

A name that is a wire agency (Reuters, AP, AFP …) or a desk ("JERUSALEM POST
STAFF") is not a person: it goes to ``agency``, not ``authors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Wire agencies and news organisations that appear in bylines, by the forms printed.
AGENCIES: dict[str, str] = {
    "reuters": "Reuters", "thomson reuters": "Reuters",
    "ap": "AP", "associated press": "AP", "the associated press": "AP",
    "afp": "AFP", "agence france-presse": "AFP", "agence france presse": "AFP",
    "bloomberg": "Bloomberg", "dpa": "dpa", "ansa": "ANSA", "efe": "EFE",
    "xinhua": "Xinhua", "upi": "UPI", "pa": "PA", "pa media": "PA",
    "kyodo": "Kyodo", "yonhap": "Yonhap", "tass": "TASS", "anadolu": "Anadolu",
    "anadolu agency": "Anadolu", "cnn": "CNN", "bbc": "BBC", "jta": "JTA",
    "tps": "TPS", "tazpit": "TPS", "tazpit press service": "TPS",
    "maariv": "Maariv", "walla": "Walla", "ynet": "Ynet", "i24news": "i24NEWS",
    "jns": "JNS", "jewish news syndicate": "JNS", "the media line": "The Media Line",
    "online desk": "Online desk", "news desk": "News desk",
}
_STAFF = re.compile(r"^(?:the\s+)?(.+?)\s+(staff|staff writers?|team|desk|editors?|newsroom)$",
                    re.IGNORECASE)
_BY = re.compile(r"^\s*(?:written\s+)?by[:\s]+", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:,|;|\||/|&|\band\b|\bwith\b|\u00b7|\u2022)\s*", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"\d|@|https?:|\b(?:updated|published|posted|min(?:ute)?s?\s+read|hours?\s+ago)\b",
    re.IGNORECASE,
)


@dataclass
class Byline:
    """A byline split into people and the agency (or desk) it credits."""

    authors: list[str] = field(default_factory=list)
    agency: str | None = None


def _name_case(name: str) -> str:
    """'SETH J. FRANTZMAN' → 'Seth J. Frantzman'; mixed case is left as printed."""
    if name != name.upper():
        return name
    words = []
    for word in name.lower().split():
        word = "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
        word = re.sub(r"^(Mc|O')([a-z])", lambda m: m.group(1) + m.group(2).upper(), word)
        words.append(word)
    return " ".join(words)


def _agency(part: str) -> str | None:
    folded = " ".join(part.casefold().replace(".", "").split())
    if folded in AGENCIES:
        return AGENCIES[folded]
    staff = _STAFF.match(part)
    if staff:
        return f"{_name_case(staff.group(1))} {staff.group(2).lower()}"
    return None


def parse_byline(text: str | None) -> Byline:
    """Split a printed byline into person names and an agency."""
    result = Byline()
    if not text:
        return result
    cleaned = _BY.sub("", " ".join(text.split()))
    for part in _SPLIT.split(cleaned):
        part = part.strip(" .-–—:")
        part = _BY.sub("", part)
        if not part:
            continue
        agency = _agency(part)
        if agency:
            # A wire agency outranks a desk ("JERUSALEM POST STAFF, REUTERS" → Reuters).
            if result.agency is None or result.agency.endswith(("staff", "desk", "team")):
                result.agency = agency
            continue
        if _NOT_A_NAME.search(part) or len(part) > 60:
            continue
        name = _name_case(part)
        if name not in result.authors:
            result.authors.append(name)
    return result
