"""Symbol table: every name a rule set declares, explicitly or through a grant.

Takes a :class:`~stackrules.ast.RuleSetSyntax`; returns a :class:`Symbols` that the checker
validates and the model builder resolves against. Building it never fails: duplicates are
kept (in source order) so the checker can report them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from stackrules import ast


@dataclass(frozen=True, slots=True)
class ImplicitItem:
    """An item that exists because a grant names it and nothing declares it."""

    ref: ast.Ref
    grant: ast.Grant


@dataclass(slots=True)
class Symbols:
    issuers: dict[str, list[ast.IssuerDecl]] = field(default_factory=lambda: defaultdict(list))
    items: dict[str, list[ast.ItemDecl]] = field(default_factory=lambda: defaultdict(list))
    credentials: dict[str, list[ast.CredentialDecl]] = field(
        default_factory=lambda: defaultdict(list)
    )
    equivalencies: dict[str, list[ast.EquivalencyDecl]] = field(
        default_factory=lambda: defaultdict(list)
    )
    competencies: dict[str, list[ast.CompetencyDecl]] = field(
        default_factory=lambda: defaultdict(list)
    )
    transfers: list[ast.TransferBlock] = field(default_factory=list)
    aliases: dict[str, list[ast.AliasDecl]] = field(default_factory=lambda: defaultdict(list))
    levels: list[ast.LevelsDecl] = field(default_factory=list)
    # first grant of each granted identifier that no item/credential declaration covers
    implicit_items: dict[str, ImplicitItem] = field(default_factory=dict)

    def kinds_of(self, ident: str) -> list[str]:
        """What `ident` is declared as (item, credential, equivalency, competency)."""
        found = []
        if ident in self.items:
            found.append("item")
        if ident in self.credentials:
            found.append("credential")
        if ident in self.equivalencies:
            found.append("equivalency")
        if ident in self.competencies:
            found.append("competency")
        return found

    def is_known(self, ident: str) -> bool:
        return bool(self.kinds_of(ident)) or ident in self.implicit_items

    def catalog_issuers(self) -> set[str]:
        """Issuers with at least one declared item or credential: their catalog is known."""
        return {i.split(":", 1)[0] for i in (*self.items, *self.credentials)}

    def level_scale(self) -> tuple[str, ...]:
        return self.levels[0].levels if self.levels else ast.DEFAULT_LEVELS

    def all_grants(self) -> list[ast.Grant]:
        grants: list[ast.Grant] = []
        for versions in self.equivalencies.values():
            for eq in versions:
                grants.extend(eq.grants)
        for block in self.transfers:
            for line in block.lines:
                grants.extend(line.grants)
        return grants


def collect(syntax: ast.RuleSetSyntax) -> Symbols:
    table = Symbols()
    for decl in syntax.declarations():
        if isinstance(decl, ast.IssuerDecl):
            table.issuers[decl.code].append(decl)
        elif isinstance(decl, ast.ItemDecl):
            table.items[decl.ref.id].append(decl)
        elif isinstance(decl, ast.CredentialDecl):
            table.credentials[decl.ref.id].append(decl)
        elif isinstance(decl, ast.EquivalencyDecl):
            table.equivalencies[decl.ref.id].append(decl)
        elif isinstance(decl, ast.CompetencyDecl):
            table.competencies[decl.ref.id].append(decl)
        elif isinstance(decl, ast.TransferBlock):
            table.transfers.append(decl)
        elif isinstance(decl, ast.AliasDecl):
            table.aliases[decl.outside].append(decl)
        else:
            table.levels.append(decl)
    for grant in table.all_grants():
        ident = grant.ref.id
        if ident not in table.items and ident not in table.credentials:
            table.implicit_items.setdefault(ident, ImplicitItem(grant.ref, grant))
    return table
