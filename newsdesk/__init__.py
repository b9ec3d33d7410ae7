"""newsdesk: the application layer (CLI, data home, crawl runs) over ``scraper`` and ``index``."""

__version__ = "0.1.0"
