"""What is on an article page but not the article: other articles' teasers and players' fallback text.

trafilatura reads the page's main text well, but keeps what sits next to it and
looks like text: a list of other articles' cards under the article ("More from
…", "Popular"), a related story wrapped whole in a link, the "please enable
JavaScript" text of a video player.  The rules here hold for any site and only
look at the markup, never at a site's class names:

* a link that holds block content (a paragraph, a heading, a list) is a card
  pointing to another page, not a part of the text, which links words, not
  blocks;
* a heading (``<h2>``–``<h6>``) that is mostly a link to another page is another
  article's headline; its card (the heading's parent, when it holds no other
  heading and only a short text besides) goes with it;
* what a ``<video>``, ``<audio>`` or ``<object>`` element holds is shown only by
  browsers that cannot play it;
* a post embedded from a social network (the ``<blockquote>`` its embed code
  prints, ``class="twitter-tweet"``, ``instagram-media``, ``tiktok-embed`` …) is
  quoted from another site, not written for the article;
* a container left with only a short label once its cards are gone ("More from
  the Tribune") goes too.

A removal never takes the page's headline (its first ``<h1>``) or a long text (a page wrapped in an
unclosed link by broken markup stays whole).
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

_BLOCKS = frozenset({"p", "div", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "section", "article",
                     "figure", "blockquote", "table"})
_PLAYERS = ("video", "audio", "object")
#: The classes the social networks' embed codes give the <blockquote> they print.
_EMBED_CLASSES = ("twitter-tweet", "twitter-video", "instagram-media", "tiktok-embed", "fb-xfbml-parse-ignore",
                  "threads-embed", "bluesky-embed", "reddit-embed-bq")
#: Longest text (letters and digits) a removed card may hold; more is the page itself.
_CARD_CHARS = 1500
#: A card's text besides its headline (a dek, a date, a kicker), at most.
_CARD_REST_CHARS = 400
#: A container left with at most this much text once its cards are gone is their label.
_LABEL_CHARS = 40
_KEEP = frozenset({"html", "body", "main", "article"})


_NOT_ALNUM = re.compile(r"[\W_]+")


def _size(node: HtmlElement) -> int:
    """How many letters and digits a node's text has."""
    return len(_NOT_ALNUM.sub("", node.text_content()))


def _headline(tree: HtmlElement) -> HtmlElement | None:
    """The page's own headline: its first ``<h1>`` (a teaser's ``<h1>`` comes later, if at all)."""
    return next(tree.iter("h1"), None)


def _holds(node: HtmlElement, headline: HtmlElement | None) -> bool:
    return headline is not None and (node is headline or any(d is headline for d in node.iter("h1")))


def _external_link(a: HtmlElement) -> bool:
    href = (a.get("href") or "").strip()
    return bool(href) and not href.startswith(("#", "javascript:"))


def _linked_share(node: HtmlElement) -> float:
    total = _size(node)
    linked = sum(_size(a) for a in node.iter("a") if _external_link(a))
    return linked / total if total else 0.0


def _cards(tree: HtmlElement, headline: HtmlElement | None) -> list[HtmlElement]:
    """The elements that are other articles' cards or players' fallback text."""
    found: list[HtmlElement] = []
    for player in tree.iter(*_PLAYERS):
        found.append(player)
    for quote in tree.iter("blockquote"):
        if any(name in (quote.get("class") or "") for name in _EMBED_CLASSES):
            found.append(quote)
    for a in tree.iter("a"):
        if (_external_link(a) and any(isinstance(d.tag, str) and d.tag in _BLOCKS for d in a.iterdescendants())
                and not _holds(a, headline) and _size(a) <= _CARD_CHARS):
            found.append(a)
    for heading in tree.iter("h2", "h3", "h4", "h5", "h6"):
        if _size(heading) == 0 or _linked_share(heading) < 0.5:
            continue
        card, parent = heading, heading.getparent()
        if (parent is not None and parent.tag not in _KEEP and not _holds(parent, headline)
                and len(parent.xpath(".//h2|.//h3|.//h4|.//h5|.//h6")) == 1
                and _size(parent) - _size(heading) <= _CARD_REST_CHARS):
            card = parent
        found.append(card)
    return found


def without_teasers(tree: HtmlElement) -> HtmlElement:
    """The page's tree without other articles' cards and players' fallback text (changed in place)."""
    headline = _headline(tree)
    for card in _cards(tree, headline):
        parent = card.getparent()
        if parent is None or _holds(card, headline):
            continue
        _drop(card)
        # The label of a list of cards ("More from …") goes once the list is empty.
        for _ in range(3):
            if parent is None or parent.tag in _KEEP or _holds(parent, headline) or _size(parent) > _LABEL_CHARS:
                break
            if parent.xpath(".//img|.//picture|.//iframe"):
                break
            above = parent.getparent()
            _drop(parent)
            parent = above
    return tree


def _drop(node: HtmlElement) -> None:
    """Remove a node from its tree, keeping the text that follows it (its tail)."""
    parent = node.getparent()
    if parent is None:
        return
    tail = node.tail
    previous = node.getprevious()
    parent.remove(node)
    if tail and tail.strip():
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
