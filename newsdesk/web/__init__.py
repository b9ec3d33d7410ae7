"""``newsdesk serve``: a read-only web page for the archive (search, record, timeline, saved searches, sources).

The app lives in :mod:`newsdesk.web.app`, the chart geometry in
:mod:`newsdesk.web.chart`; templates and the stylesheet ship in this package.
Flask is imported only when the app is built, never on the CLI's import path.
"""

from __future__ import annotations
