"""The allocator's shortcut for independent problems gives exactly what its search gives.

Where no limit applies and every achievement fits one leaf and conflicts with nothing, the
allocator builds the search's first path directly instead of searching. These tests evaluate
random scenarios both ways and require byte-identical reports, and check a few shapes by hand.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import stackrules
from engine_strategies import Scenario, compile_text, scenarios
from stackrules.evaluation import allocation as allocate
from stackrules.evaluation.evaluator import EvaluationTimeout, Evaluator
from stackrules.records import Achievement, LearnerRecord
from stackrules.report import dumps


def _both(
    text: str, record: LearnerRecord, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    rules = compile_text(text)
    fast = dumps(Evaluator(rules).evaluate(record, as_of))
    with monkeypatch.context() as m:
        m.setattr(allocate._Search, "_independent", lambda self: False)
        searched = dumps(Evaluator(rules).evaluate(record, as_of))
    return fast, searched


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(s=scenarios())
def test_shortcut_equals_search(s: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, searched = _both(s.text, s.record, s.as_of, monkeypatch)
    assert fast == searched


def test_shortcut_picks_the_cheapest_children_of_n_of(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "issuer A\ncourse A:X credits 3\ncourse A:Y credits 1\ncourse A:Z credits 3\n"
        "course A:W credits 2\n"
        "credential A:C { r: 2 of (A:X, A:Y, A:Z) s: 4 credits from (A:W) }"
    )
    record = LearnerRecord(
        learner="L", achievements=(Achievement(item="A:W"), Achievement(item="A:Z"))
    )
    fast, searched = _both(text, record, date(2026, 11, 22), monkeypatch)
    assert fast == searched
    report = Evaluator(compile_text(text)).evaluate(record, date(2026, 11, 22))
    (entry,) = report.in_progress
    # Z is held; Y (1 credit) is the cheaper second member; W gives 2 of 4 credits
    assert entry.remaining_credits == 3.0
    assert [(r.requirement, r.need, r.options) for r in entry.remaining] == [
        ("r", 1, ["A:X", "A:Y"]),
        ("s", 2, []),
    ]


def test_members_alike_for_a_group_but_not_for_an_amount_are_both_tried() -> None:
    # Two attempts of a repeatable item are one member each of `2 of subject M`, but 40 and
    # 10 hours for the amounts beside it: the search once took them as interchangeable for
    # the group and tried only the first, so it never put the 10-hour one there and the
    # 40-hour one on r2 (what remains: r0 one member, 1 credit, and r1 10 hours, 1 credit)
    text = (
        "issuer A { hours per credit 10 }\n"
        "course A:X0 credits 1 subject M repeatable\n"
        "course A:X1 hours 30 subject M repeatable\n"
        "credential A:CR0 { r0: 2 of subject M r1: 10 hours from subject M "
        "r2: 20 hours from (A:X0) }"
    )
    record = LearnerRecord(
        learner="L",
        achievements=(Achievement(item="A:X0"), Achievement(item="A:X0", grade="A", credits=4.0)),
    )
    report = Evaluator(compile_text(text)).evaluate(record, date(2024, 6, 1))
    (entry,) = report.in_progress
    assert (entry.remaining_credits, entry.remaining_items) == (2.0, 2)
    used = {r.name: [e.hours for e in r.evidence] for r in entry.requirements}
    assert used["r2"] == [40.0] and used["r0"] == [10.0]


def test_a_search_past_its_deadline_stops_and_an_evaluator_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`time_limit` stops an evaluation whose searches run past it; what it remembered of
    the searches that finished is sound, so the next evaluation is unchanged."""
    root = Path(__file__).resolve().parent.parent
    compiled, _ = stackrules.load_rules([root / "rules"])
    assert compiled is not None
    learners, _ = stackrules.load_records(root / "examples" / "learners.json", compiled.aliases)
    as_of = date(2026, 11, 22)
    fresh = [dumps(Evaluator(compiled.model).evaluate(r, as_of)) for r in learners]

    evaluator = Evaluator(compiled.model)
    ticks = iter(range(10**9))
    monkeypatch.setattr(allocate, "_clock", lambda: float(next(ticks)))
    with pytest.raises(EvaluationTimeout, match="evaluation took longer than 3 s"):
        evaluator.evaluate(learners[0], as_of, time_limit=3)  # the 4th look at the clock
    monkeypatch.undo()
    assert [dumps(evaluator.evaluate(r, as_of, time_limit=600)) for r in learners] == fresh
