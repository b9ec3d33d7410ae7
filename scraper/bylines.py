"""Bylines as printed ("By TOVAH LAZAROFF/REUTERS") → person names and the agency or desk.

A name that is a wire agency (Reuters, AP, AFP …) or a desk ("JERUSALEM POST
STAFF") is not a person: it goes to ``agency``, not ``authors``.  ``credits``
keeps everyone credited, agencies as printed ("The Associated Press").

Bylines on article pages carry more than names; these are cut: "By" and its
forms in other languages ("Par", "Por", "Von"), labels before it ("Analysis
by"), dates and "Updated …", job titles ("Senior Editor"), publications ("Fox
News", "The West Australian": credited only when no one else is), domains,
template placeholders and page chrome ("Follow", "Comments").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
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
_STAFF = re.compile(r"^(?:the\s+)?(.+?)\s+(staff(?:\s+(?:writers?|reporters?|correspondents?))?|team|desk|"
                    r"editors|newsroom|redaktion)$",
                    re.IGNORECASE)
#: "By", and its forms in other languages, in front of a byline or a name.
_BY = re.compile(
    r"^\s*(?:(?:written|reported|reporting|posted|story|words|text|analysis|opinion|commentary|"
    r"review|interview|compiled|edited)\s+)?(?:by|par|por|von|door|av|af)[:\s]+",
    re.IGNORECASE,
)
_SPLIT = re.compile(
    r"\s*(?:,|;|\||/|&|\+|\band\b|\bwith\b|\bavec\b|\bund\b|\bet\b|\bcon\b"
    r"|(?-i:\s[ye]\s)|\u00b7|\u2022|\s[-\u2013\u2014]\s)\s*",
    re.IGNORECASE,
)
#: "Deal Professor By STEVEN SOLOMON": a label, then "By", then the name.
_MID_BY = re.compile(r"^.*?\s(?:by|By|BY)\s+(?=[A-Z])")
_PAREN = re.compile(r"\(([^()]*)\)")
_JOINER = re.compile(r"^\s*(?:and|with|avec|et|und|mit|con|y|e)\b", re.IGNORECASE)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
#: Where a printed date or a label starts inside a byline: the rest of the part is not a name.
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|rsday|urday)?\.?"
_TAIL = re.compile(
    rf"\d|\[|\{{|\b{_MONTH}\s+\d|\b{_WEEKDAY}(?:,|\s+\d)|\b(?:last\s+)?(?:updated|published|posted|modified)\b"
    r"|\bmin(?:ute)?s?\s+read\b|\b(?:comments?|share|email|e-mail|follow|text\s+size|read\s+more)\b"
    r"|\s+(?:for|in)\s+",
    re.IGNORECASE,
)
#: Last words of publication names, which are not people.
_ORG_WORDS = frozenset("""
    news times media network agency radio tv television online newspaper magazine gazette
    tribune journal chronicle telegraph bulletin
""".split())
#: An organisation named after a person in the same part ("Jane Doe The Associated Press").
_THE_ORG = re.compile(r"\s+(?=(?-i:The|THE)\s+(?-i:[A-Z]))", re.IGNORECASE)
_DOMAIN = re.compile(r"\b[\w-]+\.(?:com|net|org|info|news|co(?:\.[a-z]{2})?)\b", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"\d|@|https?:|www\.|\b(?:updated|published|posted|min(?:ute)?s?\s+read|hours?\s+ago)\b",
    re.IGNORECASE,
)
#: Job titles and roles printed beside names ("Jane Doe, Senior Editor", "X | Staff").
_ROLE_WORDS = frozenset("""
    a an the our your staff writer writers reporter reporters correspondent correspondents
    contributor contributors contributing editor editors editorial columnist photographer
    photographers photo photos video producer analyst associate deputy managing senior chief
    political foreign special news national international investigative data digital desk
    team author authors guest opinion reporting additional more view all profile bio
    follow posts articles by assistant journalist director hub content head lead
    sports business politics science health technology culture entertainment weather
    travel economics markets courts crime education environment climate metro
    ver biografía biography perfil profil
    twitter facebook instagram linkedin threads bluesky mastodon tiktok youtube whatsapp telegram
    redakteur redakteurin korrespondent korrespondentin autor autorin redaktion journalist journalistin
    reporterin mitarbeiter freier freie
    rédacteur rédactrice journaliste envoyé envoyée spécial spéciale correspondant correspondante
    rédaction chroniqueur chroniqueuse
    periodista redactor redactora corresponsal enviado enviada especial redacción
    giornalista redattore redattrice inviato inviata corrispondente redazione
    jornalista repórter correspondente redação colunista
