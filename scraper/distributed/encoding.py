"""Requests as scrapy-redis stores them (shared by workers and the scheduler)."""

from __future__ import annotations

import scrapy
from scrapy.http import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat

from scraper.distributed.keys import CLAIM_META


def encode_request(request: Request, spider: scrapy.Spider) -> bytes:
    """A request as scrapy-redis stores it (callbacks by name on ``spider``)."""
    data = request.to_dict(spider=spider)
    data.get("meta", {}).pop(CLAIM_META, None)
    return picklecompat.dumps(data)


def decode_request(raw: bytes, spider: scrapy.Spider) -> Request:
    """The request back, bound to ``spider``'s methods."""
    return request_from_dict(picklecompat.loads(raw), spider=spider)
