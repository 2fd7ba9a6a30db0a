"""Search deadlines that nest: a plan (or the nearest credentials) runs many evaluations and
integer programs, and a time limit on the whole must hold inside each of them.

- `searches_within(None)` inside a deadline keeps it (an inner evaluation without a limit of
  its own runs under its caller's), and an inner limit never extends an outer one.
- An evaluation without a limit, under a caller's deadline, stops at it with the caller's
  `SearchTimeout` (not its own `EvaluationTimeout`).
- The planner's integer programs get the time left as HiGHS's `time_limit`, and a run HiGHS
  stops there is a timeout, never "no plan".
- `plans_for`/`nearest_for` with `time_limit` raise `EvaluationTimeout` for the learner.

Clocks are faked: nothing here measures time.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import highspy
import pytest

import stackrules
from stackrules.advisor import relax
from stackrules.advisor.plan import Planner
from stackrules.evaluation import EvaluationTimeout, allocation
from stackrules.evaluation.allocation import SearchTimeout
from stackrules.evaluation.evaluator import Evaluator
from stackrules.evaluation.problems import current_deadline, searches_within
from stackrules.learner import nearest_for, plans_for
from stackrules.records import LearnerRecord

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 22)


def _still(monkeypatch: pytest.MonkeyPatch, at: float = 100.0) -> None:
    """A clock that never moves."""
    monkeypatch.setattr(allocation, "_clock", lambda: at)


def _racing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock 1000 s later at every look: any deadline has passed by the next look."""
    ticks = itertools.count(0, 1000)
    monkeypatch.setattr(allocation, "_clock", lambda: float(next(ticks)))


def _sample(learner: str) -> tuple[stackrules.CompiledRules, LearnerRecord]:
    compiled, _ = stackrules.load_rules([ROOT / "rules"])
    assert compiled is not None
    records, _ = stackrules.load_records(ROOT / "examples" / "learners.json", compiled.aliases)
    return compiled, next(r for r in records if r.learner == learner)


def test_nested_deadlines_keep_the_earlier(monkeypatch: pytest.MonkeyPatch) -> None:
    _still(monkeypatch)
    assert current_deadline() is None
    with searches_within(None) as own:
        assert current_deadline() is None and not own
    with searches_within(5) as own:
        assert own and current_deadline() == 105.0
        with searches_within(None) as inner:  # no limit of its own: the caller's holds
            assert current_deadline() == 105.0 and not inner
        with searches_within(60) as inner:  # a later limit never extends the caller's
            assert current_deadline() == 105.0 and not inner
        with searches_within(2) as inner:  # an earlier one holds inside
            assert current_deadline() == 102.0 and inner
        assert current_deadline() == 105.0
    assert current_deadline() is None


def test_an_evaluation_without_a_limit_stops_at_its_caller_s_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled, record = _sample("L-1003")
    evaluator = Evaluator(compiled.model)  # nothing remembered: its searches run
    _racing(monkeypatch)
    with pytest.raises(SearchTimeout), searches_within(5):
        evaluator.evaluate(record, AS_OF)
    # its own longer limit: still the caller's deadline, reported as the caller's
    with pytest.raises(SearchTimeout), searches_within(5):
        evaluator.evaluate(record, AS_OF, time_limit=600)
    monkeypatch.undo()
    assert evaluator.evaluate(record, AS_OF).learner == "L-1003"


def test_the_integer_program_gets_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock that never moves, the evaluations never see the deadline pass: only HiGHS,
    given the nanosecond left as its `time_limit`, can stop the plan."""
    compiled, record = _sample("L-1003")
    planner = Planner(compiled.model, Evaluator(compiled.model))
    given: list[float] = []
    real_limit = relax._within_deadline

    def spy(h: highspy.Highs) -> None:
        real_limit(h)
        given.append(h.getOptionValue("time_limit")[1])

    monkeypatch.setattr(relax, "_within_deadline", spy)
    _still(monkeypatch)
    with pytest.raises(EvaluationTimeout, match="learner L-1003"):
        plans_for(planner, record, ["UVIC:BA"], AS_OF, time_limit=1e-9)
    assert given == [pytest.approx(1e-9, rel=1e-3)]  # its first run stopped the plan
    _racing(monkeypatch)
    with pytest.raises(SearchTimeout), searches_within(5):  # passed: HiGHS is not run
        relax._within_deadline(highspy.Highs())  # type: ignore[no-untyped-call]
    monkeypatch.undo()
    (plan,) = plans_for(planner, record, ["UVIC:BA"], AS_OF)  # no deadline: no limit
    assert plan.status == "planned"


def test_a_plan_and_the_nearest_run_within_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled, record = _sample("L-1003")
    planner = Planner(compiled.model, Evaluator(compiled.model))
    _racing(monkeypatch)
    with pytest.raises(EvaluationTimeout, match=r"learner L-1003: .* longer than 2 s"):
        plans_for(planner, record, ["UVIC:BA"], AS_OF, time_limit=2)
    with pytest.raises(EvaluationTimeout, match="learner L-1003"):
        nearest_for(planner, record, AS_OF, top=3, time_limit=2)
    monkeypatch.undo()
    (plan,) = plans_for(planner, record, ["UVIC:BA"], AS_OF, time_limit=600)
    assert plan.status == "planned"
