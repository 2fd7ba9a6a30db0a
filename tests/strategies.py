"""Hypothesis strategies for random, syntactically valid rule trees (:mod:`stackrules.ast`).

Every construct of the syntax tree can be generated. Trees are valid for the *parser* (they
print to text that parses back to them), not necessarily for the checker: identifiers need
not be declared and `N of` may ask for more members than a list has. Build consistent rule
sets for the engine from the smaller strategies here (`refs(issuers=…)`, `requirements(…)`).

Spans are left at their defaults: the tree's equality ignores them.

    from tests.strategies import rule_files, rule_texts
    @given(rule_files())
    def test_something(tree): ...
"""

from __future__ import annotations

import string
from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from stackrules import ast

# Words that are keywords somewhere in the grammar: fine as names (kinds, subjects, tags,
# levels) because a word is a keyword only where the grammar expects it.
KEYWORDS = (
    "issuer", "hours", "per", "credit", "passing", "grade", "repeats", "latest", "best",
    "course", "micro-course", "module", "badge", "assessment", "item", "repeatable", "teaches",
    "prerequisite", "at", "tags", "valid", "for", "credits", "level", "subject", "years",
    "months", "year", "month", "credential", "kind", "effective", "until", "limit", "most",
    "least", "from", "items", "all", "any", "of", "competency", "in", "tagged", "not",
    "transfer", "and", "min", "within", "completed", "after", "before", "equivalency", "grant",
    "none", "levels", "alias",
)  # fmt: skip

# The words a requirement name cannot be (the language spec: words that start a body
# statement). Every other word, keywords elsewhere included, names a requirement.
REQUIREMENT_NAME_STOP = frozenset(ast.BODY_WORDS)

_FIRST = string.ascii_letters + "_"
_REST = string.ascii_letters + string.digits + "_-"


@st.composite
def _word(draw: st.DrawFn, first: str = _FIRST, rest: str = _REST, max_rest: int = 8) -> str:
    head = draw(st.sampled_from(first))
    tail = draw(st.text(alphabet=rest, max_size=max_rest))
    return head + tail


def names() -> st.SearchStrategy[str]:
    """A NAME: a letter or `_`, then letters, digits, `_`, `-`; often a keyword elsewhere."""
    return st.one_of(_word(), st.sampled_from(KEYWORDS))


def requirement_names() -> st.SearchStrategy[str]:
    return names().filter(lambda n: n not in REQUIREMENT_NAME_STOP)


def subject_names() -> st.SearchStrategy[str]:
    """Subjects for `subject NAME` filters: `subject in` always starts a `subject in (…)` list."""
    return names().filter(lambda n: n != "in")


def issuer_codes() -> st.SearchStrategy[str]:
    """The ISSUER of an identifier: a letter, then letters, digits, `_`, `-`."""
    return st.one_of(
        st.sampled_from(("UFV", "CAPU", "RRU", "UVIC", "CAMOSUN", "BCIT", "ECO")),
        _word(first=string.ascii_letters),
    )


def codes() -> st.SearchStrategy[str]:
    return _word(first=string.ascii_letters + string.digits, rest=_REST + ".")


