"""Differential testing with registrar exceptions: the engine against the brute-force
reference (`reference.py`, which applies `exceptions.md` without the engine's code), on tiny
random rule sets and records with random, well-formed exceptions of every kind."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from engine_strategies import Scenario, compile_text, scenarios
from reference import TooBig, reference_outcomes
from stackrules.evaluation.evaluator import Evaluator
from stackrules.exceptions.check import problems
from stackrules.model import AmountLeaf, ItemLeaf, RuleSet, all_leaves
from stackrules.records import LearnerRecord
from stackrules.report import dumps
from test_differential import DIFFERENTIAL, _rounded, engine_outcome

APPROVAL = {"approved_by": "r", "approved_on": "2024-01-01"}
KINDS = ("waive", "adjust", "substitute", "also-allow", "apply", "exclude", "grant")


@st.composite
def exceptions(draw: st.DrawFn, rules: RuleSet, record: LearnerRecord) -> list[dict[str, Any]]:
    held = sorted({a.item for a in record.achievements if a.item in rules.items})
    items = held + sorted(rules.items)
    creds = sorted(rules.credentials)
    out: list[dict[str, Any]] = []
    for k in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(KINDS))
        e: dict[str, Any] = {"id": f"E{k}", "kind": kind, **APPROVAL}
        if kind in ("exclude", "grant"):
            e["item"] = draw(st.sampled_from(items)) if items else None
            if kind == "exclude" and creds and draw(st.booleans()):
                e["credential"] = draw(st.sampled_from(creds))
            if kind == "grant" and held and draw(st.booleans()):
                e["from"] = [draw(st.sampled_from(held))]
            if kind == "grant" and draw(st.booleans()):
                e["credits"] = draw(st.sampled_from([1.0, 3.0]))
            if e["item"] is None:
                continue
            out.append(e)
            continue
        if not creds:
            continue
        ident = draw(st.sampled_from(creds))
        version = rules.credentials[ident][-1]
        e["credential"] = ident
        names = [r.name for r in version.requirements]
        limits = [" ".join(lim.text.split()[1:]) for lim in version.limits]
        if kind in ("waive", "adjust"):
            if limits and draw(st.booleans()):
                e["limit"] = draw(st.sampled_from(limits))
            else:
                e["requirement"] = draw(st.sampled_from(names))
            if kind == "adjust":
                e["amount"] = draw(st.sampled_from([0.0, 1.0, 2.0, 3.0, 1.5]))
        elif kind == "substitute":
            named = [
                leaf.item if isinstance(leaf, ItemLeaf) else sorted(leaf.ids or ())[0]
                for leaf in all_leaves(r.root for r in version.requirements)
                if isinstance(leaf, ItemLeaf) or (isinstance(leaf, AmountLeaf) and leaf.ids)
            ]
            if not named or not items:
                continue
            e["for"] = draw(st.sampled_from(named))
            e["item"] = draw(st.sampled_from(items))
            if draw(st.booleans()):
                e["requirement"] = draw(st.sampled_from(names))
        else:
            if not items:
                continue
            e["requirement"] = draw(st.sampled_from(names))
            e["item"] = draw(st.sampled_from(items))
        out.append(e)
    return out


@DIFFERENTIAL
@given(st.data())
def test_engine_agrees_with_reference_under_exceptions(data: st.DataObject) -> None:
    s: Scenario = data.draw(scenarios())
    rules = compile_text(s.text)
    drawn = data.draw(exceptions(rules, s.record))
    record = LearnerRecord.model_validate(
        {**s.record.model_dump(exclude={"exceptions"}), "exceptions": drawn}
    )
    assume(not problems(record.exceptions, rules))
    try:
        expected = {_rounded(o) for o in reference_outcomes(rules, record, s.as_of)}
    except TooBig:
        assume(False)
        return
    indexed = Evaluator(rules, use_index=True).evaluate(record, s.as_of)
    naive = Evaluator(rules, use_index=False).evaluate(record, s.as_of)
    assert dumps(indexed) == dumps(naive), "indexed and naive evaluation differ"
    event(f"exceptions applied: {sum(e.applied for e in indexed.exceptions)}")
    got = engine_outcome(indexed)
    if got not in expected:
        lines = [f"engine:    {got}"] + [f"reference: {o}" for o in sorted(expected, key=repr)]
        raise AssertionError(
            f"engine and reference disagree; exceptions {drawn}\n" + "\n".join(lines)
        )


# A registrar's grant of an item the record already holds (found by random runs of the test
# above). Undated, the grant alone earns A:CR1; but an allocation counting the dated record
# attempt earns it too, so A:CR1 is earned on that date (§3: none only when no allocation
# uses a dated achievement). The engine used to look for an allocation that counted the
# attempt *beside* a complete one, which the limit refused, and said none. Of a
# non-repeatable item, the grant is a repeat (§2: a course taken comes before a grant), so
# the 6 credits of A:CR2 are not met twice by one course.
DUPLICATE_GRANT = """\
issuer A {{ hours per credit 10 }}
course A:X0 hours 30 {repeatable}
credential A:CR1 {{ r0: A:X0 limit at most 3 credits }}
credential A:CR2 {{ r0: 6 credits from issuer A }}
"""


@pytest.mark.parametrize("repeatable", [True, False])
def test_grant_duplicating_a_record_attempt(repeatable: bool) -> None:
    rules = compile_text(DUPLICATE_GRANT.format(repeatable="repeatable" if repeatable else ""))
    record = LearnerRecord.model_validate(
        {
            "learner": "L",
            "achievements": [{"item": "A:X0", "grade": "B", "completed_on": "2018-05-01"}],
            "exceptions": [{"id": "E0", "kind": "grant", "item": "A:X0", **APPROVAL}],
        }
    )
    as_of = date(2020, 1, 1)
    report = Evaluator(rules).evaluate(record, as_of)
    earned = {c.credential: c.completed_on for c in report.earned}
    assert earned["A:CR1"] == date(2018, 5, 1)
    if repeatable:
        assert earned["A:CR2"] == date(2018, 5, 1)
        assert [(e.id, e.applied) for e in report.exceptions] == [("E0", True)]
    else:
        assert "A:CR2" not in earned
        assert ("A:X0", "repeat", "E0") in {(n.item, n.reason, n.rule) for n in report.not_counted}
        (e0,) = report.exceptions
        assert not e0.applied and "own A:X0 counts instead" in e0.effect
    expected = {_rounded(o) for o in reference_outcomes(rules, record, as_of)}
    assert engine_outcome(report) in expected


def test_better_of_two_registrar_grants_counts() -> None:
    rules = compile_text(DUPLICATE_GRANT.format(repeatable=""))
    grants = [
        {"id": "G1", "kind": "grant", "item": "A:X0", "grade": "C", **APPROVAL},
        {"id": "G2", "kind": "grant", "item": "A:X0", "grade": "A", **APPROVAL},
    ]
    record = LearnerRecord.model_validate(
        {"learner": "L", "achievements": [], "exceptions": grants}
    )
    report = Evaluator(rules).evaluate(record, date(2020, 1, 1))
    assert {e.id: e.applied for e in report.exceptions} == {"G1": False, "G2": True}
    (cr1,) = [c for c in report.earned if c.credential == "A:CR1"]
    assert [ev.grade for r in cr1.requirements for ev in r.evidence] == ["A"]
    expected = {_rounded(o) for o in reference_outcomes(rules, record, date(2020, 1, 1))}
    assert engine_outcome(report) in expected
