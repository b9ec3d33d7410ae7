"""The selectors a source writes in its options: one syntax wherever a user writes one.

A selector is XPath when it starts with ``xpath:`` (the prefix removed) or, bare,
with ``/``, ``./`` or ``(``; CSS when it starts with ``css:`` or otherwise.
Parsel's ``::text`` and ``::attr(name)`` pseudo-elements work in CSS.  Surrounding
whitespace does not count.  No valid CSS selector starts with ``/``, ``./`` or
``(``, so reading those as XPath gives no CSS selector a second meaning.

Used for a list page's ``options.item``, ``headline`` …, for ``article_selectors``
and for ``article_body``.  :func:`check` is how a sources file's selectors are
checked as the file is read (scraper.sources), so a typo is one line at load, not
a warning for every page.  It asks lxml and cssselect (what parsel runs on) the
questions parsel would, without importing parsel: every command that reads the
sources file would pay parsel's import (w3lib, urllib.request, http.client).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import cssselect
from cssselect.parser import FunctionalPseudoElement
from lxml import etree

if TYPE_CHECKING:
    from parsel import Selector, SelectorList

_XPATH_START = ("/", "./", "(")
#: The prefixes and functions parsel gives every XPath (parsel.Selector._default_namespaces, has-class).
_XPATH_NAMESPACES = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}
_XPATH_FUNCTIONS = {(None, "has-class"): lambda context, *classes: False}
_EMPTY_PAGE = etree.fromstring("<html><body/></html>")
_CSS = cssselect.HTMLTranslator()


class Query(NamedTuple):
    """A selector as parsed: its language and the expression given to parsel."""

    kind: Literal["css", "xpath"]
    expression: str

    def apply(self, scope: Selector) -> SelectorList[Selector]:
        """What the selector matches in ``scope`` (parsel raises ValueError on a bad one)."""
        return scope.xpath(self.expression) if self.kind == "xpath" else scope.css(self.expression)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Query:
    """Read one selector as written in a sources file (see the module docstring)."""
    text = text.strip()
    if text.startswith("xpath:"):
        return Query("xpath", text[len("xpath:"):].strip())
    if text.startswith("css:"):
        return Query("css", text[len("css:"):].strip())
    if text.startswith(_XPATH_START):
        return Query("xpath", text)
    return Query("css", text)


def select(scope: Selector, text: str) -> SelectorList[Selector]:
    """Apply one selector as written in a sources file to ``scope``."""
    return parse(text).apply(scope)


def check(text: Any) -> str | None:
    """Why ``text`` is not a selector parsel can run (a phrase to follow the option's name), or None."""
    if not isinstance(text, str):
        return f"must be a selector string, not {type(text).__name__}"
    query = parse(text)
    if not query.expression:
        return "is an empty selector"
    if query.kind == "xpath":
        try:
            etree.XPath(query.expression, namespaces=_XPATH_NAMESPACES, extensions=_XPATH_FUNCTIONS)(_EMPTY_PAGE)
        except etree.XPathError as exc:
            return f"is not valid XPath ({exc}): {query.expression!r}"
        return None
    try:
        for parsed in cssselect.parse(query.expression):
            _CSS.selector_to_xpath(parsed, translate_pseudo_elements=False)
            _check_pseudo_element(parsed.pseudo_element)
    except cssselect.SelectorError as exc:
        return f"is not valid CSS ({exc}): {query.expression!r}"
    return None


def _check_pseudo_element(pseudo: str | FunctionalPseudoElement | None) -> None:
    """Only parsel's own pseudo-elements: ``::text`` and ``::attr(name)``."""
    if pseudo is None or pseudo == "text":
        return
    if isinstance(pseudo, FunctionalPseudoElement):
        if pseudo.name != "attr":
            raise cssselect.ExpressionError(f"the functional pseudo-element ::{pseudo.name}() is unknown")
        if pseudo.argument_types() not in (["STRING"], ["IDENT"]):
            raise cssselect.ExpressionError("::attr() takes one attribute name")
        return
    raise cssselect.ExpressionError(f"the pseudo-element ::{pseudo} is unknown")
