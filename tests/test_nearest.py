"""`nearest` ranks by the work that really remains, started credentials first (issue 18):
on the sample learners, and on hand-made cases for zero-credit items."""

from __future__ import annotations

from datetime import date
from functools import cache

from engine_strategies import compile_text
from stackrules import load_records, load_rules
from stackrules.advisor.nearest import nearest
from stackrules.advisor.plan import Planner, PlanResult
from stackrules.evaluation.evaluator import Evaluator
from stackrules.records import Achievement, LearnerRecord

AS_OF = date(2026, 11, 22)
ZERO_CREDIT_CERTIFICATES = {"GBC:CC-CERT", "SENECA:CC-CERT"}


@cache
def _sample() -> dict[str, list[PlanResult]]:
    compiled, _ = load_rules(["rules"])
    assert compiled is not None
    records, _ = load_records("examples/learners.json", aliases=compiled.aliases)
    planner = Planner(compiled.model, compiled.evaluator)
    return {r.learner: nearest(planner, r, AS_OF) for r in records}


def test_l1011_sees_graphic_design_first() -> None:
    """L-1011 holds DSGN:WEB and is two courses away from DSGN:GRAPHIC (one in progress)."""
    ranked = _sample()["L-1011"]
    top5 = [r.target for r in ranked[:5]]
    assert "DSGN:GRAPHIC" in top5
    assert ranked[0].target == "DSGN:GRAPHIC"
    assert ranked[0].started
    assert sorted(ranked[0].items) == ["DSGN:COLOUR", "DSGN:FONTS"]


def test_zero_credit_certificate_is_not_first_for_learners_who_started_something() -> None:
    for learner, ranked in _sample().items():
        assert ranked, learner
        if any(r.started for r in ranked):
            assert ranked[0].started, learner
            assert ranked[0].target not in ZERO_CREDIT_CERTIFICATES, learner
        # a zero-credit item is still work: no planned credential is free
        assert all(r.cost.work > 0 for r in ranked), learner


def test_ranking_is_started_then_work_then_items_then_identifier() -> None:
    for learner, ranked in _sample().items():
        keys = [(not r.started, round(r.cost.work, 6), r.cost.items, r.target) for r in ranked]
        assert keys == sorted(keys), learner


def _planner(text: str) -> Planner:
    rules = compile_text(text)
    return Planner(rules, Evaluator(rules))


def test_zero_credit_items_cost_hours_at_the_rate_else_one() -> None:
    p = _planner(
        "issuer A { hours per credit 10 }\nissuer B\n"
        "badge A:H hours 25\nbadge B:H hours 25\nbadge B:N\ncourse B:C credits 2\n"
    )
    assert p.item_work("A:H") == 2.5  # the model converts: 25 h at 10 h per credit
    assert p.item_work("B:H") == 1.0  # no rate: one credit-equivalent
    assert p.item_work("B:N") == 1.0
    assert p.item_work("B:C") == 2.0


def test_started_before_not_started_and_zero_credit_badges_are_work() -> None:
    """Three zero-credit badges (no issuer rate: 1 each) cost 3, more than a 2-credit course;
    a credential the learner has started comes first even when it leaves more work."""
    p = _planner(
        "issuer A\n"
        "badge A:B1\nbadge A:B2\nbadge A:B3\ncourse A:C credits 2\n"
        "course A:S1 credits 3\ncourse A:S2 credits 3\n"
        "credential A:BADGES { all: all of (A:B1, A:B2, A:B3) }\n"
        "credential A:COURSE { c: A:C }\n"
        "credential A:STARTED { all: all of (A:S1, A:S2) }\n"
    )
    empty = LearnerRecord(learner="L")
    assert [r.target for r in nearest(p, empty, AS_OF)] == ["A:COURSE", "A:BADGES", "A:STARTED"]
    some = empty.model_copy(update={"achievements": (Achievement(item="A:S1", grade="B"),)})
    ranked = nearest(p, some, AS_OF)
    assert [r.target for r in ranked] == ["A:STARTED", "A:COURSE", "A:BADGES"]
    assert [r.started for r in ranked] == [True, False, False]
    # --top keeps the nearest; `always` adds a credential whatever its rank
    assert [r.target for r in nearest(p, some, AS_OF, top=1, always=["A:BADGES"])] == [
        "A:STARTED",
        "A:BADGES",
    ]
