"""Crawl overhead: ``newsdesk crawl`` beside a bare Scrapy spider, on a loopback site.

The site (its own process, ``http.server``) serves 500 generated list pages
in the Jerusalem Post breaking-news layout, 50 items each (25,000 items with
distinct headlines, bylines and printed times).  Article links answer 404:
both crawls request them and keep the list item (the spider's errback), so
both make the same 25,500 requests and parse the same pages; the difference
is newsdesk's pipelines (normalize, validate, dedupe, outbox), extensions and
process set-up.  Both run with the same speed settings (no delay, no
autothrottle, no robots.txt, 16 concurrent requests).  ``newsdesk crawl``
runs with ``--no-ingest``; the ingest of its outbox is timed on its own.

newsdesk's crawl process freezes its start-up objects out of the garbage
collector's sight (``NEWSDESK_GC_FREEZE``), which a bare spider does not, so
each is also run the other way round: the bare spider with the same freeze,
newsdesk without it.  Those two comparisons are like for like: they are what
newsdesk's own work costs.

    python -m benchmarks.bench_crawl [--pages 500] [--runs 3]

``--capture-cost`` measures what keeping every page in WARC (``scraper.capture``)
costs instead: ``newsdesk crawl`` with capture on and off, alternating, and the
capture files' size; with ``--articles`` the article links answer with generated
article pages (per 1,000 articles), without it they are the 404s above (the
worst case: many small responses):

    python -m benchmarks.bench_crawl --capture-cost --articles --pages 40 --per-page 25 --runs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.bench_ingest import run_phase
from benchmarks.data import DEFAULT_WORKDIR, git_revision, machine
from benchmarks.synth import Archive

logger = logging.getLogger(__name__)

SPEED = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "ROBOTSTXT_OBEY": "False",
         "CONCURRENT_REQUESTS": "16", "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "LOG_LEVEL": "INFO",
         "TELNETCONSOLE_ENABLED": "False"}


BARE, BARE_FROZEN = "bare Scrapy spider", "bare spider, start-up objects frozen"
NEWSDESK, NEWSDESK_UNFROZEN = "newsdesk crawl --no-ingest", "newsdesk crawl, NEWSDESK_GC_FREEZE=False"
#: What runs, in this order, every round: (kind, freeze the start-up objects).
CRAWLERS = {BARE: ("bare", False), BARE_FROZEN: ("bare", True),
            NEWSDESK: ("newsdesk", True), NEWSDESK_UNFROZEN: ("newsdesk", False)}


def list_page(n: int, per_page: int, archive: Archive) -> bytes:
    """List page ``n``: ``per_page`` items in the JPost breaking-news layout."""
    rng = random.Random(n)
    when = datetime(2024, 10, 24, 19, 0) - timedelta(hours=n)
    rows = []
    for i in range(per_page):
        words = archive.text(rng.randint(8, 15))
        title = " ".join([words[0].capitalize()] + words[1:])
        printed = (when - timedelta(minutes=i)).strftime("%m/%d/%Y %I:%M %p")
        rows.append(
            f'<div class="breaking-news-link-container"><a href="/breaking-news/item-{n}-{i}" title="{title}">'
            f'<span class="breaking-news-ticker-date">{title}</span><ul class="breaking-news-reporter-date">'
            f'<li>By <span class="article-reporter"> {rng.choice(["REUTERS", "AP", "TPS", "JPOST STAFF"])}</span>'
            f'</li><li>{printed}</li></ul></a></div>')
    return ("<!DOCTYPE html><html><head><title>Breaking News | The Jerusalem Post</title></head><body>"
            '<section class="breaking-news">' + "\n".join(rows) + "</section></body></html>").encode()


def article_page(path: str, archive: Archive) -> bytes:
    """An article page in the JPost layout: a 600–900-word story inside a page's usual furniture."""
    rng = random.Random(path)
    words = archive.text(rng.randint(10, 14))
    title = " ".join([words[0].capitalize()] + words[1:])
    paragraphs = "".join(f"<p>{archive.sentences(rng.randint(60, 90))}</p>\n" for _ in range(10))
    menu = "".join(f'<li><a href="/section/{n}">{" ".join(archive.text(2)).title()}</a></li>' for n in range(120))
    head = "".join(f'<meta property="og:tag{n}" content="{" ".join(archive.text(6))}">\n' for n in range(30))
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + title + "</title>\n" + head
            + "</head><body><nav><ul>" + menu + "</ul></nav>"
            f'<h1 class="article-title">{title}</h1>'
            '<div class="author">By <span class="article-reporter">REUTERS</span></div>'
            '<div class="article-subline-name">10/24/2024 07:13 PM</div>'
            f'<section class="article-body-container"><div class="article-inner-content">{paragraphs}</div>'
            "</section><footer><ul>" + menu + "</ul></footer></body></html>").encode()


