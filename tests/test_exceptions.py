"""Registrar exceptions (`exceptions.md`): every kind, from the record and from a file, the
exactness of the allocation under them, their audit trail and their errors.

Golden cases on a small catalog: each kind changes what it should and nothing else, from the
record's `exceptions` and from `--exceptions FILE` (JSON Lines and CSV) alike; a directive and
a substitution are constraints on the exact search, never first-fit placements; limits still
bind a grant; an exception never lets a failed achievement in; one that changes nothing says
why. Bad exceptions are record errors (exit 3) naming the learner, the id, the field and a
did-you-mean. A learner without exceptions gets the report it got before exceptions existed.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

import stackrules
from engine_strategies import compile_text
from stackrules.batch import evaluate_many
from stackrules.cli import cli
from stackrules.evaluation.evaluator import Evaluator
from stackrules.records import LearnerRecord
from stackrules.records.errors import RecordError
from stackrules.report import Report, dumps
from stackrules.schemas import load_schema
from stackrules.textreport import render_text

AS_OF = date(2026, 11, 22)
APPROVAL = {"approved_by": "registrar", "approved_on": "2026-01-05"}

CATALOG = """\
issuer X "Example College"
issuer Y "Other College"
course X:M100 "Calculus" credits 3 subject MATH
course X:M151 "Calculus (honours)" credits 3 subject MATH
course X:M200 "Algebra" credits 3 subject MATH
course X:S200 "Statistics" credits 3 subject STAT
course X:E100 "English" credits 3 subject ENGL
course X:E200 "Writing" credits 3 subject ENGL
course Y:CALC "Calculus" credits 3 subject MATH
course Y:ALG "Algebra" credits 3 subject MATH
credential X:BSC "Science" {
    core: any of (X:M100, X:S200)
    extra: 3 credits from subject MATH
}
credential X:BA "Arts" {
    core: all of (X:M100, X:E100)
    more: 6 credits from issuer X
    limit at most 3 credits from subject MATH
}
credential X:TWO "Two of three" {
    pick: 2 of (X:M100, X:S200, X:E200)
}
credential X:TR "Transfer capped" {
    math: 6 credits from issuer X and subject MATH
    limit at most 3 credits from transfer
}
"""


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator(compile_text(CATALOG))


def ach(item: str, grade: str = "B", **more: Any) -> dict[str, Any]:
    return {"item": item, "grade": grade, **more}


def exc(ident: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "kind": kind, **fields, **APPROVAL}


def run(
    ev: Evaluator, achievements: list[dict[str, Any]], exceptions: list[dict[str, Any]]
) -> Report:
    record = LearnerRecord.model_validate(
        {"learner": "L", "achievements": achievements, "exceptions": exceptions}
    )
    return ev.evaluate(record, AS_OF, in_progress=None)


def earned(r: Report) -> set[str]:
    return {c.credential for c in r.earned}


def requirement(r: Report, cred: str, name: str) -> Any:
    for c in [*r.earned, *r.in_progress]:
        if c.credential == cred:
            return next(q for q in c.requirements if q.name == name)
    raise AssertionError(f"{cred} not reported")


def effects(r: Report) -> dict[str, tuple[bool, str]]:
    return {e.id: (e.applied, e.effect) for e in r.exceptions}


# ---------------------------------------------------------------- each kind


def test_waive_requirement_is_met_with_no_evidence(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:E100")]
    assert "X:BA" not in earned(run(evaluator, achs, []))  # `more` needs 6 more credits
    r = run(evaluator, achs, [exc("W1", "waive", credential="X:BA", requirement="more")])
    assert "X:BA" in earned(r)
    more = requirement(r, "X:BA", "more")
    assert more.met and more.evidence == [] and more.exceptions == ["W1"]
    assert effects(r) == {"W1": (True, "X:BA more: waived")}


def test_waive_limit(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:E100"), ach("X:M151"), ach("X:M200")]
    assert "X:BA" not in earned(run(evaluator, achs, []))  # at most 3 MATH credits
    waiver = exc("W2", "waive", credential="X:BA", limit="at most 3  credits from subject MATH")
    r = run(evaluator, achs, [waiver])
    assert "X:BA" in earned(r)
    assert effects(r)["W2"][0]
    # still shown, holding whatever is counted, naming its waiver (as a waived requirement)
    (ba,) = [c for c in r.earned if c.credential == "X:BA"]
    (limit,) = ba.limits
    assert limit.text == "limit at most 3 credits from subject MATH"
    assert limit.met and limit.value == 9 and limit.exceptions == ["W2"]
    assert all(lim.exceptions == [] for c in r.earned if c is not ba for lim in c.limits)


def test_adjust_amount_and_count(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:E100"), ach("X:E200")]
    r = run(evaluator, achs, [exc("A1", "adjust", credential="X:BA", requirement="more", amount=3)])
    assert "X:BA" in earned(r)
    assert requirement(r, "X:BA", "more").exceptions == ["A1"]
    r = run(
        evaluator,
        [ach("X:M100")],
        [exc("A2", "adjust", credential="X:TWO", requirement="pick", amount=1)],
    )
    assert "X:TWO" in earned(r)
    assert effects(r)["A2"] == (True, "X:TWO pick: 2 of 3 becomes 1")


def test_adjust_limit(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:E100"), ach("X:M151"), ach("X:M200")]
    adjust = exc(
        "A3", "adjust", credential="X:BA", limit="at most 3 credits from subject MATH", amount=9
    )
    r = run(evaluator, achs, [adjust])
    assert "X:BA" in earned(r)
    (limit,) = next(c for c in r.earned if c.credential == "X:BA").limits
    assert limit.met and limit.value == 9 and limit.exceptions == ["A3"]
    adjust["amount"] = 8.5
    assert "X:BA" not in earned(run(evaluator, achs, [adjust]))


def test_what_remains_against_an_adjustment_names_it() -> None:
    """In progress, what remains of an adjusted requirement or limit is counted against the
    new amount, and the entry names the adjustment (its text stays the rules')."""
    ev = Evaluator(
        compile_text(
            CATALOG
            + """credential X:RES "Residency" {
    core: 9 credits from issuer X
    limit at least 6 credits from subject ENGL
}
"""
        )
    )
    achs = [ach("X:M100"), ach("X:E100")]
    plain = next(c for c in run(ev, achs, []).in_progress if c.credential == "X:RES")
    assert [(r.requirement, r.need, r.exceptions) for r in plain.remaining] == [
        ("core", 3, []),
        ("limit", 3, []),
    ]
    adjusted = run(
        ev,
        achs,
        [
            exc("A4", "adjust", credential="X:RES", requirement="core", amount=12),
            exc("A5", "adjust", credential="X:RES", limit="at least 6 credits from subject ENGL",
                amount=4.5),
        ],
    )  # fmt: skip
    res = next(c for c in adjusted.in_progress if c.credential == "X:RES")
    assert [(r.requirement, r.need, r.exceptions) for r in res.remaining] == [
        ("core", 6, ["A4"]),
        ("limit", 1.5, ["A5"]),
    ]
    assert res.remaining[1].limit == "at least 6 credits from subject ENGL"
    text = render_text(adjusted)
    assert "for core (adjusted by A4)" in text
    assert "(adjusted by A5)" in text


def test_text_audit_names_the_waiver_of_a_limit(files: Path) -> None:
    record = {"learner": "L1", "achievements": [ach(i) for i in ("X:M100", "X:E100", "X:M151")]}
    record["achievements"].append(ach("X:M200"))
    (files / "learners.json").write_text(json.dumps(record))
    (files / "exc.csv").write_text(
        "learner,id,kind,credential,limit,approved_by,approved_on\n"
        "L1,W9,waive,X:BA,at most 3 credits from subject MATH,Dean,2026-03-01\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.csv"), "--format", "text")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    k = next(i for i, line in enumerate(lines) if "limit at most 3 credits" in line)
    assert lines[k].startswith("    [holds] limit at most 3 credits from subject MATH: counted 9")
    assert lines[k + 1] == "        by exception W9 (waive, approved by Dean on 2026-03-01)"
    jsonschema.validate(
        json.loads(cli_run(files, "--exceptions", str(files / "exc.csv")).output),
        load_schema("report"),
    )


