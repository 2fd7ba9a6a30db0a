"""Where batch work runs: in this process, or in a pool of worker processes.

Takes a `Job` and lists of units; gives their outcomes, in the order asked for, through a
small interface (`submit`, then `wait` on what `submit` returned) that the Dask engine
(`stackrules.batch.dask`) implements too, so the batch loop is the same for every engine.

- `InProcess`: no pool at all (`--workers 1`): no start-up cost, no copying.
- `ProcessPool`: `--workers N` processes. On Linux they are forked after the rules are
  compiled, so each worker inherits the compiled rule set instead of receiving a copy
  (start-up is the fork, measured by the batch benchmark); elsewhere the job is pickled once
  per worker. A worker that dies (killed, out of memory) breaks the pool: `wait` raises
  `WorkerLost`, a new pool is started once per breakage, and the batch loop decides what to
  run again.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from stackrules.batch.source import Unit
from stackrules.batch.work import Job, Outcome, mark_worker, run_units
from stackrules.runtime import tune_gc


class WorkerLost(Exception):
    """A worker died while running the units (killed by a signal or out of memory)."""


class Engine(Protocol):
    startup_seconds: float

    def submit(self, units: list[Unit]) -> Any: ...

    def wait(self, pending: Any) -> list[Outcome]: ...

    def close(self) -> None: ...


class InProcess:
    """Runs the units in the calling process when they are waited for."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.startup_seconds = 0.0

    def submit(self, units: list[Unit]) -> list[Unit]:
        return units

    def wait(self, pending: list[Unit]) -> list[Outcome]:
        return run_units(self.job, pending)

    def close(self) -> None:
        pass


_JOB: Job | None = None


def _start_worker(job: Job | None) -> None:
    global _JOB
    if job is not None:  # spawned workers receive the job; forked ones inherit it
        _JOB = job
    mark_worker()
    tune_gc()


def _run(units: list[Unit]) -> list[Outcome]:
    assert _JOB is not None
    return run_units(_JOB, units)


class ProcessPool:
    """A pool of `workers` processes, restarted after a worker dies."""

    def __init__(self, job: Job, workers: int) -> None:
        self.job = job
        self.workers = workers
        self.generation = 0
        methods = multiprocessing.get_all_start_methods()
        self._fork = "fork" in methods
        self._context = multiprocessing.get_context("fork" if self._fork else "spawn")
        begin = time.perf_counter()
        self._pool = self._start()
        self.startup_seconds = time.perf_counter() - begin

    def _start(self) -> ProcessPoolExecutor:
        global _JOB
        if self._fork:
            _JOB = self.job
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(None if self._fork else self.job,),
        )
        # Start every worker now (not on first use), so start-up is paid and measured once.
        for future in [pool.submit(_run, []) for _ in range(self.workers)]:
            future.result()
        return pool

    def submit(self, units: list[Unit]) -> tuple[int, Future[list[Outcome]]]:
        return self.generation, self._pool.submit(_run, units)

    def wait(self, pending: tuple[int, Future[list[Outcome]]]) -> list[Outcome]:
        generation, future = pending
        try:
            return future.result()
        except BrokenProcessPool:
            if generation == self.generation:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self.generation += 1
                self._pool = self._start()
            raise WorkerLost from None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
