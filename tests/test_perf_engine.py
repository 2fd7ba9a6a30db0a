"""The evaluator's speed-ups never change a report.

- The allocator's extra pruning (what the `at least` limits must fall short, bounds that
  leave out what is already used, ties pruned where sums are exact) only cuts branches that
  cannot beat the best allocation: with it switched off, every report is byte-identical.
- Nothing an evaluation makes needs the cyclic garbage collector to be freed.
- Remembered allocation problems are shared between learners: an evaluator that has already
  evaluated other records (here, parts of the same record, so the same rules meet similar
  problems) reports exactly what a fresh evaluator reports.
"""

from __future__ import annotations

import gc
import importlib
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from engine_strategies import Scenario, compile_text, scenarios
from stackrules.check import check_paths
from stackrules.evaluation import allocation as allocate
from stackrules.evaluation.evaluator import Evaluator
from stackrules.model import build
from stackrules.records import Achievement, LearnerRecord
from stackrules.report import Report, dumps
from stackrules.runtime import GEN0_THRESHOLD, tune_gc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import synth

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _plain_bounds(search: allocate._Search, *args: Any) -> tuple[float, float, float]:
    return (0.0, -allocate.INF, -allocate.INF)  # never prunes


def _without_extra_pruning(m: pytest.MonkeyPatch) -> None:
    original_init = allocate._Search.__init__

    def init(
        search: allocate._Search,
        p: allocate.Problem,
        mode: allocate.Mode,
        deadline: float | None = None,
    ) -> None:
        original_init(search, p, mode, deadline)
        search.short_lb = (0.0, 0.0)
        search.margin = 1e-9

    m.setattr(allocate._Search, "_dynamic_lb", _plain_bounds)
    m.setattr(allocate._Search, "__init__", init)


