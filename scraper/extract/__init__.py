"""Article pages → title, authors, dates, body: what a spider keeps from a followed link.

Each field is taken from the first kind of evidence that has it:

1. JSON-LD (``NewsArticle``, ``Article``, ``ReportageNewsArticle``, ``BlogPosting`` …,
   also inside ``@graph``, lists and ``mainEntity``);
2. meta tags (OpenGraph, ``article:published_time``, ``itemprop``, Dublin Core,
   parsely, sailthru, plain ``author``/``description``);
3. the source's own selectors (``selectors`` below);
4. generic rules: the printed byline (class "byline", ``rel``/``itemprop`` author),
   ``<time>`` elements, the ``<title>`` without the site's name, and trafilatura's
   main text (precision mode).

The body is the exception to "first found wins": JSON-LD ``articleBody`` is a
teaser on many sites, so it is used only when it is at least half as long as the
page's main text (from the selectors, else trafilatura); otherwise the page text is.

Selectors: a dict whose keys are ``title``, ``author``, ``date``, ``body`` (also
``summary``, ``section``) and whose values are selectors as a source writes them
everywhere (:mod:`scraper.selector`: CSS, or XPath when they start with ``/``,
``./``, ``(`` or ``xpath:``).  The text of every
matched element is used (all of them joined for ``author`` and ``body``); for
``date`` a ``datetime`` or ``content`` attribute wins over the text.  Parsel's
``::text`` and ``::attr(name)`` pseudo-elements work in CSS too.

Dates come back raw (``published_raw``): ``scraper.dates.parse_printed`` reads them,
a zone-less one in the source's zone.  Authors are cleaned person names
(``scraper.bylines``); a wire agency or desk in a byline goes to ``agency``, and
``credits`` lists everyone credited (people, then agencies and organisations as printed).

The package's modules follow those layers: ``parsing`` (text and Selector),
``jsonld``, ``metas``, ``selected`` (the source's selectors), ``fallbacks``
(trafilatura, htmldate), ``printed_dates``, ``body`` (headline, byline and credit
lines at the body's edges), ``page`` (one page's evidence, each read once) and
``assemble`` (:func:`extract_article`).  This module is the public API; the
names with a leading underscore are the package's own.
"""

from __future__ import annotations

from scraper.extract.article import ExtractedArticle
from scraper.extract.assemble import extract_article
from scraper.extract.jsonld import MAX_JSONLD_DEPTH

__all__ = ["MAX_JSONLD_DEPTH", "ExtractedArticle", "extract_article"]
