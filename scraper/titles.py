"""Headlines: the page's own headline out of its <title>, meta titles and JSON-LD.

A page names its headline several times, decorated differently: ``<title>``
and ``og:title`` often carry the site's name, its section or a label
("Headline | Section | Site", "Opinion | Headline", "Headline (Published
2016)", "見出し : スポーツ"); JSON-LD and OpenGraph sometimes carry a headline
written for search engines or social media.  The rules here hold for any site:

* a tail is the site's name when it is the page's ``og:site_name`` (or
  publisher, application name), contains the host's own label ("AP News" on
  apnews.com, accents aside: "Aktuálně.cz" on aktualne.cz), is what the label
  abbreviates ("Los Angeles Times" on latimes.com), or is the text of the
  page's link to its home page;
* a tail is a section when it is the page's section (``article:section``,
  JSON-LD ``articleSection``), a breadcrumb or navigation link's text, or a
  short name printed between the headline and the site's name;
* the page's ``<h1>`` is the arbiter: a head that is the ``<h1>`` is the
  headline, whatever its tail, and so is a tail that is the ``<h1>``, whatever
  kicker stands before it ("Infant abandonment: Newborns left in …");
* a leading label ("Opinion |", "Analysis:", "Live:") is cut when it is one of
  the labels below (several languages) and what follows is still a headline.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable

from parsel import Selector

from scraper.text import clean_line

logger = logging.getLogger(__name__)

#: Separators between a headline and its decoration (" | ", " - ", " — ", " : ", " » " …).
TITLE_SEPARATOR = re.compile(r"\s+[|\-\u2013\u2014:\u00b7\u2022\u00bb/\uff5c\uff1a]{1,2}\s+|\s*[\uff5c\uff1a]\s*")
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u00a0": " "})
_NOT_A_HOST_LABEL = frozenset({"www", "m", "amp", "com", "co", "org", "net", "gov", "ac", "news"})
#: "Headline (Published 2016)": an archive page's note on the year, in a few languages.
_PUBLISHED_NOTE = re.compile(
    r"\s*\((?:published|publicado|publié|veröffentlicht|pubblicato|gepubliceerd)\s+\d{4}\)\s*$",
    re.IGNORECASE,
)
#: Labels printed before a headline ("Opinion | …", "Analysis: …"), folded.
_LEADING_LABELS = frozenset("""
    opinion analysis editorial column comment commentary review explainer interview live
    watch video podcast perspective letters essay exclusive breaking update
    meinung kommentar analyse leitartikel interview glosse
    opinión análisis editorial columna tribuna entrevista
    opinião análise
    tribune éditorial chronique entretien décryptage
    opinione commento analisi intervista
""".split())
#: "Analysis: Headline": a one- or two-word label and a colon right after it.
_LABEL_COLON = re.compile(r"([^\W\d_]+(?:\s[^\W\d_]+)?)\s*:\s+")
#: Where a kicker before a headline ends: a separator, or a colon ("Kicker: Headline").
_KICKER_END = re.compile(TITLE_SEPARATOR.pattern + r"|:\s+")
#: Longest decoration (in words) taken for a section name between a headline and the site.
_SECTION_WORDS = 3


def fold(text: str) -> str:
    """Text for comparing: typographic quotes and dashes plain, case and spacing folded."""
    return " ".join(text.translate(_TYPOGRAPHIC).casefold().split())


def squash(text: str) -> str:
    """Only the letters and digits of a text, case folded (quotes and dashes ignored)."""
    return "".join(c for c in text.casefold() if c.isalnum())


def plain_letters(text: str) -> str:
    """Letters and digits without their accents, case folded: 'Aktuálně.cz' → 'aktualnecz' (hosts are ASCII)."""
    return squash("".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)))


def abbreviates(label: str, name: str) -> bool:
    """Whether a host label is a name's words, each whole or as its initial, in order.

    'latimes' for "Los Angeles Times", 'nzherald' for "The New Zealand Herald",
    'wsj' for "Wall Street Journal"; a leading "The" may be left out.
    """
    words = [plain_letters(w) for w in name.split()]
    words = [w for w in words if w]
    if len(words) < 2 or len(words) > 6:
        return False
    if words[0] == "the":
        return abbreviates(label, " ".join(words[1:])) or abbreviates(label, "t " + " ".join(words[1:]))

    @functools.lru_cache(maxsize=None)
    def fits(i: int, at: int) -> bool:
        if i == len(words):
            return at == len(label)
        word = words[i]
        return ((label.startswith(word, at) and fits(i + 1, at + len(word)))
                or (label.startswith(word[0], at) and fits(i + 1, at + 1)))

    return fits(0, 0)


def host_label(url: str | None) -> str | None:
    """The site's own label in a URL's host: 'washingtonpost' for www.washingtonpost.com."""
    host = re.sub(r"^(?:https?:)?//", "", (url or "").strip().casefold()).split("/", 1)[0].split(":", 1)[0]
    labels = [label for label in host.split(".")[:-1] if label not in _NOT_A_HOST_LABEL and len(label) >= 3]
    return max(labels, key=len) if labels else None


def h1_texts(sel: Selector) -> list[str]:
    """The texts of the page's <h1> elements."""
    return [h for h in (clean_line(" ".join(n.xpath(".//text()").getall())) for n in sel.xpath(".//h1")) if h]


def _link_texts(sel: Selector, xpath: str) -> set[str]:
    texts = set()
    for node in sel.xpath(xpath)[:200]:
        text = clean_line(" ".join(node.xpath(".//text() | .//img/@alt").getall()))
        if text and len(text) <= 60:
            texts.add(fold(text))
    return texts


