"""What a report shows (`semantics.md` §6): pursued credentials and the K nearest others.

Golden cases on a small catalog (pursued started / not started / earned / not offered,
`--target`, `--in-progress 0|3|all`, `started`, `--learner`), and properties on random rule
sets: the earned set and transfers are the same for every K, and the K shown are exactly the
first K of the `all` list ranked by missing credits, then missing items, then identifier.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stackrules
from engine_strategies import Scenario, compile_text, scenarios
from stackrules.cli import cli
from stackrules.evaluation.evaluator import Evaluator
from stackrules.model import Equivalency
from stackrules.records import LearnerRecord
from stackrules.report import Report
from stackrules.schemas import load_schema
from stackrules.textreport import render_text

AS_OF = date(2026, 11, 22)

CATALOG = """\
issuer X "Example College"
course X:A "A" credits 3
course X:B "B" credits 3
course X:C "C" credits 3
course X:D "D" credits 3
course X:E "E" credits 3
course X:F "F" credits 3
credential X:ONE "Needs A" { req: X:A }
credential X:AB "A and B" { req: all of (X:A, X:B) }
credential X:ABC "A, B and C" { req: all of (X:A, X:B, X:C) }
credential X:ABCD "A to D" { req: all of (X:A, X:B, X:C, X:D) }
credential X:AE "A and E" { req: all of (X:A, X:E) }
credential X:AEF "A, E and F" { req: all of (X:A, X:E, X:F) }
credential X:AF2 "A and six credits" { a: X:A
    more: 6 credits from issuer X }
