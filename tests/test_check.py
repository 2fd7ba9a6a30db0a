"""The checker: every code it reports, its near misses, the spec's examples and the command.

Each code has a case that must produce it and a near miss that must not. Rule texts start
from `PRELUDE`, which declares the issuers and a small catalog most cases need.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from stackrules import ast
from stackrules.check import check, check_paths
from stackrules.diagnostics import CODES, Diagnostic
from stackrules.syntax import parse_text
from strategies import rule_files, rule_texts

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "examples" / "broken-rules"
RULES = ROOT / "rules"
LANGUAGE_SPEC = Path("/work/shared/spec/language.md")

PRELUDE = """
issuer UFV "University of the Fraser Valley"
issuer RRU "Royal Roads University"
issuer ECO "Competency framework"
course UFV:A1 "A1" credits 3
course UFV:A2 "A2" credits 3
course UFV:A3 "A3" credits 3
micro-course UFV:M1 "M1" credits 1
"""


def run(text: str, prelude: bool = True) -> list[Diagnostic]:
    source = (PRELUDE if prelude else "") + text
    rule_file, syntax_diags = parse_text(source, "case.stack")
    assert syntax_diags == [], [d.render() for d in syntax_diags]
    return check(ast.RuleSetSyntax((rule_file,)))


def codes(text: str, prelude: bool = True) -> list[str]:
    return [d.code for d in run(text, prelude)]


def only(text: str, code: str) -> Diagnostic:
    found = [d for d in run(text) if d.code == code]
    assert len(found) == 1, [d.render() for d in run(text)]
    return found[0]


def line_of(text: str, needle: str) -> int:
    """The line `needle` is on once the prelude is prepended."""
    source = PRELUDE + text
    return source[: source.index(needle)].count("\n") + 1


# ------------------------------------------------------------------ SR201


def test_sr201_undeclared_issuer_everywhere() -> None:
    text = """
course UFVV:X1 "x" credits 3
credential UFV:C "c" { core: all of (UFVV:A1, competency ECOO:H at novice) }
equivalency UFV:EQ "e" { from UFVV:A1 grant UFVV:G1 }
transfer CAM => UFV "t" { CAM:X => UFV:A1 }
alias "x" = UFVV:A9
module UFV:T "t" teaches ECOO:H at novice
credential UFV:D "d" { core: 2 of issuer UFVV and subject X
  limit at most 3 items from issuer CAM }
"""
    found = [d for d in run(text) if d.code == "SR201"]
    messages = [d.message for d in found]
    assert "issuer `UFVV` of `UFVV:X1` is not declared" in messages
    assert "issuer `CAM` is not declared" in messages  # the transfer block's source issuer
    assert "issuer `ECOO` of `ECOO:H` is not declared" in messages
    # one per place: X1, A1 (credential), H (credential), A1 (eq), G1, CAM (block),
    # CAM:X (line), A9, H (teaches), UFVV filter, CAM filter
    assert len(found) == 11
    assert all(d.severity == "error" for d in found)
    ufvv = next(d for d in found if "UFVV:X1" in d.message)
    assert ufvv.help == "did you mean `UFV`?"
    cam = next(d for d in found if d.message == "issuer `CAM` is not declared")
    assert cam.help == 'declare it: `issuer CAM "…"`'
    assert cam.span is not None and cam.span.column == len("transfer ") + 1


def test_sr201_span_is_the_identifier() -> None:
    text = 'credential UFV:C "c" { core: all of (UFV:A1, UFVV:A2) }\n'
    d = only(text, "SR201")
    assert d.span is not None
    assert (d.span.line, d.span.column) == (line_of(text, "credential"), text.index("UFVV") + 1)
    assert d.span.end_column - d.span.column == len("UFVV:A2")


def test_sr201_near_miss_declared_issuers() -> None:
    assert "SR201" not in codes('credential UFV:C "c" { core: all of (UFV:A1, RRU:X) }')


# ------------------------------------------------------------------ SR202, SR203, SR204


def test_sr202_requirement_name_twice() -> None:
    d = only('credential UFV:C "c" { core: UFV:A1\n core: UFV:A2 }', "SR202")
    assert d.message == "requirement `core` is declared twice in `UFV:C`"
    assert d.help is not None and d.help.startswith("first declared at case.stack:")


def test_sr202_near_miss_same_name_in_two_credentials() -> None:
    text = 'credential UFV:C "c" { core: UFV:A1 }\ncredential UFV:D "d" { core: UFV:A1 }'
    assert "SR202" not in codes(text)


def test_sr203_item_declared_twice() -> None:
    d = only('course UFV:A1 "again" credits 3', "SR203")
    assert d.message == "item `UFV:A1` is declared twice"
    assert d.help == "first declared at case.stack:5"


def test_sr203_equivalency_and_competency_twice() -> None:
    text = """