def test_substitute(evaluator: Evaluator) -> None:
    achs = [ach("X:M151"), ach("X:E100")]
    sub = exc("S1", "substitute", credential="X:BA", item="X:M151", **{"for": "X:M100"})
    r = run(evaluator, [*achs, ach("X:E200"), ach("X:S200")], [sub])
    assert "X:BA" in earned(r)
    core = requirement(r, "X:BA", "core")
    assert core.exceptions == ["S1"]
    assert [e.exceptions for e in core.evidence if e.item == "X:M151"] == [["S1"]]
    assert effects(r)["S1"] == (True, "X:BA: X:M151 counted for X:M100")
    # only under the named requirement, and only in that credential
    r = run(evaluator, achs, [{**sub, "requirement": "more"}])
    assert effects(r)["S1"] == (False, "no requirement of `X:BA more` names `X:M100`")
    assert "X:BSC" not in earned(run(evaluator, [ach("X:M151")], [sub]))


def test_substitution_is_exact_not_first_fit(evaluator: Evaluator) -> None:
    # X:M151 (A, the best grade, tried first) may stand for X:M100 in `core`, and `more` also
    # takes it; at most 3 MATH credits count. Only X:M151 in `core` with X:E200 + X:S200 in
    # `more` earns X:BA: a placement of X:M151 in `more` first (best grade first) would leave
    # `core` short, and X:M200 anywhere breaks the limit.
    sub = exc("S1", "substitute", credential="X:BA", item="X:M151", **{"for": "X:M100"})
    achs = [ach("X:M151", "A"), ach("X:E100"), ach("X:M200"), ach("X:E200"), ach("X:S200")]
    r = run(evaluator, achs, [sub])
    assert "X:BA" in earned(r)
    assert {e.item for e in requirement(r, "X:BA", "core").evidence} == {"X:M151", "X:E100"}


def test_also_allow(evaluator: Evaluator) -> None:
    allow = exc("AA", "also-allow", credential="X:BSC", requirement="extra", item="X:S200")
    allow = {**allow, "item": "X:E200"}
    r = run(evaluator, [ach("X:S200"), ach("X:E200")], [allow])
    assert "X:BSC" in earned(r)
    extra = requirement(r, "X:BSC", "extra")
    assert extra.exceptions == ["AA"] and [e.item for e in extra.evidence] == ["X:E200"]
    assert "X:BSC" not in earned(run(evaluator, [ach("X:S200"), ach("X:E200")], []))


def test_apply_is_a_constraint_not_a_placement(evaluator: Evaluator) -> None:
    # the case: MATH100 directed to `extra` leaves `core` unmet without STAT200
    directive = exc("D1", "apply", credential="X:BSC", requirement="extra", item="X:M100")
    assert "X:BSC" in earned(run(evaluator, [ach("X:M100"), ach("X:M151")], []))
    r = run(evaluator, [ach("X:M100"), ach("X:M151")], [directive])
    assert "X:BSC" not in earned(r)
    assert not requirement(r, "X:BSC", "core").met
    # with STAT200 for `core`, it is earned and MATH100 counts under `extra`
    r = run(evaluator, [ach("X:M100"), ach("X:S200")], [directive])
    assert "X:BSC" in earned(r)
    extra = requirement(r, "X:BSC", "extra")
    assert [e.item for e in extra.evidence] == ["X:M100"] and extra.exceptions == ["D1"]