""".split())
#: Role words glued to a name in scripts without spaces ("山田太郎記者", "王小明／台北報導").
_CJK_ROLE = re.compile(r"(?:記者|记者|特派員|特派员|編集委員|論説委員|通信員|報導|报道|撰稿)$")


def _strip_roles(part: str) -> str:
    """Drop job-title words and lowercase words after a name ("Jane Doe Senior Editor")."""
    words = part.split()
    while len(words) > 2 and (words[-1].casefold().strip(".,") in _ROLE_WORDS or words[-1].islower()):
        words.pop()
    while len(words) > 2 and words[0].casefold() in _ROLE_WORDS:
        words.pop(0)
    return " ".join(words)


def _undoubled(part: str) -> str:
    """"Jane Roe Jane Roe" (a name printed twice, as link text and as label) → "Jane Roe"."""
    words = part.split()
    half = len(words) // 2
    if half and len(words) % 2 == 0 and [w.casefold() for w in words[:half]] == [w.casefold() for w in words[half:]]:
        return " ".join(words[:half])
    compact = part.replace(" ", "")
    if len(compact) >= 4 and len(compact) % 2 == 0 and compact[: len(compact) // 2] == compact[len(compact) // 2:] \
            and not compact.isascii():
        return compact[: len(compact) // 2]
    return part


def _without_publisher(part: str, publishers: frozenset[str]) -> str:
    """A name without the publication printed after it ("JANE ROE THE DAILY STAR" → "JANE ROE")."""
    folded = part.casefold()
    for name in publishers:
        if folded.endswith(" " + name) and len(folded) > len(name) + 3:
            return part[: len(part) - len(name)].strip(" ,.-–—|")
    return part


def _is_role(part: str) -> bool:
    """A part made only of job-title words ("Senior Editor", "Staff"), not a name."""
    words = re.findall(r"[^\W\d_]+", part.casefold())
    return bool(words) and all(w in _ROLE_WORDS for w in words)


@dataclass
class Byline:
    """A byline split into people and the agency (or desk) it credits."""

    authors: list[str] = field(default_factory=list)
    agency: str | None = None
    #: Everyone credited, in order: people name-cased, agencies and desks as printed.
    credits: list[str] = field(default_factory=list)


def _name_case(name: str) -> str:
    """'SETH J. FRANTZMAN' → 'Seth J. Frantzman'; mixed case is left as printed."""
    if name != name.upper() or (" " not in name and len(name) <= 4):
        return name  # mixed case, or an acronym ("CBC")
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
    first, _, rest = folded.partition(" ")
    if first in AGENCIES and rest and _is_role(rest):
        return AGENCIES[first]  # "AFP Photo", "CNN Senior Analyst"
    staff = _STAFF.match(part)
    if staff:
        return f"{_name_case(staff.group(1))} {staff.group(2).lower()}"
    return None


def _unbracket(match: re.Match[str]) -> str:
    """"(with X)" and "(Reuters)" are more credits; other brackets belong to the name."""
    inner = match.group(1).strip()
    if _JOINER.match(inner) or " ".join(inner.casefold().replace(".", "").split()) in AGENCIES:
        return ", " + _JOINER.sub("", inner) + ","
    return match.group(0)


def parse_byline(text: str | None, publishers: Iterable[str] = ()) -> Byline:
    """Split a printed byline into person names and an agency.

    Dates, "Updated …" labels, job titles (in several languages), social-network
    labels, e-mail addresses and URLs are dropped; "By" (and "Par", "Por", "Von" …)
    and joiners ("and", "et", "und", "y") are understood; a name printed twice is
    one name.  A source prints the same few bylines again and again ("By REUTERS"):
    answers are memoized (each caller gets its own copy).

    :param publishers: names of the publication itself (og:site_name, the JSON-LD
        publisher): never a person, and cut from the end of a name printed with it.
    """
    if not text:
        return Byline()
    names = {" ".join(p.casefold().split()) for p in publishers if p}
    known = _parse_byline(text, frozenset(names | {n[4:] for n in names if n.startswith("the ")}))
    return Byline(list(known.authors), known.agency, list(known.credits))


@functools.lru_cache(maxsize=4096)
def _parse_byline(text: str, publishers: frozenset[str] = frozenset()) -> Byline:
    result = Byline()
    cleaned = _PAREN.sub(_unbracket, _BY.sub("", " ".join(text.split())))
    parts = [piece for part in _SPLIT.split(cleaned) for piece in _THE_ORG.split(part)]
    organisations: list[str] = []
    for part in parts:
        part = _MID_BY.sub("", _BY.sub("", part.strip(" .-–—:"))).strip(" .-–—:")
        tail = _TAIL.search(part)
        if tail:
            # "Lucas Nolan22 Dec 2016", "GILLIAN MOHNEY March 11, 2015": keep the name before it.
            part = part[: tail.start()].strip(" .-–—:,")
        part = _CJK_ROLE.sub("", _undoubled(_without_publisher(part, publishers))).strip(" .-–—:")
        if not part:
            continue
        folded = " ".join(part.casefold().replace(".", "").split())
        if folded not in AGENCIES and _is_role(part):
            continue
        if " ".join(part.casefold().split()) in publishers:
            organisations.append(part)  # the publication itself: credited only if no one else is
            continue
        agency = _agency(part)
        if agency:
            # A wire agency outranks a desk ("JERUSALEM POST STAFF, REUTERS" → Reuters).
            if result.agency is None or result.agency.endswith(("staff", "desk", "team")):
                result.agency = agency
            # As printed; for "CNN Senior Analyst" only the agency's own word.
            credit = part if folded in AGENCIES or _STAFF.match(part) else part.split()[0]
            if credit not in result.credits:
                result.credits.append(credit)
            continue
        if _DOMAIN.search(part):
            continue  # "example.com": the site itself
        if folded.startswith("the ") or folded.rsplit(" ", 1)[-1] in _ORG_WORDS:
            # A publication ("The West Australian", "Fox News"): credited only if no one else is.
            organisations.append(part)
            continue
        part = _strip_roles(part)
        if not part or _NOT_A_NAME.search(part) or _is_role(part) or len(part) > 60:
            continue
        if len(part.split()) > 6:  # a sentence, not a name
            continue
        name = _name_case(_undoubled(part))
        if name not in result.authors:
            result.authors.append(name)
            result.credits.append(name)
    if not result.credits and organisations:
        result.agency = organisations[0]
        result.credits.append(organisations[0])
    return result
