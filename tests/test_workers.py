"""Index writer processes die with the ingest that started them (kill -9 leaves nothing behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A real ingest's writer (Upserter with worker processes) stopped where the workers hold the batch:
# ``prepare`` runs after the documents went to the workers and before the commit.
HELD_INGEST = textwrap.dedent("""
    import sys, time
    from index.ingest import PARALLEL_BATCH, IngestResult, Upserter
    from index.store import open_index
    from pathlib import Path

    def hold(batch):
        print("workers running", flush=True)
        time.sleep(600)

    ix = open_index(Path(sys.argv[1]), create=True)
    records = [{"key": f"https://x.test/{i}", "title": f"headline {i}"} for i in range(PARALLEL_BATCH)]
    upserter = Upserter(ix, procs=2, prepare=hold)
    upserter.add(records, IngestResult())
    upserter.commit()
""")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_ingest_leaves_no_process_behind(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ingest = subprocess.Popen([sys.executable, "-c", HELD_INGEST, str(tmp_path / "index")], stdout=subprocess.PIPE,
                              env=env, cwd=ROOT, text=True)
    try:
        assert ingest.stdout is not None and ingest.stdout.readline() == "workers running\n"
        started = _descendants(ingest.pid)
        assert len(started) >= 3  # the fork server, its two workers (and the resource tracker)
    finally:
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in started):
        time.sleep(0.1)
    left = [pid for pid in started if _alive(pid)]
    for pid in left:  # so a failure does not leave them running either
        os.kill(pid, signal.SIGKILL)
    assert left == []
