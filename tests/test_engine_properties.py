"""Properties of the engine on random small rule sets and records (`engine_strategies.py`).

- order independence: the record's rows in any order, the rule files given in any order,
  give byte-identical report JSON; declarations moved between files (which changes every
  `file:line`) give the same credentials earned and in progress, with the same cost;
- determinism: the same inputs twice (a fresh evaluator, or the same one) give the same bytes;
- monotonicity: adding an achievement never loses a credential earned (or held), where the
  spec allows no loss: no limits, no modifiers, no equivalencies, no `repeats latest`, no
  credential `valid for` (see `scenarios(monotone=True)`).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_strategies import (
    Scenario,
    compile_files,
    compile_text,
    extra_achievements,
    scenarios,
)
from stackrules.evaluation.evaluator import Evaluator
from stackrules.records import LearnerRecord
from stackrules.report import Report, dumps

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _split(decls: tuple[str, ...], owners: list[int], n: int) -> list[tuple[str, str]]:
    files = [[d for d, o in zip(decls, owners, strict=True) if o == k] for k in range(n)]
    return [(f"f{k}.stack", "\n".join(ds) + "\n") for k, ds in enumerate(files)]


def _status(report: Report) -> tuple[object, ...]:
    return (
        [(e.credential, e.completed_on, e.expired) for e in report.earned],
        [(c.credential, c.remaining_credits) for c in report.in_progress],
        report.held,
    )


@PROPERTY
@given(scenarios(), st.data())
def test_order_of_rows_and_files_does_not_matter(s: Scenario, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 3))
    owners = data.draw(
        st.lists(st.integers(0, n - 1), min_size=len(s.decls), max_size=len(s.decls))
    )
    files = _split(s.decls, owners, n)
    before = Evaluator(compile_files(files)).evaluate(s.record, s.as_of)

    shuffled_files = data.draw(st.permutations(files))
    rows = data.draw(st.permutations(s.record.achievements))
    record = LearnerRecord(learner=s.record.learner, achievements=tuple(rows))
    after = Evaluator(compile_files(shuffled_files)).evaluate(record, s.as_of)
    assert dumps(after) == dumps(before)

    # the same declarations in another order and other files: positions change, not results
    moved = data.draw(st.permutations(list(s.decls)))
    m = data.draw(st.integers(1, 3))
    owners2 = data.draw(st.lists(st.integers(0, m - 1), min_size=len(moved), max_size=len(moved)))
    elsewhere = Evaluator(compile_files(_split(tuple(moved), owners2, m))).evaluate(record, s.as_of)
    assert _status(elsewhere) == _status(before)


@PROPERTY
@given(scenarios())
def test_same_inputs_give_the_same_bytes(s: Scenario) -> None:
    rules = compile_text(s.text)
    evaluator = Evaluator(rules)
    first = dumps(evaluator.evaluate(s.record, s.as_of))
    assert dumps(evaluator.evaluate(s.record, s.as_of)) == first
    assert dumps(Evaluator(compile_text(s.text)).evaluate(s.record, s.as_of)) == first


@PROPERTY
@given(st.data())
def test_adding_an_achievement_loses_no_credential(data: st.DataObject) -> None:
    s = data.draw(scenarios(monotone=True))
    extra = data.draw(extra_achievements(s))
    evaluator = Evaluator(compile_text(s.text))
    before = evaluator.evaluate(s.record, s.as_of)
    bigger = LearnerRecord(learner=s.record.learner, achievements=(*s.record.achievements, extra))
    after = evaluator.evaluate(bigger, s.as_of)
    had = {e.credential for e in before.earned} | set(before.held)
    has = {e.credential for e in after.earned} | set(after.held)
    assert had <= has, f"lost {sorted(had - has)} by adding {extra!r}"
