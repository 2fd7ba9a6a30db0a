"""Properties of the parser and the formatter, on random trees and random (broken) text.

- the parser never raises on any text: problems are diagnostics with a known code and a place;
- parse ∘ format is the identity on trees (up to attribute order, which the formatter makes
  canonical: `canonical_tree`);
- formatting is idempotent, and keeps every comment of a real file.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackrules import ast
from stackrules.diagnostics import CODES, Diagnostic
from stackrules.format import canonical_tree, format_file, format_text
from stackrules.syntax import parse_text
from strategies import KEYWORDS, REQUIREMENT_NAME_STOP, rule_files, rule_texts

RULES = Path(__file__).resolve().parent.parent / "rules"
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _well_formed(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        assert d.code in CODES
        assert d.span is not None and d.span.line >= 1 and d.span.column >= 1


# ------------------------------------------------------------------ never raises


@PROPERTY
@given(st.text())
def test_parser_never_raises_on_any_text(text: str) -> None:
    rule_file, diagnostics = parse_text(text, "fuzz.stack")
    assert isinstance(rule_file, ast.RuleFile)
    _well_formed(diagnostics)


_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z0-9_:.\-+]+|\s+|.', re.DOTALL)
_TEXTS = rule_texts(max_size=3)
_CHARS = st.characters(blacklist_categories=("Cs",))
_INSERTS = ("{", "}", "(", ")", ",", ":", '"', "=>", "+", "#", "\n", " of ", "all", "9", "x:")


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """A formatted rule text with a few characters or tokens deleted, inserted or swapped."""
    text = draw(_TEXTS)
    for _ in range(draw(st.integers(1, 4))):
        tokens = _TOKENS.findall(text) or [""]
        i = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(("del-char", "ins-char", "del-tok", "ins-tok", "swap")))
        if action == "del-char" and text:
            k = draw(st.integers(0, len(text) - 1))
            text = text[:k] + text[k + 1 :]
            continue
        if action == "ins-char":
            k = draw(st.integers(0, len(text)))
            text = text[:k] + draw(_CHARS) + text[k:]
            continue
        if action == "del-tok":
            del tokens[i]
        elif action == "ins-tok":
            tokens.insert(i, draw(st.sampled_from(_INSERTS + KEYWORDS)))
        elif len(tokens) > 1:
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        text = "".join(tokens)
    return text


@PROPERTY
@given(mutated_texts())
def test_parser_never_raises_on_broken_rules(text: str) -> None:
    rule_file, diagnostics = parse_text(text, "fuzz.stack")
    assert isinstance(rule_file, ast.RuleFile)
    _well_formed(diagnostics)
    formatted, _ = format_text(text, "fuzz.stack")
    if formatted is not None:  # whatever parses, formats to the same tree
        again, diags = parse_text(formatted, "fuzz.stack")
        assert diags == []
        assert again == canonical_tree(rule_file)


# ------------------------------------------------------------------ round trip


@PROPERTY
@given(rule_files(max_size=4))
def test_parse_of_format_is_identity(tree: ast.RuleFile) -> None:
    text = format_file(tree)
    parsed, diagnostics = parse_text(text, tree.path)
    assert diagnostics == [], text
    assert parsed == canonical_tree(tree), text
    assert canonical_tree(parsed) == parsed


@PROPERTY
@given(rule_files(max_size=4))
def test_format_is_idempotent(tree: ast.RuleFile) -> None:
    text = format_file(tree)
    again, diagnostics = format_text(text, tree.path)
    assert diagnostics == []
    assert again == text


def test_requirement_names_that_read_as_keywords() -> None:
    """Exactly the body words fail as a requirement name, after any statement: every other word,
    a keyword elsewhere or not, names a requirement (the spec's rule)."""
    before = (
        "",
        "kind k",
        "credits 3",
        "subject s",
        "valid for 3 years",
        "effective 2020-01-01",
        "tags a, b",
        "limit at most 3 credits",
        "limit at most 3 credits from subject X",
        "limit at most 3 credits from (UFV:A) min grade C",
        "r: UFV:A",
        "r: all of subject X",
        "r: competency UFV:C at x within 3 years",
    )
    failing = set()
    for word in KEYWORDS:
        for stmt in before:
            _, diagnostics = parse_text(f"credential UFV:C {{\n{stmt}\n{word}: UFV:A\n}}\n")
            if diagnostics:
                failing.add(word)
    assert failing == REQUIREMENT_NAME_STOP & set(KEYWORDS)


# ------------------------------------------------------------------ real rule files


def _comments(text: str) -> Counter[str]:
    from stackrules.format import _Source

    return Counter(c.text for c in _Source(text).comments)


RULE_FILES = sorted(RULES.rglob("*.stack")) if RULES.is_dir() else []


@pytest.mark.skipif(not RULE_FILES, reason="no sample rules in rules/")
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.relative_to(RULES).as_posix())
def test_sample_rules_format_faithfully(path: Path) -> None:
    text = path.read_text("utf-8")
    tree, _ = parse_text(text, "x.stack")
    formatted, _ = format_text(text, "x.stack")
    if formatted is None:
        pytest.skip("the sample does not parse")
    again, _ = parse_text(formatted, "x.stack")
    assert again == canonical_tree(tree)
    assert format_text(formatted, "x.stack")[0] == formatted
    assert _comments(formatted) == _comments(text)
