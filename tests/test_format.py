"""The formatter: canonical layout, the printer's special cases, comments, `stackrules fmt`."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules import ast
from stackrules.cli.fmt import fmt_command
from stackrules.format import canonical_tree, format_file, format_text
from stackrules.syntax import parse_text


def fmt(text: str) -> str:
    out, diagnostics = format_text(text, "t.stack")
    assert out is not None, [d.render() for d in diagnostics]
    again, _ = format_text(out, "t.stack")
    assert again == out, "not idempotent"
    tree, _ = parse_text(text, "t.stack")
    assert parse_text(out, "t.stack")[0] == canonical_tree(tree), "meaning changed"
    return out


def comments(text: str) -> Counter[str]:
    from stackrules.format import _Source

    return Counter(c.text for c in _Source(text).comments)


# ------------------------------------------------------------------ layout


def test_item_on_one_line_with_attributes_in_canonical_order() -> None:
    text = (
        'course  UFV:GD157   "Digital Design Media I"\n  subject GD level 100 credits 3\n'
        "badge FOODSAFE:L1 prerequisite UFV:GD157 valid for 5 years hours 8 repeatable\n"
        "    teaches ECO:HAZARDS at developing, ECO:PLANS at novice tags a, b\n"
    )
    assert fmt(text) == (
        'course UFV:GD157 "Digital Design Media I" credits 3 level 100 subject GD\n'
        "badge FOODSAFE:L1 hours 8 tags a, b valid for 5 years repeatable\n"
        "    teaches ECO:HAZARDS at developing, ECO:PLANS at novice prerequisite UFV:GD157\n"
    )


def test_credential_body_attributes_then_limits_then_requirements() -> None:
    text = """credential RRU:CAF "Climate" { core "Core courses": all of (RRU:CAF1, RRU:CAF2)
    limit at most 2 items from subject DM credits 3 effective 2020-01-01 until 2021-08-31
    kind micro-credential electives: 2 of (RRU:E1, RRU:E2, RRU:E3) }"""
    assert (
        fmt(text)
        == """credential RRU:CAF "Climate" {
    kind micro-credential
    credits 3
    effective 2020-01-01 until 2021-08-31
    limit at most 2 items from subject DM
    core "Core courses": all of (RRU:CAF1, RRU:CAF2)
    electives: 2 of (RRU:E1, RRU:E2, RRU:E3)
}
"""
    )


def test_declarations_separated_by_blank_lines_catalog_lines_kept_together() -> None:
    text = (
        "issuer UFV\nissuer CAPU\ncourse UFV:A\ncourse UFV:B\n\ncourse UFV:C\n"
        'levels a < b\ncompetency X:Y "t"\nalias "x" = UFV:A\nalias "y" = UFV:B\n'
    )
    assert fmt(text) == (
        "issuer UFV\nissuer CAPU\n\ncourse UFV:A\ncourse UFV:B\n\ncourse UFV:C\n\n"
        'levels a < b\n\ncompetency X:Y "t"\n\nalias "x" = UFV:A\nalias "y" = UFV:B\n'
    )


def test_issuer_body_settings() -> None:
    text = 'issuer CAPU "Capilano" { repeats latest passing grade D hours per credit 15 }'
    assert fmt(text) == (
        'issuer CAPU "Capilano" {\n    hours per credit 15\n    passing grade D\n'
        "    repeats latest\n}\n"
    )
    assert fmt("issuer CAPU {}") == "issuer CAPU\n"


def test_a_repeated_issuer_setting_keeps_its_own_value() -> None:
    text = "issuer CAPU {\n    passing grade D\n    passing grade C  # the later one\n}\n"
    assert fmt(text) == text


def test_equivalency_and_transfer_block() -> None:
    text = """equivalency UFV:EQ "T" { effective 2021-09-01 grant UFV:GD157 credits 3 grant UFV:X
      from all of (UFV:DM101, UFV:DM102) }
transfer CAMOSUN => UVIC { effective 2020-09-01 until 2027-08-31
  CAMOSUN:MATH100 => UVIC:MATH100 min grade C within 5 years effective 2021-01-01
  CAMOSUN:ENGL151 => UVIC:ENGL-1XX subject ENGL level 100 credits 1.5
  CAMOSUN:BIOL103 + CAMOSUN:BIOL104 => UVIC:BIOL150A + UVIC:BIOL150B hours 3
  CAMOSUN:CHEM110 => none effective 2022-01-01 until 2023-01-01 }"""
    assert (
        fmt(text)
        == """equivalency UFV:EQ "T" {
    from all of (UFV:DM101, UFV:DM102)
    grant UFV:GD157 credits 3 + UFV:X
    effective 2021-09-01
}

