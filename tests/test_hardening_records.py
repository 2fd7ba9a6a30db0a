"""Bad and extreme learner data (issue #14): a worded, located error, never a traceback.

Batch: a line that breaks the reader or the evaluator is that learner's error and the batch
goes on (read = reported + in error, exit 3). Records: numbers and dates within documented
bounds, date arithmetic that saturates, strict CSV. Evaluation: near-linear in the record.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from stackrules.ast import Duration
from stackrules.cli import cli
from stackrules.dates import add_duration, subtract_duration
from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.problems import _conflict_masks
from stackrules.records import LearnerRecord, load_records, parse_record_obj

AS_OF = ["--as-of", "2026-11-22"]

RULES = """\
issuer T "Test" { hours per credit 10 }
course T:A "A" credits 3
course T:B "B" credits 3
course T:R "Topics" credits 1 repeatable

credential T:CERT "Certificate" {
    core "Core": all of (T:A, T:B)
}
credential T:TOPICS "Topics" {
    topics "Topics": 4 credits from (T:R)
}
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("rules") / "test.stack"
    path.write_text(RULES)
    return str(path)


def learner(n: int) -> dict[str, Any]:
    return {
        "learner": f"L{n:04d}",
        "achievements": [
            {"item": "T:A", "grade": "B+", "completed_on": "2023-11-17"},
            {"item": "T:B", "completed_on": "2024-01-10"},
        ],
    }


# Each breaks Python's own JSON reading or the record's validation in a way that raised
# before: a 4,301-digit integer, arrays nested 1,000 deep, a lone surrogate in a date, a
# denormal credit value (which overflowed in the allocator).
POISON = {
    "huge-integer": '{"learner": "L1000", "achievements": [{"item": "T:A", "credits": '
    + "9" * 4301
    + "}]}",
    "deep-nesting": '{"learner": "L1000", "achievements": ' + "[" * 1000 + "]" * 1000 + "}",
    "lone-surrogate": '{"learner": "L1000", "achievements": '
    '[{"item": "T:A", "completed_on": "\\ud800"}]}',
    "denormal": '{"learner": "L1000", "achievements": [{"item": "T:A", "credits": 5e-324}]}',
}


def poisoned_file(folder: Path, poison: str) -> Path:
    lines = [json.dumps(learner(n)) for n in range(2000)]
    lines[1000] = poison
    path = folder / "learners.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("kind", sorted(POISON))
def test_a_line_that_breaks_the_reader_is_one_learner_in_error(
    tmp_path: Path, rules: str, kind: str, workers: str
) -> None:
    path = poisoned_file(tmp_path, POISON[kind])
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    code, _, err = run(
        "batch", "--rules", rules, "--records", str(path), *AS_OF, "--out", str(out),
        "--errors", str(errors), "--workers", workers,
    )  # fmt: skip
    assert code == 3, err
    assert "batch: 2000 learners read, 1999 reported, 1 in error" in err
    assert "Traceback" not in err
    reported = [json.loads(line)["learner"] for line in out.read_text().splitlines()]
    assert reported == [f"L{n:04d}" for n in range(2000) if n != 1000]
    (problem,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert problem["line"] == 1001 and problem["file"] == str(path)
    assert "internal error" not in problem["message"]


# --- dates: arithmetic saturates ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "amount", "unit", "expected"),
    [
        (date(9996, 6, 1), "5", "years", date.max),
        (date(9999, 12, 31), "1", "months", date.max),
        (date(2026, 11, 22), "-8000", "years", date.min),
        (date(2026, 11, 22), "1e400", "years", date.max),
        (date(2026, 11, 22), "-1e400", "months", date.min),
        (date(2024, 1, 31), "1", "months", date(2024, 2, 29)),  # unchanged inside the range
    ],
)
def test_date_arithmetic_saturates(day: date, amount: str, unit: str, expected: date) -> None:
    duration = Duration(Decimal(amount), "years" if unit == "years" else "months")
    assert add_duration(day, duration) == expected
    assert subtract_duration(day, Duration(-duration.amount, duration.unit)) == expected