def test_exclude_everywhere_and_in_one_credential(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:S200"), ach("X:M151")]
    r = run(evaluator, achs, [exc("X1", "exclude", item="X:M100")])
    assert "X:BSC" in earned(r)  # S200 for core, M151 for extra
    assert [(n.item, n.reason, n.rule) for n in r.not_counted] == [("X:M100", "excluded", "X1")]
    assert "X:M100" not in {e.item for c in r.earned for q in c.requirements for e in q.evidence}
    r = run(evaluator, [ach("X:M100")], [exc("X2", "exclude", item="X:M100", credential="X:BSC")])
    assert "X:BSC" not in earned(r)
    assert r.not_counted == []
    assert "X:TWO" not in earned(r)  # still counts elsewhere: X:TWO needs two
    assert "X:M100" in {
        e.item
        for c in r.in_progress
        if c.credential == "X:TWO"
        for q in c.requirements
        for e in q.evidence
    }


def test_grant_with_transfer_source_counts_against_a_transfer_cap(evaluator: Evaluator) -> None:
    grant = exc("G1", "grant", item="X:M200", **{"from": ["Y:ALG"]})
    r = run(evaluator, [ach("Y:ALG", "A-"), ach("X:M100")], [grant])
    assert "X:TR" in earned(r)
    (t,) = r.transfers
    assert (t.rule, t.source, t.from_, t.grants) == ("G1", "exception", ["Y:ALG"], ["X:M200"])
    # two grants from another issuer: 6 transfer credits, the cap is 3
    grant2 = exc("G2", "grant", item="X:M151", **{"from": ["Y:CALC"]})
    r = run(evaluator, [ach("Y:ALG"), ach("Y:CALC")], [grant, grant2])
    assert "X:TR" not in earned(r)
    # a grant and its source are one unit of evidence: never counted together
    statistics = exc("G3", "grant", item="X:S200", **{"from": ["Y:CALC"]})
    r = run(evaluator, [ach("Y:CALC")], [statistics])
    assert "X:BSC" not in earned(r)
    assert "X:BSC" in earned(run(evaluator, [ach("Y:CALC"), ach("Y:ALG")], [statistics]))


def test_grant_without_source_is_plar(evaluator: Evaluator) -> None:
    r = run(evaluator, [ach("X:M151")], [exc("P1", "grant", item="X:S200", credits=3, grade="P")])
    assert "X:BSC" in earned(r)
    core = requirement(r, "X:BSC", "core")
    assert core.exceptions == ["P1"]
    (e,) = core.evidence
    assert (e.origin, e.rule, e.source, e.grade) == ("granted", "P1", "exception", "P")


def test_never_lets_a_failed_achievement_in(evaluator: Evaluator) -> None:
    sub = exc("S1", "substitute", credential="X:BA", item="X:M151", **{"for": "X:M100"})
    r = run(evaluator, [ach("X:M151", "F"), ach("X:E100"), ach("X:E200"), ach("X:S200")], [sub])
    assert "X:BA" not in earned(r)
    assert effects(r)["S1"] == (
        False,
        "`X:M151` does not count (failed): an exception never lets it in",
    )
    grant = exc("G1", "grant", item="X:M200", **{"from": ["Y:ALG"]})
    r = run(evaluator, [ach("Y:ALG", status="in-progress")], [grant])
    assert r.transfers == [] and not effects(r)["G1"][0]


def test_not_applied_when_not_offered() -> None:
    ev = Evaluator(
        compile_text(CATALOG + 'credential X:NEW "New" { effective 2030-01-01\n req: X:M100 }\n')
    )
    r = run(ev, [ach("X:E100")], [exc("W9", "waive", credential="X:NEW", requirement="req")])
    assert effects(r)["W9"] == (False, "`X:NEW` is not offered at the learner's catalog date")


def test_learners_share_an_overlay_but_keep_their_ids(evaluator: Evaluator) -> None:
    a = run(
        evaluator,
        [ach("X:M100"), ach("X:E100")],
        [exc("W1", "waive", credential="X:BA", requirement="more")],
    )
    b = run(
        evaluator,
        [ach("X:M100"), ach("X:E100")],
        [exc("OTHER", "waive", credential="X:BA", requirement="more")],
    )
    assert requirement(a, "X:BA", "more").exceptions == ["W1"]
    assert requirement(b, "X:BA", "more").exceptions == ["OTHER"]


# ---------------------------------------------------------------- without exceptions


def test_no_exceptions_no_change(evaluator: Evaluator) -> None:
    achs = [ach("X:M100"), ach("X:E100"), ach("X:M151"), ach("Y:ALG")]
    fresh = Evaluator(compile_text(CATALOG))
    before = dumps(
        fresh.evaluate(LearnerRecord.model_validate({"learner": "L", "achievements": achs}), AS_OF)
    )
    # the same evaluator after learners with exceptions: nothing of theirs leaks
    run(
        evaluator,
        achs,
        [
            exc("X1", "exclude", item="X:M100"),
            exc("D1", "apply", credential="X:BSC", requirement="extra", item="X:M151"),
        ],
    )
    after = dumps(
        evaluator.evaluate(
            LearnerRecord.model_validate({"learner": "L", "achievements": achs, "exceptions": []}),
            AS_OF,
        )
    )
    assert before == after
    assert '"exceptions"' not in after


def test_example_learners_reports_have_no_exception_fields() -> None:
    result = CliRunner().invoke(
        cli,
        ["evaluate", "--rules", "rules/", "examples/learners.json", "--as-of", "2026-11-22"],
    )
    assert result.exit_code == 0, result.output
    assert '"exceptions"' not in result.output


# ---------------------------------------------------------------- files and the command line


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "rules.stack").write_text(CATALOG)
    record = {"learner": "L1", "achievements": [ach("X:M100"), ach("X:M151")]}
    (tmp_path / "learners.json").write_text(json.dumps(record))
    return tmp_path


def cli_run(folder: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--rules",
            str(folder / "rules.stack"),
            str(folder / "learners.json"),
            "--as-of",
            "2026-11-22",
            *args,
        ],
    )


def test_the_same_from_the_record_jsonl_and_csv(files: Path) -> None:
    directive = {
        "learner": "L1",
        **exc("D1", "apply", credential="X:BSC", requirement="extra", item="X:M100"),
    }
    (files / "exc.jsonl").write_text(json.dumps(directive) + "\n")
    (files / "exc.csv").write_text(
        "learner,id,kind,credential,requirement,item,approved_by,approved_on\n"
        "L1,D1,apply,X:BSC,extra,X:M100,registrar,2026-01-05\n"
    )
    from_jsonl = cli_run(files, "--exceptions", str(files / "exc.jsonl"))
    from_csv = cli_run(files, "--exceptions", str(files / "exc.csv"))
    record = json.loads((files / "learners.json").read_text())
    record["exceptions"] = [{k: v for k, v in directive.items() if k != "learner"}]
    (files / "learners.json").write_text(json.dumps(record))
    from_record = cli_run(files)
    assert from_jsonl.exit_code == from_csv.exit_code == from_record.exit_code == 0
    assert from_jsonl.output == from_csv.output == from_record.output
    report = json.loads(from_record.output)
    assert "X:BSC" not in [c["credential"] for c in report["earned"]]
    assert report["exceptions"][0]["id"] == "D1"
    jsonschema.validate(report, load_schema("report"))