credential X:EF "E and F" { req: all of (X:E, X:F) }
credential X:NEW "Programme from 2030" {
    effective 2030-01-01
    req: X:E
}
"""


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scope")
    (folder / "catalog.stack").write_text(CATALOG)
    return folder


@pytest.fixture(scope="module")
def rules(rules_dir: Path) -> stackrules.CompiledRules:
    compiled, diagnostics = stackrules.load_rules([rules_dir])
    assert compiled is not None, [d.render() for d in diagnostics]
    return compiled


def _record(*items: str, pursuing: tuple[str, ...] = (), learner: str = "L1") -> LearnerRecord:
    return LearnerRecord.model_validate(
        {
            "learner": learner,
            "catalog_date": "2024-09-01",
            "pursuing": list(pursuing),
            "achievements": [
                {"item": i, "grade": "B", "completed_on": "2024-05-01"} for i in items
            ],
        }
    )


def _shown(report: Report) -> list[str]:
    return [p.credential for p in report.in_progress]


def test_the_k_nearest_are_the_least_to_do(rules: stackrules.CompiledRules) -> None:
    # Holding A: every credential but X:EF and X:NEW is started. ONE is earned; least to do
    # (credits, items): AB and AE (3, 1), AF2 (6, 1: an amount is one item), ABC and AEF
    # (6, 2), ABCD (9, 3).
    record = _record("X:A")
    everything = stackrules.evaluate(rules, record, AS_OF, in_progress=None)
    assert [e.credential for e in everything.earned] == ["X:ONE"]
    assert _shown(everything) == ["X:AB", "X:ABC", "X:ABCD", "X:AE", "X:AEF", "X:AF2"]
    assert everything.started == 6
    ranked = sorted(
        everything.in_progress, key=lambda p: (p.remaining_credits, p.remaining_items, p.credential)
    )
    assert [p.credential for p in ranked] == ["X:AB", "X:AE", "X:AF2", "X:ABC", "X:AEF", "X:ABCD"]
    three = stackrules.evaluate(rules, record, AS_OF, in_progress=3)
    assert _shown(three) == ["X:AB", "X:AE", "X:AF2"]  # sorted by identifier, as always
    assert three.started == 6 and three.in_progress_limit == 3
    assert three.in_progress == [p for p in everything.in_progress if p.credential in _shown(three)]
    none = stackrules.evaluate(rules, record, AS_OF, in_progress=0)
    assert none.in_progress == [] and none.started == 6
    assert none.earned == everything.earned and none.transfers == everything.transfers


def test_a_pursued_credential_is_always_reported(rules: stackrules.CompiledRules) -> None:
    record = _record("X:A", pursuing=("X:ONE", "X:ABCD", "X:EF", "X:NEW"))
    report = stackrules.evaluate(rules, record, AS_OF, in_progress=1)
    # earned and pursued
    assert [(e.credential, e.pursued) for e in report.earned] == [("X:ONE", True)]
    entries = {p.credential: p for p in report.in_progress}
    # X:ABCD (started, far), X:EF (not started), X:NEW (not offered), and the one nearest other
    assert sorted(entries) == ["X:AB", "X:ABCD", "X:EF", "X:NEW"]
    assert entries["X:ABCD"].pursued and entries["X:ABCD"].remaining_credits == 9
    assert not entries["X:AB"].pursued
    not_started = entries["X:EF"]
    assert not_started.pursued and not_started.offered
    assert not_started.remaining_credits == 6
    assert [(r.requirement, r.need, r.options) for r in not_started.remaining] == [
        ("req", 2, ["X:E", "X:F"])
    ]
    new = entries["X:NEW"]
    assert new.pursued and not new.offered and new.remaining == []
    # started counts credentials in progress (X:EF and X:NEW are not), shown or not
    assert report.started == 6
    jsonschema.validate(json.loads(stackrules.report.dumps(report)), load_schema("report"))


def test_targets_are_pursued_by_every_learner(rules: stackrules.CompiledRules) -> None:
    report = stackrules.evaluate(rules, _record("X:A"), AS_OF, targets=("X:EF",), in_progress=0)
    assert [(p.credential, p.pursued) for p in report.in_progress] == [("X:EF", True)]


def test_what_is_earned_never_depends_on_k(rules: stackrules.CompiledRules) -> None:
    record = _record("X:A", "X:B", "X:E")
    reports = [stackrules.evaluate(rules, record, AS_OF, in_progress=k) for k in (0, 1, 3, None)]
    for r in reports[1:]:
        assert r.earned == reports[0].earned
        assert r.transfers == reports[0].transfers
        assert r.not_counted == reports[0].not_counted
        assert r.started == reports[0].started


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _write_records(folder: Path, *records: LearnerRecord) -> Path:
    path = folder / "learners.jsonl"
    path.write_text("".join(r.model_dump_json(exclude_defaults=True) + "\n" for r in records))
    return path


def test_cli_target_in_progress_and_learner(rules_dir: Path, tmp_path: Path) -> None:
    records = _write_records(tmp_path, _record("X:A"), _record("X:E", learner="L2"))
    day = ("--as-of", AS_OF.isoformat())
    code, out, _ = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), *day, "--format", "jsonl",
        "--target", "X:EF", "--in-progress", "2", "--learner", "L2",
    )  # fmt: skip
    assert code == 0
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["schema"] == "stackrules/report/v2"
    assert report["learner"] == "L2"
    assert [(p["credential"], p["pursued"]) for p in report["in_progress"]] == [
        ("X:AE", False),
        ("X:AEF", False),
        ("X:EF", True),
    ]
    code, out, _ = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), *day, "--format", "text",
        "--learner", "L1", "--in-progress", "1",
    )  # fmt: skip
    assert code == 0
    assert "6 credentials started; 1 nearest shown; `--in-progress all` for every one" in out
    code, out, _ = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), *day, "--format", "text",
        "--learner", "L1", "--in-progress", "all",
    )  # fmt: skip
    assert "6 credentials started; all shown" in out


def test_cli_unknown_identifiers_are_reported(rules_dir: Path, tmp_path: Path) -> None:
    records = _write_records(tmp_path, _record("X:A"), _record("X:E", learner="L2"))
    day = ("--as-of", AS_OF.isoformat())
    code, _, err = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), *day, "--target", "X:EFF"
    )
    assert code == 2
    assert "`X:EFF` is not a credential of the rule set; did you mean `X:EF`?" in err
    code, out, err = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), *day, "--format", "jsonl",
        "--learner", "L1", "--learner", "L3",
    )  # fmt: skip
    assert code == 2
    assert [json.loads(line)["learner"] for line in out.splitlines()] == ["L1"]
    assert "learner `L3` (--learner) is not in the file" in err
    bad = _write_records(tmp_path, _record("X:A", pursuing=("X:AB", "X:ABX")))
    code, _, err = _cli("evaluate", "--rules", str(rules_dir), str(bad), *day)
    assert code == 3
    assert "learner L1" in err and "field `pursuing[1]`" in err
    assert "did you mean `X:AB" in err


def test_batch_target_learner_and_csv_pursuing(rules_dir: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "learners.csv"
    csv_file.write_text(
        "learner,item,grade,completed_on,pursuing\n"
        "L1,X:A,B,2024-05-01,\n"
        "L2,X:E,B,2024-05-01,X:EF\n"
        "L1,,,,X:ABCD;X:NEW\n"
        "L3,X:F,A,2024-05-01,\n"
    )
    out = tmp_path / "out.csv"
    code, _, err = _cli(
        "batch", "--rules", str(rules_dir), "--records", str(csv_file), "--out", str(out),
        "--format", "csv", "--as-of", AS_OF.isoformat(), "--in-progress", "0",
        "--learner", "L1", "--learner", "L2",
    )  # fmt: skip
    assert code == 0, err
    assert "2 learners read, 2 reported, 0 in error" in err
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert rows[0][-2:] == ["pursued", "started"]
    assert [(r[0], r[1], r[2], r[-2], r[-1]) for r in rows[1:]] == [
        ("L1", "X:ONE", "earned", "false", "6"),
        ("L1", "X:ABCD", "in-progress", "true", "6"),
        ("L1", "X:NEW", "not-offered", "true", "6"),
        ("L2", "X:EF", "in-progress", "true", "4"),
    ]
    code, _, err = _cli(
        "batch", "--rules", str(rules_dir), "--records", str(csv_file), "--as-of",
        AS_OF.isoformat(), "--learner", "L9",
    )  # fmt: skip
    assert code == 2 and "learner `L9` (--learner) is not in the file" in err
    code, _, err = _cli(
        "batch", "--rules", str(rules_dir), "--records", str(csv_file), "--target", "X:NOPE"
    )
    assert code == 2 and "--target" in err


# ---------------------------------------------------------------- properties

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rank(report: Report) -> list[str]:
    ranked = sorted(
        report.in_progress, key=lambda p: (p.remaining_credits, p.remaining_items, p.credential)
    )
    return [p.credential for p in ranked]


@PROPERTY
@given(scenarios(), st.data())
def test_the_k_shown_are_the_first_k_of_all(s: Scenario, data: st.DataObject) -> None:
    ruleset = compile_text(s.text)
    evaluator = Evaluator(ruleset)
    credentials = sorted(ruleset.credentials)
    pursued = tuple(data.draw(st.lists(st.sampled_from(credentials), max_size=2, unique=True)))
    record = s.record.model_copy(update={"pursuing": pursued})
    everything = evaluator.evaluate(record, s.as_of, in_progress=None)
    for k in (0, 1, 2, 3):
        scoped = Evaluator(ruleset).evaluate(record, s.as_of, in_progress=k)
        assert scoped.earned == everything.earned
        assert scoped.transfers == everything.transfers
        assert scoped.not_counted == everything.not_counted
        assert scoped.held == everything.held
        assert scoped.started == everything.started
        others = [c for c in _rank(everything) if c not in pursued]
        expected = set(others[:k]) | {p.credential for p in everything.in_progress if p.pursued}
        assert {p.credential for p in scoped.in_progress} == expected
        by_id = {p.credential: p for p in everything.in_progress}
        for entry in scoped.in_progress:
            assert entry.model_dump_json() == by_id[entry.credential].model_dump_json()


@PROPERTY
@given(scenarios())
def test_a_one_line_transfer_looked_up_is_what_the_search_finds(s: Scenario) -> None:
    ruleset = compile_text(s.text)
    searched = Evaluator(ruleset)
    searched.look_up_one_source = False
    assert (
        Evaluator(ruleset).evaluate(s.record, s.as_of).model_dump_json()
        == searched.evaluate(s.record, s.as_of).model_dump_json()
    )


def test_a_transfer_table_line_is_looked_up_not_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    # `A => B` in a transfer block is read as a list of one: it still takes the look-up, and
    # picks what the search picks (the best grade of the three attempts, then the latest)
    ruleset = compile_text(
        'issuer Y "Y"\nissuer Z "Z"\ncourse Y:A "A" credits 3\ncourse Z:B "B" credits 3\n'
        "transfer Y => Z { Y:A => Z:B min grade C }\n"
    )
    record = LearnerRecord.model_validate(
        {
            "learner": "L1",
            "achievements": [
                {"item": "Y:A", "grade": grade, "completed_on": day}
                for grade, day in (("B", "2024-05-01"), ("A-", "2023-05-01"), ("A-", "2025-01-05"))
            ],
        }
    )
    searched = Evaluator(ruleset)
    searched.look_up_one_source = False
    expected = searched.evaluate(record, AS_OF)
    looked_up = Evaluator(ruleset)
    searches: list[object] = []
    original = looked_up.problems.solve_remembered

    def counted(rule: object, *args: object) -> object:
        searches.append(rule)
        return original(rule, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(looked_up.problems, "solve_remembered", counted)
    found = looked_up.evaluate(record, AS_OF)
    assert found.model_dump_json() == expected.model_dump_json()
    assert [t.completed_on for t in found.transfers] == [date(2025, 1, 5)]
    assert not [r for r in searches if isinstance(r, Equivalency)]


def test_a_defect_evaluating_one_learner_is_that_learners_error(
    rules_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _write_records(tmp_path, _record("X:A"), _record("X:E", learner="L2"))
    original = Evaluator.evaluate

    def broken(self: Evaluator, record: LearnerRecord, *args: object, **kwargs: object) -> Report:
        if record.learner == "L1":
            raise ZeroDivisionError("a defect")
        return original(self, record, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Evaluator, "evaluate", broken)
    code, out, err = _cli(
        "evaluate", "--rules", str(rules_dir), str(records), "--as-of", AS_OF.isoformat(),
        "--format", "jsonl",
    )  # fmt: skip
    assert code == 3
    assert [json.loads(line)["learner"] for line in out.splitlines()] == ["L2"]
    assert "learner L1" in err and "internal error while evaluating" in err
    assert "ZeroDivisionError: a defect" in err


def test_an_identifier_not_in_its_issuers_catalog_gets_a_warning(
    rules: stackrules.CompiledRules,
) -> None:
    """Issue 18: a misspelt course no longer lands silently in `unused`."""
    record = _record("X:A", "X:BB", "OTHER:Z1")
    report = stackrules.evaluate(rules, record, AS_OF)
    assert [(w.item, w.message) for w in report.warnings] == [
        ("X:BB", "`X:BB` is not in the catalog of issuer `X`; did you mean `X:B`?")
    ]
    assert "WARNINGS\n  X:BB: `X:BB` is not in the catalog" in render_text(report)
    clean = stackrules.evaluate(rules, _record("X:A"), AS_OF)
    assert "warnings" not in json.loads(stackrules.report.dumps(clean))
