"""Golden corpus for the syntax stage: `tests/corpus/syntax/NAME/case.stack` beside
`expected.txt`, the tree it parses to (every node with its source span) and its diagnostics.

Every example of the language reference is a case, plus every kind of syntax error.
Regenerate after a deliberate change with `UPDATE_GOLDEN=1 pytest tests/test_syntax_corpus.py`
and review the diff: the golden files are the specification, not a snapshot of the code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from astdump import dump_case
from stackrules.format import canonical_tree, format_text
from stackrules.syntax import parse_text

CORPUS = Path(__file__).resolve().parent / "corpus" / "syntax"
CASES = sorted(p for p in CORPUS.iterdir() if (p / "case.stack").is_file())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_syntax_case(case: Path) -> None:
    text = (case / "case.stack").read_text("utf-8")
    tree, diagnostics = parse_text(text, "case.stack")
    actual = dump_case(tree, diagnostics)
    expected_file = case / "expected.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(actual, "utf-8")
    assert expected_file.is_file(), f"no golden file: run with UPDATE_GOLDEN=1 and review {case}"
    assert actual == expected_file.read_text("utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_syntax_case_formats_faithfully(case: Path) -> None:
    text = (case / "case.stack").read_text("utf-8")
    tree, diagnostics = parse_text(text, "case.stack")
    formatted, _ = format_text(text, "case.stack")
    if diagnostics:
        assert formatted is None
        return
    assert formatted is not None
    assert parse_text(formatted, "case.stack")[0] == canonical_tree(tree)
    assert format_text(formatted, "case.stack")[0] == formatted


def test_recovery_keeps_the_declaration_that_cut_the_previous_one_short() -> None:
    tree, diagnostics = parse_text("course UFV:A credits\ncourse UFV:B credits 3\n", "t.stack")
    assert [d.code for d in diagnostics] == ["SR101"]
    assert [d.ref.id for d in tree.declarations if hasattr(d, "ref")] == ["UFV:B"]
