"""The issue-9 crawl at full size: two workers + a scheduler on a 2,000-page loopback site, one worker SIGKILLed.

    eval "$(.ci/services.sh start /tmp/newsdesk-services)"
    .venv/bin/python benchmarks/scale_stress.py [--pages 2000] [--no-kill]

Prints pages fetched (and how many were fetched twice: the killed worker's
in-flight pages), records in PostgreSQL, records lost, and the wall time.
tests/test_scale.py runs the same checks on 300 pages in CI.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scale_site import GeneratedSite, make_home, newsdesk, pg_count, reset, stop, wait_for, worker  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--no-kill", action="store_true")
    args = parser.parse_args()
    redis_url, pg_url = os.environ["NEWSDESK_TEST_REDIS"], os.environ["NEWSDESK_TEST_PG"]
    reset(redis_url, pg_url)
    tmp = Path(tempfile.mkdtemp(prefix="newsdesk-stress-"))
    with GeneratedSite(args.pages, delay=0.005) as site:
        homes = [make_home(tmp / name, site.base) for name in ("scheduler", "w1", "w2")]
        start = time.monotonic()
        workers = [worker(redis_url, pg_url, homes[i], tmp / f"w{i}.log") for i in (1, 2)]
        sched = newsdesk("schedule", "--redis", redis_url, home=homes[0], log=tmp / "scheduler.log")
        if not args.no_kill:
            wait_for(lambda: sum(site.articles_fetched().values()) >= args.pages // 3, 300, 0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            print(f"killed worker 1 after {sum(site.articles_fetched().values())} pages")
            workers[0] = worker(redis_url, pg_url, homes[1], tmp / "w1-restarted.log")
        done = wait_for(lambda: pg_count(pg_url) >= args.pages, 900, 0.5)
        elapsed = time.monotonic() - start
        for proc in (*workers, sched):
            stop(proc)
        fetched = site.articles_fetched()
    twice = sum(1 for c in fetched.values() if c > 1)
    records = pg_count(pg_url)
    print(f"pages {args.pages}: fetched {len(fetched)} distinct ({twice} more than once), "
          f"records in PostgreSQL {records}, lost {args.pages - records}, {elapsed:.1f} s, done={done}")
    import gzip

    split = [sum(len(gzip.open(f, "rt").read().splitlines()) for f in (home / "archive").rglob("*.jsonl.gz"))
             for home in homes[1:]]
    print(f"records delivered by worker 1 / worker 2: {split[0]} / {split[1]}; logs in {tmp}")
    return 0 if records == args.pages else 1


if __name__ == "__main__":
    sys.exit(main())
