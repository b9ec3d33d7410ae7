"""Scrapy settings for newsdesk: politeness, pipelines, limits.

Project defaults live here; a spider changes what it must in
``custom_settings``; a run changes the rest with ``-s NAME=VALUE``.
Our own keys start with ``NEWSDESK_``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from newsdesk.core.home import Home

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

BOT_NAME = "newsdesk"
SPIDER_MODULES = ["scraper.spiders"]
NEWSPIDER_MODULE = "scraper.spiders"

# Who we are, and how to reach the operator (set NEWSDESK_CONTACT to a URL or mail).
NEWSDESK_CONTACT = os.environ.get("NEWSDESK_CONTACT", "https://pypi.org/project/newsdesk/")
USER_AGENT = f"newsdesk/0.1 (news archiver; +{NEWSDESK_CONTACT})"

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

# Limits: news pages are small; anything this big is a mistake or an attack.
# Scrapy's default is 1 GiB; the limit also applies to the decompressed size
# (a gzip bomb stops here), and leaves room for a 50 MB-spec news sitemap's
# usual few MB.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
# Retries: server errors and timeouts only, never a 4xx; each retry waits
# NEWSDESK_RETRY_BACKOFF × 2^(n-1) s (±25 %), at most NEWSDESK_RETRY_BACKOFF_MAX.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524]
NEWSDESK_RETRY_BACKOFF = 2.0
NEWSDESK_RETRY_BACKOFF_MAX = 60.0
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
# No remote control of a crawl: Scrapy's telnet console (a Python shell on a local port) and
# its RemoteControl extension (2.19: code run over HTTP, with token files written under
# ~/.local/state/scrapy/, outside the newsdesk home) are both off.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

ITEM_PIPELINES = {
    "scraper.pipelines.normalize.NormalizePipeline": 100,
    "scraper.pipelines.validate.ValidatePipeline": 200,
    "scraper.pipelines.dedupe.DedupePipeline": 300,
    "scraper.pipelines.outbox.OutboxPipeline": 900,
}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scraper.extensions.RunReport": 500,
    "scraper.extensions.FreezeStartup": 900,
}
DOWNLOADER_MIDDLEWARES = {
    "scraper.middlewares.OfflineGuardMiddleware": 50,
    "scraper.middlewares.AddressGuardMiddleware": 60,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scraper.middlewares.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scraper.middlewares.BackoffRetryMiddleware": 550,
    "scraper.middlewares.CharsetCheckMiddleware": 580,  # after decompression (590) on the way back
    "scraper.capture.CaptureMiddleware": 960,  # at the downloader's edge: responses as served
}
SPIDER_MIDDLEWARES = {
    "scraper.capture.CaptureLinkMiddleware": 960,
}

# newsdesk's own settings.
NEWSDESK_HOME = os.environ.get("NEWSDESK_HOME", "")  # empty: the platform data dir
NEWSDESK_RUN_ID = ""  # empty: one is made when the crawl opens
# Tests set NEWSDESK_OFFLINE=1: any request off the loopback fails loudly.
NEWSDESK_OFFLINE = os.environ.get("NEWSDESK_OFFLINE", "") not in ("", "0")
# Address guard (scraper.middlewares.AddressGuardMiddleware): requests to private,
# loopback or link-local addresses are refused unless allowed here, by a source's
# `options.allow_private = true`, or by `crawl --url` (which allows its own host).
NEWSDESK_ALLOWED_HOSTS: list[str] = []
NEWSDESK_ALLOW_PRIVATE = os.environ.get("NEWSDESK_ALLOW_PRIVATE", "") not in ("", "0")
# The address guard's resolver (a dotted path to a function host -> addresses); empty: the system's.
NEWSDESK_RESOLVER = ""
# Loopback only: on under NEWSDESK_OFFLINE (where nothing else is reachable anyway).
NEWSDESK_ALLOW_LOOPBACK = NEWSDESK_OFFLINE
# A page decoded with at least this many U+FFFD (and this share of its text) lied about its charset.
NEWSDESK_CHARSET_LIE_MIN = 8  # scraper.text.CHARSET_LIE_MIN
NEWSDESK_CHARSET_LIE_RATIO = 0.001
# Keep every fetched response in <home>/archive/warc/ (scraper.capture); a source's `capture = false` wins.
NEWSDESK_CAPTURE = True
# Freeze the start-up objects out of the garbage collector's sight (scraper.extensions.FreezeStartup).
NEWSDESK_GC_FREEZE = True

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"


def home_of(settings: BaseSettings) -> Home:
    """The data home a crawl's settings name: ``NEWSDESK_HOME``, empty for the default home."""
    return Home.resolve(settings.get("NEWSDESK_HOME") or None)
