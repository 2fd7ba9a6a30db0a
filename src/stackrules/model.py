"""Model stage: a checked syntax tree in, a resolved, immutable rule set out.

Names are resolved, modifiers are pushed down onto the leaves they govern, transfer-table
lines become equivalencies, credits and hours are completed from the issuer's
`hours per credit`, and every rule keeps the `file:line` it came from. The evaluator reads
only this model; it never sees syntax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from stackrules import ast
from stackrules.symbols import Symbols, collect

# Grades rank from best (high) to worst; P and "no grade" rank below every letter (§1).
GRADE_RANK: dict[str, int] = {g: 20 - i for i, g in enumerate(ast.GRADES[:-1])}
GRADE_RANK["P"] = 2
NO_GRADE_RANK = 1
DEFAULT_PASSING = "D-"
FALLBACK_HOURS_PER_CREDIT = 15.0


def grade_rank(grade: str | None) -> int:
    return NO_GRADE_RANK if grade is None else GRADE_RANK[grade]


# ------------------------------------------------------------------ catalog


@dataclass(frozen=True, slots=True)
class Issuer:
    code: str
    title: str
    hours_per_credit: float | None = None
    passing_grade: str = DEFAULT_PASSING
    repeats: Literal["best", "latest"] = "best"


@dataclass(frozen=True, slots=True)
class Item:
    """A catalog item, or a credential seen as something a learner holds."""

    id: str
    kind: str
    title: str
    credits: float | None = None
    hours: float | None = None
    level: float | None = None
    subject: str | None = None
    tags: frozenset[str] = frozenset()
    valid_for: ast.Duration | None = None
    repeatable: bool = False
    teaches: tuple[tuple[str, int], ...] = ()  # (competency, level rank)
    prerequisite: ast.Requirement | None = None
    is_credential: bool = False
    declared: bool = True

    @property
    def issuer(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def cost(self) -> float:
        """What completing this item costs, in credits (1 when it has no credit value)."""
        return self.credits if self.credits is not None else 1.0


# ------------------------------------------------------------------ requirements


@dataclass(frozen=True, slots=True)
class Leaf:
    """Common part of every leaf: where it sits and the modifiers above it."""

    index: int  # position among the leaves of its credential or equivalency
    requirement: str  # name of the named requirement above it ("from" for equivalencies)
    modifiers: tuple[ast.Modifier, ...]
    where: str  # file:line


@dataclass(frozen=True, slots=True)
class ItemLeaf(Leaf):
    item: str


@dataclass(frozen=True, slots=True)
class AmountLeaf(Leaf):
    """`N credits|hours from GROUP`, and `N of SELECTOR` (unit "items")."""

    amount: float
    unit: Literal["credits", "hours", "items"]
    ids: frozenset[str] | None  # an explicit list
    selector: ast.Selector | None
    listed: tuple[str, ...] = ()  # the explicit list in source order (options)


@dataclass(frozen=True, slots=True)
class CompetencyLeaf(Leaf):
    competency: str
    level: int  # rank on the scale
    level_name: str


LeafNode = ItemLeaf | AmountLeaf | CompetencyLeaf


@dataclass(frozen=True, slots=True)
class Choice:
    """`all of`, `any of`, `N of` over a list: hold `need` of the children."""

    need: int
    children: tuple[Node, ...]
    form: Literal["all", "any", "n"]


Node = ItemLeaf | AmountLeaf | CompetencyLeaf | Choice


@dataclass(frozen=True, slots=True)
class NamedReq:
    name: str
    label: str
    root: Node
    where: str


@dataclass(frozen=True, slots=True)
class Limit:
    bound: Literal["at most", "at least"]
    amount: float
    unit: Literal["credits", "hours", "items"]
    ids: frozenset[str] | None
    selector: ast.Selector | None
    modifiers: tuple[ast.Modifier, ...]
    where: str
    text: str


@dataclass(frozen=True, slots=True)
class Credential:
    id: str
    title: str
    kind: str
    credits: float | None
    hours: float | None
    valid_for: ast.Duration | None
    window: ast.Window | None
    requirements: tuple[NamedReq, ...]
    limits: tuple[Limit, ...]
    leaves: tuple[LeafNode, ...]
    where: str
    hours_per_credit: float  # for cost comparisons: issuer's, else 15


@dataclass(frozen=True, slots=True)
class GrantSpec:
    item: str
    credits: float | None
    hours: float | None
    level: float | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class Equivalency:
    """An equivalency declaration or one transfer-table line."""

    rule: str  # equivalency identifier, or `SRC=>DST` for a transfer line
    where: str
    order: tuple[str, int, int]  # file, line, column: source order decides reasons
    source: Node
    leaves: tuple[LeafNode, ...]
    grants: tuple[GrantSpec, ...]
    window: ast.Window | None
    no_credit: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    issuers: dict[str, Issuer]
    items: dict[str, Item]  # catalog items and credentials (as things one can hold)
    credentials: dict[str, tuple[Credential, ...]]  # versions, oldest first
    equivalencies: tuple[Equivalency, ...]
    aliases: dict[str, str]
    levels: tuple[str, ...]
    competencies: frozenset[str]
    mentioned_issuers: frozenset[str]
    files: tuple[str, ...] = field(default=())

    def level_rank(self, name: str) -> int:
        return self.levels.index(name) if name in self.levels else -1

    def hours_per_credit(self, ident: str) -> float | None:
        """The `hours per credit` of the issuer of `ident`, if it declares one."""
        issuer = self.issuers.get(ident.split(":", 1)[0])
        return issuer.hours_per_credit if issuer else None


# ------------------------------------------------------------------ building


def complete_amounts(
    rate: float | None, credits: float | None, hours: float | None
) -> tuple[float | None, float | None]:
    """Credits from hours and hours from credits at an issuer's `hours per credit` (§1)."""
    if rate:
        if credits is None and hours is not None:
            credits = hours / rate
        elif hours is None and credits is not None:
            hours = credits * rate
    return credits, hours