@SETTINGS
@given(s=scenarios())
def test_extra_pruning_never_changes_a_report(s: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = compile_text(s.text)
    fast = dumps(Evaluator(rules).evaluate(s.record, s.as_of))
    with monkeypatch.context() as m:
        _without_extra_pruning(m)
        plain = dumps(Evaluator(rules).evaluate(s.record, s.as_of))
    assert fast == plain


def test_extra_pruning_on_a_synthetic_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Limits, shared leaves and transfer grants, as in the benchmark (small)."""
    catalog = synth.make_catalog(60, 200, seed=11)
    syntax, _ = check_paths([catalog.write(tmp_path / "rules")])
    rules = build(syntax)
    learners = list(synth.make_learners(catalog, 15, seed=12))
    evaluator = Evaluator(rules)
    fast = [dumps(evaluator.evaluate(r, synth.AS_OF)) for r in learners]
    with monkeypatch.context() as m:
        _without_extra_pruning(m)
        plain = [dumps(Evaluator(rules).evaluate(r, synth.AS_OF)) for r in learners]
    assert fast == plain


def _parts(record: LearnerRecord) -> list[LearnerRecord]:
    """Records that meet the same rules with similar problems: parts of the record, and the
    record with other grades and dates (the memory must tell them apart where it matters)."""
    rows = record.achievements
    regraded = [
        tuple(a.model_copy(update={"grade": g}) for a in rows) for g in ("A", "C", "D", None)
    ]
    redated = [
        tuple(a.model_copy(update={"completed_on": d}) for a in rows)
        for d in (None, date(2015, 1, 1))
    ]
    variants = [rows[::2], rows[1::2], rows[:-1], rows[1:], *regraded, *redated]
    return [
        LearnerRecord(learner=f"{record.learner}-{k}", achievements=part)
        for k, part in enumerate(variants)
    ]


@SETTINGS
@given(s=scenarios())
def test_shared_memory_of_problems_never_changes_a_report(s: Scenario) -> None:
    rules = compile_text(s.text)
    fresh = dumps(Evaluator(rules).evaluate(s.record, s.as_of))
    warm = Evaluator(rules)
    for part in _parts(s.record):
        warm.evaluate(part, s.as_of)
    assert dumps(warm.evaluate(s.record, s.as_of)) == fresh
    # and the parts themselves, evaluated after the whole record
    for part in _parts(s.record):
        assert dumps(warm.evaluate(part, s.as_of)) == dumps(
            Evaluator(rules).evaluate(part, s.as_of)
        )


def _as_fresh(evaluator: Evaluator, record: LearnerRecord, as_of: date) -> Report:
    """The report of an evaluator that has seen other learners, checked against a fresh one's."""
    found = evaluator.evaluate(record, as_of)
    assert dumps(found) == dumps(Evaluator(evaluator.rules).evaluate(record, as_of))
    return found


def test_learners_who_differ_only_in_dates_and_grades_share_a_search() -> None:
    text = (
        "issuer A\ncourse A:X credits 3 subject M\ncourse A:Y credits 3 subject M\n"
        "course A:Z credits 3 subject M\n"
        "credential A:C { r: all of (A:X, A:Y) s: 6 credits from subject M "
        "limit at most 3 credits from (A:Z) }"
    )
    rules = compile_text(text)
    evaluator = Evaluator(rules)

    def record(name: str, grade: str, day: date) -> LearnerRecord:
        rows = tuple(Achievement(item=i, grade=grade, completed_on=day) for i in ("A:X", "A:Z"))
        return LearnerRecord(learner=name, achievements=rows)

    first = evaluator.evaluate(record("L1", "A", date(2020, 1, 1)), date(2024, 1, 1))
    solved = len(evaluator.problems.solved)
    second = evaluator.evaluate(record("L2", "C", date(2021, 5, 1)), date(2024, 1, 1))
    assert len(evaluator.problems.solved) == solved  # the second learner's search was remembered
    fresh = Evaluator(rules).evaluate(record("L2", "C", date(2021, 5, 1)), date(2024, 1, 1))
    assert dumps(second) == dumps(fresh)
    assert first.in_progress[0].remaining == second.in_progress[0].remaining


def test_learners_with_other_electives_of_the_same_value_share_a_search() -> None:
    """An item no identifier leaf names matters to the search only by its values: learners
    with different such electives share one search. An item that one names (it could become
    a second copy) is part of what is remembered."""
    text = (
        "issuer A\n"
        + "".join(f"course A:E{k} credits 3 subject M\n" for k in range(4))
        + "credential A:C { r: all of (A:E0) s: 9 credits from subject M }"
    )
    rules = compile_text(text)
    evaluator = Evaluator(rules)
    as_of = date(2024, 1, 1)

    def report(name: str, *items: str) -> Report:
        rows = tuple(Achievement(item=i, grade="B") for i in items)
        return _as_fresh(evaluator, LearnerRecord(learner=name, achievements=rows), as_of)

    report("L1", "A:E1")
    solved = len(evaluator.problems.solved)
    report("L2", "A:E2")  # another elective, the same credits: the same search
    assert len(evaluator.problems.solved) == solved
    report("L3", "A:E0")  # the item `r` names: a search of its own
    assert len(evaluator.problems.solved) > solved


def test_sources_of_the_same_grade_and_date_order_share_a_search() -> None:
    """An equivalency picks its sources by the order of their grades and dates, not by the
    grades and dates themselves: learners whose candidates rank alike share one search and
    get the sources a fresh evaluator picks; another order is a search of its own."""
    rules = compile_text(
        "issuer A\nissuer B\ncourse A:X credits 3\ncourse A:Y credits 3\n"
        "equivalency B:EQ { from any of (A:X, A:Y) grant B:Z credits 3 }"
    )
    evaluator = Evaluator(rules)
    as_of = date(2024, 1, 1)

    def sources(name: str, x: tuple[str, date], y: tuple[str, date]) -> list[str]:
        rows = (
            Achievement(item="A:X", grade=x[0], completed_on=x[1]),
            Achievement(item="A:Y", grade=y[0], completed_on=y[1]),
        )
        found = _as_fresh(evaluator, LearnerRecord(learner=name, achievements=rows), as_of)
        (transfer,) = found.transfers
        return transfer.from_

    assert sources("L1", ("B", date(2020, 1, 1)), ("A", date(2019, 1, 1))) == ["A:Y"]
    solved = len(evaluator.problems.solved)
    # other grades and dates, in the same order: the same search, the same pick
    assert sources("L2", ("C", date(2021, 3, 1)), ("A-", date(2020, 3, 1))) == ["A:Y"]
    assert len(evaluator.problems.solved) == solved
    # the other order: a search of its own
    assert sources("L3", ("A", date(2020, 1, 1)), ("B", date(2019, 1, 1))) == ["A:X"]
    assert len(evaluator.problems.solved) > solved


def test_remembered_problems_are_bounded_forgetting_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for two problems, a third forgets the one used longest ago, not the one a
    learner has just met again; every answer stays the one a fresh evaluator gives."""
    evaluate = importlib.import_module("stackrules.evaluation.problems")
    monkeypatch.setattr(evaluate, "SOLVED_CACHE", 2)
    rules = compile_text(
        "issuer A\n"
        + "".join(f"course A:C{k} credits 3 subject M\n" for k in range(4))
        + "credential A:D { r: 12 credits from subject M }"
    )
    evaluator = Evaluator(rules)
    searches: list[int] = []
    real_solve = evaluate.solve

    def counting(*args: Any, **kwargs: Any) -> Any:
        searches.append(1)
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(evaluate, "solve", counting)

    texts: list[tuple[LearnerRecord, str]] = []

    def run(*courses: int) -> None:
        rows = tuple(Achievement(item=f"A:C{k}", grade="A") for k in courses)
        record = LearnerRecord(learner="L", achievements=rows)
        texts.append((record, dumps(evaluator.evaluate(record, date(2024, 1, 1)))))

    run(0)
    run(0, 1)
    assert len(searches) == 2
    run(0)  # met again: now the most recently used
    assert len(searches) == 2
    run(0, 1, 2)  # a third problem: (0, 1) goes
    assert len(searches) == 3 and len(evaluator.problems.solved) == 2
    run(0)
    assert len(searches) == 3
    run(0, 1)
    assert len(searches) == 4
    monkeypatch.undo()
    for record, text in texts:
        assert text == dumps(Evaluator(rules).evaluate(record, date(2024, 1, 1)))


def test_bench_eval_reports_write_then_compare(tmp_path: Path) -> None:
    import bench_eval

    path = tmp_path / "golden.jsonl"
    args = ["--credentials", "20", "--lines", "60", "--learners", "3", "--reports", str(path)]
    for _ in range(2):  # write, then compare with what was written
        with pytest.raises(SystemExit) as done:
            bench_eval.main(args)
        assert done.value.code == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all("<rules>/" in line for line in lines)
    path.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n")
    with pytest.raises(SystemExit) as done:
        bench_eval.main(args)
    assert done.value.code == 1


def test_evaluation_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    """Everything an evaluation makes is freed by reference counting: the cyclic collector
    finds nothing (its passes over the evaluator's heap once cost two fifths of the time)."""
    catalog = synth.make_catalog(60, 200, seed=11)
    syntax, _ = check_paths([catalog.write(tmp_path / "rules")])
    evaluator = Evaluator(build(syntax))
    learners = list(synth.make_learners(catalog, 12, seed=12))
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for record in learners:
            dumps(evaluator.evaluate(record, synth.AS_OF))
        gc.collect()
        garbage = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert garbage == []


def test_tune_gc_raises_only_the_first_threshold() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_gc()
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
        gc.set_threshold(50_000, 5, 5)
        tune_gc()
        assert gc.get_threshold() == (50_000, 5, 5)  # never lowered
        gc.set_threshold(0, 10, 10)  # 0 switches automatic collection off: left so
        tune_gc()
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*saved)


def test_remembered_light_verdicts_stay_under_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over every requirement tree an evaluator remembers at most `LIGHT_BUDGET` light
    verdicts (a batch worker meets ever new holdings), and forgetting them changes no
    report."""
    problems = importlib.import_module("stackrules.evaluation.problems")
    monkeypatch.setattr(problems, "LIGHT_BUDGET", 40)
    catalog = synth.make_catalog(60, 200, seed=11)
    rules = build(check_paths([catalog.write(tmp_path / "rules")])[0])
    learners = list(synth.make_learners(catalog, 15, seed=12))
    evaluator = Evaluator(rules)
    most = 0
    for record in learners:
        text = dumps(evaluator.evaluate(record, synth.AS_OF))
        templates = evaluator.problems._templates.values()
        kept = sum(len(t[1].light) for t in {id(t[1]): t for t in templates}.values())
        most = max(most, kept)
        assert kept <= 40
        assert text == dumps(Evaluator(rules).evaluate(record, synth.AS_OF))
    assert most > 0  # (verdicts were remembered, then forgotten)