transfer CAMOSUN => UVIC {
    effective 2020-09-01 until 2027-08-31
    CAMOSUN:MATH100 => UVIC:MATH100 min grade C within 5 years effective 2021-01-01
    CAMOSUN:ENGL151 => UVIC:ENGL-1XX credits 1.5 level 100 subject ENGL
    CAMOSUN:BIOL103 + CAMOSUN:BIOL104 => UVIC:BIOL150A + UVIC:BIOL150B hours 3
    CAMOSUN:CHEM110 => none effective 2022-01-01 until 2023-01-01
}
"""
    )


def test_empty_bodies() -> None:
    assert fmt("credential UFV:C {}") == "credential UFV:C {\n}\n"
    assert fmt("transfer A => B {}") == "transfer A => B {\n}\n"


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        # modifiers of `( R ) MOD` print after the core, lists keep their members' own
        ("(all of (UFV:A, UFV:B)) min grade C", "all of (UFV:A, UFV:B) min grade C"),
        ("((UFV:A)) min grade C within 1 year", "UFV:A min grade C within 1 year"),
        ("(UFV:A min grade B) within 2 months", "UFV:A min grade B within 2 months"),
        (
            "any of ((all of (UFV:A1, UFV:A2)) min grade B, UFV:A3 completed after 2020-01-01)",
            "any of (all of (UFV:A1, UFV:A2) min grade B, UFV:A3 completed after 2020-01-01)",
        ),
        (
            "2 of subject in (MATH,STAT) and not not transfer min grade C",
            "2 of subject in (MATH, STAT) and not not transfer min grade C",
        ),
        (
            "12.50 credits from level>=200 and tagged core and kind badge"
            " completed before 2030-01-01",
            "12.50 credits from level >= 200 and tagged core and kind badge"
            " completed before 2030-01-01",
        ),
        ("135 hours from issuer CAPU and subject transfer", None),
        ("competency ECO:HAZARDS at proficient within 3 years", None),
        ("any of (competency ECO:A at x, 1 of (UFV:B))", None),
    ],
)
def test_requirements(written: str, printed: str | None) -> None:
    out = fmt(f"credential UFV:C {{\n    r: {written}\n}}\n")
    assert out == f"credential UFV:C {{\n    r: {printed or written}\n}}\n"


def test_numbers_strings_and_dates_as_written() -> None:
    tree = ast.RuleFile(
        "t",
        (
            ast.ItemDecl(
                "course",
                ast.Ref("UFV:A"),
                'say "hi" \\ # no comment',
                (ast.Attr("credits", Decimal("0.0000001")), ast.Attr("hours", Decimal("1.50"))),
            ),
        ),
    )
    text = format_file(tree)
    assert text == 'course UFV:A "say \\"hi\\" \\\\ # no comment" credits 0.0000001 hours 1.50\n'
    assert parse_text(text, "t")[0] == tree
    assert comments(text) == Counter()


def test_long_lists_break_one_member_per_line() -> None:
    members = ", ".join(f"RRU:ELECTIVE-{i}" for i in range(8))
    text = f"credential RRU:C {{ electives: 2 of (UFV:X, any of ({members})) min grade C }}"
    assert fmt(text) == (
        "credential RRU:C {\n"
        "    electives: 2 of (\n"
        "        UFV:X,\n"
        "        any of (\n"
        + "".join(f"            RRU:ELECTIVE-{i},\n" for i in range(7))
        + "            RRU:ELECTIVE-7\n"
        "        )\n"
        "    ) min grade C\n"
        "}\n"
    )


def test_long_selectors_and_items_continue_on_indented_lines() -> None:
    text = (
        'credential UVIC:M { lower "First- and second-year psychology": 4.5 credits from issuer '
        "UVIC and subject PSYC and level <= 200 min grade C }\n"
        'course UFV:DM113 "Video for Social Media" credits 1 hours 12 level 100 subject DM '
        "tags design, social prerequisite UFV:DM101\n"
    )
    assert fmt(text) == (
        "credential UVIC:M {\n"
        '    lower "First- and second-year psychology": 4.5 credits from issuer UVIC and'
        " subject PSYC\n"
        "        and level <= 200 min grade C\n"
        "}\n\n"
        'course UFV:DM113 "Video for Social Media" credits 1 hours 12 level 100 subject DM\n'
        "    tags design, social prerequisite UFV:DM101\n"
    )


def test_keywords_as_names() -> None:
    text = (
        "credential UFV:C {\n    kind badge\n    subject transfer\n    tags course, of\n"
        "    all: 2 of tagged core and kind course and issuer none\n}\n"
    )
    assert fmt(text) == text


def test_a_requirement_named_like_a_keyword_keeps_source_order() -> None:
    text = "credential UFV:C {\n    min: UFV:A\n    limit at most 3 credits\n}\n"
    out = fmt(text)
    assert out == "credential UFV:C {\n    min: UFV:A\n    limit at most 3 credits\n}\n"


# ------------------------------------------------------------------ comments


def test_comments_kept_in_place() -> None:
    text = """# file header

