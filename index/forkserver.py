"""Imported only by the fork server of ``index.workers``, as it starts: the server dies with the ingest.

(The server imports its preload modules once; this one's import is its start-up step.)
"""

from __future__ import annotations

from index.workers import die_with_parent

die_with_parent()