class TitleContext:
    """What a page says about its own name, sections and headline, for judging title parts.

    The home link's text and the navigation's section names are read only when a
    title has a part to judge.
    """

    def __init__(self, sel: Selector, site_names: Iterable[str], url: str | None,
                 sections: Iterable[str]) -> None:
        self._sel = sel
        self._site_names = {fold(n) for n in site_names if n}
        self._sections = {fold(s) for s in sections if s}
        self.host = host_label(url or sel.xpath('//link[@rel="canonical"]/@href').get())
        self.headings = h1_texts(sel)

    @functools.cached_property
    def site_names(self) -> set[str]:
        """og:site_name and the like, and the text of the page's link to its home page (folded)."""
        return self._site_names | _link_texts(self._sel, '//a[@href="/" or @rel="home"][not(ancestor::article)]')

    @functools.cached_property
    def sections(self) -> set[str]:
        """The page's section names: its metadata, breadcrumbs and navigation links (folded)."""
        return self._sections | _link_texts(
            self._sel, '//nav//a | //*[contains(translate(@class, "BREADCRUMB", "breadcrumb"), "breadcrumb")]//a'
                       ' | //*[contains(translate(@class, "SECTION", "section"), "section")]/a')

    def is_site_name(self, text: str) -> bool:
        """Whether a title part names the site: og:site_name, the home link's text, or the host."""
        if fold(text) in self.site_names:
            return True
        plain = plain_letters(text)
        return bool(self.host and len(plain) >= 3
                    and (self.host in plain or plain in self.host or abbreviates(self.host, text)))

    def is_heading(self, text: str) -> bool:
        """Whether a text is one of the page's <h1> headlines (quotes and punctuation aside)."""
        squashed = squash(text)
        return bool(squashed) and any(squash(h) == squashed for h in self.headings)

    def is_section(self, text: str) -> bool:
        return fold(text) in self.sections


def _is_label(text: str) -> bool:
    words = fold(text).split()
    return 0 < len(words) <= 2 and all(w in _LEADING_LABELS for w in words)


def clean_title(title: str | None, context: TitleContext) -> str | None:
    """A headline without the site's name, sections, a leading label or an archive note.

    "Headline | Section | Site" → "Headline"; "Opinion | Headline" → "Headline";
    "Headline (Published 2016)" → "Headline".  A title that is only the site's
    name is ``None`` (the page's <h1> says more).
    """
    if not title:
        return None
    title = _PUBLISHED_NOTE.sub("", title).strip()
    if context.is_heading(title):
        return title
    if context.is_site_name(title) and not TITLE_SEPARATOR.search(title):
        return None
    # The page's own headline, when the title is it plus decoration.
    inside = [h for h in context.headings
              if len(squash(h)) >= 5 and squash(title).startswith(squash(h)) and len(h) < len(title)]
    for head in sorted(inside, key=len, reverse=True):
        own = _own_prefix(title, head)
        if own:
            return own
    title = _without_tail(title, context)
    # The same on the other side: "Kicker: Headline" where the <h1> is the headline.
    for head in sorted(context.headings, key=len, reverse=True):
        own = _own_suffix(title, head) if len(squash(head)) >= 5 else None
        if own:
            return own
    return _without_label(title, context)


def _own_prefix(title: str, head: str) -> str | None:
    """The title up to the separator after which ``head`` (an <h1>) ends, as the title prints it."""
    for match in TITLE_SEPARATOR.finditer(title):
        if squash(title[: match.start()]) == squash(head):
            return title[: match.start()].strip()
    return None


def _own_suffix(title: str, head: str) -> str | None:
    """The title from the separator after which it is ``head`` (an <h1>) to its end, as the title prints it."""
    for match in _KICKER_END.finditer(title):
        rest = title[match.end():].strip()
        if squash(rest) == squash(head) and squash(title[: match.start()]):
            return rest
    return None


def _without_tail(title: str, context: TitleContext) -> str:
    """Cut the site's name from the end, and the section names between it and the headline."""
    separators = list(TITLE_SEPARATOR.finditer(title))
    for match in reversed(separators):  # the longest head first
        head, tail = title[: match.start()].strip(), title[match.end():].strip()
        if not head:
            continue
        if context.is_heading(head):
            return head
        if context.is_site_name(tail) or (context.is_section(tail) and len(tail.split()) <= _SECTION_WORDS):
            return _without_sections(head, context)
    return title


def _without_sections(title: str, context: TitleContext) -> str:
    """"Headline | World News" (the site's name already cut) → "Headline"."""
    while True:
        separators = list(TITLE_SEPARATOR.finditer(title))
        if not separators:
            return title
        last = separators[-1]
        head, tail = title[: last.start()].strip(), title[last.end():].strip()
        if not head or len(head.split()) < 2:
            return title
        if not (context.is_section(tail) or context.is_site_name(tail)
                or (len(tail.split()) <= _SECTION_WORDS and tail[:1].isupper() and "|" in last.group())):
            return title
        title = head


def _without_label(title: str, context: TitleContext) -> str:
    """"Opinion | Headline", "Analysis: Headline" → "Headline"."""
    match = TITLE_SEPARATOR.search(title)
    colon = _LABEL_COLON.match(title)
    if colon and (not match or colon.end() <= match.start()):
        label, rest = colon.group(1), title[colon.end():].strip()
    elif match:
        label, rest = title[: match.start()].strip(), title[match.end():].strip()
    else:
        return title
    if (_is_label(label) or context.is_section(label)) and len(rest.split()) >= 3:
        return rest
    return title
