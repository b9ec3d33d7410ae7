"""The source's own selectors (``article_selectors``): what each matches on a page, as text."""

from __future__ import annotations

import logging

from lxml import etree
from parsel import Selector

from scraper.selector import select
from scraper.text import clean_block, clean_line

logger = logging.getLogger(__name__)


def _node_text(node: Selector, *, block: bool = False) -> str | None:
    root = node.root
    if isinstance(root, str):
        return clean_block(root) if block else clean_line(root)
    if block:
        return clean_block(node.get())
    return clean_line(" ".join(node.xpath(".//text()").getall()))


def _by_selector(sel: Selector, selectors: dict[str, str], name: str) -> list[Selector]:
    query = selectors.get(name)
    if not query:
        return []
    try:
        return list(select(sel, query))
    except (ValueError, etree.XPathError) as exc:
        logger.warning("selector %s=%r is not valid CSS/XPath: %s", name, query, exc)
        return []
