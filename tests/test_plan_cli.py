"""`plan`, `nearest` and the what-if options: golden outputs on the sample rules and sample
learners (`tests/corpus/advisor/cases.json`: file name -> arguments; every case also gets
`--rules rules/ examples/learners.json --as-of 2026-11-22`), and exit statuses for bad input.
Regenerate with `UPDATE_GOLDEN=1 pytest tests/test_plan_cli.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "advisor"
CASES: dict[str, list[str]] = json.loads((CORPUS / "cases.json").read_text("utf-8"))
COMMON = ["--rules", "rules/", "examples/learners.json", "--as-of", "2026-11-22"]


def run(args: list[str]) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(ROOT)  # rule paths in the output are relative to the repository
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    args = CASES[name]
    code, out, err = run([args[0], *COMMON, *args[1:]])
    assert code == 0, err
    path = CORPUS / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out, "utf-8")
    assert path.exists(), f"no {name}: run with UPDATE_GOLDEN=1"
    assert out == path.read_text("utf-8")


def test_json_on_a_real_stdout_is_only_json() -> None:
    """Run as a process, so that what the solver library writes to file descriptor 1 (HiGHS
    1.16 prints a banner there) would show: standard output must parse as JSON."""
    args = [*COMMON, "--format", "json"]
    for command in (["plan", "--target", "CAPU:CERT-DA"], ["nearest", "--issuer", "RRU"]):
        proc = subprocess.run(
            [sys.executable, "-m", "stackrules", command[0], *args, *command[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert isinstance(json.loads(proc.stdout), list)


def test_plan_json_earns_under_evaluate_with_the_plan_added() -> None:
    """The what-if mechanism agrees with the plan: adding the planned items earns it."""
    code, out, _ = run(["plan", *COMMON, "--target", "BCIT:MTS-ASSOC", "--format", "json"])
    assert code == 0
    for doc in json.loads(out):
        if doc["status"] != "planned":
            continue
        adds = [a for i in doc["items"] for a in ("--add", i["item"])]
        code, out2, _ = run(["evaluate", *COMMON, "--format", "json", *adds])
        reports = json.loads(out2)
        report = next(r for r in reports if r["learner"] == doc["learner"])
        assert "BCIT:MTS-ASSOC" in {e["credential"] for e in report["earned"]}


def test_evaluate_without_what_if_is_unchanged() -> None:
    plain = run(["evaluate", *COMMON])
    empty_what_if = run(["evaluate", *COMMON, "--catalog-date", "2024-09-01"])
    assert plain[0] == 0
    assert plain[1] != empty_what_if[1]  # the catalog date takes effect ...
    again = run(["evaluate", *COMMON])
    assert plain == again  # ... and nothing leaks between runs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--target", "NOPE:X"], "`NOPE:X` is not a credential"),
        (["plan", "--target", "DSGN:GRAPHC"], "did you mean `DSGN:GRAPHIC`?"),
        (["plan", "--target", "DSGN:WEB", "--target", "UVIC:ba"], "did you mean `UVIC:BA`?"),
        (["nearest", "--target", "DSGN:WEBB"], "did you mean `DSGN:WEB`?"),
        (["nearest", "--issuer", "dsgn"], "did you mean `DSGN`?"),
        (["nearest", "--issuer", "DSG"], "did you mean `DSGN`?"),
        (["plan", "--target", "DSGN:WEB", "--per-term", "2.5"], "whole number"),
        (["plan", "--target", "DSGN:WEB", "--per-term", "lots"], "is not a term size"),
        (["plan", "--target", "DSGN:WEB", "--add", "DSGN:FUN"], "did you mean `DSGN:FUND`"),
        (["nearest", "--add", "DSGN:FUND:Z"], "`Z` is not a grade"),
        (["nearest", "--issuer", "NOPE"], "`NOPE` is not a declared issuer"),
        (["evaluate", "--add", "A:B:C:D"], "is not ITEM or ITEM:GRADE"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, _, err = run([args[0], *COMMON, *args[1:]])
    assert code == 2
    assert message in err


def test_unreadable_record_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"learner": "L-1", "achievements": [{"itme": "DSGN:FUND"}]}', "utf-8")
    code, _, err = run(["plan", "--rules", "rules/", str(bad), "--target", "DSGN:WEB"])
    assert code == 3
    assert "itme" in err


def test_broken_rules_exit_1() -> None:
    broken = "examples/broken-rules/SR101-missing-colon.stack"
    code, _, err = run(["nearest", "--rules", broken, "examples/learners.json"])
    assert code == 1
    assert "SR101" in err


def test_learner_and_repeatable_target() -> None:
    """`--learner` keeps those learners (in file order); `--target` repeats: one plan per
    learner and target."""
    learners = ["--learner", "L-1011", "--learner", "L-1003"]
    targets = ["--target", "DSGN:GRAPHIC", "--target", "UVIC:BA"]
    code, out, err = run(["plan", *COMMON, "--format", "json", *learners, *targets])
    assert code == 0, err
    docs = json.loads(out)
    assert [(d["learner"], d["target"]) for d in docs] == [
        ("L-1003", "DSGN:GRAPHIC"),
        ("L-1003", "UVIC:BA"),
        ("L-1011", "DSGN:GRAPHIC"),
        ("L-1011", "UVIC:BA"),
    ]
    code, out, err = run(["nearest", *COMMON, "--learner", "L-1011", "--top", "1"])
    assert code == 0, err
    assert out.startswith("Nearest credentials for learner L-1011")
    assert "\n  1. DSGN:GRAPHIC Graphic Design" in out
    assert "  2. " not in out


def test_nearest_target_is_always_shown() -> None:
    args = ["nearest", *COMMON, "--learner", "L-1011", "--top", "1", "--format", "json"]
    code, out, err = run([*args, "--target", "DSGN:WEB", "--target", "UVIC:BA"])
    assert code == 0, err
    doc = json.loads(out)
    shown = [(c["target"], c["status"]) for c in doc["credentials"]]
    assert shown == [("DSGN:GRAPHIC", "planned"), ("UVIC:BA", "planned"), ("DSGN:WEB", "earned")]


def test_unknown_learner_is_reported_not_ignored(tmp_path: Path) -> None:
    """An unknown `--learner` is a usage error naming it, with a did-you-mean (as `graph`),
    before anything is planned; a learner the file holds but cannot read is a record error."""
    code, out, err = run(
        ["plan", *COMMON, "--target", "DSGN:WEB", "--learner", "L-1011", "--learner", "L-1O11"]
    )
    assert code == 2
    assert "no learner `L-1O11`" in err and "did you mean `L-1011`?" in err
    assert out == ""
    code, _, err = run(["nearest", *COMMON, "--learner", "L-9999"])
    assert code == 2
    assert "`L-9999`" in err
    bad = tmp_path / "two.json"
    bad.write_text(
        '[{"learner": "L-1", "achievements": []},'
        ' {"learner": "L-2", "achievements": [{"itme": "DSGN:FUND"}]},'
        ' {"learner": "L-3", "achievements": [{"itme": "DSGN:FUND"}]}]',
        "utf-8",
    )
    args = ["plan", "--rules", "rules/", str(bad), "--target", "DSGN:WEB"]
    code, out, err = run([*args, "--learner", "L-2"])
    assert code == 3
    assert "itme" in err and out == ""
    code, out, err = run([*args, "--learner", "L-1"])  # L-3's error is not asked about
    assert code == 0, err
    assert "Plan for learner L-1" in out


def test_per_term_agrees_in_json_and_text() -> None:
    """Issue 18: `--per-term 15cr` once put 16 items (24 credits) in term 1 in JSON and dropped
    six copies of a repeatable course from the text."""
    args = ["plan", *COMMON, "--learner", "L-1003", "--target", "UVIC:BA", "--per-term", "15cr"]
    code, out, err = run([*args, "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cost"]["credits"] == 46.5
    by_term: dict[int, list[str]] = {}
    for entry in doc["items"]:
        by_term.setdefault(entry["term"], []).append(entry["item"])
    assert {t["term"]: sorted(t["items"]) for t in doc["terms"]} == {
        n: sorted(items) for n, items in by_term.items()
    }
    assert all(t["credits"] <= 15 for t in doc["terms"])
    assert sum(len(t["items"]) for t in doc["terms"]) == len(doc["items"]) == 31
    code, text, _ = run(args)
    assert code == 0
    lines = [line.split()[0] for line in text.splitlines() if line.startswith("    UVIC:")]
    assert sorted(lines) == sorted(e["item"] for e in doc["items"])
    assert "UVIC:ENGL-1XX" not in lines and not any("CAMOSUN" in x for x in lines)