def test_text_audit_prints_who_approved(files: Path) -> None:
    (files / "exc.csv").write_text(
        "learner,id,kind,credential,requirement,approved_by,approved_on,note\n"
        "L1,W1,waive,X:BSC,core,Dr Who,2026-03-01,department approval\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.csv"), "--format", "text")
    assert result.exit_code == 0, result.output
    assert "by exception W1 (waive, approved by Dr Who on 2026-03-01)" in result.output
    assert "EXCEPTIONS" in result.output and "note: department approval" in result.output


BAD = [
    (
        exc("E1", "waive", credential="X:BAA", requirement="more"),
        "exceptions[E1].credential",
        "did you mean `X:BA`?",
    ),
    (
        exc("E1", "waive", credential="X:BA", requirement="mroe"),
        "exceptions[E1].requirement",
        "did you mean `more`?",
    ),
    (
        exc("E1", "waive", credential="X:BA", limit="at most 4 credits from subject MATH"),
        "exceptions[E1].limit",
        "did you mean `at most 3 credits from subject MATH`?",
    ),
    (
        exc("E1", "substitute", credential="X:BA", item="X:M15", **{"for": "X:M100"}),
        "exceptions[E1].item",
        "did you mean `X:M151`?",
    ),
    (exc("E1", "substitute", credential="X:BA", item="X:M151"), "exceptions[E1].for", "required"),
    (
        {"id": "E1", "kind": "exclude", "item": "X:M100", "approved_on": "2026-01-01"},
        "exceptions[E1].approved_by",
        "cannot be signed",
    ),
    (
        exc("E1", "grant", item="X:M200", **{"from": ["Y:CAL"]}),
        "exceptions[E1].from[0]",
        "did you mean `Y:CALC`?",
    ),
]


@pytest.mark.parametrize(("bad", "field", "hint"), BAD)
def test_bad_exception_is_a_record_error(
    files: Path, bad: dict[str, Any], field: str, hint: str
) -> None:
    (files / "exc.jsonl").write_text(json.dumps({"learner": "L1", **bad}) + "\n")
    result = cli_run(files, "--exceptions", str(files / "exc.jsonl"))
    assert result.exit_code == 3
    assert "learner L1" in result.output and f"field `{field}`" in result.output
    assert hint in result.output


def test_duplicate_id_is_a_record_error(files: Path) -> None:
    record = json.loads((files / "learners.json").read_text())
    record["exceptions"] = [exc("E1", "exclude", item="X:M100")]
    (files / "learners.json").write_text(json.dumps(record))
    (files / "exc.jsonl").write_text(
        json.dumps({"learner": "L1", **exc("E1", "exclude", item="X:M151")}) + "\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.jsonl"))
    assert result.exit_code == 3
    assert "field `exceptions[E1].id`" in result.output and "given twice" in result.output


def test_unreadable_rows_are_record_errors(files: Path) -> None:
    (files / "exc.csv").write_text("learner,id,kind,item,approved_by,approved_on,colour\n")
    result = cli_run(files, "--exceptions", str(files / "exc.csv"))
    assert result.exit_code == 3 and "unknown field `colour`" in result.output
    (files / "exc.csv").write_text(
        "learner,id,kind,item,approved_by,approved_on\nL1,E1,exclude,X:M100,reg,2026-13-01\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.csv"))
    assert result.exit_code == 3 and "approved_on" in result.output


# ---------------------------------------------------------------- batch


def batch_run(folder: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli,
        [
            *("batch", "--rules", str(folder / "rules.stack")),
            *("--records", str(folder / "many.jsonl"), "--as-of", "2026-11-22", *args),
        ],
    )