equivalency UFV:EQ "e" { from UFV:A1 grant UFV:A2 }
equivalency UFV:EQ "e" { from UFV:A2 grant UFV:A3 }
competency ECO:H "h"
competency ECO:H "h"
"""
    assert codes(text).count("SR203") == 2


def test_sr203_near_miss_distinct_items() -> None:
    assert "SR203" not in codes('course UFV:A4 "a4" credits 3')


def test_sr204_declared_as_different_things() -> None:
    d = only('credential UFV:A1 "c" { core: UFV:A2 }', "SR204")
    assert d.message == "`UFV:A1` is declared as an item and as a credential"
    assert d.help == "first declared as an item at case.stack:5"


def test_sr204_near_miss_grant_is_not_a_declaration() -> None:
    text = """
equivalency UFV:EQ "e" { from UFV:A1 grant UFV:NEW credits 3 }
credential UFV:C "c" { core: UFV:NEW }
"""
    assert codes(text) == []


# ------------------------------------------------------------------ SR205 versions


def test_sr205_overlapping_versions() -> None:
    text = """
credential UFV:C "v1" { effective 2020-01-01 until 2022-12-31
  core: UFV:A1 }
credential UFV:C "v2" { effective 2022-09-01
  core: UFV:A2 }
"""
    d = only(text, "SR205")
    assert d.message.startswith("versions of credential `UFV:C` overlap")
    assert "from 2022-09-01 on" in d.message and "from 2020-01-01 until 2022-12-31" in d.message


def test_sr205_version_without_window_overlaps_everything() -> None:
    text = """
credential UFV:C "v1" { core: UFV:A1 }
credential UFV:C "v2" { effective 2022-09-01
  core: UFV:A2 }
"""
    assert codes(text) == ["SR205"]


def test_sr205_near_miss_consecutive_versions() -> None:
    text = """
credential UFV:C "v1" { effective 2020-01-01 until 2022-08-31
  core: UFV:A1 }
credential UFV:C "v2" { effective 2022-09-01
  core: UFV:A2 }
credential UFV:C "v0" { effective 2019-01-01 until 2019-12-31
  core: UFV:A2 }
"""
    assert codes(text) == []


# ------------------------------------------------------------------ SR206


def test_sr206_undeclared_item_of_a_declared_catalog() -> None:
    d = only('credential UFV:C "c" { core: all of (UFV:A1, UFV:A22) }', "SR206")
    assert d.severity == "warning"
    assert d.message == "`UFV:A22` is not declared in the catalog of `UFV`"
    assert d.help == "did you mean `UFV:A2`?"


def test_sr206_everywhere_a_reference_can_be() -> None:
    text = """
alias "x" = UFV:ZZ1
transfer UFV => RRU "t" { UFV:ZZ2 => RRU:G1 }
equivalency RRU:EQ "e" { from UFV:ZZ3 grant RRU:G2 }
module UFV:P "p" prerequisite UFV:ZZ4
credential UFV:C "c" { core: 6 credits from (UFV:ZZ5, UFV:A1)
  limit at most 1 items from (UFV:ZZ6) }
"""
    found = sorted(re.findall(r"ZZ\d", " ".join(d.message for d in run(text))))
    assert found == ["ZZ1", "ZZ2", "ZZ3", "ZZ4", "ZZ5", "ZZ6"]


def test_sr206_near_misses() -> None:
    text = """
