"""The crawling side of newsdesk: sources, spiders, pipelines, the NewsItem record.

Nothing here imports ``index``: the two meet only in the JSONL record.
"""
