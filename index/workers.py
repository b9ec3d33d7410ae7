"""Index writer processes that start clean.

Whoosh's ``MpWriter`` forks its worker processes from the process that
ingests, so each starts with a copy of that heap (the batch of records, the
index reader, imported libraries), which its own writes then turn into
private pages.  Here they are forked from a small server process started
once, which has imported only what a worker needs.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from whoosh.multiproc import MpWriter, SubWriterTask

_SERVER = multiprocessing.get_context("forkserver")
# What a worker needs, imported once by the server: the main module (each worker would import it
# again otherwise, as multiprocessing's default preload does), this writer and the codec it unpickles.
_SERVER.set_forkserver_preload(["__main__", "index.workers", "index.schema"])


class _CleanWorker(SubWriterTask):
    """Whoosh's writer process, started from the fork server."""

    _Popen = staticmethod(_SERVER.Process._Popen)


class CleanWorkersWriter(MpWriter):
    """Whoosh's ``MpWriter`` whose worker processes start clean.

    Measured on 20,000 records ingested into the 1M index: the processes
    together peaked at 663 MB (summed PSS) with forked workers, 536 MB with
    these, at the same speed (benchmarks/README.md, issue 7).
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.jobqueue = _SERVER.Queue(self.procs * 4)
        self.resultqueue = _SERVER.Queue()

    def _new_task(self) -> SubWriterTask:
        task = _CleanWorker(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs,
                            self.multisegment)
        self.tasks.append(task)
        task.start()
        return task
