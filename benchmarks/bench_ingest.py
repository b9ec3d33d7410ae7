"""Ingest throughput and peak memory: ``reindex`` of N, ingest into a new index, ingest into one of N.

Each phase runs in its own process so its peak RSS (``ru_maxrss``) is its own.
Its worker processes (parallel indexing) are started by a fork server it
starts, and share some pages, so RSS figures added up overstate what the phase
holds; the phase samples, four times a second, the sum of the proportional
set sizes (PSS: shared pages split among their sharers) of itself and every
process below it, and reports the peak of that sum: the memory the phase
really uses.  CPU time counts every process of the phase.

1. ``reindex``: rebuild the index of a home whose archive holds N records
   (this index is the one ``bench_search`` then queries);
2. ``new``: ingest M fresh records from outbox files (10,000 a file, like
   crawl runs) into an empty home: index, then gzip into the archive;
3. ``existing``: the same M records (5 % of them re-sent versions of records
   already indexed, which must be merged) into a copy of the index of N.

    python -m benchmarks.bench_ingest                 # N = M = 100,000
    python -m benchmarks.bench_ingest --million       # N = 1,000,000, M = 100,000
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.data import PER_FILE, chosen_size, git_revision, machine, prepare_home, size_options
from benchmarks.synth import Archive

logger = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_outbox(home: Path, size: int, start: int, resend_from: Path | None) -> None:
    """M new records (seed 8, keys numbered from ``start``) as outbox files; 5 % re-send old keys."""
    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    archive = Archive(seed=8)
    rng = random.Random(3)
    old_keys: list[str] = []
    if resend_from is not None:
        first = sorted((resend_from / "archive").glob("*/*/*.jsonl.gz"))[0]
        with gzip.open(first, "rt", encoding="utf-8") as handle:
            old_keys = [json.loads(line)["key"] for line in handle]
    batch: list[str] = []
    n_file = 0
    for n, record in enumerate(archive.records(size, start)):
        if old_keys and rng.random() < 0.05:
            record["key"] = record["url"] = rng.choice(old_keys)
            record["body"] = None  # a list item re-sent without its body: merge keeps the old body
        batch.append(json.dumps(record, separators=(",", ":")))
        if len(batch) == PER_FILE or n == size - 1:
            (outbox / f"20260101T{n_file:06d}Z-synth-{n_file:06d}.jsonl").write_text("\n".join(batch) + "\n")
            batch = []
            n_file += 1


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, …); [] if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _children_of() -> dict[int, list[int]]:
    """Each live process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(entry.name)):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (index writers' workers are children of a fork server it started)."""
    children = _children_of()
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _proc_kb(pid: int, path: str, label: str) -> int:
    """A ``label: N kB`` line of /proc/<pid>/<path> (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/{path}") as lines:
            for line in lines:
                if line.startswith(label):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_with_reaped(pid: int) -> float:
    """CPU seconds of a live process and of the children it has reaped (/proc/<pid>/stat)."""
    fields = _stat(pid)
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


class ProcessTree:
    """Samples this process and all its descendants four times a second until stopped.

    ``peak_pss_mb``: the largest summed PSS (shared pages split among their
    sharers): the memory the phase really uses.  ``worker_peak_rss_mb``: the
    largest peak RSS (VmHWM) of a descendant.  ``cpu_seconds()``: CPU time of
    this process and every descendant, the finished ones included.
    """

    def __init__(self, every: float = 0.25) -> None:
        self.every, self.peak_pss_mb, self.worker_peak_rss_mb = every, 0.0, 0.0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.cpu_before = self.cpu_seconds()

    def _run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(self.every):
            below = _descendants(me)
            total = sum(_proc_kb(pid, "smaps_rollup", "Pss:") for pid in [me, *below])
            self.peak_pss_mb = max(self.peak_pss_mb, total / 1024)
            for pid in below:
                self.worker_peak_rss_mb = max(self.worker_peak_rss_mb, _proc_kb(pid, "status", "VmHWM:") / 1024)

    @staticmethod
    def cpu_seconds() -> float:
        """User + system CPU of this process, its reaped children, and its live children with theirs."""
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            total += usage.ru_utime + usage.ru_stime
        return total + sum(_cpu_with_reaped(pid) for pid in _children_of().get(os.getpid(), []))

    def __enter__(self) -> ProcessTree:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def phase(name: str, home: Path, count: int) -> dict[str, float]:
    """Run one phase in this process; returns its figures."""
    with ProcessTree() as tree:
        started = time.perf_counter()
        records, new, updated = _phase(name, home, count)
        seconds = time.perf_counter() - started
    cpu = tree.cpu_seconds() - tree.cpu_before
    return {"seconds": seconds, "cpu_seconds": cpu, "records": records, "new": new, "updated": updated,
            "items_per_s": records / seconds, "items_per_cpu_s": records / cpu, "peak_rss_mb": peak_rss_mb(),
            "worker_peak_rss_mb": tree.worker_peak_rss_mb, "peak_pss_sum_mb": tree.peak_pss_mb}


def _phase(name: str, home: Path, count: int) -> tuple[int, int, int]:
    if name == "fts5":
        from benchmarks.data import fts5_table

        scratch = home.parent / f"fts5-scratch-{home.name}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        (scratch / "archive").symlink_to(home / "archive")
        fts5_table(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        records = new = count
        updated = 0
    else:
        from index.ingest import ingest, reindex
        from newsdesk.core.home import Home

        result = reindex(Home(home)) if name == "reindex" else ingest(Home(home))
        records, new, updated = result.records, result.new, result.updated
    return records, new, updated


def run_phase(name: str, home: Path, count: int) -> dict[str, float]:
    """Run a phase in a child process and read its figures."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_ingest", "--phase", name, "--home", str(home),
                          "--size", str(count)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_options(parser, "records in the archive (N)")
    parser.add_argument("--add", type=int, help="M: records ingested (default N, or 100,000 with --million)")
    parser.add_argument("--phases", default="reindex,fts5,new,existing")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(phase(args.phase, args.home, args.size)))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    size = chosen_size(args)
    add = args.add or (100_000 if args.million else size)
    print(f"machine: {machine()}\nrevision: {git_revision()}\nN = {size:,} archived, M = {add:,} ingested")
    home = prepare_home(args.workdir, size)
    phases = args.phases.split(",")
    print("\n| phase | records | wall s | items/s | CPU s (all processes) | items per CPU s | peak RSS MB "
          "| largest worker's peak RSS MB | peak PSS of all its processes MB |\n|---|---|---|---|---|---|---|---|---|")

    def show(label: str, figures: dict[str, float]) -> None:
        worker = figures.get("worker_peak_rss_mb", 0.0)
        print(f"| {label} | {figures['records']:,.0f} | {figures['seconds']:.0f} | {figures['items_per_s']:,.0f} |"
              f" {figures['cpu_seconds']:.0f} | {figures['items_per_cpu_s']:,.0f} | {figures['peak_rss_mb']:.0f} |"
              f" {f'{worker:.0f}' if worker else '-'} | {figures.get('peak_pss_sum_mb', 0.0):.0f} |", flush=True)

    if "reindex" in phases:
        show(f"reindex {size:,}", run_phase("reindex", home, size))
    if "fts5" in phases:
        show(f"baseline: FTS5 table of the same {size:,}", run_phase("fts5", home, size))
    if "new" in phases:
        scratch = args.workdir / f"scratch-new-{size}"
        shutil.rmtree(scratch, ignore_errors=True)
        write_outbox(scratch, add, size, None)
        show(f"ingest {add:,} into a new index", run_phase("new", scratch, add))
        shutil.rmtree(scratch, ignore_errors=True)
    if "existing" in phases:
        scratch = args.workdir / f"scratch-existing-{size}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(home / "index", scratch / "index")
        write_outbox(scratch, add, size, home)
        show(f"ingest {add:,} (5 % updates) into an index of {size:,}", run_phase("existing", scratch, add))
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