def serve(pages: int, per_page: int, port_file: Path, articles: bool = False) -> None:
    """Serve the site until killed (runs in its own process); ``articles``: article links answer 200."""
    archive = Archive(seed=5)
    site = {f"/list/{n}": list_page(n, per_page, archive) for n in range(pages)}
    if articles:
        site.update({f"/breaking-news/item-{n}-{i}": article_page(f"{n}-{i}", archive)
                     for n in range(pages) for i in range(per_page)})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            body = site.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def settings_args() -> list[str]:
    """``-s NAME=VALUE`` for the speed settings."""
    return [arg for name, value in SPEED.items() for arg in ("-s", f"{name}={value}")]


def children_cpu() -> float:
    """CPU seconds of every finished child process (and theirs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bare(workdir: Path, urls_file: Path, freeze: bool = False) -> tuple[float, int, float]:
    """Wall seconds, items and CPU seconds of the bare spider (``freeze``: with newsdesk's GC freeze)."""
    spider = Path(__file__).with_name("bare_spider.py")
    stats = workdir / "bare-stats.log"
    env = {k: v for k, v in os.environ.items() if k not in ("SCRAPY_SETTINGS_MODULE", "NEWSDESK_OFFLINE")}
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run([sys.executable, "-m", "scrapy", "runspider", str(spider), "-a", f"urls_file={urls_file}",
                    "-a", f"gc_freeze={int(freeze)}", *settings_args(), "-s", f"LOG_FILE={stats}"],
                   cwd=workdir, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    items = 0
    for line in stats.read_text().splitlines():
        if "'item_scraped_count'" in line:
            items = int(line.split(":")[-1].strip().rstrip(",}"))
    return seconds, items, cpu


def run_newsdesk(workdir: Path, urls: list[str], freeze: bool = True, capture: bool = True,
                 ingest: bool = True) -> tuple[float, int, float, float]:
    """Wall seconds, items and CPU seconds of ``newsdesk crawl --no-ingest``, and CPU seconds of the ingest."""
    home = workdir / "nd-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "sources.toml").write_text(
        "[sources.jpost-breaking]\nenabled = false\n\n"
        "[sources.bench-list]\nspider = \"jpost_breaking\"\ntimezone = \"Asia/Jerusalem\"\n"
        "schedule = \"*/10 * * * *\"\nlanguage = \"en\"\nenabled = true\n"
        f"urls = {json.dumps(urls)}\n")
    exe = shutil.which("newsdesk", path=str(Path(sys.executable).parent)) or "newsdesk"
    env = {k: v for k, v in os.environ.items() if k != "NEWSDESK_OFFLINE"}
    env["NEWSDESK_ALLOW_PRIVATE"] = "1"  # the site is on loopback, which the address guard refuses by default
    set_args = [*settings_args(), "-s", f"NEWSDESK_GC_FREEZE={freeze}", "-s", f"NEWSDESK_CAPTURE={capture}"]
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run([exe, "crawl", "bench-list", "--no-ingest", "-q", "--home", str(home), *set_args],
                   env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    items = sum(1 for path in (home / "outbox").glob("*.jsonl") for _ in path.open())
    if not items:
        raise SystemExit(f"newsdesk crawl wrote no records: see the log in {home / 'logs'}")
    if not ingest:
        return seconds, items, cpu, 0.0
    phase = run_phase("new", home, items)  # in a process of its own; CPU counts its worker processes
    return seconds, items, cpu, phase["cpu_seconds"]


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each; medians reported")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR / "crawl")
    parser.add_argument("--articles", action="store_true", help="article links answer 200 with an article page")
    parser.add_argument("--capture-cost", action="store_true", help="newsdesk with capture on and off instead")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.pages, args.per_page, Path(args.serve), args.articles)
        return
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    port_file = args.workdir / "port"
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_crawl", "--pages", str(args.pages),
                               "--per-page", str(args.per_page), "--serve", str(port_file),
                               *(["--articles"] if args.articles else [])])
    try:
        for _ in range(600):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        urls = [f"{base}/list/{n}" for n in range(args.pages)]
        urls_file = args.workdir / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        print(f"machine: {machine()}\nrevision: {git_revision()}\n"
              f"site: {args.pages} list pages × {args.per_page} items, "
              f"article links {'answer article pages' if args.articles else '404'}\n")
        if args.capture_cost:
            capture_cost(args.workdir, urls, args.runs, args.articles)
            return
        runs: dict[str, list[tuple[float, int, float]]] = {label: [] for label in CRAWLERS}
        ingest_cpu: list[float] = []
        for _ in range(args.runs):
            for label, (kind, freeze) in CRAWLERS.items():
                if kind == "bare":
                    runs[label].append(run_bare(args.workdir, urls_file, freeze))
                else:
                    seconds, items, cpu, ingest = run_newsdesk(args.workdir, urls, freeze)
                    runs[label].append((seconds, items, cpu))
                    ingest_cpu.append(ingest)
        wall = {label: statistics.median(r[0] for r in rs) for label, rs in runs.items()}
        cpu = {label: statistics.median(r[2] for r in rs) for label, rs in runs.items()}
        print("| crawler | wall s (median) | list pages/s | items/s | CPU s (median) | pages per CPU s |"
              " items per CPU s | items |\n|---|---|---|---|---|---|---|---|")
        for label, rs in runs.items():
            items = rs[0][1]
            print(f"| {label} | {wall[label]:.1f} | {args.pages / wall[label]:.1f} | {items / wall[label]:.0f} | "
                  f"{cpu[label]:.1f} | {args.pages / cpu[label]:.1f} | {items / cpu[label]:.0f} | {items} |")
        print()
        for label, rs in runs.items():
            print(f"runs of {label}: wall {[round(r[0], 1) for r in rs]} s, CPU {[round(r[2], 1) for r in rs]} s")

        def overhead(ours: str, base: str) -> str:
            return (f"CPU {100 * (cpu[ours] / cpu[base] - 1):+.1f} %, "
                    f"wall {100 * (wall[ours] / wall[base] - 1):+.1f} %")

        print(f"\noverhead of newsdesk over the bare spider: {overhead(NEWSDESK, BARE)}")
        print(f"like for like, both freezing their start-up objects: {overhead(NEWSDESK, BARE_FROZEN)}")
        print(f"like for like, neither freezing: {overhead(NEWSDESK_UNFROZEN, BARE)}")
        print("(wall is at the mercy of other processes on a busy machine)")
        items = runs[NEWSDESK][0][1]
        print(f"ingest of the crawl's {items} records afterwards: median {statistics.median(ingest_cpu):.1f} CPU s "
              f"({items / statistics.median(ingest_cpu):.0f} items per CPU s)")
    finally:
        server.terminate()
        server.wait()