DATE_RULES = """\
issuer T "Test"
badge T:SAFE "Safety" valid for 5 years
course T:OLD "Old" credits 3
credential T:RECENT "Recent" {
    core "Core": all of (T:OLD) within 200 years
}
credential T:SAFETY "Safety ticket" {
    core "Core": all of (T:SAFE)
}
"""


def test_any_record_date_with_any_rule_duration_is_evaluated(tmp_path: Path) -> None:
    rules = tmp_path / "dates.stack"
    rules.write_text(DATE_RULES)
    record = {
        "learner": "L-1",
        "achievements": [
            {"item": "T:SAFE", "completed_on": "9996-01-01"},
            {"item": "T:OLD", "completed_on": "0001-01-01"},
        ],
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record))
    # `within 200 years` (the language's longest duration) reaches back before 0001-01-01 as
    # of 0150-06-01; `valid for 5 years` from 9996 runs past 9999-12-31: both saturate
    code, out, err = run("evaluate", "--rules", str(rules), str(path), "--as-of", "0150-06-01")
    assert code == 0, err
    report = json.loads(out)
    assert [e["credential"] for e in report["earned"]] == ["T:RECENT", "T:SAFETY"]
    assert report["not_counted"] == []


def _raise_for(victim: str, original: Any, position: int) -> Any:
    """`original`, raising a defect's exception when its argument `position` is `victim`'s."""

    def patched(*args: Any, **kwargs: Any) -> Any:
        subject = args[position]
        name = subject.get("learner") if isinstance(subject, dict) else subject.learner
        if name == victim:
            raise KeyError("a defect")
        return original(*args, **kwargs)

    return patched


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("stage", ["reading", "evaluating"])
def test_an_unexpected_exception_is_one_learners_internal_error(
    tmp_path: Path, rules: str, monkeypatch: pytest.MonkeyPatch, stage: str, workers: str
) -> None:
    from stackrules.batch import work
    from stackrules.evaluation.evaluator import Evaluator

    if stage == "reading":
        monkeypatch.setattr(work, "parse_record_obj", _raise_for("L1000", work.parse_record_obj, 0))
    else:
        monkeypatch.setattr(Evaluator, "evaluate", _raise_for("L1000", Evaluator.evaluate, 1))
    path = poisoned_file(tmp_path, json.dumps(learner(1000)))
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    code, _, err = run(
        "batch", "--rules", rules, "--records", str(path), *AS_OF, "--out", str(out),
        "--errors", str(errors), "--workers", workers,
    )  # fmt: skip
    assert code == 3, err
    assert "batch: 2000 learners read, 1999 reported, 1 in error" in err
    (problem,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert problem["line"] == 1001
    assert problem["message"] == (
        f"internal error while {stage} this learner (KeyError: 'a defect'); please report it"
    )
    assert "Traceback" not in err


def test_text_no_output_can_hold_is_quoted_as_its_escape(tmp_path: Path, rules: str) -> None:
    # Lone surrogates (JSON `\\ud800` escapes) in the learner, a field name and a value.
    path = tmp_path / "surrogates.jsonl"
    path.write_text(
        '{"learner": "A\\ud800", "achievements": []}\n'
        '{"learner": "B", "achievements": [{"item": "T:A\\udc00"}]}\n'
        '{"learner": "C", "\\ud801": 1, "achievements": []}\n' + json.dumps(learner(1)) + "\n"
    )
    errors = tmp_path / "errors.jsonl"
    code, _, err = run(
        "batch", "--rules", rules, "--records", str(path), *AS_OF, "--errors", str(errors)
    )
    assert code == 3, err
    assert "batch: 4 learners read, 1 reported, 3 in error" in err
    problems = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(p["learner"], p["line"]) for p in problems] == [(None, 1), ("B", 2), ("C", 3)]
    assert "`A\\ud800`" in problems[0]["message"]
    assert problems[1]["message"] == "expected Unicode text, got `T:A\\udc00` (a lone surrogate)"


