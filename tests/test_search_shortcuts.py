"""The search's shortcuts change no answer (random rule sets and records, `engine_strategies`).

- the light verdict (`allocate.light_verdict`), read from what each leaf holds, equals
  `surely_incomplete` and `least_cost_bound` of the light problem built from the matches
  (every achievement a leaf accepts, no conflicts, no limits), as the evaluator built it
  before;
- the leaves a credential's achievements are looked up for accept what scanning every leaf
  finds (`Problems.sparse_matches` against `Problems.matches` and `eligible`);
- `not_counted` is the same when the achievements a searched leaf accepts are not tried
  against every rule;
- the least-to-do search with its lower bound on retakes finds the same allocation, key and
  leaves, as the search without it;
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from hypothesis import HealthCheck, given, settings

from engine_strategies import Scenario, compile_text, scenarios
from stackrules.evaluation import explanations
from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.allocation import (
    Allocation,
    Candidate,
    Problem,
    _Search,
    least_cost_bound,
    surely_incomplete,
)
from stackrules.evaluation.evaluator import Evaluator
from stackrules.evaluation.leasttodo import LeastToDo
from stackrules.model import CompetencyLeaf, Credential
from stackrules.records import LearnerRecord

AS_OF = date(2026, 11, 22)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _light_problem(ev: Evaluator, cred: Credential, matches: Sequence[Sequence[Ach]]) -> Problem:
    """The light problem of `matches`, built the long way (each accepted achievement a
    candidate, no conflicts, no limits)."""
    pool: dict[int, int] = {}
    achievements: list[Candidate] = []
    eligible: list[Sequence[int]] = []
    for leaf, ok in zip(cred.leaves, matches, strict=True):
        if not ok or isinstance(leaf, CompetencyLeaf):
            eligible.append(())
            continue
        indexes = []
        for a in ok:
            if id(a) not in pool:
                pool[id(a)] = len(achievements)
                achievements.append(a.candidate())
            indexes.append(pool[id(a)])
        eligible.append(indexes)
    roots = [r.root for r in cred.requirements]
    tpl, costs, groups = ev.problems.template(roots, cred.leaves, cred.hours_per_credit, cred.id)
    return Problem(
        roots=roots,
        leaves=cred.leaves,
        achievements=achievements,
        eligible=eligible,
        conflicts=(),
        competency_met=[bool(ok) for ok in matches],
        missing_cost=costs,
        hours_per_credit=cred.hours_per_credit,
        group_costs=groups,
        template=tpl,
    )


def _every_least_to_do(s: Scenario) -> tuple[Evaluator, list[LeastToDo]]:
    rules = compile_text(s.text)
    ev = Evaluator(rules)
    achs = ev.counting(s.record, s.as_of)
    held = frozenset(a.item for a in s.record.achievements)
    found = []
    for ident in sorted(rules.credentials):
        cred = ev.version(ident, s.record.catalog_date or s.as_of)
        if cred is not None:
            found.append(ev.least_to_do(cred, achs, s.as_of, held))
    return ev, found


def _same(a: Allocation | None, b: Allocation | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.key, a.used, a.limit_shortfall, a.chosen) == (
        b.key,
        b.used,
        b.limit_shortfall,
        b.chosen,
    ) and {k: (r.used, r.missing, r.active) for k, r in a.leaves.items()} == {
        k: (r.used, r.missing, r.active) for k, r in b.leaves.items()
    }


@PROPERTY
@given(scenarios())
def test_the_light_verdict_is_the_light_problems(s: Scenario) -> None:
    ev, every = _every_least_to_do(s)
    for least in every:
        leaves = least.credential.leaves
        matches = [least.matches.get(k, ()) for k in range(len(leaves))]
        light = _light_problem(ev, least.credential, matches)
        assert least.light.incomplete == surely_incomplete(light)
        assert least.light.bound == least_cost_bound(light)


@PROPERTY
@given(scenarios())
def test_the_leaves_looked_up_accept_what_every_leaf_scanned_accepts(s: Scenario) -> None:
    # `sparse_matches` looks only at the leaves naming an item held, and at the selectors
    # among the achievements of their subject; `matches` asks every leaf of every achievement
    rules = compile_text(s.text)
    ev = Evaluator(rules)
    achs = ev.counting(s.record, s.as_of)
    for ident in sorted(rules.credentials):
        for cred in rules.credentials[ident]:
            every = ev.problems.matches(cred.leaves, achs, s.as_of)
            scanned = {k: [id(a) for a in ok] for k, ok in enumerate(every) if ok}
            found = ev.problems.sparse_matches(cred.leaves, achs, s.as_of)
            assert {k: [id(a) for a in ok] for k, ok in found.items()} == scanned
            assert list(found) == sorted(found)
            # and the long way, leaf by leaf, with nothing remembered
            for leaf, ok in zip(cred.leaves, every, strict=True):
                accepted = [a for a in achs if ev.problems.eligible(leaf, a, s.as_of)]
                assert [id(a) for a in ok] == [id(a) for a in accepted]


@PROPERTY
@given(scenarios())
def test_not_counted_is_the_same_without_the_accepted_shortcut(s: Scenario) -> None:
    # `rejected` skips achievements a requirement leaf is known to accept; trying every
    # achievement against every rule gives the same `not_counted` and `unused`
    rules = compile_text(s.text)
    fast = Evaluator(rules).evaluate(s.record, s.as_of)
    original = explanations._accepted
    explanations._accepted = lambda searched: set()  # type: ignore[assignment]
    try:
        slow = Evaluator(rules).evaluate(s.record, s.as_of)
    finally:
        explanations._accepted = original  # type: ignore[assignment]
    assert fast.model_dump_json() == slow.model_dump_json()


def test_a_competency_leaf_looking_at_an_achievement_does_not_keep_it_counted() -> None:
    # the competency leaf sees X1's competency (leaves only look); the one leaf that could
    # count X1 turns it away by its grade: X1 is not counted, below the minimum grade
    text = (
        'issuer A\ncompetency A:K1 "K1"\n'
        "course A:X1 credits 3 teaches A:K1 at developing\n"
        "credential A:C { skill: competency A:K1 at developing  core: A:X1 min grade A }"
    )
    record = LearnerRecord.model_validate(
        {"learner": "L", "achievements": [{"item": "A:X1", "grade": "B"}]}
    )
    found = Evaluator(compile_text(text)).evaluate(record, AS_OF)
    assert [(n.item, n.reason) for n in found.not_counted] == [("A:X1", "below-minimum-grade")]
    assert [c.credential for c in found.in_progress] == ["A:C"]


@PROPERTY
@given(scenarios())
def test_the_retake_bound_changes_no_answer(s: Scenario) -> None:
    _, every = _every_least_to_do(s)
    for least in every:
        problem = least.problem
        with_bound = _Search(problem, "least")
        without = _Search(problem, "least")
        without.retakes = None
        assert _same(with_bound.run(), without.run())


RETAKE_CATALOG = """\
issuer X "Example College"
course X:A "A" credits 3
course X:B "B" credits 3
course X:C1 "C1" credits 3
course X:C2 "C2" credits 3
course X:C3 "C3" credits 3
course X:C4 "C4" credits 3
course X:C5 "C5" credits 3
course X:C6 "C6" credits 3
course X:C7 "C7" credits 3
course X:C8 "C8" credits 3
credential X:P "P" {
    electives: 4 of (X:C1, X:C2, X:C3, X:C4, X:C5, X:C6, X:C7, X:C8)
    more: 9 credits from issuer X
    core: all of (X:A, X:B)
}
"""


def test_a_forced_retake_still_lets_the_search_prune() -> None:
    """X:A was failed: every completion retakes it. The best allocation needs a retake, and
    the search prunes by cost among completions with one retake, where it used to prune
    nothing until a path had missed X:A (every bound had no retake)."""
    from stackrules.records import Achievement, LearnerRecord

    rules = compile_text(RETAKE_CATALOG)
    ev = Evaluator(rules)
    day = date(2024, 5, 1)
    rows = [Achievement(item="X:A", grade="F", completed_on=day)]
    rows += [Achievement(item=f"X:C{k}", grade="B", completed_on=day) for k in range(1, 9)]
    record = LearnerRecord(learner="L", achievements=tuple(rows))
    achs = ev.counting(record, AS_OF)
    least = ev.least_to_do(rules.credentials["X:P"][0], achs, AS_OF, frozenset({"X:A"}))
    steps = {}
    answers = {}
    for label, bound in (("with", True), ("without", False)):
        search = _Search(least.problem, "least")
        if not bound:
            search.retakes = None
        calls = 0
        dfs = search._dfs

        def counted(*args: object, _dfs: object = dfs) -> None:
            nonlocal calls
            calls += 1
            _dfs(*args)  # type: ignore[operator]

        search._dfs = counted  # type: ignore[method-assign]
        answers[label] = search.run()
        steps[label] = calls
    assert answers["with"] is not None and answers["with"].key == (1.0, 6.0, 2.0)
    assert _same(answers["with"], answers["without"])
    assert steps["with"] * 10 < steps["without"]