def refs(issuers: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[ast.Ref]:
    issuer = issuers if issuers is not None else issuer_codes()
    return st.builds(lambda i, c: ast.Ref(f"{i}:{c}"), issuer, codes())


def titles() -> st.SearchStrategy[str]:
    """Any one-line text, with quotes, backslashes and `#` (which is no comment in a string)."""
    chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n")
    return st.one_of(
        st.text(alphabet=chars, max_size=20),
        st.sampled_from(('say "hi"', "back\\slash", '\\"', "# not a comment", "")),
    )


def numbers(max_digits: int = 4) -> st.SearchStrategy[Decimal]:
    """Non-negative decimals as written: `3`, `1.5`, `1.50`, `0.0000001`."""
    whole = st.integers(min_value=0, max_value=10**max_digits)
    frac = st.one_of(st.just(""), st.text(alphabet=string.digits, min_size=1, max_size=7))
    return st.builds(lambda w, f: Decimal(f"{w}.{f}" if f else str(w)), whole, frac)


def whole_numbers() -> st.SearchStrategy[Decimal]:
    return st.integers(min_value=0, max_value=50).map(Decimal)


def dates() -> st.SearchStrategy[date]:
    return st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


def windows() -> st.SearchStrategy[ast.Window]:
    return st.builds(ast.Window, dates(), st.none() | dates())


def durations() -> st.SearchStrategy[ast.Duration]:
    return st.builds(ast.Duration, numbers(2), st.sampled_from(("years", "months")))


def grades() -> st.SearchStrategy[str]:
    return st.sampled_from(ast.GRADES)


def modifiers() -> st.SearchStrategy[ast.Modifier]:
    return st.one_of(
        st.builds(ast.MinGrade, grades()),
        st.builds(ast.Within, durations()),
        st.builds(ast.CompletedAfter, dates()),
        st.builds(ast.CompletedBefore, dates()),
    )


def modifier_lists(max_size: int = 2) -> st.SearchStrategy[tuple[ast.Modifier, ...]]:
    return st.lists(modifiers(), max_size=max_size).map(tuple)


def _simple_filters() -> st.SearchStrategy[ast.Filter]:
    return st.one_of(
        st.builds(ast.SubjectFilter, subject_names()),
        st.builds(ast.SubjectInFilter, st.lists(names(), min_size=1, max_size=3).map(tuple)),
        st.builds(ast.TaggedFilter, names()),
        st.builds(ast.IssuerFilter, names()),
        st.builds(ast.KindFilter, names()),
        st.builds(ast.LevelFilter, st.sampled_from(("=", ">=", ">", "<=", "<")), numbers(3)),
        st.builds(ast.TransferFilter),
    )


def filters() -> st.SearchStrategy[ast.Filter]:
    """Any filter, including `not` (possibly `not not …`)."""
    return st.recursive(
        _simple_filters(), lambda inner: st.builds(ast.NotFilter, inner), max_leaves=2
    )


def selectors() -> st.SearchStrategy[ast.Selector]:
    return st.builds(ast.Selector, st.lists(filters(), min_size=1, max_size=3).map(tuple))


def item_requirements(
    ref: st.SearchStrategy[ast.Ref] | None = None, mods: bool = True
) -> st.SearchStrategy[ast.ItemReq]:
    return st.builds(
        ast.ItemReq, ref if ref is not None else refs(), modifier_lists() if mods else st.just(())
    )


def requirements(
    depth: int = 3, ref: st.SearchStrategy[ast.Ref] | None = None
) -> st.SearchStrategy[ast.Requirement]:
    """A requirement nested up to `depth` levels of lists; every form, every group."""
    leaves: st.SearchStrategy[ast.Requirement] = st.one_of(
        item_requirements(ref),
        st.builds(ast.CompetencyReq, refs(), names(), modifier_lists()),
    )
    if depth <= 1:
        groups: st.SearchStrategy[ast.Group] = selectors()
    else:
        members = st.lists(requirements(depth - 1, ref), min_size=1, max_size=3).map(tuple)
        groups = st.one_of(selectors(), st.builds(ast.ListGroup, members))
    mods = modifier_lists()
    return st.one_of(
        leaves,
        st.builds(ast.AllOf, groups, mods),
        st.builds(ast.AnyOf, groups, mods),
        st.builds(ast.NOf, whole_numbers(), groups, mods),
        st.builds(ast.Amount, numbers(3), st.sampled_from(("credits", "hours")), groups, mods),
    )


def id_lists() -> st.SearchStrategy[ast.ListGroup]:
    """An explicit list of identifiers (what amounts and limits take)."""
    members = st.lists(item_requirements(mods=False), min_size=1, max_size=4).map(tuple)
    return st.builds(ast.ListGroup, members)


def limits() -> st.SearchStrategy[ast.Limit]:
    return st.builds(
        ast.Limit,
        st.sampled_from(("at most", "at least")),
        numbers(3),
        st.sampled_from(("credits", "hours", "items")),
        st.none() | selectors() | id_lists(),
        modifier_lists(),
    )


def teaches() -> st.SearchStrategy[ast.Teach]:
    return st.builds(ast.Teach, refs(), names())


def _attr(name: str, value: st.SearchStrategy[object]) -> st.SearchStrategy[ast.Attr]:
    return value.map(lambda v: ast.Attr(name, v))  # type: ignore[arg-type]


def grant_attrs() -> st.SearchStrategy[ast.Attr]:
    return st.one_of(
        _attr("credits", numbers()),
        _attr("hours", numbers()),
        _attr("level", numbers(3)),
        _attr("subject", names()),
    )


def common_attrs() -> st.SearchStrategy[ast.Attr]:
    return st.one_of(
        grant_attrs(),
        _attr("tags", st.lists(names(), min_size=1, max_size=3).map(tuple)),
        _attr("valid", durations()),
    )


def item_attrs() -> st.SearchStrategy[ast.Attr]:
    return st.one_of(
        common_attrs(),
        st.just(ast.Attr("repeatable", True)),
        _attr("teaches", st.lists(teaches(), min_size=1, max_size=2).map(tuple)),
        _attr("prerequisite", requirements(2)),
    )


def credential_attrs() -> st.SearchStrategy[ast.Attr]:
    return st.one_of(common_attrs(), _attr("kind", names()), _attr("effective", windows()))


def labels() -> st.SearchStrategy[str | None]:
    return st.none() | titles()


def named_requirements() -> st.SearchStrategy[ast.NamedRequirement]:
    return st.builds(ast.NamedRequirement, requirement_names(), labels(), requirements())


def _settings(draw: st.DrawFn) -> dict[str, object]:
    chosen = draw(
        st.lists(st.sampled_from(("hours per credit", "passing grade", "repeats")), max_size=4)
    )
    return {
        "settings": tuple(chosen),
        "hours_per_credit": draw(numbers()) if "hours per credit" in chosen else None,
        "passing_grade": draw(grades()) if "passing grade" in chosen else None,
        "repeats": draw(st.sampled_from(("best", "latest"))) if "repeats" in chosen else None,
    }


@st.composite
def issuer_decls(draw: st.DrawFn) -> ast.IssuerDecl:
    """An issuer, with a body of settings in any order (a repeat keeps the first value)."""
    code = draw(issuer_codes() | names())
    return ast.IssuerDecl(code, draw(st.none() | titles()), **_settings(draw))  # type: ignore[arg-type]


def item_decls() -> st.SearchStrategy[ast.ItemDecl]:
    return st.builds(
        ast.ItemDecl,
        st.sampled_from(ast.ITEM_KINDS),
        refs(),
        st.none() | titles(),
        st.lists(item_attrs(), max_size=4).map(tuple),
    )


def credential_decls() -> st.SearchStrategy[ast.CredentialDecl]:
    return st.builds(
        ast.CredentialDecl,
        refs(),
        st.none() | titles(),
        st.lists(credential_attrs(), max_size=4).map(tuple),
        st.lists(limits(), max_size=2).map(tuple),
        st.lists(named_requirements(), max_size=3).map(tuple),
    )


def grants() -> st.SearchStrategy[ast.Grant]:
    return st.builds(ast.Grant, refs(), st.lists(grant_attrs(), max_size=3).map(tuple))


def equivalency_decls() -> st.SearchStrategy[ast.EquivalencyDecl]:
    return st.builds(
        ast.EquivalencyDecl,
        refs(),
        st.none() | titles(),
        st.none() | requirements(),
        st.lists(grants(), max_size=3).map(tuple),
        st.none() | windows(),
    )


@st.composite
def transfer_lines(draw: st.DrawFn) -> ast.TransferLine:
    sources = tuple(draw(st.lists(refs(), min_size=1, max_size=3)))
    window = draw(st.none() | windows())
    if draw(st.booleans()):
        return ast.TransferLine(sources, (), True, (), window)
    targets = tuple(draw(st.lists(grants(), min_size=1, max_size=3)))
    return ast.TransferLine(sources, targets, False, draw(modifier_lists()), window)


def transfer_blocks() -> st.SearchStrategy[ast.TransferBlock]:
    return st.builds(
        ast.TransferBlock,
        names(),
        names(),
        st.none() | titles(),
        st.none() | windows(),
        st.lists(transfer_lines(), max_size=4).map(tuple),
    )


def levels_decls() -> st.SearchStrategy[ast.LevelsDecl]:
    return st.builds(ast.LevelsDecl, st.lists(names(), min_size=1, max_size=4).map(tuple))


def competency_decls() -> st.SearchStrategy[ast.CompetencyDecl]:
    return st.builds(ast.CompetencyDecl, refs(), st.none() | titles())


def alias_decls() -> st.SearchStrategy[ast.AliasDecl]:
    return st.builds(ast.AliasDecl, titles(), refs())


def declarations() -> st.SearchStrategy[ast.Declaration]:
    return st.one_of(
        issuer_decls(),
        item_decls(),
        credential_decls(),
        equivalency_decls(),
        transfer_blocks(),
        levels_decls(),
        competency_decls(),
        alias_decls(),
    )


def rule_files(path: str = "<generated>", max_size: int = 6) -> st.SearchStrategy[ast.RuleFile]:
    """A whole file: any mix of declarations, in any order."""
    decls = st.lists(declarations(), max_size=max_size).map(tuple)
    return st.builds(ast.RuleFile, st.just(path), decls)


def rule_texts(max_size: int = 6) -> st.SearchStrategy[str]:
    """The formatted text of a random rule file."""
    from stackrules.format import format_file

    return rule_files(max_size=max_size).map(format_file)
