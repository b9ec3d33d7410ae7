"""The searchable view of the archive: Whoosh schema, ingest from the outbox, the query API.

Nothing here imports Scrapy or Twisted, and nothing outside this package
imports Whoosh: the engine stays replaceable behind ``ingest`` and ``search``.
"""