transfer RRU => UFV "t" { RRU:NEVER-DECLARED => UFV:GRANTED credits 3 }
credential UFV:C "c" { core: all of (UFV:GRANTED, RRU:NOT-IN-A-CATALOG) }
"""
    # a granted identifier is declared by its grant; RRU declares no catalog
    assert codes(text) == []


def test_sr206_wrong_kind_of_thing() -> None:
    text = 'competency UFV:H "h"\ncredential UFV:C "c" { core: UFV:H }'
    d = only(text, "SR206")
    assert d.message == "`UFV:H` is declared as a competency, not as an item or a credential"


def test_sr206_undeclared_competency_of_a_declared_framework() -> None:
    text = """
competency ECO:HAZARDS "h"
module UFV:T "t" teaches ECO:HAZARD at novice
credential UFV:C "c" { core: competency ECO:HAZARDS at novice }
"""
    d = only(text, "SR206")
    assert d.message == "competency `ECO:HAZARD` is not declared"
    assert d.help == "did you mean `ECO:HAZARDS`?"


# ------------------------------------------------------------------ SR207 levels


def test_sr207_level_not_on_the_scale() -> None:
    text = """
module UFV:T "t" teaches ECO:H at developping
credential UFV:C "c" { core: competency ECO:H at expert }
"""
    found = [d for d in run(text) if d.code == "SR207"]
    assert [d.message.split("`")[1] for d in found] == ["developping", "expert"]
    assert found[0].help == "did you mean `developing`?"
    teach_line = line_of(text, "module UFV:T")
    span = found[0].span
    assert span is not None and span.line == teach_line
    assert span.column == len('module UFV:T "t" teaches ECO:H at ') + 1
    level_span = found[1].span
    assert level_span is not None
    assert level_span.column == len('credential UFV:C "c" { core: competency ECO:H at ') + 1


def test_sr207_declared_scale_replaces_the_default() -> None:
    text = """
levels basic < advanced
module UFV:T "t" teaches ECO:H at advanced
credential UFV:C "c" { core: competency ECO:H at proficient }
"""
    assert codes(text) == ["SR207"]


# ------------------------------------------------------------------ SR208–SR211


def test_sr208_issuer_declared_twice() -> None:
    d = only('issuer UFV "again"', "SR208")
    assert d.message == "issuer `UFV` is declared twice"


def test_sr209_alias_to_two_identifiers() -> None:
    text = 'alias "x" = UFV:A1\nalias "x" = UFV:A2\nalias "y" = UFV:A1\nalias "y" = UFV:A1'
    d = only(text, "SR209")
    assert d.message == 'alias `"x"` maps to `UFV:A1` and to `UFV:A2`'


def test_sr210_levels() -> None:
    assert codes("levels a < b\nlevels a < b") == ["SR210"]
    d = only("levels a < b < a", "SR210")
    assert d.message == "level `a` appears twice on the scale"
    assert codes("levels a < b") == []


def test_sr211_attribute_given_twice() -> None:
    text = """
course UFV:X "x" credits 3 credits 4
issuer RRX "r" { hours per credit 15 hours per credit 10 }
credential UFV:C "c" { kind a kind b
  core: UFV:A1 }
transfer UFV => RRU "t" { UFV:A1 => RRU:G credits 3 credits 4 }
"""
    found = [d.message for d in run(text) if d.code == "SR211"]
    assert found == [
        "`credits` is given twice for `UFV:X`",
        "`hours per credit` is given twice for issuer `RRX`",
        "`kind` is given twice for `UFV:C`",
        "`credits` is given twice for the grant of `RRU:G`",
    ]


def test_sr211_near_miss_two_limits_and_two_windows_in_versions() -> None:
    text = """
credential UFV:C "c" {
  limit at most 6 credits from transfer
  limit at least 3 credits from issuer UFV
  core: 9 credits from issuer UFV }