# --- record values: bounded numbers, grades in any case -----------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("credits", 5e-324, "expected 0 or a number from 0.001 to 10,000, got `5e-324`"),
        ("credits", 10**400, "expected 0 or a number from 0.001 to 10,000, got `1000"),
        ("credits", 10_000.5, "expected 0 or a number from 0.001 to 10,000, got `10000.5`"),
        ("hours", 1e-4, "expected 0 or a number from 0.001 to 100,000, got `0.0001`"),
        ("hours", 10**400, "expected 0 or a number from 0.001 to 100,000, got `1000"),
        ("level", 10**400, "expected a whole number from 0 to 9999, got `1000"),
        ("level", -1, "expected a whole number from 0 to 9999, got `-1`"),
        ("level", 1e300, "expected a whole number from 0 to 9999, got `1e+300`"),
        pytest.param(
            "level",
            10**5000,
            "expected a whole number from 0 to 9999, got a number too long",
            id="level-5001-digits",
        ),
    ],
)
def test_numbers_out_of_bounds_are_errors_naming_the_field(
    field: str, value: object, message: str
) -> None:
    obj = {"learner": "L-1", "achievements": [{"item": "T:A", field: value}]}
    (error,) = parse_record_obj(obj, file="r.json", record_index=1)  # type: ignore[misc]
    assert error.field == f"achievements[0].{field}"
    assert error.message.startswith(message)


@pytest.mark.parametrize(
    ("field", "value"),
    [("credits", 0), ("credits", 0.001), ("credits", 10_000), ("hours", 100_000), ("level", 0)],
)
def test_numbers_at_the_bounds_are_accepted(field: str, value: object) -> None:
    obj = {"learner": "L-1", "achievements": [{"item": "T:A", field: value}]}
    record = parse_record_obj(obj, file="r.json", record_index=1)
    assert isinstance(record, LearnerRecord)
    assert getattr(record.achievements[0], field) == value


def test_letter_grades_are_read_in_any_case(tmp_path: Path) -> None:
    obj = {"learner": "L-1", "achievements": [{"item": "T:A", "grade": "a-"}]}
    record = parse_record_obj(obj, file="r.json", record_index=1)
    assert isinstance(record, LearnerRecord) and record.achievements[0].grade == "A-"
    path = tmp_path / "grades.csv"
    path.write_text("learner,item,grade\nL-1,T:A,b+\nL-1,T:B,p\n")
    records, errors = load_records(path)
    assert errors == []
    assert [a.grade for a in records[0].achievements] == ["B+", "P"]


# --- CSV: huge numbers and broken quoting -----------------------------------------------


def test_a_csv_number_of_thousands_of_digits_is_an_error_for_its_row(
    tmp_path: Path, rules: str
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "learner,item,level,credits\n"
        "L-1,T:A,100,3\n"
        f"L-2,T:A,{'9' * 4301},\n"
        f"L-3,T:A,,{'9' * 400}\n"
        "L-4,T:B,200,\n"
        "L-5,T:B,1e400,\n"
    )
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L-1", "L-4"]
    assert [(e.learner, e.line, e.position_kind, e.field) for e in errors] == [
        ("L-2", 3, "row", "level"),
        ("L-3", 4, "row", "credits"),
        ("L-5", 6, "row", "level"),
    ]
    assert errors[0].message.startswith("expected a whole number from 0 to 9999, got `999")
    assert errors[1].message.startswith("expected 0 or a number from 0.001 to 10,000, got `999")
    assert errors[2].message == "expected a whole number from 0 to 9999, got `1e400`"
    code, _, err = run("batch", "--rules", rules, "--records", str(path), *AS_OF)
    assert code == 3
    assert "batch: 5 learners read, 2 reported, 3 in error" in err
    assert f"{path}:row 3: learner L-2: field `level`: expected a whole number" in err


