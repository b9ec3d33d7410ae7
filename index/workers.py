"""Index writer processes that start clean.

Whoosh's ``MpWriter`` forks its worker processes from the process that
ingests, so each starts with a copy of that heap (the batch of records, the
index reader, imported libraries), which its own writes then turn into
private pages.  Here they are forked from a small server process started
once, which has imported only what a worker needs.

Neither the server nor a worker outlives the ingest: on Linux each asks the
kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), the
server when the ingest dies, a worker when the server does.  The resource
tracker then reads the end of its pipe and exits by itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
from typing import Any

from whoosh.multiproc import MpWriter, SubWriterTask

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; elsewhere nothing changes)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        logger.warning("cannot tie process %d to its parent: %s", os.getpid(), os.strerror(ctypes.get_errno()))
        return
    if os.getppid() == 1:  # the parent died before the signal was asked for
        os._exit(1)


_SERVER = multiprocessing.get_context("forkserver")
# What a worker needs, imported once by the server: the main module (each worker would import it
# again otherwise, as multiprocessing's default preload does), this writer and the codec it unpickles;
# index.forkserver first, which ties the server to the ingest that starts it.
_SERVER.set_forkserver_preload(["index.forkserver", "__main__", "index.workers", "index.schema"])


class _CleanWorker(SubWriterTask):
    """Whoosh's writer process, started from the fork server."""

    _Popen = staticmethod(_SERVER.Process._Popen)

    def run(self) -> None:
        die_with_parent()
        super().run()


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
