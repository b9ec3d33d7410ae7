"""Assembling: each field from the first kind of evidence that has it, then the body's edges cleaned."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from parsel import Selector

from scraper.bylines import parse_byline
from scraper.extract.article import ExtractedArticle
from scraper.extract.body import (_body_byline, _byline_line, _paragraphs_like, _without_captions,
                                   _without_credit_lines, _without_headline)
from scraper.extract.fallbacks import _generic_date
from scraper.extract.jsonld import _URLISH, _ld_list, _ld_names, _ld_text
from scraper.extract.metas import _META_AUTHOR, _META_PUBLISHED, _META_TITLE, _META_UPDATED, _itemprop
from scraper.extract.page import _Page
from scraper.extract.printed_dates import _with_page_offset, _with_time_of_day, _without_date_lines
from scraper.extract.selected import _node_text
from scraper.text import clean_block, clean_line
from scraper.titles import clean_title, fold, h1_texts, squash

#: JSON-LD articleBody shorter than this share of the page's main text is a teaser.
_TEASER_RATIO = 0.5


def _authors(page: _Page, result: ExtractedArticle, names: Iterable[str | tuple[str, bool]]) -> bool:
    """Clean raw author strings into ``authors``, ``agency`` and ``credits``; False if none.

    The publication itself (og:site_name, publisher) and the page's section are never people.
    """
    raw = [(n, False) if isinstance(n, str) else n for n in names if n]
    raw = [(n, is_org) for n, is_org in raw if n]
    if not raw:
        return False
    result.byline = ", ".join(n for n, _ in raw)
    for name, is_org in raw:
        if is_org:  # an organisation named as the author: credited, not a person
            org = _BY_PREFIX.sub("", name)
            if org and org not in result.credits:
                result.credits.append(org)
            parsed_org = parse_byline(org, page.site_names)
            result.agency = result.agency or parsed_org.agency or org
            continue
        byline = parse_byline(name, page.site_names)
        for person in byline.authors:
            if fold(person) in page.sections:  # "Politics" printed where the byline goes
                byline.credits.remove(person)
                continue
            if page.is_site(person):  # the publication, named as its host spells it: no person
                continue
            if person not in result.authors:
                result.authors.append(person)
        for credit in byline.credits:
            if credit not in result.credits:
                result.credits.append(credit)
        if byline.agency and result.agency is None:
            result.agency = byline.agency
    # People first, then agencies and organisations.
    result.credits.sort(key=lambda c: c not in result.authors)
    return bool(result.credits)


#: Elements that usually hold the printed byline, most specific first.
_BYLINE_XPATHS = (
    '//*[contains(translate(@class, "BYLINE", "byline"), "byline") or contains(translate(@id, "BYLINE", "byline"), "byline")]',
    '//*[@itemprop="author"][not(self::meta or self::link)]',
    '//a[@rel="author"]',
    # A byline marked by a data attribute (data-testid="byline-contributors", data-component="byline").
    '//*[@*[starts-with(name(), "data-")][contains(translate(., "BYLINE", "byline"), "byline")]]',
    '//*[not(self::body or self::html or self::article)][contains(translate(@class, "AUTHOR", "author"), "author")]',
    # A link to the author's page after the headline ("/author/jane-roe", "/profiles/47", "/autor/…"),
    # its text a name of two words or more.
    '(//h1)[1]/following::a[contains(normalize-space(), " ")][contains(@href, "/author/") or contains(@href, "/authors/")'
    ' or contains(@href, "/autor/") or contains(@href, "/autore/") or contains(@href, "/auteur/")'
    ' or contains(@href, "/profiles/") or contains(@href, "/journalist/") or contains(@href, "/staff/")]',
    # A short paragraph or credit line that is only "By …" ("By A and B, Reuters" in p.credit).
    '(//article | //main | //body)[1]//*[self::p or self::div or self::span or self::em or self::strong]'
    '[not(*[self::p or self::div])][string-length(normalize-space()) < 150]'
    '[starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "by ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "par ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "von ")'
    ' or starts-with(translate(normalize-space(), "BYPARVONOR", "byparvonor"), "por ")'
    ' or starts-with(translate(normalize-space(), "WRITENBY", "writenby"), "written by ")]',
)
_BY_PREFIX = re.compile(r"^\s*by[:\s]+", re.IGNORECASE)


def _printed_byline(sel: Selector) -> list[str]:
    """The first short element that looks like a byline (class "byline", rel/itemprop author …)."""
    for xpath in _BYLINE_XPATHS:
        for node in sel.xpath(xpath)[:20]:
            if node.root.tag in ("script", "style", "noscript", "template", "meta", "link"):
                continue
            text = clean_line(" ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall()))
            if not text or len(text) > 150:
                continue
            if xpath == _BYLINE_XPATHS[-1]:  # any "By …" line: only if it is names and nothing else
                text = re.split(r",\s+in\s", text, maxsplit=1)[0].strip(" ,;.")  # "By X, in News, Sport"
                text = re.sub(r"^written\s+(?=by\s)", "", text, flags=re.IGNORECASE)  # "Written by X"
                if not _byline_line(text):
                    continue
            if parse_byline(text).credits:
                return [text]
    return []



def _title(page: _Page) -> str | None:
    """The headline: JSON-LD, meta titles, the title selector, the <title>, each without decoration.

    Two different headlines (one written for search engines or social media): the
    one the page shows as its <h1> wins (scraper.titles).
    """
    context = page.title_context
    printed = clean_title(clean_line(" ".join(page.sel.xpath("//head/title//text()").getall())), context)
    title = _ld_text(page.ld("headline", "name", "alternativeHeadline"))
    meta_title = page.meta(*_META_TITLE)
    if title and title.endswith(("...", "\u2026")):
        # A headline cut to a length limit: a meta title that goes on from it is whole.
        stem = title.rstrip(".\u2026 ")
        if meta_title and meta_title.startswith(stem) and len(meta_title) > len(stem):
            title = meta_title
    title, meta_title = clean_title(title, context), clean_title(meta_title, context)
    if title and meta_title and squash(title) != squash(meta_title):
        if context.is_heading(meta_title) and not context.is_heading(title):
            title = meta_title
    title = title or meta_title or page.selected_text("title") or printed
    if not title and page.sel.xpath("//head/title"):
        # A <title> that is only the site's name: the page's headline is its <h1>.
        shown = [h for h in h1_texts(page.sel.xpath("//article | //main") or page.sel) if h]
        title = (shown or context.headings or [None])[0]
    return title


def _fill_authors(page: _Page, result: ExtractedArticle) -> None:
    """JSON-LD authors, meta authors, then the author selector or the printed byline."""
    names = [(n, is_org or page.is_site(n))
             for n, is_org in _ld_names(page.ld("author", "creator"))]
    if not names:
        for key in _META_AUTHOR:
            names = [(v, page.is_site(v)) for v in page.metas.get(key, [])
                     if not _URLISH.match(v) and clean_line(v)]
            if names:
                break
    _authors(page, result, names)
    if not result.authors:
        # Metadata named nobody, or only an organisation: the printed byline may name people.
        printed = [t for t in (_node_text(n) for n in page.selected("author")) if t]
        printed = printed or _printed_byline(page.sel)
        if not result.credits or any(parse_byline(t).authors for t in printed):
            _authors(page, result, printed)


def _selected_date(page: _Page) -> str | None:
    """The date selector's value: a datetime/content attribute before the text."""
    for node in page.selected("date"):
        root = node.root
        value = (root.get("datetime") or root.get("content")) if not isinstance(root, str) else None
        found = clean_line(value) or _node_text(node)
        if found:
            return found
    return None


