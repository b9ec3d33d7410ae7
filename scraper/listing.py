"""Listed items a spider yields instead of a record, for the pipelines to drop as counted.

They sit below both the spiders that yield them and the dedupe pipeline that drops them
(and the run report that skips them), so no spider imports a pipeline.
"""

from __future__ import annotations

from newsdesk.core.record import NewsItem


class KnownListing(NewsItem):
    """A listed item whose article is archived and whose listing did not change: not fetched again.

    A spider yields it instead of re-fetching the article (see
    ``NewsSpider.follow``); the dedupe pipeline drops it as unchanged, so the run
    still counts it as seen.
    """


class RepeatedListing(NewsItem):
    """An item listed again in the same run after its article was already requested: a counted duplicate.

    Dropped without taking the key, so the first listing's record, completed
    from its article page, is the one kept.
    """