class _Attrs:
    """Typed access to a declaration's attributes (the first of each name wins)."""

    def __init__(self, attrs: Iterable[ast.Attr]) -> None:
        self.values: dict[str, object] = {}
        for a in attrs:
            self.values.setdefault(a.name, a.value)

    def number(self, name: str) -> float | None:
        v = self.values.get(name)
        return float(v) if isinstance(v, Decimal) else None

    def text(self, name: str) -> str | None:
        v = self.values.get(name)
        return v if isinstance(v, str) else None

    def tags(self) -> frozenset[str]:
        v = self.values.get("tags")
        return frozenset(v) if isinstance(v, tuple) else frozenset()

    def duration(self) -> ast.Duration | None:
        v = self.values.get("valid")
        return v if isinstance(v, ast.Duration) else None

    def window(self) -> ast.Window | None:
        v = self.values.get("effective")
        return v if isinstance(v, ast.Window) else None

    def teaches(self) -> tuple[ast.Teach, ...]:
        v = self.values.get("teaches")
        return v if isinstance(v, tuple) else ()

    def prerequisite(self) -> ast.Requirement | None:
        v = self.values.get("prerequisite")
        return None if v is None or isinstance(v, Decimal | str | tuple | bool) else v  # type: ignore[return-value]


class _Builder:
    def __init__(self, symbols: Symbols) -> None:
        self.symbols = symbols
        self.levels = symbols.level_scale()
        self.issuers: dict[str, Issuer] = {}
        for code, decls in symbols.issuers.items():
            d = decls[0]
            self.issuers[code] = Issuer(
                code,
                d.title or code,
                float(d.hours_per_credit) if d.hours_per_credit is not None else None,
                d.passing_grade or DEFAULT_PASSING,
                d.repeats or "best",
            )

    def hpc(self, ident: str) -> float | None:
        issuer = self.issuers.get(ident.split(":", 1)[0])
        return issuer.hours_per_credit if issuer else None

    def complete(
        self, ident: str, credits: float | None, hours: float | None
    ) -> tuple[float | None, float | None]:
        """Fill credits from hours and hours from credits with the issuer's rate."""
        return complete_amounts(self.hpc(ident), credits, hours)

    def item(self, decl: ast.ItemDecl) -> Item:
        a = _Attrs(decl.attrs)
        credits, hours = self.complete(decl.ref.id, a.number("credits"), a.number("hours"))
        return Item(
            id=decl.ref.id,
            kind=decl.kind,
            title=decl.title or decl.ref.id,
            credits=credits,
            hours=hours,
            level=a.number("level"),
            subject=a.text("subject"),
            tags=a.tags(),
            valid_for=a.duration(),
            repeatable="repeatable" in a.values,
            teaches=tuple((t.competency.id, self.rank(t.level)) for t in a.teaches()),
            prerequisite=a.prerequisite(),
        )

    def implicit_item(self, grant: ast.Grant) -> Item:
        a = _Attrs(grant.attrs)
        credits, hours = self.complete(grant.ref.id, a.number("credits"), a.number("hours"))
        return Item(
            id=grant.ref.id,
            kind="item",
            title=grant.ref.id,
            credits=credits,
            hours=hours,
            level=a.number("level"),
            subject=a.text("subject"),
            declared=False,
        )

    def rank(self, level: str) -> int:
        return self.levels.index(level) if level in self.levels else -1

    # -- requirements
    def node(
        self,
        req: ast.Requirement,
        name: str,
        inherited: tuple[ast.Modifier, ...],
        leaves: list[LeafNode],
    ) -> Node:
        mods = inherited + req.modifiers
        where = req.span.short()
        if isinstance(req, ast.ItemReq):
            leaf: LeafNode = ItemLeaf(len(leaves), name, mods, where, req.ref.id)
            leaves.append(leaf)
            return leaf
        if isinstance(req, ast.CompetencyReq):
            leaf = CompetencyLeaf(
                len(leaves), name, mods, where, req.competency.id, self.rank(req.level), req.level
            )
            leaves.append(leaf)
            return leaf
        if isinstance(req, ast.Amount):
            return self.amount(req.group, float(req.amount), req.unit, name, mods, where, leaves)
        if isinstance(req.group, ast.Selector):
            need = 1 if isinstance(req, ast.AnyOf) else int(getattr(req, "count", 1))
            return self.amount(req.group, float(need), "items", name, mods, where, leaves)
        children = tuple(self.node(m, name, mods, leaves) for m in req.group.members)
        if isinstance(req, ast.AllOf):
            return Choice(len(children), children, "all")
        if isinstance(req, ast.AnyOf):
            return Choice(1, children, "any")
        return Choice(int(req.count), children, "n")

    def amount(
        self,
        group: ast.Group,
        amount: float,
        unit: Literal["credits", "hours", "items"],
        name: str,
        mods: tuple[ast.Modifier, ...],
        where: str,
        leaves: list[LeafNode],
    ) -> AmountLeaf:
        if isinstance(group, ast.Selector):
            leaf = AmountLeaf(len(leaves), name, mods, where, amount, unit, None, group)
        else:
            listed = tuple(_ids(group))
            leaf = AmountLeaf(
                len(leaves), name, mods, where, amount, unit, frozenset(listed), None, listed
            )
        leaves.append(leaf)
        return leaf

    def credential(self, decl: ast.CredentialDecl) -> Credential:
        a = _Attrs(decl.attrs)
        leaves: list[LeafNode] = []
        reqs = tuple(
            NamedReq(
                nr.name,
                nr.label or nr.name,
                self.node(nr.requirement, nr.name, (), leaves),
                nr.span.short(),
            )
            for nr in decl.requirements
        )
        limits = tuple(self.limit(lim) for lim in decl.limits)
        credits, hours = self.complete(decl.ref.id, a.number("credits"), a.number("hours"))
        return Credential(
            id=decl.ref.id,
            title=decl.title or decl.ref.id,
            kind=a.text("kind") or "credential",
            credits=credits,
            hours=hours,
            valid_for=a.duration(),
            window=a.window(),
            requirements=reqs,
            limits=limits,
            leaves=tuple(leaves),
            where=decl.span.short(),
            hours_per_credit=self.hpc(decl.ref.id) or FALLBACK_HOURS_PER_CREDIT,
        )

    def limit(self, lim: ast.Limit) -> Limit:
        from stackrules.format import limit_text  # the limit as `fmt` writes it

        ids = frozenset(_ids(lim.group)) if isinstance(lim.group, ast.ListGroup) else None
        selector = lim.group if isinstance(lim.group, ast.Selector) else None
        return Limit(
            lim.bound,
            float(lim.amount),
            lim.unit,
            ids,
            selector,
            lim.modifiers,
            lim.span.short(),
            limit_text(lim),
        )

    def grant(self, g: ast.Grant) -> GrantSpec:
        a = _Attrs(g.attrs)
        return GrantSpec(
            g.ref.id, a.number("credits"), a.number("hours"), a.number("level"), a.text("subject")
        )

    def equivalency(self, decl: ast.EquivalencyDecl) -> Equivalency | None:
        if decl.source is None:
            return None
        leaves: list[LeafNode] = []
        root = self.node(decl.source, "from", (), leaves)
        s = decl.span
        return Equivalency(
            rule=decl.ref.id,
            where=s.short(),
            order=(s.file, s.line, s.column),
            source=root,
            leaves=tuple(leaves),
            grants=tuple(self.grant(g) for g in decl.grants),
            window=decl.effective,
        )

    def transfer_line(self, block: ast.TransferBlock, line: ast.TransferLine) -> Equivalency:
        leaves: list[LeafNode] = []
        where = line.span.short()
        children = []
        for ref in line.sources:
            leaf = ItemLeaf(len(leaves), "from", line.modifiers, where, ref.id)
            leaves.append(leaf)
            children.append(leaf)
        s = line.span
        return Equivalency(
            rule=block.rule_id,
            where=where,
            order=(s.file, s.line, s.column),
            source=Choice(len(children), tuple(children), "all"),
            leaves=tuple(leaves),
            grants=tuple(self.grant(g) for g in line.grants),
            window=line.effective or block.effective,
            no_credit=line.none,
        )


