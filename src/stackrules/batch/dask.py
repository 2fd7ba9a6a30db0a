"""Dask: the same batch on a cluster, and the engine inside a data team's Dask pipeline.

Needs the `dask` extra (`pip install 'stackrules[dask]'`: dask, distributed, and pandas for
dataframes).

- `DaskEngine` is the batch engine of `stackrules batch --engine dask`: it connects to
  `--scheduler ADDRESS`, or starts a local cluster of `--workers` single-threaded worker
  processes, sends the compiled job to every worker once (`scatter(..., broadcast=True)`)
  and runs chunks of units as Dask tasks. The batch loop (`stackrules.batch.run`) is the
  same as for local processes: same output, same order, same error accounting. A worker
  that dies is replaced by Dask, which runs its tasks again elsewhere; a task that keeps
  killing workers ends in `KilledWorker`, which the batch loop treats like a lost local
  worker (the chunk again, then learner by learner).
- `evaluate_bag(bag, rules, as_of)` maps a bag of learner records (dictionaries as in a JSON
  record file, or `LearnerRecord`s) to a bag of results: `{"learner", "report"}` with the
  report as JSON values, or `{"learner", "errors"}`.
- `evaluate_dataframe(frame, rules, as_of)` takes a dataframe of achievements with the CSV
  record columns (`learner`, `item`, `grade`, …), groups it by learner and gives a dataframe
  of the flat CSV projection (`stackrules.batch.project.HEADER`) plus an `error` column
  (empty, or the learner's errors, with status `error`). Errors cite a row by the
  dataframe's index value, the nearest thing a dataframe has to a row number.

Workers must be able to import `stackrules` (install it in the cluster's environment).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

import dask.bag
from dask.delayed import delayed
from distributed import Client, Future, KilledWorker, LocalCluster

from stackrules.batch.engines import WorkerLost
from stackrules.batch.project import HEADER
from stackrules.batch.source import Unit
from stackrules.batch.work import Job, Outcome, mark_worker, run_units
from stackrules.records.csvfile import CSV_COLUMNS
from stackrules.report import report_to_json
from stackrules.runtime import tune_gc

if TYPE_CHECKING:
    import dask.dataframe

    from stackrules import CompiledRules


def _run_on_worker(job: Job, units: list[Unit]) -> list[Outcome]:
    mark_worker()
    tune_gc()
    return run_units(job, units)


class DaskEngine:
    """Chunks of units as tasks on a Dask cluster (an existing one, or a local one)."""

    def __init__(self, job: Job, workers: int, scheduler: str | None) -> None:
        begin = time.perf_counter()
        self._cluster: LocalCluster | None = None
        if scheduler is None:
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=40,
            )
            self.client = Client(self._cluster)
        else:
            self.client = Client(scheduler)
        self._job = self.client.scatter(job, broadcast=True, hash=False)
        self.startup_seconds = time.perf_counter() - begin

    def submit(self, units: list[Unit]) -> Future[list[Outcome]]:
        return self.client.submit(_run_on_worker, self._job, units, pure=False)

    def wait(self, pending: Future[list[Outcome]]) -> list[Outcome]:
        try:
            result: list[Outcome] = pending.result()
        except KilledWorker:
            raise WorkerLost from None
        return result

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _bag_partition(records: Iterable[Any], job: Job) -> list[dict[str, Any]]:
    tune_gc()
    units = [Unit(i, "object", i, record) for i, record in enumerate(records, start=1)]
    results: list[dict[str, Any]] = []
    for outcome in run_units(job, units):
        if outcome.errors:
            errors = [e.model_dump(mode="json") for e in outcome.errors]
            results.append({"learner": outcome.learner, "errors": errors})
        else:
            assert outcome.report is not None
            report = report_to_json(outcome.report)
            results.append({"learner": outcome.learner, "report": report})
    return results


def evaluate_bag(
    bag: dask.bag.Bag,
    rules: CompiledRules,
    as_of: date | None = None,
    *,
    learner_timeout: float | None = None,
) -> dask.bag.Bag:
    """A bag with one result per learner record of `bag`, partition for partition. With
    `learner_timeout` (seconds), a learner whose evaluation runs longer gets errors."""
    job = Job(rules, as_of or date.today(), "report", "<bag>", learner_timeout=learner_timeout)
    shared = delayed(job, pure=True)
    return bag.map_partitions(_bag_partition, shared)


ERROR_COLUMN = "error"
COLUMNS = (*HEADER, ERROR_COLUMN)


def _frame_partition(frame: Any, job: Job) -> Any:
    """The projection rows of every learner in one partition (a pandas dataframe)."""
    import pandas

    tune_gc()
    out: list[list[str]] = []
    names = [name for name in CSV_COLUMNS if name in frame.columns]
    for learner, group in frame.groupby("learner", sort=True):
        rows: list[tuple[int, dict[str, str], list[str]]] = []
        for index, values in zip(group.index, group[names].itertuples(index=False), strict=True):
            cells = {
                n: "" if pandas.isna(v) else str(v).strip()
                for n, v in zip(names, values, strict=True)
            }
            rows.append((int(index) if isinstance(index, int) else 0, cells, []))
        unit = Unit(1, "csv", rows[0][0], tuple(rows), learner=str(learner))
        outcome = run_units(job, [unit])[0]
        if outcome.errors:
            message = "; ".join(e.render() for e in outcome.errors)
            out.append([str(learner), "", "error", *[""] * (len(HEADER) - 3), message])
            continue
        for line in outcome.lines:
            out.extend([*row, ""] for row in csv.reader(io.StringIO(line)))
    return pandas.DataFrame(out, columns=list(COLUMNS), dtype=object)


def evaluate_dataframe(
    frame: dask.dataframe.DataFrame,
    rules: CompiledRules,
    as_of: date | None = None,
    *,
    learner_timeout: float | None = None,
) -> dask.dataframe.DataFrame:
    """The flat projection of every learner in a dataframe of achievement rows.

    The rows are shuffled so that each learner's rows are in one partition, then every
    partition is evaluated where it lies. Rows without a learner are dropped by the
    grouping: check `learner` is never empty before calling (the CLI reports such rows).
    `learner_timeout` as for `evaluate_bag`.
    """
    import pandas

    job = Job(rules, as_of or date.today(), "csv", "<dataframe>", learner_timeout=learner_timeout)
    shared = delayed(job, pure=True)
    meta = pandas.DataFrame({name: pandas.Series(dtype=object) for name in COLUMNS})
    return frame.shuffle(on="learner").map_partitions(_frame_partition, shared, meta=meta)


__all__ = ["DaskEngine", "evaluate_bag", "evaluate_dataframe"]
