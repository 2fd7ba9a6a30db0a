"""The `evaluate` command: formats, exit statuses and the interface spec's examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from stackrules.cli import cli
from stackrules.schemas import load_schema

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules")
LEARNERS = str(ROOT / "examples" / "learners.json")
AS_OF = ["--as-of", "2026-11-22"]

# The learner record of ../shared/spec/interfaces.md, exactly as written there.
SPEC_RECORD = {
    "learner": "L-0001",
    "catalog_date": "2024-09-01",
    "achievements": [
        {"item": "CAMOSUN:MATH100", "grade": "B+", "completed_on": "2023-04-28", "credits": 3},
        {"item": "FOODSAFE:L1", "completed_on": "2019-06-01"},
        {"item": "UFV:DM101", "status": "in-progress"},
    ],
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_the_spec_record_evaluates_against_the_sample_rules(tmp_path: Path) -> None:
    record = tmp_path / "l-0001.json"
    record.write_text(json.dumps(SPEC_RECORD))
    code, out, _ = run("evaluate", "--rules", RULES, str(record), *AS_OF)
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, load_schema("report"))
    assert report["learner"] == "L-0001"
    assert report["as_of"] == "2026-11-22"
    assert report["schema"] == "stackrules/report/v2"
    reasons = {(n["item"], n["reason"]) for n in report["not_counted"]}
    assert ("FOODSAFE:L1", "expired") in reasons  # a five-year certificate from 2019
    assert ("UFV:DM101", "in-progress") in reasons
    transfer = next(t for t in report["transfers"] if t["from"] == ["CAMOSUN:MATH100"])
    assert transfer["rule"] == "CAMOSUN=>UVIC"
    assert transfer["grants"] == ["UVIC:MATH100"]
    assert transfer["source"].startswith(RULES.rstrip("/") + "/camosun-uvic/")


def test_json_is_an_array_for_several_learners_and_validates() -> None:
    code, out, _ = run("evaluate", "--rules", RULES, LEARNERS, *AS_OF)
    assert code == 0
    reports = json.loads(out)
    assert isinstance(reports, list) and len(reports) == 12
    schema = load_schema("report")
    for r in reports:
        jsonschema.validate(r, schema)
    assert [r["earned"] == sorted(r["earned"], key=lambda e: e["credential"]) for r in reports]


def test_jsonl_and_json_agree() -> None:
    _, out_json, _ = run("evaluate", "--rules", RULES, LEARNERS, *AS_OF)
    code, out_jsonl, _ = run("evaluate", "--rules", RULES, LEARNERS, *AS_OF, "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out_jsonl.splitlines()]
    assert lines == json.loads(out_json)


def test_csv_records_give_the_same_reports_as_json() -> None:
    csv_path = str(ROOT / "examples" / "learners.csv")
    _, out_csv, _ = run("evaluate", "--rules", RULES, csv_path, *AS_OF, "--format", "jsonl")
    _, out_json, _ = run("evaluate", "--rules", RULES, LEARNERS, *AS_OF, "--format", "jsonl")
    by_learner = {r["learner"]: r for r in map(json.loads, out_json.splitlines())}
    for r in map(json.loads, out_csv.splitlines()):
        assert r["earned"] == by_learner[r["learner"]]["earned"]
        assert r["in_progress"] == by_learner[r["learner"]]["in_progress"]


def test_text_is_an_audit_that_cites_rules() -> None:
    code, out, _ = run("evaluate", "--rules", RULES, LEARNERS, *AS_OF, "--format", "text")
    assert code == 0
    assert "EARNED" in out and "IN PROGRESS" in out and "TRANSFER CREDIT" in out
    assert "[rule CAMOSUN=>UVIC at " in out


def test_rule_errors_exit_1_with_diagnostics_and_no_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stack"
    bad.write_text('credential NOPE:X "x" { r: NOPE:Y }\n')
    code, out, err = run("evaluate", "--rules", str(bad), LEARNERS)
    assert code == 1
    assert out == ""
    assert "error[SR201]" in err


def test_unreadable_record_exits_3_naming_row_and_field(tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    good = {"learner": "L-1", "achievements": [{"item": "UFV:DM101", "grade": "A"}]}
    bad = {"learner": "L-2", "achievements": [{"item": "UFV:DM101", "grade": "E"}]}
    records.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    code, out, err = run("evaluate", "--rules", RULES, str(records), "--format", "jsonl")
    assert code == 3
    assert [json.loads(line)["learner"] for line in out.splitlines()] == ["L-1"]
    assert "line 2" in err and "L-2" in err and "grade" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", LEARNERS],  # no --rules
        ["evaluate", "--rules", RULES, LEARNERS, "--as-of", "2026-13-40"],
        ["evaluate", "--rules", RULES, LEARNERS, "--format", "xml"],
        ["frobnicate"],
    ],
)
def test_wrong_usage_exits_2(args: list[str]) -> None:
    code, _, _ = run(*args)
    assert code == 2


def test_missing_record_file_exits_3() -> None:
    code, _, err = run("evaluate", "--rules", RULES, "no-such-file.json")
    assert code == 3
    assert "no-such-file.json" in err


def test_the_tutorial_shows_what_the_engine_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tutorial runs from the repository root with relative paths, so rules cite
    # `examples/tutorial/climate.stack:LINE`; its output block must be what the CLI prints.
    monkeypatch.chdir(ROOT)
    tutorial = Path("examples/tutorial")
    code, out, _ = run(
        "evaluate",
        "--rules",
        str(tutorial / "climate.stack"),
        str(tutorial / "learners.json"),
        *AS_OF,
        "--format",
        "text",
    )
    assert code == 0
    assert out == (tutorial / "expected.txt").read_text("utf-8")
    doc = Path("docs/tutorial.md").read_text("utf-8")
    assert out in doc
    assert (tutorial / "climate.stack").read_text("utf-8") in doc