"""
    assert codes(text) == []


# ------------------------------------------------------------------ SR301 cycles


def test_sr301_cycle_names_every_credential_in_order() -> None:
    text = """
credential UFV:X "x" { core: all of (UFV:Y, UFV:A1) }
credential UFV:Y "y" { core: any of (UFV:Z, UFV:A2) }
credential UFV:Z "z" { core: 2 of (UFV:A1, UFV:X, UFV:A3) }
"""
    d = only(text, "SR301")
    assert d.message == (
        "credentials require each other in a cycle: `UFV:X` → `UFV:Y` → `UFV:Z` → `UFV:X`"
    )
    assert d.span is not None and d.span.line == line_of(text, "credential UFV:X")


def test_sr301_self_cycle_and_two_cycles() -> None:
    text = """
credential UFV:S "s" { core: UFV:S }
credential UFV:P "p" { core: all of (UFV:Q, UFV:R) }
credential UFV:Q "q" { core: UFV:P }
credential UFV:R "r" { core: UFV:P }
"""
    messages = [d.message for d in run(text) if d.code == "SR301"]
    assert messages == [
        "credential `UFV:S` requires itself",
        "credentials require each other in a cycle: `UFV:P` → `UFV:Q` → `UFV:P`",
        "credentials require each other in a cycle: `UFV:P` → `UFV:R` → `UFV:P`",
    ]


def test_sr301_near_miss_ladder() -> None:
    text = """
credential UFV:MC "mc" { core: all of (UFV:A1, UFV:A2) }
credential UFV:CERT "cert" { core: all of (UFV:MC, UFV:A3) }
credential UFV:DIP "dip" { core: all of (UFV:CERT, UFV:MC) }
"""
    assert codes(text) == []


# ------------------------------------------------------------------ SR302–SR306


def test_sr302_n_of_a_short_list() -> None:
    d = only('credential UFV:C "c" { core: 3 of (UFV:A1, UFV:A2) }', "SR302")
    assert d.message == "`3 of` a list of 2 members can never hold"
    assert codes('credential UFV:C "c" { core: 2 of (UFV:A1, UFV:A2) }') == []
    assert codes('credential UFV:C "c" { core: 5 of subject MATH }') == []


def test_sr303_all_of_a_selector() -> None:
    only('credential UFV:C "c" { core: all of subject MATH }', "SR303")
    assert codes('credential UFV:C "c" { core: any of subject MATH }') == []


def test_sr304_amount_and_limit_lists_hold_identifiers_only() -> None:
    text = """
credential UFV:C "c" {
  limit at most 1 items from (UFV:A1, any of (UFV:A2, UFV:A3))
  core: 6 credits from (UFV:A1, all of (UFV:A2, UFV:A3), UFV:M1 min grade C) }
"""
    found = [d for d in run(text) if d.code == "SR304"]
    assert len(found) == 3
    assert all("not a list of sub-requirements" in d.message for d in found)
    assert "cannot carry modifiers" in found[2].message
    near = 'credential UFV:C "c" { core: 6 credits from (UFV:A1, UFV:A2, UFV:M1) min grade C }'
    assert codes(near) == []


def test_sr305_until_before_effective_everywhere() -> None:
    text = """
credential UFV:C "c" { effective 2022-01-01 until 2021-01-01
  core: UFV:A1 }
equivalency UFV:EQ "e" { from UFV:A1 grant UFV:A2 effective 2022-01-01 until 2021-12-31 }
transfer UFV => RRU "t" { effective 2023-01-01 until 2020-01-01
  UFV:A1 => RRU:G1 effective 2023-01-01 until 2022-01-01
  UFV:A2 => RRU:G2 effective 2023-01-01 until 2023-01-01 }
