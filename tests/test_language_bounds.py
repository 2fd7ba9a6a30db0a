"""The bounds of the language (docs/language.md, "Bounds"): nesting (SR105) and numbers (SR311).

Nesting past the limit is refused at the syntax stage, so every command that reads rules
answers with the diagnostic and exit status 1, never a traceback; nesting at the limit works
end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackrules import ast
from stackrules.check import check
from stackrules.cli import cli
from stackrules.syntax import MAX_NESTING, parse_text

PRELUDE = """issuer UFV "University of the Fraser Valley"
issuer SFU "Simon Fraser University"
course UFV:A1 "One" credits 3 subject X level 100
course UFV:A2 "Two" credits 3 subject X level 100
course SFU:B1 "Three" credits 3 subject X level 100
equivalency SFU:EQ "Three for one" {
    from SFU:B1
    grant UFV:A1
}
"""


def nested_all_of(depth: int) -> str:
    req = "UFV:A1"
    for _ in range(depth):
        req = f"all of ({req}, UFV:A2)"
    return req


def nested_not(depth: int) -> str:
    return "1 of " + "not " * depth + "subject Y"


def credential(core: str) -> str:
    return PRELUDE + f'credential UFV:C "Deep" {{\n    core: {core}\n}}\n'


def codes(text: str) -> list[str]:
    rule_file, diagnostics = parse_text(text, "t.stack")
    diagnostics += check(ast.RuleSetSyntax((rule_file,)))
    return [d.code for d in diagnostics if d.severity == "error"]


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def record(tmp_path: Path) -> Path:
    learner = {
        "learner": "L1",
        "achievements": [
            {"item": "SFU:B1", "grade": "A", "completed_on": "2020-01-01"},
            {"item": "UFV:A2", "grade": "A", "completed_on": "2020-01-01"},
        ],
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(learner), "utf-8")
    (tmp_path / "record.jsonl").write_text(json.dumps(learner) + "\n", "utf-8")
    return path


def commands(rules: Path, record: Path) -> dict[str, list[str]]:
    r, rec, day = str(rules), str(record), "2024-01-01"
    return {
        "check": ["check", r],
        "fmt": ["fmt", r],
        "evaluate": ["evaluate", "--rules", r, rec, "--as-of", day],
        "batch": ["batch", "--rules", r, "--records", str(record.with_suffix(".jsonl"))],
        "graph": ["graph", "--rules", r],
        "where": ["where", "--rules", r, "UFV:A1"],
        "nearest": ["nearest", "--rules", r, rec, "--as-of", day],
        "plan": ["plan", "--rules", r, rec, "--target", "UFV:C", "--as-of", day],
        "suggest": ["suggest", "--rules", r],
        "credit-loss": ["credit-loss", "--rules", r, rec, "--as-of", day],
    }


COMMANDS = list(commands(Path("r"), Path("r")))
TOO_DEEP = {"all-of-139": nested_all_of(139), "not-326": nested_not(326)}


# ------------------------------------------------------------------ nesting


def test_the_limit_is_what_the_docs_say() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text("utf-8")
    assert f"**Nesting: at most {MAX_NESTING} levels (SR105).**" in docs


@pytest.mark.parametrize("core", TOO_DEEP.values(), ids=TOO_DEEP.keys())
def test_check_refuses_deep_nesting(core: str) -> None:
    rule_file, diagnostics = parse_text(credential(core), "deep.stack")
    assert [d.code for d in diagnostics] == ["SR105"]
    assert diagnostics[0].span is not None and diagnostics[0].span.line == 11
    assert f"more than {MAX_NESTING} levels" in diagnostics[0].message
    # the too-deep credential is left out; the rest of the file is kept
    kept = [type(d).__name__ for d in rule_file.declarations]
    assert "CredentialDecl" not in kept and "EquivalencyDecl" in kept


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("core", TOO_DEEP.values(), ids=TOO_DEEP.keys())
def test_every_command_answers_deep_nesting_with_the_diagnostic(
    command: str, core: str, tmp_path: Path, record: Path
) -> None:
    rules = tmp_path / "deep.stack"
    rules.write_text(credential(core), "utf-8")
    before = rules.read_text("utf-8")
    result = invoke(*commands(rules, record)[command])
    assert result.exit_code == 1, result.output
    assert "deep.stack:11:" in result.output
    assert "error[SR105]" in result.output
    assert rules.read_text("utf-8") == before  # fmt leaves a file with errors alone


@pytest.mark.parametrize(
    "core",
    [
        nested_all_of(MAX_NESTING),
        nested_not(MAX_NESTING),
        "(" * MAX_NESTING + "UFV:A1" + ")" * MAX_NESTING,
        # levels of different kinds add up: lists, then `not`s inside the innermost
        nested_all_of(MAX_NESTING // 2).replace(
            "UFV:A1", "any of " + "not " * (MAX_NESTING // 2) + "subject Y", 1
        ),
    ],
    ids=["all-of", "not", "parentheses", "mixed"],
)
def test_nesting_at_the_limit_works_end_to_end(core: str, tmp_path: Path, record: Path) -> None:
    text = credential(core)
    assert codes(text) == []
    assert codes(credential(f"all of ({core}, UFV:A2)")) == ["SR105"]
    rules = tmp_path / "deep.stack"
    rules.write_text(text, "utf-8")
    for command, args in commands(rules, record).items():
        result = invoke(*args)
        assert result.exit_code == 0, (command, result.output)
    report = json.loads(invoke(*commands(rules, record)["evaluate"]).stdout)
    assert report["learner"] == "L1"


def test_one_level_past_the_limit_is_refused() -> None:
    assert codes(credential(nested_all_of(MAX_NESTING + 1))) == ["SR105"]
    assert codes(credential(nested_not(MAX_NESTING + 1))) == ["SR105"]
    parens = "(" * (MAX_NESTING + 1) + "UFV:A1" + ")" * (MAX_NESTING + 1)
    assert codes(credential(parens)) == ["SR105"]


def test_each_declaration_nested_too_deeply_is_reported() -> None:
    text = credential(nested_all_of(100)) + (
        'course UFV:A3 "Three" credits 3 prerequisite ' + nested_all_of(70) + "\n"
    )
    _, diagnostics = parse_text(text, "t.stack")
    assert [(d.code, d.span.line if d.span else 0) for d in diagnostics] == [
        ("SR105", 11),
        ("SR105", 13),
    ]


@pytest.mark.parametrize(
    "text",
    [
        credential("all of (" * 20_000 + "UFV:A1" + ")" * 20_000),
        credential("1 of " + "not " * 50_000 + "subject X"),
        credential("(" * 50_000),
        "(" * 50_000,
    ],
    ids=["all-of", "not", "unclosed", "bare"],
)
def test_any_depth_of_text_is_a_diagnostic(text: str) -> None:
    _, diagnostics = parse_text(text, "t.stack")
    assert diagnostics and diagnostics[0].code in {"SR101", "SR102", "SR105"}


# ------------------------------------------------------------------ numbers


def item(attrs: str) -> str:
    return PRELUDE + f'course UFV:X "X" {attrs}\n'


NUMBERS_REFUSED = {
    "credits above 10,000": (item("credits 10000.5"), "credits go up to 10,000"),
    "400-digit credits": (item("credits " + "9" * 400), "(400 characters)"),
    "4,301-digit level": (item("level " + "1" * 4301), "levels go up to 10,000"),
    "hours above 100,000": (item("hours 100001"), "hours go up to 100,000"),
    "seven decimals": (item("credits 0.0000001"), "more than 6 decimal places"),
    "valid for 8000 years": (item("valid for 8000 years"), "durations go up to 200 years"),
    "valid for 2401 months": (item("valid for 2401 months"), "2,400 months"),
    "within 8000 years": (credential("all of (UFV:A1) within 8000 years"), "`within 8000 years`"),
    "N of above 10,000": (credential("10001 of subject X"), "counts go up to 10,000"),
    "amount": (credential("20000 credits from subject X"), "`20000 credits from`"),
    "level filter": (credential("1 of level >= 99999"), "`level >= 99999`"),
    "level in a not": (credential("1 of not level < 0.12345678"), "decimal places"),
    "limit": (
        credential("all of (UFV:A1)\n    limit at most 1" + "0" * 30 + " items"),
        "`limit at most 100000000000…(31 characters) items`",
    ),
    "hours per credit 0": (
        'issuer BCIT "BCIT" { hours per credit 0 }\n',
        "`hours per credit 0` must be more than 0",
    ),
    "hours per credit 1001": ('issuer BCIT "BCIT" { hours per credit 1001 }\n', "up to 1,000"),
    "grant": (
        PRELUDE.replace("grant UFV:A1", "grant UFV:A1 credits 99999"),
        "`credits 99999`",
    ),
    "transfer line": (
        PRELUDE + "transfer SFU => UFV {\n    SFU:B1 => UFV:A2 credits 3 within 300 years\n}\n",
        "`within 300 years`",
    ),
}


@pytest.mark.parametrize("text,words", NUMBERS_REFUSED.values(), ids=NUMBERS_REFUSED.keys())
def test_numbers_out_of_bounds_are_sr311(text: str, words: str) -> None:
    rule_file, diagnostics = parse_text(text, "t.stack")
    assert diagnostics == []
    found = check(ast.RuleSetSyntax((rule_file,)))
    errors = [d for d in found if d.severity == "error"]
    assert [d.code for d in errors] == ["SR311"], [d.render() for d in found]
    assert words in errors[0].message
    assert len(errors[0].render()) < 300
    assert not [d for d in found if d.code == "SR308"]  # no second opinion on the same number


NUMBERS_ACCEPTED = {
    "credits 10,000": item("credits 10000 hours 100000 level 10000"),
    "six decimals": item("credits 0.000001"),
    "trailing zeros": item("credits 1.500000000000"),
    "zero": item("credits 0 hours 0 level 0"),
    "200 years": item("valid for 200 years"),
    "2400 months": item("valid for 2400 months"),
    "within 200 years": credential("all of (UFV:A1, UFV:A2) within 200 years"),
    "hours per credit": 'issuer BCIT "BCIT" { hours per credit 0.5 }\n',
}


@pytest.mark.parametrize("text", NUMBERS_ACCEPTED.values(), ids=NUMBERS_ACCEPTED.keys())
def test_numbers_at_the_bounds_are_accepted(text: str) -> None:
    assert codes(text) == []


def test_credits_written_with_an_exponent_are_a_syntax_error() -> None:
    _, diagnostics = parse_text(item("credits 5e-324"), "t.stack")
    assert [d.code for d in diagnostics] == ["SR101"]


def test_a_huge_fractional_count_does_not_break_the_help(tmp_path: Path) -> None:
    huge = "1" * 4400 + ".5"
    text = credential(f"all of (UFV:A1)\n    limit at most {huge} items")
    rule_file, _ = parse_text(text, "t.stack")
    found = check(ast.RuleSetSyntax((rule_file,)))
    assert sorted(d.code for d in found) == ["SR306", "SR311"]
    assert all(len(d.render()) < 300 for d in found)


AT_THE_BOUNDS = """issuer UFV "U" { hours per credit 0.000001 }
issuer SFU "S" { hours per credit 1000 }
course UFV:A1 "a" credits 10000 hours 100000 level 10000 valid for 200 years subject X
course UFV:A2 "b" credits 0.000001 hours 0 level 0 valid for 2400 months subject X
course UFV:A3 "c" credits 0 subject X
course SFU:B1 "d" credits 10000 hours 100000 subject X
equivalency SFU:EQ "e" {
    from SFU:B1 within 200 years
    grant UFV:A3 credits 10000 hours 100000 level 10000
}
transfer SFU => UFV {
    SFU:B1 => UFV:A2 credits 10000 within 2400 months
}
credential UFV:C "c" {
    credits 10000
    valid for 200 years
    core: 10000 of subject X within 200 years
    more: 10000 credits from level >= 10000 within 2400 months
    hrs: 100000 hours from subject X
    any: 0 of (UFV:A1)
    limit at most 10000 credits from transfer
    limit at least 0.000001 hours
    limit at most 10000 items from not level < 0.000001
}
credential UFV:D "d" {
    core: all of (UFV:A1, UFV:A2, UFV:A3) within 200 years
}
"""


def test_rules_at_every_bound_work_end_to_end(tmp_path: Path) -> None:
    assert codes(AT_THE_BOUNDS) == []
    rules = tmp_path / "bounds.stack"
    rules.write_text(AT_THE_BOUNDS, "utf-8")
    record = tmp_path / "record.json"
    achieved = [
        {"item": "UFV:A1", "grade": "A", "completed_on": "2023-04-28"},
        {"item": "UFV:A2", "grade": "A", "completed_on": "2001-01-01"},
        {"item": "SFU:B1", "grade": "B", "completed_on": "2020-12-31"},
    ]
    record.write_text(json.dumps({"learner": "L1", "achievements": achieved}), "utf-8")
    day = "2024-09-01"
    for args in (
        ["evaluate", "--rules", rules, record, "--as-of", day],
        ["nearest", "--rules", rules, record, "--as-of", day],
        ["plan", "--rules", rules, record, "--target", "UFV:D", "--as-of", day],
        ["credit-loss", "--rules", rules, record, "--as-of", day],
        ["graph", "--rules", rules],
        ["suggest", "--rules", rules],
        ["where", "--rules", rules, "UFV:A1"],
        ["fmt", rules],
    ):
        assert invoke(*map(str, args)).exit_code == 0, args
    assert codes(rules.read_text("utf-8")) == []  # formatted, still within the bounds