@pytest.mark.parametrize(
    ("text", "row", "reason"),
    [
        # An open quote at the end of the file used to swallow the rest into one cell.
        ('learner,item\nL-1,T:A\nL-2,"T:B\nL-3,T:A\n', 3, "a quoted value that starts in"),
        ('learner,item\nL-1,T:A\nL-2,"T:B', 3, "a quoted value that starts in this row"),
        ('learner,item\nL-1,"T:A"B\n', 2, "text after the closing quote of a value"),
        ('learner,"item\n', 1, "a quoted value that starts in this row is never closed"),
    ],
)
def test_broken_csv_quoting_is_an_error_naming_the_row(
    tmp_path: Path, rules: str, text: str, row: int, reason: str
) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(text)
    records, errors = load_records(path)
    assert records == []
    (error,) = errors
    assert (error.line, error.position_kind) == (row, "row")
    assert error.message.startswith("the file is not valid CSV: " + reason)
    code, out, err = run("batch", "--rules", rules, "--records", str(path), *AS_OF)
    assert code == 3 and out == ""
    assert f"error: {path}:row {row}: the file is not valid CSV: {reason}" in err
    assert "batch: 0 learners read, 0 reported, 0 in error" in err


# --- evaluation: near-linear in the record's size ------------------------------------------


def _ach(atoms: int, firing: int) -> Ach:
    return Ach(
        item="T:R", issuer="T", kind="course", grade=None, credits=1.0, hours=None,
        completed_on=None, subject=None, level=None, tags=frozenset(), competencies={},
        origin="record" if firing < 0 else "granted", atoms=atoms, firing=firing,
    )  # fmt: skip


@given(st.lists(st.tuples(st.integers(0, 2**12 - 1), st.integers(-1, 3)), max_size=30))
def test_conflict_masks_are_the_pairwise_conflicts(shape: list[tuple[int, int]]) -> None:
    # The masks are built per atom (linear), not by comparing every pair (cubic in the
    # attempts of a repeatable item): they must say exactly what `conflicts_with` says.
    local = [_ach(atoms, firing) for atoms, firing in shape]
    expected = [sum(1 << k for k, b in enumerate(local) if a.conflicts_with(b)) for a in local]
    assert _conflict_masks(local) == expected


def attempts(learner_id: str, n: int) -> dict[str, Any]:
    """A learner with `n` passed attempts of the repeatable `T:R`, each on its own day."""
    start = date(2000, 1, 1)
    achievements = [
        {
            "item": "T:R",
            "grade": "B",
            "completed_on": (start + timedelta(days=i % 9000)).isoformat(),
        }
        for i in range(n)
    ]
    return {"learner": learner_id, "achievements": achievements}


def test_a_record_of_thousands_of_attempts_is_evaluated(rules: str, tmp_path: Path) -> None:
    path = tmp_path / "attempts.json"
    path.write_text(json.dumps(attempts("L-1", 3000)))
    code, out, err = run("evaluate", "--rules", rules, str(path), *AS_OF)
    assert code == 0, err
    report = json.loads(out)
    assert [e["credential"] for e in report["earned"]] == ["T:TOPICS"]


def test_the_learner_timeout_bounds_a_learner_with_a_huge_record(
    rules: str, tmp_path: Path
) -> None:
    path = tmp_path / "huge.jsonl"
    lines = [learner(1), attempts("HUGE", 20_000), learner(2)]
    path.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    errors = tmp_path / "errors.jsonl"
    code, out, err = run(
        "batch", "--rules", rules, "--records", str(path), *AS_OF, "--errors", str(errors),
        "--learner-timeout", "0.01",
    )  # fmt: skip
    assert code == 3, err
    assert "batch: 3 learners read, 2 reported, 1 in error" in err
    assert [json.loads(line)["learner"] for line in out.splitlines()] == ["L0001", "L0002"]
    (problem,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert (problem["learner"], problem["line"]) == ("HUGE", 2)
    assert problem["message"].startswith("evaluation stopped after 0.01 s (--learner-timeout)")


def test_the_attempts_benchmark_runs() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_attempts

    results = bench_attempts.measure([50, 100], "allof")
    assert [(size, earned) for size, _, earned in results] == [
        (50, ["T:CERT", "T:TOPICS"]),
        (100, ["T:CERT", "T:TOPICS"]),
    ]
