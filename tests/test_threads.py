"""One evaluator shared between threads, as a Dask dataframe on the threaded scheduler shares
the job of `stackrules.batch.dask.evaluate_dataframe` between its partitions.

- A time limit belongs to the thread whose evaluation set it: another thread's evaluation,
  running meanwhile on the same evaluator without one, never stops.
- Many threads evaluating at once, with a memory of three problems so that they forget each
  other's all the time, get exactly the reports of evaluators of their own.
"""

from __future__ import annotations

import importlib
import pickle
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import stackrules
from stackrules.evaluation.evaluator import EvaluationTimeout, Evaluator
from stackrules.records import LearnerRecord
from stackrules.report import dumps

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 22)
evaluate_module = importlib.import_module("stackrules.evaluation.problems")


def _sample() -> tuple[stackrules.CompiledRules, list[LearnerRecord]]:
    compiled, _ = stackrules.load_rules([ROOT / "rules"])
    assert compiled is not None
    learners, _ = stackrules.load_records(ROOT / "examples" / "learners.json", compiled.aliases)
    return compiled, list(learners)


def test_a_time_limit_belongs_to_the_thread_that_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled, learners = _sample()
    expected = dumps(Evaluator(compiled.model).evaluate(learners[1], AS_OF))
    evaluator = Evaluator(compiled.model)
    real_solve = evaluate_module.solve
    other: dict[str, Any] = {}

    def solve_and_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not other:  # the first search of the limited evaluation: run another one now
            other["started"] = True

            def evaluate_other() -> None:
                try:
                    other["report"] = dumps(evaluator.evaluate(learners[1], AS_OF))
                except Exception as failure:  # what the test reports, if it happens
                    other["report"] = failure

            thread = threading.Thread(target=evaluate_other)
            thread.start()
            thread.join()
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "solve", solve_and_meanwhile)
    with pytest.raises(EvaluationTimeout):
        evaluator.evaluate(learners[0], AS_OF, time_limit=1e-9)  # past by the next search
    assert other["report"] == expected


def test_threads_sharing_an_evaluator_get_the_reports_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled, learners = _sample()
    expected = {r.learner: dumps(Evaluator(compiled.model).evaluate(r, AS_OF)) for r in learners}
    monkeypatch.setattr(evaluate_module, "SOLVED_CACHE", 3)
    shared = Evaluator(compiled.model)
    work = [r for r in learners for _ in range(6)]
    random.Random(7).shuffle(work)

    def evaluate(k: int) -> tuple[str, str]:
        record = work[k]
        limit = 600.0 if k % 2 else None
        return record.learner, dumps(shared.evaluate(record, AS_OF, time_limit=limit))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(evaluate, range(len(work))))
    assert len(results) == len(work)
    for learner, text in results:
        assert text == expected[learner]
    assert len(shared.problems.solved) <= 3


def test_an_evaluator_travels_as_its_rules_alone_while_threads_use_it() -> None:
    # A threaded Dask worker hands its copy of a job (the evaluator inside) to another worker
    # while its own threads evaluate with it: the copy reads nothing they change, and
    # evaluates as the original does, from nothing remembered
    rules, records = _sample()
    shared = rules.evaluator
    stop = threading.Event()
    failures: list[BaseException] = []

    def evaluate_on() -> None:
        try:
            while not stop.is_set():
                for record in records:
                    shared.evaluate(record, AS_OF)
        except BaseException as failure:  # (reported below, not lost in the thread)
            failures.append(failure)

    worker = threading.Thread(target=evaluate_on)
    worker.start()
    try:
        copies = [pickle.loads(pickle.dumps(shared)) for _ in range(20)]
    finally:
        stop.set()
        worker.join()
    assert not failures
    copy = copies[-1]
    assert isinstance(copy, Evaluator) and not copy.problems.solved
    assert copy.graph is not shared.graph and copy.use_index == shared.use_index
    assert [dumps(copy.evaluate(r, AS_OF)) for r in records] == [
        dumps(shared.evaluate(r, AS_OF)) for r in records
    ]