def _body(page: _Page) -> str | None:
    """JSON-LD articleBody unless it is a teaser; else the body selector's text, else trafilatura's."""
    ld_body = page.ld("articleBody", "text")
    ld_text = clean_block(ld_body) if isinstance(ld_body, str) else None
    parts = [t for t in (_node_text(n, block=True) for n in page.selected("body")) if t]
    page_text = "\n".join(parts) or clean_block(page.generic.get("text"))
    if ld_text and (page_text is None or len(ld_text) >= _TEASER_RATIO * len(page_text)):
        return _paragraphs_like(ld_text, page_text)
    if not parts and page_text:
        page_text = clean_block(page.main_text) or page_text
    return page_text or ld_text


def _complete_dates(page: _Page, result: ExtractedArticle) -> None:
    """A day-only publication date gets the time printed for it; zone-less times the page's offset.

    The page's other dates are only looked at (lazily) when a date lacks a time or a zone.
    """
    def printed() -> Iterator[str | None]:
        yield page.labelled.published
        yield from page.times[0]
        yield _itemprop(page.sel, "datePublished")
        yield from (v for name in _META_PUBLISHED for v in page.metas.get(name, []))

    def everything() -> Iterator[str | None]:
        yield from (result.updated_raw, result.published_raw)
        yield from (_ld_text(node.get(key)) for node in page.articles for key in ("datePublished", "dateModified"))
        yield from printed()
        yield from (v for name in _META_UPDATED for v in page.metas.get(name, []))
        yield from (page.labelled.updated, *page.times[1])

    result.published_raw = _with_time_of_day(result.published_raw, printed())
    result.published_raw = _with_page_offset(result.published_raw, everything())
    result.updated_raw = _with_page_offset(result.updated_raw, everything())