def capture_cost(workdir: Path, urls: list[str], runs: int, articles: bool) -> None:
    """Print the crawl-speed and disk cost of capture: newsdesk with it on and off, alternating."""
    took: dict[bool, list[tuple[float, int, float]]] = {True: [], False: []}
    warc_bytes, page_bytes = [], 0
    own: list[float] = []  # the capture's own CPU (measured inside the crawl) over the crawl's CPU
    for _ in range(runs):
        for capture in (True, False):
            seconds, items, cpu, _ = run_newsdesk(workdir, urls, capture=capture, ingest=False)
            took[capture].append((seconds, items, cpu))
            if capture:
                warcs = list((workdir / "nd-home" / "archive" / "warc").glob("*/*/*.warc.gz"))
                warc_bytes.append(sum(p.stat().st_size for p in warcs))
                report = json.loads(next((workdir / "nd-home" / "runs").glob("*.json")).read_text())
                own.append(report["stats"]["newsdesk/capture/cpu_seconds"] / cpu)
    archive = Archive(seed=5)
    sample = [article_page(f"0-{i}", archive) for i in range(20)]
    page_bytes = sum(len(p) for p in sample) // len(sample)
    items = took[True][0][1]
    wall = {c: statistics.median(r[0] for r in rs) for c, rs in took.items()}
    cpu = {c: statistics.median(r[2] for r in rs) for c, rs in took.items()}
    print("| newsdesk crawl --no-ingest | wall s (median) | CPU s (median) | items |\n|---|---|---|---|")
    for capture in (True, False):
        print(f"| capture {'on' if capture else 'off'} | {wall[capture]:.1f} | {cpu[capture]:.1f} | {items} |")
    for capture, rs in took.items():
        print(f"runs, capture {'on' if capture else 'off'}: wall {[round(r[0], 1) for r in rs]} s, "
              f"CPU {[round(r[2], 1) for r in rs]} s")
    print(f"\ncost of capture: wall {100 * (wall[True] / wall[False] - 1):+.1f} %, "
          f"CPU {100 * (cpu[True] / cpu[False] - 1):+.1f} %")
    share = statistics.median(own)
    print(f"the capture's own CPU inside the crawl (newsdesk/capture/cpu_seconds): {100 * share:.1f} % of the crawl's "
          f"CPU, runs {[round(100 * s, 1) for s in own]} %: capture makes the crawl's work "
          f"{100 * share / (1 - share):+.1f} %")
    per_thousand = statistics.median(warc_bytes) / items * 1000
    print(f"WARC per 1,000 items (with their share of list pages and request records): "
          f"{per_thousand / 1024 ** 2:.2f} MB ({statistics.median(warc_bytes) / 1024 ** 2:.1f} MB in all)")
    if articles:
        print(f"article pages average {page_bytes / 1024:.0f} KB as served (uncompressed): the capture keeps "
              f"{per_thousand / 1000 / page_bytes:.0%} of an article's size")


if __name__ == "__main__":
    main()