issuer CAPU "Capilano" {   # header trailing
    # about hours
    hours per credit 15      # converts hours
    passing grade D
    # before the brace
}
# before the credential
credential UFV:C {
    core: all of (UFV:A,   # first
                  UFV:B)   # second
    kind certificate   # the kind
    limit at most 2 items from
        # inside a limit
        subject DM
}   # after the brace

# at the end
"""
    out = fmt(text)
    assert (
        out
        == """# file header

issuer CAPU "Capilano" {  # header trailing
    # about hours
    hours per credit 15  # converts hours
    passing grade D
    # before the brace
}

# before the credential
credential UFV:C {
    kind certificate  # the kind
    # inside a limit
    limit at most 2 items from subject DM
    # first
    core: all of (UFV:A, UFV:B)  # second
}  # after the brace

# at the end
"""
    )
    assert comments(out) == comments(text)


def test_comments_in_a_broken_list_stay_between_its_members() -> None:
    members = "".join(f"        RRU:ELECTIVE-NUMBER-{i},  # elective {i}\n" for i in range(5))
    text = (
        f"credential RRU:C {{\n    electives: 2 of (\n{members}"
        "        # last one\n        UFV:X\n    )\n}\n"
    )
    assert fmt(text) == text


def test_comments_in_transfer_blocks_and_equivalencies() -> None:
    text = """transfer A => B {
    # window
    effective 2020-01-01
    A:X => B:Y  # one
    # two is next
    A:Z => none  # two
}

equivalency UFV:E {
    from UFV:A  # the source
    grant UFV:B  # the grant
}
"""
    assert fmt(text) == text


def test_hash_in_a_title_is_not_a_comment() -> None:
    text = 'course UFV:A "C# and \\"F#\\""  # a real comment\n'
    assert fmt(text) == text
    assert comments(text) == Counter({"# a real comment": 1})


# ------------------------------------------------------------------ refusals


def test_syntax_errors_are_not_formatted() -> None:
    out, diagnostics = format_text("course UFV:A credits\n", "t.stack")
    assert out is None
    assert [d.code for d in diagnostics] == ["SR102"]


def test_a_repeated_equivalency_statement_is_not_dropped() -> None:
    out, diagnostics = format_text("equivalency UFV:E { from UFV:A from UFV:B grant UFV:C }")
    assert out is None
    assert [d.code for d in diagnostics] == ["SR211"]
    assert "`from` is given twice" in diagnostics[0].message


# ------------------------------------------------------------------ stackrules fmt


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "ugly.stack").write_text("course UFV:A   credits 3 # c\n")
    (tmp_path / "sub" / "fine.stack").write_text("course UFV:B credits 3\n")
    (tmp_path / "sub" / "broken.stack").write_text("course UFV:C credits\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    return tmp_path


def test_fmt_rewrites_changed_files_and_reports_broken_ones(folder: Path) -> None:
    result = CliRunner().invoke(fmt_command, [str(folder)])
    assert result.exit_code == 1
    assert f"reformatted {(folder / 'ugly.stack').as_posix()}" in result.output
    assert "fine.stack" not in result.output
    assert "broken.stack:1:21: error[SR102]" in result.output
    assert result.output.endswith("1 file reformatted, 1 left unchanged, 1 with errors\n")
    assert (folder / "ugly.stack").read_text() == "course UFV:A credits 3  # c\n"
    assert (folder / "sub" / "broken.stack").read_text() == "course UFV:C credits\n"


def test_fmt_check_writes_nothing(folder: Path) -> None:
    result = CliRunner().invoke(fmt_command, ["--check", str(folder / "ugly.stack")])
    assert result.exit_code == 1
    assert result.output == (
        f"would reformat {(folder / 'ugly.stack').as_posix()}\n"
        "1 file would be reformatted, 0 left unchanged\n"
    )
    assert (folder / "ugly.stack").read_text() == "course UFV:A   credits 3 # c\n"
    ok = CliRunner().invoke(fmt_command, ["--check", str(folder / "sub" / "fine.stack")])
    assert ok.exit_code == 0


def test_fmt_diff_prints_a_unified_diff(folder: Path) -> None:
    result = CliRunner().invoke(fmt_command, ["--diff", str(folder / "ugly.stack")])
    assert result.exit_code == 0
    assert "-course UFV:A   credits 3 # c\n+course UFV:A credits 3  # c\n" in result.output
    assert (folder / "ugly.stack").read_text() == "course UFV:A   credits 3 # c\n"


def test_fmt_missing_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(fmt_command, [str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "error[SR100]: no such file or folder" in result.output