"""
    assert codes(text) == ["SR305", "SR305", "SR305", "SR305"]
    d = run(text)[0]
    assert d.message == "`until 2021-01-01` is before `effective 2022-01-01`: the window is empty"


def test_sr306_non_whole_numbers() -> None:
    d = only('credential UFV:C "c" { core: 1.5 of (UFV:A1, UFV:A2) }', "SR306")
    assert d.message == "`1.5 of` needs a whole number of members"
    text = 'credential UFV:C "c" { limit at most 2.5 items\n core: UFV:A1 }'
    assert codes(text) == ["SR306"]
    assert codes('credential UFV:C "c" { core: 1.5 credits from (UFV:A1, UFV:A2) }') == []


# ------------------------------------------------------------------ SR307 equivalency cycles


def test_sr307_mutual_recognition_is_a_warning_naming_the_rules() -> None:
    text = """
transfer UFV => RRU "t" { UFV:A1 => RRU:X1 }
transfer RRU => UFV "t" { RRU:X1 => UFV:A1 }
"""
    d = only(text, "SR307")
    assert d.severity == "warning"
    assert "`UFV:A1` → `RRU:X1` → `UFV:A1`" in d.message
    assert "`UFV=>RRU` at line" in d.message and "`RRU=>UFV` at line" in d.message


def test_sr307_through_an_equivalency() -> None:
    text = """
equivalency UFV:EQ "e" { from all of (UFV:A1, UFV:A2) grant UFV:A3 }
transfer UFV => UFV "t" { UFV:A3 => UFV:A1 }
"""
    d = only(text, "SR307")
    assert "equivalency `UFV:EQ`" in d.message


def test_sr307_near_miss_chain() -> None:
    text = """
transfer UFV => RRU "t" { UFV:A1 => RRU:X1 }
transfer RRU => UFV "t" { RRU:X1 => UFV:A2 }
"""
    assert codes(text) == []


# ------------------------------------------------------------------ SR308 unearnable


def test_sr308_amount_list_worth_too_little() -> None:
    d = only('credential UFV:C "c" { core: 9 credits from (UFV:A1, UFV:A2, UFV:M1) }', "SR308")
    assert d.severity == "warning"
    assert d.message == (
        "credential `UFV:C` can never be earned: requirement `core`: `9 credits from` a list "
        "whose items add up to at most 7 credits in the catalog"
    )


@pytest.mark.parametrize(
    "text",
    [
        # enough credit
        'credential UFV:C "c" { core: 7 credits from (UFV:A1, UFV:A2, UFV:M1) }',
        # a repeatable member may count many times
        'course UFV:R "r" credits 1 repeatable\n'
        'credential UFV:C "c" { core: 9 credits from (UFV:A1, UFV:R) }',
        # a granted member may come from several pieces of evidence
        'transfer RRU => UFV "t" { RRU:X => UFV:A1 }\n'
        'credential UFV:C "c" { core: 9 credits from (UFV:A1, UFV:A2) }',
        # a member with no known value
        'course UFV:N "n"\ncredential UFV:C "c" { core: 9 credits from (UFV:A1, UFV:N) }',
        # an undeclared member (its value is unknown)
        'credential UFV:C "c" { core: 9 credits from (UFV:A1, RRU:X) }',
        # a selector can match anything
        'credential UFV:C "c" { core: 900 credits from issuer UFV }',
        # hours converted by the issuer's rate
        'issuer CAPU "c" { hours per credit 15 }\ncourse CAPU:H "h" hours 45\n'
        'credential CAPU:C "c" { core: 3 credits from (CAPU:H) }',
    ],
)
def test_sr308_near_misses(text: str) -> None:
    assert "SR308" not in codes(text)


def test_sr308_only_the_unearnable_credential_of_a_ladder() -> None:
    # UFV:D can be earned by a record that holds UFV:C (awarded elsewhere)
    text = """
credential UFV:C "c" { core: 9 credits from (UFV:A1) }
credential UFV:D "d" { core: UFV:C }
"""
    found = [d.message for d in run(text) if d.code == "SR308"]
    assert len(found) == 1 and found[0].startswith("credential `UFV:C`")


def test_sr308_propagates_through_lists() -> None:
    text = """
credential UFV:C "c" {
  core: 2 of (9 credits from (UFV:A1, UFV:A2), UFV:A3, 4 credits from (UFV:M1)) }
