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


# ---------------------------------------------------------------- a shared search template

# An overlay whose requirement trees are its base's shares the base's search template
# (`Problems.share_template`), with the first paths and light verdicts that learners without
# exceptions saved in it. Its leaves match differently (an also-allow, a substitution, a
# directive, an exclusion): what it reads from the template must not depend on that.
SHARED = """\
issuer X
course X:C1 credits 3 subject MATH
course X:C2 credits 3 subject MATH
course X:C3 credits 3 subject STAT
course X:C4 credits 3 subject STAT
course X:C5 credits 3 subject ENGL
course X:C6 credits 3 subject ENGL
course X:C7 credits 3 subject HIST
course X:C8 credits 3 subject HIST
credential X:BIG {
    a: 2 of (X:C1, X:C2, X:C3, X:C4)
    b: any of (X:C5, X:C6, 3 credits from subject HIST)
    c: 6 credits from subject MATH
    d: all of (X:C7, any of (X:C8, X:C3))
}
"""
SHARED_ITEMS = [f"X:C{k}" for k in range(1, 9)]
SHARED_EXCEPTIONS: list[list[dict[str, Any]]] = [
    [{"kind": "also-allow", "requirement": "b", "item": "X:C1"}],
    [{"kind": "also-allow", "requirement": "d", "item": "X:C5"}],
    [{"kind": "substitute", "item": "X:C5", "for": "X:C1"}],
    [{"kind": "substitute", "item": "X:C2", "for": "X:C7", "requirement": "d"}],
    [{"kind": "apply", "requirement": "c", "item": "X:C3"}],
    [{"kind": "apply", "requirement": "a", "item": "X:C1"}],
    [{"kind": "exclude", "item": "X:C1"}],
    # (trees of their own: not shared)
    [{"kind": "adjust", "requirement": "c", "amount": 3.0}],
    [{"kind": "adjust", "requirement": "a", "amount": 1.0}],
    [{"kind": "waive", "requirement": "b"}],
    [
        {"kind": "also-allow", "requirement": "c", "item": "X:C4"},
        {"kind": "substitute", "item": "X:C6", "for": "X:C8"},
    ],
]


def _shared_records(exceptions: list[dict[str, Any]]) -> list[LearnerRecord]:
    out = []
    for mask in range(0, 1 << len(SHARED_ITEMS), 7):  # a spread of subsets
        held = [item for k, item in enumerate(SHARED_ITEMS) if mask >> k & 1]
        out.append(
            LearnerRecord.model_validate(
                {
                    "learner": f"L{mask}",
                    "achievements": [{"item": i, "grade": "B"} for i in held],
                    "exceptions": [
                        {"id": f"E{k}", **e, "credential": "X:BIG", **APPROVAL}
                        for k, e in enumerate(exceptions)
                    ],
                }
            )
        )
    return out


class _Reads(dict[Any, Any]):
    """A template's saved searches, counting what is read back."""

    hits = 0

    def get(self, key: Any, default: Any = None) -> Any:
        found = super().get(key, default)
        if found is not None:
            _Reads.hits += 1
        return found


def test_an_overlay_sharing_a_warm_template_answers_as_one_with_its_own() -> None:
    as_of = date(2026, 1, 1)
    rules = compile_text(SHARED)
    warm = Evaluator(rules)
    for record in _shared_records([]):  # learners without exceptions fill the template
        warm.evaluate(record, as_of)
    (base,) = rules.credentials["X:BIG"]
    template = warm.problems._templates[id(base.leaves)][1]
    assert template.paths and template.light  # what an overlay could misread is there
    for name in ("paths", "light"):  # (a frozen dataclass: its dictionaries are filled)
        object.__setattr__(template, name, _Reads(getattr(template, name)))
    for exceptions in SHARED_EXCEPTIONS:
        # an evaluator whose overlays never share: each builds its own template
        cold = Evaluator(rules)
        cold.problems.share_template = lambda base, overlay: None  # type: ignore[method-assign]
        _Reads.hits = 0
        for record in _shared_records(exceptions):
            got = warm.evaluate(record, as_of)
            assert dumps(got) == dumps(cold.evaluate(record, as_of)), (exceptions, record)
            expected = {_rounded(o) for o in reference_outcomes(rules, record, as_of)}
            assert engine_outcome(got) in expected, (exceptions, record)
        overlay = next(reversed(warm.overlays._laid.values())).credential
        assert overlay.base is base and overlay.leaves is not base.leaves
        if exceptions[0]["kind"] in ("adjust", "waive"):
            assert warm.problems._templates[id(overlay.leaves)][1] is not template
            continue
        # it shared the template (its trees, so its leaves, are the base's very nodes), and
        # read from it what learners without exceptions saved there
        assert all(a is b for a, b in zip(overlay.leaves, base.leaves, strict=True))
        assert warm.problems._templates[id(overlay.leaves)][1] is template
        assert _Reads.hits > 0, exceptions