@pytest.fixture()
def many(files: Path) -> Path:
    learners = [
        {"learner": f"L{k}", "achievements": [ach("X:M100"), ach("X:M151"), ach("X:E100")]}
        for k in range(6)
    ]
    (files / "many.jsonl").write_text("".join(json.dumps(r) + "\n" for r in learners))
    # unordered, and for learners on both sides of others without any
    rows = [
        {"learner": "L4", **exc("W", "waive", credential="X:BA", requirement="more")},
        {
            "learner": "L1",
            **exc("D", "apply", credential="X:BSC", requirement="extra", item="X:M100"),
        },
        {
            "learner": "L4",
            **exc("S", "substitute", credential="X:BA", item="X:M151", **{"for": "X:M100"}),
        },
    ]
    (files / "exc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return files


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_joins_the_file_as_evaluate_does(many: Path, workers: str) -> None:
    exceptions = str(many / "exc.jsonl")
    result = batch_run(many, "--exceptions", exceptions, "--workers", workers)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    evaluated = CliRunner().invoke(
        cli,
        [
            *("evaluate", "--rules", str(many / "rules.stack"), str(many / "many.jsonl")),
            *("--as-of", "2026-11-22", "--format", "jsonl", "--exceptions", exceptions),
        ],
    )
    assert lines == evaluated.output.splitlines()
    by_learner = {json.loads(line)["learner"]: json.loads(line) for line in lines}
    assert [e["id"] for e in by_learner["L4"]["exceptions"]] == ["W", "S"]
    assert [e["id"] for e in by_learner["L1"]["exceptions"]] == ["D"]
    assert "exceptions" not in by_learner["L0"]


def test_batch_bad_exception_is_that_learners_error(many: Path) -> None:
    bad = {"learner": "L2", **exc("B", "waive", credential="X:BA", requirement="mroe")}
    with (many / "exc.jsonl").open("a") as f:
        f.write(json.dumps(bad) + "\n")
    result = batch_run(many, "--exceptions", str(many / "exc.jsonl"))
    assert result.exit_code == 3
    assert "learner L2: field `exceptions[B].requirement`" in result.output
    assert "did you mean `more`?" in result.output
    assert result.output.count('"learner":') == 5  # the others are reported


def test_batch_compare_reports_an_exception_that_stops_mattering(many: Path) -> None:
    # the new rules no longer require X:M100 in X:BA's core: the substitution for it stops
    # mattering
    (many / "old.stack").write_text(CATALOG)
    (many / "rules.stack").write_text(CATALOG.replace("all of (X:M100, X:E100)", "X:E100"))
    # (L4 without X:M100 of its own: under the old rules, its X:M151 counts for it)
    learners = [json.loads(line) for line in (many / "many.jsonl").read_text().splitlines()]
    learners[4]["achievements"] = [a for a in learners[4]["achievements"] if a["item"] != "X:M100"]
    (many / "many.jsonl").write_text("".join(json.dumps(r) + "\n" for r in learners))
    result = batch_run(
        many, "--exceptions", str(many / "exc.jsonl"), "--compare", str(many / "old.stack")
    )
    assert result.exit_code == 0, result.output
    changes = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    (l4,) = [c for c in changes if c["learner"] == "L4"]
    assert l4["exceptions_stopped"] == ["S"] and l4["exceptions_started"] == []
    assert all("exceptions_stopped" not in c for c in changes if c["learner"] != "L4")


def test_exception_index_is_private(tmp_path: Path) -> None:
    from stackrules.exceptions.files import ExceptionIndex, IndexReader

    source = tmp_path / "exc.jsonl"
    source.write_text(json.dumps({"learner": "A", **exc("X", "exclude", item="X:M100")}) + "\n")
    index = ExceptionIndex(str(source), str(tmp_path / "index.sqlite"))
    assert (tmp_path / "index.sqlite").stat().st_mode & 0o777 == 0o600
    found, errors = IndexReader(index.path).lookup("A")
    assert [e.id for e in found] == ["X"] and errors == []
    with pytest.raises(FileExistsError):
        ExceptionIndex(str(source), str(tmp_path / "index.sqlite"))


def test_sample_exceptions() -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("evaluate", "--rules", "rules/", "examples/learners.json"),
            *("--as-of", "2026-11-22", "--exceptions", "examples/exceptions.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    reports = {r["learner"]: r for r in json.loads(result.output)}
    assert "CAPU:CERT-DA" in {c["credential"] for c in reports["L-1009"]["earned"]}
    applied = {e["id"]: e["applied"] for r in reports.values() for e in r.get("exceptions", [])}
    assert applied == {
        "EX-2025-014": True,
        "EX-2025-031": True,
        "EX-2025-032": True,
        "EX-2024-101": True,
        "EX-2024-102": True,
        "EX-2024-103": False,
    }
    # the source of a grant is not reported as not counted
    l1003 = reports["L-1003"]
    assert "CAMOSUN:MATH100" not in {n["item"] for n in l1003["not_counted"]}
    for report in reports.values():
        jsonschema.validate(report, load_schema("report"))


def test_unreadable_exceptions_file_evaluates_nobody(files: Path) -> None:
    result = cli_run(files, "--exceptions", str(files / "missing.csv"))
    assert result.exit_code == 3
    assert "cannot read the file" in result.output and '"learner"' not in result.output


@pytest.mark.parametrize("command", ["plan", "nearest"])
def test_plan_and_nearest_check_exceptions(files: Path, command: str) -> None:
    bad = {
        "learner": "L1",
        **exc("B", "apply", credential="X:BSC", requirement="extar", item="X:M100"),
    }
    (files / "exc.jsonl").write_text(json.dumps(bad) + "\n")
    target = ["--target", "X:BSC"] if command == "plan" else []
    args = [command, "--rules", str(files / "rules.stack"), str(files / "learners.json")]
    args += ["--as-of", "2026-11-22", "--exceptions", str(files / "exc.jsonl"), *target]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    assert "exceptions[B].requirement" in result.output and "did you mean `extra`?" in result.output
    (files / "exc.jsonl").write_text(json.dumps({**bad, "requirement": "extra"}) + "\n")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_bench_exceptions_runs(tmp_path: Path) -> None:
    # the benchmark at a tiny size, so that it does not rot (behaviour only, never timings)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_exceptions

    out = tmp_path / "b.json"
    args = ["--credentials", "30", "--lines", "30", "--learners", "8", "--runs", "1"]
    assert bench_exceptions.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["plain_reports_identical"] and result["exceptions_applied"] > 0


def test_items_may_be_named_by_an_alias(tmp_path: Path) -> None:
    alias = "https://badges.ufv.ca/achievements/photoshop-essential"
    row = {"learner": "L-1001", **exc("A1", "exclude", item=alias)}
    (tmp_path / "exc.jsonl").write_text(json.dumps(row) + "\n")
    result = CliRunner().invoke(
        cli,
        [
            *("evaluate", "--rules", "rules/", "examples/learners.json", "--learner", "L-1001"),
            *("--as-of", "2026-11-22", "--exceptions", str(tmp_path / "exc.jsonl")),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"item": "UFV:DM101", "reason": "excluded"}.items() <= report["not_counted"][0].items()


# ---------------------------------------------------------------- plan


def planned(folder: Path, record: dict[str, Any], target: str) -> tuple[str, list[str]]:
    (folder / "learners.json").write_text(json.dumps(record))
    result = CliRunner().invoke(
        cli,
        [
            *("plan", "--rules", str(folder / "rules.stack"), str(folder / "learners.json")),
            *("--as-of", "2026-11-22", "--target", target, "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    return doc["status"], sorted(i["item"] for i in doc["items"])


def test_plans_see_the_learners_exceptions(files: Path) -> None:
    base = {"learner": "L1", "achievements": [ach("X:M100"), ach("X:M151")]}
    assert planned(files, base, "X:BSC")[0] == "earned"
    # the directive leaves `core` to X:S200: the plan takes it
    directive = exc("D1", "apply", credential="X:BSC", requirement="extra", item="X:M100")
    assert planned(files, {**base, "exceptions": [directive]}, "X:BSC") == (
        "planned",
        ["X:S200"],
    )
    # X:BA: `more` needs 6 credits from X but at most 3 MATH credits count; with the limit
    # waived and `more` cut to 3, X:E100 alone completes it
    waived = exc("W", "waive", credential="X:BA", limit="at most 3 credits from subject MATH")
    cut = exc("A", "adjust", credential="X:BA", requirement="more", amount=3)
    learner = {"learner": "L1", "achievements": [ach("X:M100"), ach("X:M151"), ach("X:M200")]}
    assert planned(files, {**learner, "exceptions": [waived, cut]}, "X:BA") == (
        "planned",
        ["X:E100"],
    )


# ---------------------------------------------------------------- rows for nobody in the file


def test_evaluate_reports_rows_for_learners_not_in_the_record_file(files: Path) -> None:
    record = {"learner": "L-1001", "achievements": [ach("X:M100"), ach("X:M151")]}
    (files / "learners.json").write_text(json.dumps(record))
    (files / "exc.csv").write_text(
        "learner,id,kind,item,approved_by,approved_on\n"
        "L-1001,E1,exclude,X:M100,reg,2026-01-05\n"
        "L-1010,E2,exclude,X:M151,reg,2026-01-05\n"
        "Q7,E3,exclude,X:M151,reg,2026-01-05\n"
        "L-1010,E4,exclude,X:M151,reg,2026-13-01\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.csv"), "--format", "jsonl")
    assert result.exit_code == 3
    # every learner is reported first; then each row for nobody, in file order
    assert json.loads(result.output.splitlines()[0])["learner"] == "L-1001"
    path = str(files / "learners.json")
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 3, result.output
    assert lines[0] == (
        f"error: {files / 'exc.csv'}:row 3: learner L-1010: field `exceptions[E2].learner`: "
        f"exception `E2` is for learner `L-1010`, who is not in `{path}`; "
        "did you mean `L-1001`?"
    )
    assert "row 4: learner Q7: field `exceptions[E3].learner`" in lines[1]
    assert "did you mean" not in lines[1]
    assert "row 5: learner L-1010: field `exceptions[E4].approved_on`" in lines[2]  # unreadable


def test_rows_for_learners_not_asked_for_are_not_errors(files: Path) -> None:
    learners = [{"learner": f"L{k}", "achievements": [ach("X:M100")]} for k in (1, 2)]
    (files / "learners.json").write_text(json.dumps(learners))
    (files / "exc.jsonl").write_text(
        json.dumps({"learner": "L2", **exc("E", "exclude", item="X:M100")}) + "\n"
    )
    result = cli_run(files, "--exceptions", str(files / "exc.jsonl"), "--learner", "L1")
    assert result.exit_code == 0, result.output
    result = cli_run(files, "--exceptions", str(files / "exc.jsonl"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["plan", "nearest"])
def test_plan_and_nearest_report_rows_for_nobody(files: Path, command: str) -> None:
    (files / "exc.jsonl").write_text(
        json.dumps({"learner": "L9", **exc("E", "exclude", item="X:M100")}) + "\n"
    )
    target = ["--target", "X:BSC"] if command == "plan" else []
    args = [command, "--rules", str(files / "rules.stack"), str(files / "learners.json")]
    args += ["--as-of", "2026-11-22", "--exceptions", str(files / "exc.jsonl"), *target]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    assert "line 1: learner L9: field `exceptions[E].learner`" in result.output


def _stranger_rows(many: Path) -> None:
    with (many / "exc.jsonl").open("a") as f:
        f.write(json.dumps({"learner": "L9", **exc("X", "exclude", item="X:M100")}) + "\n")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_reports_rows_for_nobody_in_the_errors_file(many: Path, workers: str) -> None:
    _stranger_rows(many)
    errors = many / "errors.jsonl"
    result = batch_run(
        many, "--exceptions", str(many / "exc.jsonl"), "--errors", str(errors), "--workers", workers
    )
    assert result.exit_code == 3
    assert result.output.count('"learner":') == 6  # every learner is reported
    assert "6 learners read, 6 reported, 0 in error" in result.output
    assert "1 exception is for learners not in the record file" in result.output
    (line,) = errors.read_text().splitlines()
    assert json.loads(line) == {
        "file": str(many / "exc.jsonl"),
        "learner": "L9",
        "line": 4,
        "field": "exceptions[X].learner",
        "message": f"exception `X` is for learner `L9`, who is not in `{many / 'many.jsonl'}`",
    }


def test_batch_learners_not_asked_for_are_in_the_file(many: Path) -> None:
    # L4 and L1 have exceptions but are not asked for: not errors; L9 is nobody
    result = batch_run(many, "--exceptions", str(many / "exc.jsonl"), "--learner", "L0")
    assert result.exit_code == 0, result.output
    _stranger_rows(many)
    result = batch_run(many, "--exceptions", str(many / "exc.jsonl"), "--learner", "L0")
    assert result.exit_code == 3 and "learner L9" in result.output


def test_batch_csv_records_report_rows_for_nobody(many: Path) -> None:
    rows = "".join(f"L{k},X:M100,B\n" for k in range(6))
    (many / "many.csv").write_text("learner,item,grade\n" + rows)
    _stranger_rows(many)
    result = CliRunner().invoke(
        cli,
        [
            *("batch", "--rules", str(many / "rules.stack"), "--records", str(many / "many.csv")),
            *("--as-of", "2026-11-22", "--exceptions", str(many / "exc.jsonl")),
        ],
    )
    assert result.exit_code == 3
    assert "learner L9: field `exceptions[X].learner`" in result.output
    assert "learner L4" not in result.output.split("batch:")[0].split("error:")[-1]


def test_batch_resume_reports_rows_for_nobody_once(many: Path) -> None:
    from stackrules.batch import checkpoint as cp

    _stranger_rows(many)
    out, errors = many / "out.jsonl", many / "errors.jsonl"
    args = ["--exceptions", str(many / "exc.jsonl"), "--out", str(out)]
    args += ["--errors", str(errors)]
    whole = batch_run(many, *args)
    assert whole.exit_code == 3
    expected_out, expected_errors = out.read_text(), errors.read_text()
    assert expected_errors.count("\n") == 1
    # a run stopped after three learners, resumed: learners read before the stop are still
    # known to be in the file, and the row for nobody is reported once
    lines = expected_out.splitlines(keepends=True)
    out.write_text("".join(lines[:3]))
    errors.write_text("")
    state = cp.state_folder(str(out))
    cp.prepare(state)
    fingerprint = _fingerprint(many)
    saved = cp.Checkpoint(
        fingerprint=fingerprint,
        next_ordinal=4,
        input_offset=sum(
            len(x.encode()) for x in (many / "many.jsonl").read_text().splitlines(keepends=True)[:3]
        ),
        input_line=3,
        out_offset=len("".join(lines[:3]).encode()),
        out_tail=cp.tail_digest(str(out), len("".join(lines[:3]).encode())),
        errors_offset=0,
        errors_tail=cp.tail_digest(str(errors), 0),
        read=3,
        reported=3,
    )
    from stackrules.batch.seen import Seen

    cp.create_file(state / cp.SEEN)
    seen = Seen(str(state / cp.SEEN))
    for k in range(3):
        seen.first_line(f"L{k}", k + 1, k + 1)
        seen.note(f"L{k}", k + 1)
    seen.close()
    cp.save(state, saved)
    resumed = batch_run(many, *args, "--resume")
    assert resumed.exit_code == 3, resumed.output
    assert out.read_text() == expected_out
    assert errors.read_text() == expected_errors


def _fingerprint(many: Path) -> dict[str, Any]:
    from stackrules.batch.checkpoint import input_fingerprint, rules_digest

    return {
        "records": input_fingerprint(str(many / "many.jsonl")),
        "rules": rules_digest([str(many / "rules.stack")]),
        "compare": None,
        "as_of": "2026-11-22",
        "format": "jsonl",
        "validate_only": False,
        "targets": [],
        "in_progress": 5,
        "learners": [],
        "exceptions": input_fingerprint(str(many / "exc.jsonl")),
    }


# ---------------------------------------------------------------- applied: in the allocation


def test_also_allow_not_needed_is_not_applied(evaluator: Evaluator) -> None:
    allow = exc("AA", "also-allow", credential="X:BSC", requirement="extra", item="X:E200")
    # X:M151 (the better grade) fills `extra` by the rules: the English course is let in
    # but not counted
    r = run(evaluator, [ach("X:M100"), ach("X:M151", "A"), ach("X:E200", "C")], [allow])
    assert "X:BSC" in earned(r)
    assert "X:E200" not in requirement(r, "X:BSC", "extra").used
    assert effects(r)["AA"] == (False, "X:E200 not needed: X:BSC extra met without it")
    # without it, the exception is what earns X:BSC
    r = run(evaluator, [ach("X:M100"), ach("X:E200")], [allow])
    assert effects(r)["AA"] == (True, "X:BSC extra: X:E200 also allowed")


def test_substitute_not_needed_is_not_applied(evaluator: Evaluator) -> None:
    sub = exc("S", "substitute", credential="X:BA", requirement="core", item="X:M151")
    sub["for"] = "X:M100"
    achs = [ach("X:M100"), ach("X:M151"), ach("X:E100"), ach("X:E200"), ach("X:S200")]
    r = run(evaluator, achs, [sub])
    assert "X:BA" in earned(r)  # core: X:M100 itself; more: the other two
    assert requirement(r, "X:BA", "core").used == ["X:M100", "X:E100"]
    assert effects(r)["S"] == (False, "X:M151 not needed: X:BA core met without it")


def test_applied_does_not_depend_on_k_for_earned_credentials(evaluator: Evaluator) -> None:
    directive = exc("D", "apply", credential="X:BSC", requirement="extra", item="X:M151")
    other = exc("T", "apply", credential="X:TWO", requirement="pick", item="X:M100")
    record = LearnerRecord.model_validate(
        {"learner": "L", "achievements": [ach("X:M100"), ach("X:M151")], "exceptions": []}
    )
    record = record.model_copy(update={"exceptions": (_exc(directive), _exc(other))})
    every = evaluator.evaluate(record, AS_OF, in_progress=None)
    none = evaluator.evaluate(record, AS_OF, in_progress=0)
    assert (
        effects(every)["D"]
        == effects(none)["D"]
        == (
            True,
            "X:BSC extra: X:M151 counts here and nowhere else in X:BSC",
        )
    )
    # X:TWO is in progress: shown with `all`, not with 0 (then nothing shows the directive)
    assert effects(every)["T"][0]
    assert effects(none)["T"] == (
        False,
        "`X:TWO` is neither earned nor among the credentials in progress this report shows",
    )


def _exc(data: dict[str, Any]) -> Any:
    from stackrules.exceptions import RegistrarException

    return RegistrarException.model_validate(data)


# ---------------------------------------------------------------- applied: per leaf

# X:M151 is named by `second` itself; a substitution for X:M100 adds it to `first`
PER_LEAF = """\
issuer X "Example College"
course X:M100 "Calculus" credits 3 subject MATH
course X:M151 "Calculus (honours)" credits 3 subject MATH
course X:S200 "Statistics" credits 3 subject STAT
course X:E100 "English" credits 3 subject ENGL
credential X:SUB "Two parts" {
    first: X:M100
    second: any of (X:M151, X:S200)
}
credential X:ALT "Alternatives" {
    one: any of (X:S200, X:M151)
}
"""


def test_also_allow_of_what_the_rules_accept_is_not_applied(evaluator: Evaluator) -> None:
    # X:M200 is MATH: `3 credits from subject MATH` takes it without the exception
    allow = exc("AA", "also-allow", credential="X:BSC", requirement="extra", item="X:M200")
    r = run(evaluator, [ach("X:S200"), ach("X:M200")], [allow])
    assert "X:BSC" in earned(r)
    extra = requirement(r, "X:BSC", "extra")
    assert [(e.item, e.exceptions) for e in extra.evidence] == [("X:M200", [])]
    assert extra.exceptions == []
    assert effects(r)["AA"] == (
        False,
        "X:M200 already counted by the rules: `X:BSC extra` accepts it",
    )


def test_substitute_names_only_the_leaf_it_let_the_item_onto() -> None:
    ev = Evaluator(compile_text(PER_LEAF))
    sub = exc("S", "substitute", credential="X:SUB", item="X:M151", **{"for": "X:M100"})
    # X:M100 fills `first`; X:M151 is counted in `second`, which names it: no id there
    r = run(ev, [ach("X:M100"), ach("X:M151")], [sub])
    assert "X:SUB" in earned(r)
    second = requirement(r, "X:SUB", "second")
    assert [(e.item, e.exceptions) for e in second.evidence] == [("X:M151", [])]
    assert second.exceptions == [] and requirement(r, "X:SUB", "first").exceptions == []
    assert effects(r)["S"] == (
        False,
        "X:M151 already counted by the rules: `X:SUB second` accepts it",
    )
    # X:S200 fills `second`, and X:M151 stands for X:M100 in `first`: the id is there
    r = run(ev, [ach("X:M151"), ach("X:S200")], [sub])
    assert "X:SUB" in earned(r)
    first = requirement(r, "X:SUB", "first")
    assert [(e.item, e.exceptions) for e in first.evidence] == [("X:M151", ["S"])]
    assert first.exceptions == ["S"] and requirement(r, "X:SUB", "second").exceptions == []
    assert effects(r)["S"] == (True, "X:SUB: X:M151 counted for X:M100")


def test_two_exceptions_letting_one_item_onto_a_leaf_both_name_it() -> None:
    ev = Evaluator(compile_text(PER_LEAF))
    sub = exc("S", "substitute", credential="X:SUB", item="X:S200", **{"for": "X:M100"})
    directive = exc("D", "apply", credential="X:SUB", requirement="first", item="X:S200")
    r = run(ev, [ach("X:S200"), ach("X:M151")], [directive, sub])
    assert "X:SUB" in earned(r)
    first = requirement(r, "X:SUB", "first")
    # the substitution let it onto the leaf, the directive put it under `first`
    assert [(e.item, e.exceptions) for e in first.evidence] == [("X:S200", ["D", "S"])]
    assert first.exceptions == ["D", "S"]
    assert {i for i, (ok, _) in effects(r).items() if ok} == {"D", "S"}


def test_substitute_not_applied_where_another_exception_let_the_item_in() -> None:
    ev = Evaluator(compile_text(PER_LEAF))
    # both let X:E100 onto X:M151's leaf; only the also-allow onto X:S200's, tried first
    sub = exc("S", "substitute", credential="X:ALT", item="X:E100", **{"for": "X:M151"})
    allow = exc("AA", "also-allow", credential="X:ALT", requirement="one", item="X:E100")
    r = run(ev, [ach("X:E100")], [sub, allow])
    assert "X:ALT" in earned(r)
    one = requirement(r, "X:ALT", "one")
    assert [(e.item, e.exceptions) for e in one.evidence] == [("X:E100", ["AA"])]
    assert effects(r) == {
        "S": (False, "X:E100 is counted in `X:ALT one` because of AA instead"),
        "AA": (True, "X:ALT one: X:E100 also allowed"),
    }


# ---------------------------------------------------------------- the Python batch API


def _many_records(many: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (many / "many.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluate_many_joins_the_file_as_the_command_does(
    many: Path, workers: int, tmp_path: Path
) -> None:
    rules, _ = stackrules.load_rules([str(many / "rules.stack")])
    assert rules is not None
    exceptions = many / "exc.jsonl"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = list(
        evaluate_many(
            rules,
            _many_records(many),
            AS_OF,
            workers=workers,
            chunk=2,
            exceptions=exceptions,  # (a path object, or a string)
            tmp_dir=str(scratch),
        )
    )
    evaluated = CliRunner().invoke(
        cli,
        [
            *("evaluate", "--rules", str(many / "rules.stack"), str(many / "many.jsonl")),
            *("--as-of", "2026-11-22", "--format", "jsonl", "--exceptions", str(exceptions)),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert [dumps(r) for r in results if isinstance(r, Report)] == evaluated.output.splitlines()
    assert len(results) == 6
    by_learner = {r.learner: r for r in results if isinstance(r, Report)}
    assert [e.id for e in by_learner["L4"].exceptions] == ["W", "S"]
    assert by_learner["L0"].exceptions == []
    assert list(scratch.iterdir()) == []  # the private index is gone


def test_evaluate_many_reports_rows_that_apply_to_nobody(many: Path) -> None:
    rules, _ = stackrules.load_rules([str(many / "rules.stack")])
    assert rules is not None
    _stranger_rows(many)
    bad = {"learner": "L2", **exc("B", "waive", credential="X:BA", requirement="mroe")}
    with (many / "exc.jsonl").open("a") as f:
        f.write(json.dumps(bad) + "\n")
        f.write(json.dumps(exc("N", "exclude", item="X:M100")) + "\n")  # names no learner
    results = list(
        evaluate_many(rules, _many_records(many), AS_OF, exceptions=str(many / "exc.jsonl"))
    )
    assert [r.learner for r in results[:6] if isinstance(r, Report)] == [
        "L0",
        "L1",
        "L3",
        "L4",
        "L5",
    ]
    (l2,) = results[2]  # that learner's own error, in its place
    assert isinstance(l2, RecordError) and l2.field == "exceptions[B].requirement"
    # then the rows that could apply to nobody: the one naming no learner, then L9's
    tail = [(e.learner, e.line, e.field) for errors in results[6:] for e in errors]
    assert tail == [(None, 6, "learner"), ("L9", 4, "exceptions[X].learner")]
    assert "who is not in `<records>`" in results[7][0].message


def test_evaluate_many_with_an_unreadable_file_evaluates_nobody(many: Path) -> None:
    rules, _ = stackrules.load_rules([str(many / "rules.stack")])
    assert rules is not None
    (many / "exc.csv").write_text("learner,id,kind,mood\nL1,E,exclude,happy\n")
    for path in (many / "missing.jsonl", many / "exc.csv"):
        results = list(evaluate_many(rules, _many_records(many), AS_OF, exceptions=path))
        assert len(results) == 1 and isinstance(results[0], list), results
        assert all(e.file == str(path) and e.learner is None for e in results[0])
