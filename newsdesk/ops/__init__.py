"""The application: running crawls, run history, health and alerts, schedules, config, fixtures, the
runners.  It imports the foundation and the libraries (scraper/, index/), never the interfaces."""