def _ids(group: ast.ListGroup) -> Iterable[str]:
    for m in group.members:
        if isinstance(m, ast.ItemReq):
            yield m.ref.id


def build(syntax: ast.RuleSetSyntax) -> RuleSet:
    """Resolve a rule set that `check` accepted (no errors) into the model."""
    symbols = collect(syntax)
    b = _Builder(symbols)
    items: dict[str, Item] = {}
    for ident, implicit in symbols.implicit_items.items():
        items[ident] = b.implicit_item(implicit.grant)
    for ident, decls in symbols.items.items():
        items[ident] = b.item(decls[0])
    credentials: dict[str, tuple[Credential, ...]] = {}
    for ident, cdecls in symbols.credentials.items():
        versions = sorted(
            (b.credential(d) for d in cdecls),
            key=lambda c: c.window.start if c.window else date.min,
        )
        credentials[ident] = tuple(versions)
        latest = versions[-1]
        items[ident] = Item(
            id=ident,
            kind=latest.kind,
            title=latest.title,
            credits=latest.credits,
            hours=latest.hours,
            valid_for=latest.valid_for,
            is_credential=True,
        )
    equivalencies: list[Equivalency] = []
    for edecls in symbols.equivalencies.values():
        eq = b.equivalency(edecls[0])
        if eq is not None:
            equivalencies.append(eq)
    for block in symbols.transfers:
        equivalencies.extend(b.transfer_line(block, line) for line in block.lines)
    equivalencies.sort(key=lambda e: e.order)
    mentioned = set(symbols.issuers) | {i.split(":", 1)[0] for i in items}
    rule_leaves = [leaf for eq in equivalencies for leaf in eq.leaves]
    rule_leaves += [leaf for vs in credentials.values() for v in vs for leaf in v.leaves]
    for leaf in rule_leaves:
        if isinstance(leaf, ItemLeaf):
            mentioned.add(leaf.item.split(":", 1)[0])
        elif isinstance(leaf, AmountLeaf) and leaf.ids is not None:
            mentioned.update(i.split(":", 1)[0] for i in leaf.ids)
    return RuleSet(
        issuers=b.issuers,
        items=items,
        credentials=credentials,
        equivalencies=tuple(equivalencies),
        aliases={outside: decls[0].ref.id for outside, decls in symbols.aliases.items()},
        levels=b.levels,
        competencies=frozenset(symbols.competencies),
        mentioned_issuers=frozenset(mentioned),
        files=tuple(f.path for f in syntax.files),
    )


def all_leaves(nodes: Iterable[Node]) -> Iterable[LeafNode]:
    for n in nodes:
        if isinstance(n, Choice):
            yield from all_leaves(n.children)
        else:
            yield n
