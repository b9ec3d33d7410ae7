"""newsdesk.core.record.adapt: ItemAdapter's mapping interface, cheaply, for NewsItem."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter

from newsdesk.core.record import NewsItem, adapt


def _item() -> NewsItem:
    return NewsItem(source="s", kind="breaking", title="T", url="https://x.example/1")


def test_reads_and_writes_like_itemadapter() -> None:
    mine, theirs = _item(), _item()
    for adapter in (adapt(mine), ItemAdapter(theirs)):
        adapter["title"] = "New"
        adapter["authors"] = ["A"]
        assert adapter.get("title") == "New" and adapter["url"] == "https://x.example/1"
        assert adapter.get("summary") is None and adapter.get("nonsense", 3) == 3
        assert "title" in adapter and "nonsense" not in adapter
        with pytest.raises(KeyError):
            adapter["nonsense"] = 1
        with pytest.raises(KeyError):
            adapter["nonsense"]
    assert mine == theirs


def test_other_items_get_itemadapter() -> None:
    assert isinstance(adapt({"title": "x"}), ItemAdapter)
