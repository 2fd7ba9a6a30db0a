"""`stackrules credit-loss`: credits earned at the source, granted, and applied to the target."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent

RULES = """
issuer COL "A college"
issuer UNI "A university"
course COL:A "A" credits 3
course COL:B "B" credits 3
course COL:C "C" credits 3
course COL:D "D" credits 3
course UNI:X "X" credits 1.5 level 100
course UNI:OWN "Own course" credits 1.5 level 100
transfer COL => UNI "College to university" {
    COL:A => UNI:X min grade C
    COL:B => UNI:ELEC credits 1.5 level 100
    COL:C => UNI:SPARE credits 1.5 level 900
    COL:D => none
}
credential UNI:CERT "Certificate" {
    core: 4.5 credits from issuer UNI and level = 100
}
"""

RECORDS = [
    {
        "learner": "L-1",
        "achievements": [
            {"item": "COL:A", "grade": "B"},
            {"item": "COL:B", "grade": "B"},
            {"item": "COL:C", "grade": "A"},
            {"item": "COL:D", "grade": "A"},
            {"item": "UNI:OWN", "grade": "A"},
        ],
    },
    {
        "learner": "L-2",
        "achievements": [
            {"item": "COL:A", "grade": "D"},  # below the line's C: earned, not granted
            {"item": "COL:B", "grade": "F"},  # failed: not even earned
            {"item": "UNI:OWN", "grade": "B"},
        ],
    },
    {"learner": "L-3", "achievements": [{"item": "UNI:OWN", "grade": "A"}]},  # no transfer
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    rules = tmp_path / "rules.stack"
    rules.write_text(RULES, encoding="utf-8")
    records = tmp_path / "records.json"
    records.write_text(json.dumps(RECORDS), encoding="utf-8")
    return str(rules), str(records)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["credit-loss", *args])
    return result.exit_code, result.stdout, result.stderr


def _json(files: tuple[str, str], *extra: str) -> dict[str, object]:
    code, out, err = _run(
        "--rules", files[0], files[1], "--as-of", "2026-01-01", "--format", "json", *extra
    )
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_earned_granted_applied_per_learner_and_source(files: tuple[str, str]) -> None:
    doc = _json(files)
    rows = {r["learner"]: r for r in doc["learners"]}  # type: ignore[union-attr]
    assert set(rows) == {"L-1", "L-2"}  # L-3 transferred nothing
    one = rows["L-1"]
    assert (one["source"], one["target"], one["status"]) == ("COL", "UNI:CERT", "earned")
    # 12 earned at the college; 4.5 granted (A, B, C); the certificate applies X and ELEC (3)
    # beside the learner's own course; SPARE (level 900) fits nowhere; D got no credit
    assert (one["earned"], one["granted"], one["applied"], one["no_credit"]) == (12, 4.5, 3, 1)
    two = rows["L-2"]
    assert (two["earned"], two["granted"], two["applied"]) == (3, 0, 0)
    assert two["target"] is None
    (source,) = doc["sources"]  # type: ignore[misc]
    assert source == {
        "source": "COL",
        "learners": 2,
        "earned": 15,
        "granted": 4.5,
        "applied": 3,
        "no_credit": 1,
        "targets": {"UNI:CERT": 1},
    }


def test_a_target_fixes_the_credential_and_the_cohort(files: tuple[str, str]) -> None:
    doc = _json(files, "--target", "UNI:CERT")
    learners = {(r["learner"], r["status"]) for r in doc["learners"]}  # type: ignore[union-attr]
    # L-3 started the certificate but has no other institution on the record
    assert learners == {("L-1", "earned"), ("L-2", "in-progress")}
    assert doc["target"] == "UNI:CERT"


def test_csv_and_text_agree_with_json(files: tuple[str, str]) -> None:
    code, out, _ = _run("--rules", files[0], files[1], "--as-of", "2026-01-01", "--format", "csv")
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row == {
        "source": "COL",
        "learners": "2",
        "earned": "15",
        "granted": "4.5",
        "applied": "3",
        "no_credit": "1",
    }
    code, out, _ = _run("--rules", files[0], files[1], "--as-of", "2026-01-01")
    assert code == 0 and "2 transfer learners" in out
    assert "UNI:CERT (earned)" in out


def test_errors(files: tuple[str, str], tmp_path: Path) -> None:
    code, _, err = _run("--rules", files[0], files[1], "--target", "UNI:CRT")
    assert code == 2 and "unknown credential `UNI:CRT`" in err and "UNI:CERT" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("learner,item,grade\nL-9,COL:A,Q\n", encoding="utf-8")
    code, _, err = _run("--rules", files[0], str(bad))
    assert code == 3 and "grade" in err
    code, _, _ = _run("--rules", files[0], str(tmp_path / "missing.json"))
    assert code == 3


def test_sample_cohort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = _run(
        "--rules",
        "rules",
        "examples/learners.json",
        "--as-of",
        "2026-11-22",
        "--target",
        "UVIC:BA",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0 and {r["learner"] for r in doc["learners"]} == {"L-1003", "L-1012"}
