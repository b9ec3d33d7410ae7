"""Kill crawls and ingests with SIGKILL at random moments, then prove nothing was lost or doubled.

Run from the checkout (takes 10–20 minutes on 2 cores)::

    .venv/bin/python -m stress.kill_test --items 3000 --crawl-kills 50 --ingest-kills 50

A loopback site offers ``--items`` breaking-news items (JPost page structure,
generated).  Rounds alternate: a crawl subprocess (``scrapy crawl``, as
``newsdesk crawl`` starts it) is SIGKILLed after a random delay, then an
ingest subprocess (``newsdesk ingest``) is SIGKILLed after a random delay.
Only kills that hit a live process count; rounds go on until both counts are
reached.  Every tenth round the site corrects every tenth headline again (new
versions of those items).  Then one normal crawl and one normal ingest finish the job,
and the checks run:

* every item the site offers is in the index exactly once (0 lost, 0 duplicates,
  0 keys the site never offered), with its current headline;
* the index opens, and ``newsdesk verify`` finds the archive and index agree;
* no outbox file is left behind.

Prints the figures and exits 1 if any check fails.  The helpers here are
also used by the fast crash tests (tests/test_crash.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsdesk.ops.crawl import crawl_command  # noqa: E402
from newsdesk.core.home import Home  # noqa: E402
from newsdesk.core.runid import new_run_id  # noqa: E402
from scraper.sources import get_source  # noqa: E402
from tests.generated_site import GeneratedSite, item_title, serve_generated  # noqa: E402

#: Fast, loopback-only crawl settings (no politeness delays against our own test site).
FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
        "NEWSDESK_RETRY_BACKOFF": "0", "LOG_LEVEL": "INFO"}


def _env() -> dict[str, str]:
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="scraper.settings", NEWSDESK_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("NEWSDESK_HOME", None)
    return env


def start_crawl(home: Home, url: str, settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one crawl subprocess, exactly as ``newsdesk crawl`` would, without waiting."""
    home.ensure(home.root, home.logs, home.runs, home.outbox)
    source = get_source("jpost-breaking", home.sources_file)
    run_id = new_run_id(source.id)
    cmd = crawl_command(home, source, run_id, url, {**FAST, **(settings or {})})
    return subprocess.Popen(cmd, env=_env(), cwd=home.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_ingest(home: Home) -> subprocess.Popen[bytes]:
    """Start ``newsdesk ingest`` in a subprocess, without waiting."""
    return subprocess.Popen([sys.executable, "-m", "newsdesk", "ingest", "-q", "--home", str(home.root)],
                            env=_env(), cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """SIGKILL ``proc`` after ``seconds``; True if it was still running (a kill landed)."""
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def finish(home: Home, url: str) -> None:
    """One normal crawl and one normal ingest, each to completion."""
    crawl = start_crawl(home, url)
    if crawl.wait(timeout=900) != 0:
        raise RuntimeError(f"the final crawl exited {crawl.returncode}")
    ingest = start_ingest(home)
    _, err = ingest.communicate(timeout=900)
    if ingest.returncode != 0:
        raise RuntimeError(f"the final ingest exited {ingest.returncode}: {err.decode()[-500:]}")


@dataclass
class Check:
    """What the index holds compared with what the site offers."""

    offered: int = 0
    indexed_docs: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    stale_titles: list[str] = field(default_factory=list)
    verify_ok: bool = False
    verify_lines: list[str] = field(default_factory=list)
    outbox_left: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.unexpected or self.stale_titles
                    or self.outbox_left) and self.verify_ok


def check(home: Home, site: GeneratedSite) -> Check:
    """Compare the index with the site's items, and run verify."""
    from index.store import open_index
    from index.verify import verify

    result = Check(offered=site.count)
    ix = open_index(home.index)
    keys: Counter[str] = Counter()
    titles: dict[str, str] = {}
    try:
        with ix.searcher() as searcher:
            for stored in searcher.all_stored_fields():
                record = json.loads(stored["record"])
                keys[record["key"]] += 1
                titles[record["key"]] = record["title"]
    finally:
        ix.close()
    result.indexed_docs = sum(keys.values())
    expected = {site.key(n): item_title(n, site.revision) for n in range(site.count)}
    result.lost = sorted(k for k in expected if k not in keys)
    result.duplicates = sorted(k for k, c in keys.items() if c > 1)
    result.unexpected = sorted(k for k in keys if k not in expected)
    result.stale_titles = sorted(k for k, t in expected.items() if k in titles and titles[k] != t)
    report = verify(home)
    result.verify_ok, result.verify_lines = report.ok, report.lines()
    result.outbox_left = sorted(p.name for p in home.outbox.iterdir()) if home.outbox.is_dir() else []
    return result


def run(items: int, crawl_kills: int, ingest_kills: int, seed: int, workdir: Path,
        crawl_window: float, ingest_window: float) -> dict[str, Any]:
    """The whole stress run; returns the figures."""
    rng = random.Random(seed)
    home = Home(workdir / "home")
    home.ensure(home.root)
    figures: dict[str, Any] = {"items": items, "seed": seed, "crawl_kills": 0, "ingest_kills": 0,
                               "crawls_finished_before_kill": 0, "ingests_finished_before_kill": 0,
                               "ingest_errors": 0}
    started = time.monotonic()
    with serve_generated(items) as site:
        url = site.url("/breaking-news")
        rounds = 0
        ingest_estimate = ingest_window  # seconds; follows the ingests that finish
        while figures["crawl_kills"] < crawl_kills or figures["ingest_kills"] < ingest_kills:
            rounds += 1
            if rounds % 10 == 0:
                site.revision += 1  # every tenth headline corrected again: new versions to ingest
            crawl = start_crawl(home, url)
            if figures["crawl_kills"] < crawl_kills:
                landed = kill_after(crawl, rng.uniform(0.2, crawl_window))
                figures["crawl_kills" if landed else "crawls_finished_before_kill"] += 1
            else:
                crawl.wait(timeout=900)
            proc = start_ingest(home)
            begun = time.monotonic()
            if figures["ingest_kills"] < ingest_kills:
                landed = kill_after(proc, rng.uniform(0.3, 1.2 * ingest_estimate))
                if not landed:
                    ingest_estimate = 0.5 * ingest_estimate + 0.5 * (time.monotonic() - begun)
                    figures["ingests_finished_before_kill"] += 1
                    figures["ingest_errors"] += proc.returncode != 0
                else:
                    figures["ingest_kills"] += 1
            else:
                figures["ingest_errors"] += proc.wait(timeout=900) != 0
            print(f"round {rounds}: {figures['crawl_kills']} crawl kills, {figures['ingest_kills']} ingest kills"
                  f" ({time.monotonic() - started:.0f} s)", flush=True)
        if site.revision == 0:
            site.revision = 1
        finish(home, url)
        result = check(home, site)
    figures.update(rounds=rounds, seconds=round(time.monotonic() - started, 1),
                   lost=len(result.lost), duplicates=len(result.duplicates), unexpected=len(result.unexpected),
                   stale_titles=len(result.stale_titles), indexed_docs=result.indexed_docs,
                   verify_ok=result.verify_ok, outbox_left=len(result.outbox_left), ok=result.ok,
                   archive_files=len(list(home.archive.glob("*/*/*.jsonl.gz"))))
    if not result.ok:
        figures["details"] = {k: v[:10] for k, v in asdict(result).items() if isinstance(v, list)}
    return figures


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3000, help="items the loopback site offers")
    parser.add_argument("--crawl-kills", type=int, default=50)
    parser.add_argument("--ingest-kills", type=int, default=50)
    parser.add_argument("--crawl-window", type=float, default=12.0, help="kill a crawl within this many s")
    parser.add_argument("--ingest-window", type=float, default=2.0,
                        help="first guess of an ingest's length; kills land within 1.2× the running estimate")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args.items, args.crawl_kills, args.ingest_kills, args.seed, args.keep,
                      args.crawl_window, args.ingest_window)
    else:
        with tempfile.TemporaryDirectory(prefix="newsdesk-stress-") as tmp:
            figures = run(args.items, args.crawl_kills, args.ingest_kills, args.seed, Path(tmp),
                          args.crawl_window, args.ingest_window)
    print(json.dumps(figures, indent=1))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
