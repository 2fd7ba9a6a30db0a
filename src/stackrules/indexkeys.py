"""Index keys: what a rule leaf is filed under and what an achievement is looked up by.

Takes a rule leaf or selector (model and syntax stages) or an achievement's facts; gives the
keys (`("item", id)`, `("subject", s)`, `("issuer-subject", "I|s")`, `("tag", t)`,
`("issuer", i)`, `("kind", k)`, `("competency", c)`) under which the rule graph files its
leaves and the selector index files the catalog. One mapping, used by both, so that an
achievement a leaf names or selects always has one of the leaf's keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stackrules import ast
from stackrules.model import CompetencyLeaf, ItemLeaf, LeafNode

Key = tuple[str, str]  # ("item", id) | ("subject", s) | ("tag", t) | ("issuer", i) | ...


@dataclass(frozen=True, slots=True)
class Facts:
    """The index keys of one achievement: what a rule could select it by."""

    item: str
    issuer: str
    kind: str
    subject: str | None
    tags: frozenset[str]
    competencies: Iterable[str]

    def index_keys(self) -> Iterable[Key]:
        yield ("item", self.item)
        yield ("issuer", self.issuer)
        yield ("kind", self.kind)
        if self.subject:
            yield ("subject", self.subject)
            yield ("issuer-subject", f"{self.issuer}|{self.subject}")
        for t in self.tags:
            yield ("tag", t)
        for c in self.competencies:
            yield ("competency", c)


def selector_keys(selector: ast.Selector) -> list[Key] | None:
    """Index keys of the selector's most selective positive filters; None when it has none.

    An issuer together with a subject is keyed by the pair (a programme's own subject courses);
    otherwise one positive filter keys it."""
    issuers = [f.issuer for f in selector.filters if isinstance(f, ast.IssuerFilter)]
    subjects = [
        s
        for f in selector.filters
        if isinstance(f, ast.SubjectFilter | ast.SubjectInFilter)
        for s in ((f.subject,) if isinstance(f, ast.SubjectFilter) else f.subjects)
    ]
    if issuers and subjects:
        return [("issuer-subject", f"{issuers[0]}|{s}") for s in subjects]
    for f in selector.filters:
        if isinstance(f, ast.SubjectFilter):
            return [("subject", f.subject)]
        if isinstance(f, ast.SubjectInFilter):
            return [("subject", s) for s in f.subjects]
        if isinstance(f, ast.TaggedFilter):
            return [("tag", f.tag)]
        if isinstance(f, ast.IssuerFilter):
            return [("issuer", f.issuer)]
        if isinstance(f, ast.KindFilter):
            return [("kind", f.kind)]
    return None


def leaf_keys(leaf: LeafNode) -> list[Key] | None:
    """The index keys under which a rule leaf is found (an achievement it could use has one of
    them, `Facts.index_keys`); None when it has none (a selector with no positive filter)."""
    if isinstance(leaf, ItemLeaf):
        return [("item", leaf.item)]
    if isinstance(leaf, CompetencyLeaf):
        return [("competency", leaf.competency)]
    if leaf.ids is not None:
        return [("item", i) for i in sorted(leaf.ids)]
    assert leaf.selector is not None
    return selector_keys(leaf.selector)