credential UFV:D "d" { core: any of (9 credits from (UFV:A1, UFV:A2), UFV:A3) }
"""
    found = [d for d in run(text) if d.code == "SR308"]
    assert len(found) == 1
    assert found[0].message.startswith(
        "credential `UFV:C` can never be earned: requirement `core`: only 1 member of `2 of`"
    )


def test_sr308_empty_date_window() -> None:
    text = (
        'credential UFV:C "c" { core: all of (UFV:A1 completed after 2021-06-01, UFV:A2) '
        "completed before 2021-06-02 }"
    )
    d = only(text, "SR308")
    assert "no day is after 2021-06-01 and before 2021-06-02" in d.message
    ok = text.replace("2021-06-02", "2021-06-03")
    assert codes(ok) == []


def test_sr308_limits() -> None:
    at_most_items = 'credential UFV:C "c" { limit at most 1 items\n core: all of (UFV:A1, UFV:A2) }'
    d = only(at_most_items, "SR308")
    assert "the limit allows at most 1 items but the requirements need at least 2" in d.message
    listed = (
        'credential UFV:C "c" { limit at most 1 items from (UFV:A1, UFV:A2)\n'
        " core: all of (UFV:A1, UFV:A2, UFV:A3) }"
    )
    assert codes(listed) == ["SR308"]
    credits = 'credential UFV:C "c" { limit at most 5 credits\n core: 6 credits from issuer UFV }'
    assert codes(credits) == ["SR308"]
    at_least = (
        'credential UFV:C "c" { limit at least 7 credits from (UFV:A1, UFV:A2)\n'
        " core: 9 credits from issuer UFV }"
    )
    assert codes(at_least) == ["SR308"]
    # near misses: enough room, a modifier narrows what the limit counts, a selector group
    assert codes(at_most_items.replace("at most 1", "at most 2")) == []
    assert codes(at_most_items.replace("1 items", "1 items min grade C")) == []
    assert codes(credits.replace("at most 5 credits", "at most 5 credits from transfer")) == []
    assert codes(at_least.replace("at least 7", "at least 6")) == []
    assert codes(credits.replace("6 credits", "6 hours")) == []


def test_sr308_not_twice_for_what_another_code_reports() -> None:
    assert codes('credential UFV:C "c" { core: 3 of (UFV:A1, UFV:A2) }') == ["SR302"]


# ------------------------------------------------------------------ SR309, SR310


def test_sr309_credential_without_requirements() -> None:
    d = only('credential UFV:C "c" { kind certificate }', "SR309")
    assert d.message == "credential `UFV:C` has no requirements"
    assert codes('credential UFV:C "c" { kind certificate\n core: UFV:A1 }') == []


def test_sr310_equivalency_without_from_or_grant() -> None:
    text = 'equivalency UFV:E1 "e" { grant UFV:A1 }\nequivalency UFV:E2 "e" { from UFV:A1 }'
    assert codes(text) == ["SR310", "SR310"]
    assert codes('equivalency UFV:E3 "e" { from UFV:A1 grant UFV:A2 }') == []


# ------------------------------------------------------------------ everything together


def test_collects_every_problem_in_source_order() -> None:
    text = """