def extract_article(html: str | bytes, url: str | None = None,
                    selectors: dict[str, str] | None = None) -> ExtractedArticle:
    """Extract an article page's fields: JSON-LD, then meta tags, then selectors, then generic.

    :param html: the page, as text or as bytes (decoded by BOM, <meta charset>, else UTF-8).
    :param url: the page URL, if known (helps the generic extractor).
    :param selectors: the source's own selectors (see the module docstring).
    """
    page = _Page(html, url, selectors)
    sel = page.sel
    result = ExtractedArticle(title=_title(page))
    _fill_authors(page, result)
    result.published_raw = (_ld_text(page.ld("datePublished", "dateCreated", "uploadDate"))
                            or page.meta(*_META_PUBLISHED) or _itemprop(sel, "datePublished")
                            or _selected_date(page))
    result.updated_raw = (_ld_text(page.ld("dateModified")) or page.meta(*_META_UPDATED)
                          or _itemprop(sel, "dateModified") or page.labelled.updated
                          or next(iter(page.times[1]), None))
    result.body = _without_captions(_body(page), sel)
    result.summary = (_ld_text(page.ld("description", "abstract"))
                      or page.meta("og:description", "description", "twitter:description", "dc.description")
                      or page.selected_text("summary"))
    result.language = (_ld_text(page.ld("inLanguage")) or clean_line(sel.xpath("/html/@lang").get())
                       or page.meta("content-language", "og:locale", "dc.language", "language"))
    result.section = (_ld_text(page.ld("articleSection")) or page.meta("article:section", "parsely-section")
                      or page.selected_text("section"))
    result.tags = _ld_list(page.ld("keywords")) or [t for t in page.metas.get("article:tag", []) if t]

    # Generic rules for what the page's metadata and the selectors left out.
    if not (result.title and result.published_raw and result.credits):
        generic = page.generic
        result.title = result.title or clean_line(generic.get("title"))
        if not result.credits and generic.get("author"):
            _authors(page, result, [generic["author"]])
        if not result.published_raw:
            result.published_raw = _generic_date(page)
        result.language = result.language or generic.get("language")
    _complete_dates(page, result)
    result.body = _without_date_lines(_without_headline(result.body, result.title))
    if not result.authors:
        # Some sites print the byline as the first line of the text only.
        line, body = _body_byline(result.body)
        if line:
            _authors(page, result, [line])
            result.body = body
    if result.authors:
        # Once people are known, the publication itself named as author is no credit.
        result.credits = [c for c in result.credits if not page.is_site(c)]
        if result.agency and page.is_site(result.agency):
            result.agency = None
    result.body = _without_credit_lines(result.body, result.credits)
    result.language = _language_tag(result.language)
    return result


def _language_tag(value: str | None) -> str | None:
    """'en_US' (og:locale) → 'en-US'; the first of 'de, en'."""
    if not value:
        return None
    tag = re.split(r"[,;\s]", value.strip())[0].replace("_", "-")
    return tag if re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", tag) else None