credential UFV:C "c" {
  core: all of (UFV:A22, UFVV:X)
  core: 3 of (UFV:A1, UFV:A2)
  more: 1.5 of (UFV:A1, UFV:A2)
  skills: competency ECO:H at expret
}
issuer UFV "again"
"""
    assert codes(text) == ["SR206", "SR201", "SR202", "SR302", "SR306", "SR207", "SR208"]


def test_every_reported_code_is_in_the_table_and_messages_follow_the_style() -> None:
    text = Path(__file__).read_text("utf-8")
    cases = re.findall(r"text = \"\"\"(.*?)\"\"\"", text, re.S)
    assert len(cases) > 10
    for case in cases:
        for d in run(case):
            assert d.code in CODES and d.severity == CODES[d.code][0].value
            assert d.message[0].islower() or d.message[0] == "`", d.message
            assert not d.message.endswith("."), d.message
            assert "Decl" not in d.message and "Req" not in d.message


def test_check_paths_combines_syntax_and_semantic_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "a.stack").write_text(PRELUDE + 'credential UFV:C "c" { core: UFVV:X }\n')
    (tmp_path / "b.stack").write_text("credential UFV:D {\n")
    _, found = check_paths([tmp_path])
    assert [d.code for d in found] == ["SR201", "SR102"]
    assert found == sorted(found, key=Diagnostic.sort_key)


# ------------------------------------------------------------------ never raises


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(rule_files())
def test_check_never_raises_on_any_tree(tree: ast.RuleFile) -> None:
    for d in check(ast.RuleSetSyntax((tree,))):
        assert d.code in CODES


@PROPERTY
@given(rule_texts())
def test_check_never_raises_on_any_parsed_text(text: str) -> None:
    rule_file, _ = parse_text(text, "random.stack")
    for d in check(ast.RuleSetSyntax((rule_file,))):
        assert d.code in CODES


def test_check_survives_deep_nesting() -> None:
    depth = 60
    req = "UFV:A1"
    for _ in range(depth):
        req = f"all of ({req}, UFV:A2)"
    rule_file, diags = parse_text(PRELUDE + f'credential UFV:C "c" {{ core: {req} }}', "deep")
    if not diags:
        assert check(ast.RuleSetSyntax((rule_file,))) == []


# ------------------------------------------------------------------ spec examples


SPEC_DECLARATIONS = """
issuer RRU "Royal Roads University"
issuer BCIT "BCIT"
issuer CAMOSUN "Camosun"
issuer UVIC "UVic"
issuer FOODSAFE "FOODSAFE"
issuer ECO "ECO"
"""


def _spec_examples() -> list[str]:
    if not LANGUAGE_SPEC.exists():
        return []
    text = LANGUAGE_SPEC.read_text("utf-8")
    blocks = re.findall(r"```\n(.*?)```", text, re.S)
    # the grammar sketch and the requirement fragments are not rule files
    return [b for b in blocks if not b.lstrip().startswith(("REQUIREMENT", "electives:", "limit"))]


def test_spec_examples_check_without_errors() -> None:
    examples = _spec_examples()
    if not examples:
        pytest.skip("the language spec is not available")
    source = SPEC_DECLARATIONS + "\n".join(examples)
    rule_file, syntax_diags = parse_text(source, "spec.stack")
    assert syntax_diags == [], [d.render() for d in syntax_diags]
    found = check(ast.RuleSetSyntax((rule_file,)))
    errors = [d.render() for d in found if d.severity == "error"]
    assert errors == []


def test_spec_requirement_examples_check_without_errors() -> None:
    text = """
credential UFV:C "c" {
    electives: 2 of (UFV:A1, UFV:A2, UFV:A3)
    math: 12 credits from subject in (MATH, STAT) and level >= 200 min grade C
    wound: 5 of tagged wound-care within 5 years
    study: 135 hours from issuer UFV and subject DA
    skills: all of (competency ECO:HAZARDS at proficient, competency ECO:PLANS at developing)
    either: any of (all of (UFV:A1, UFV:A2), UFV:A3)
    limit at most 60 credits from transfer
    limit at least 30 credits from issuer UFV and not transfer
    limit at most 2 items from subject DM
    limit at least 6 credits from subject CSCI min grade C
    limit at least 6 credits min grade C
}
"""
    assert codes(text) == []


# ------------------------------------------------------------------ examples and sample rules


def _broken_examples() -> list[Path]:
    return sorted(BROKEN.glob("*.stack")) if BROKEN.is_dir() else []


@pytest.mark.parametrize("path", _broken_examples(), ids=lambda p: p.name)
def test_broken_example_produces_exactly_its_codes(path: Path) -> None:
    first = path.read_text("utf-8").splitlines()[0]
    match = re.match(r"#\s*expect:\s*(.+)", first)
    assert match, f"{path.name} does not start with `# expect: SRxxx`"
    expected = sorted(set(re.findall(r"SR\d{3}", match.group(1))))
    _, found = check_paths([path])
    assert sorted({d.code for d in found}) == expected, [d.render() for d in found]


def test_broken_examples_exist_or_skip() -> None:
    if not _broken_examples():
        pytest.skip("examples/broken-rules has no files yet")


def test_sample_rules_check_without_errors() -> None:
    if not RULES.is_dir() or not any(RULES.rglob("*.stack")):
        pytest.skip("rules/ has no rule files yet")
    _, found = check_paths([RULES])
    assert [d.render() for d in found if d.severity == "error"] == []


# ------------------------------------------------------------------ the command


@pytest.fixture
def cli_app() -> click.Group:
    from stackrules.cli import cli

    return cli


def test_cli_text_output_and_exit_codes(tmp_path: Path, cli_app: click.Group) -> None:
    good = tmp_path / "good.stack"
    good.write_text(PRELUDE + 'credential UFV:C "c" { core: all of (UFV:A1, UFV:A22) }\n')
    bad = tmp_path / "bad.stack"
    bad.write_text(PRELUDE + 'credential UFV:C "c" { core: UFVV:X }\n')
    runner = CliRunner()

    result = runner.invoke(cli_app, ["check", str(good)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.match(r".*good\.stack:\d+:\d+: warning\[SR206\]: ", lines[0])
    assert lines[-1] == "0 errors, 1 warning"

    result = runner.invoke(cli_app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "error[SR201]: issuer `UFVV` of `UFVV:X` is not declared" in result.output
    assert result.output.splitlines()[-1] == "1 error, 0 warnings"

    result = runner.invoke(cli_app, ["check", str(tmp_path / "missing.stack")])
    assert result.exit_code == 1
    assert "error[SR100]: no such file or folder" in result.output

    result = runner.invoke(cli_app, ["check"])
    assert result.exit_code == 2


def test_cli_json_output(tmp_path: Path, cli_app: click.Group) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.stack").write_text(PRELUDE + 'credential UFV:C "c" { core: 3 of (UFV:A1) }\n')
    result = CliRunner().invoke(cli_app, ["check", "--format", "json", str(rules)])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert isinstance(data, list) and len(data) == 1
    (entry,) = data
    assert set(entry) == {"code", "severity", "message", "span", "help"}
    assert entry["code"] == "SR302" and entry["severity"] == "error"
    assert set(entry["span"]) == {"file", "line", "column", "end_line", "end_column"}
    assert entry["span"]["file"].endswith("a.stack")


def test_cli_json_empty_and_clean(tmp_path: Path, cli_app: click.Group) -> None:
    (tmp_path / "a.stack").write_text(PRELUDE)
    result = CliRunner().invoke(cli_app, ["check", "--format", "json", str(tmp_path)])
    assert result.exit_code == 0 and json.loads(result.output) == []
    result = CliRunner().invoke(cli_app, ["check", str(tmp_path)])
    assert result.exit_code == 0 and result.output == "0 errors, 0 warnings\n"


def test_cli_no_traceback_on_unreadable_input(tmp_path: Path, cli_app: click.Group) -> None:
    (tmp_path / "bin.stack").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "junk.stack").write_text("credential {{{ ]]] 3 of of of\n" * 3)
    result = CliRunner().invoke(cli_app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


# ------------------------------------------------------------------ did-you-mean at scale


def test_suggestions_in_a_large_catalog() -> None:
    from stackrules.check.suggest import IdentifierSuggester, Suggester

    codes = [f"MATH{n}" for n in range(1000, 6000)] + ["GD157", "DM101", "STAT255"]
    suggester = IdentifierSuggester(f"UFV:{c}" for c in codes)
    assert suggester.help("UFV:GD175") == "did you mean `UFV:GD157`?"
    assert suggester.help("UFV:STAT225") == "did you mean `UFV:STAT255`?"
    assert suggester.help("UFV:ZZZZZZZZZZ") is None
    assert suggester.help("RRU:GD157") is None  # only the same issuer's identifiers
    assert Suggester(["novice", "developing"]).closest("developping") == "developing"
