"""The syntax tree: what a rule file says, with where it says it.

Produced by :mod:`stackrules.syntax` from source text; consumed by the checker, the formatter
and the model builder. Every node is an immutable, slotted dataclass that carries its
:class:`~stackrules.span.Span`. Spans are excluded from equality, so two trees are equal when
they say the same thing, wherever it was written (that is what the formatter round-trip
property compares).

Numbers are kept as written (`Decimal`) so that formatting reproduces them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from stackrules.span import NO_SPAN, Span, fast_pickling

# --------------------------------------------------------------------------- basics


@fast_pickling
@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to an item, credential or competency: `ISSUER:CODE`."""

    id: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)

    @property
    def issuer(self) -> str:
        return self.id.split(":", 1)[0]


@fast_pickling
@dataclass(frozen=True, slots=True)
class Duration:
    amount: Decimal
    unit: Literal["years", "months"]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Window:
    """An `effective DATE [until DATE]` window; both ends inclusive."""

    start: date
    end: date | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- modifiers


@fast_pickling
@dataclass(frozen=True, slots=True)
class MinGrade:
    grade: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Within:
    duration: Duration
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class CompletedAfter:
    on: date
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class CompletedBefore:
    on: date
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Modifier = MinGrade | Within | CompletedAfter | CompletedBefore

# --------------------------------------------------------------------------- selectors


@fast_pickling
@dataclass(frozen=True, slots=True)
class SubjectFilter:
    subject: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class SubjectInFilter:
    subjects: tuple[str, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class TaggedFilter:
    tag: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class IssuerFilter:
    issuer: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class KindFilter:
    kind: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


LevelOp = Literal["=", ">=", ">", "<=", "<"]


@fast_pickling
@dataclass(frozen=True, slots=True)
class LevelFilter:
    op: LevelOp
    level: Decimal
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class TransferFilter:
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class NotFilter:
    inner: Filter
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Filter = (
    SubjectFilter
    | SubjectInFilter
    | TaggedFilter
    | IssuerFilter
    | KindFilter
    | LevelFilter
    | TransferFilter
    | NotFilter
)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Selector:
    """Every achievement whose item matches all the filters."""

    filters: tuple[Filter, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class ListGroup:
    members: tuple[Requirement, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Group = ListGroup | Selector

# --------------------------------------------------------------------------- requirements


@fast_pickling
@dataclass(frozen=True, slots=True)
class ItemReq:
    """Hold this item or credential."""

    ref: Ref
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class AllOf:
    group: Group
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class AnyOf:
    group: Group
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class NOf:
    count: Decimal
    group: Group
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Amount:
    """`N credits from GROUP` or `N hours from GROUP`."""

    amount: Decimal
    unit: Literal["credits", "hours"]
    group: Group
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class CompetencyReq:
    competency: Ref
    level: str
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    level_span: Span = field(default=NO_SPAN, compare=False, repr=False)


Requirement = ItemReq | AllOf | AnyOf | NOf | Amount | CompetencyReq

# --------------------------------------------------------------------------- attributes


@fast_pickling
@dataclass(frozen=True, slots=True)
class Teach:
    competency: Ref
    level: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of an item, credential or grant, as written.

    `name` is one of credits, hours, level, subject, tags, valid, repeatable, teaches,
    prerequisite, kind, effective. The value's type follows the name.
    """

    name: str
    value: (
        Decimal | str | tuple[str, ...] | Duration | bool | tuple[Teach, ...] | Requirement | Window
    )
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Limit:
    """`limit at most|at least N credits|hours|items [from GROUP] [MODIFIER]…`."""

    bound: Literal["at most", "at least"]
    amount: Decimal
    unit: Literal["credits", "hours", "items"]
    group: Group | None = None
    modifiers: tuple[Modifier, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class NamedRequirement:
    name: str
    label: str | None
    requirement: Requirement
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- declarations


@fast_pickling
@dataclass(frozen=True, slots=True)
class IssuerDecl:
    code: str
    title: str | None
    hours_per_credit: Decimal | None = None
    passing_grade: str | None = None
    repeats: Literal["best", "latest"] | None = None
    settings: tuple[str, ...] = ()  # which settings were written, in order (for SR211)
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class ItemDecl:
    kind: str  # course, micro-course, module, badge, assessment, item
    ref: Ref
    title: str | None
    attrs: tuple[Attr, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class CredentialDecl:
    ref: Ref
    title: str | None
    attrs: tuple[Attr, ...] = ()
    limits: tuple[Limit, ...] = ()
    requirements: tuple[NamedRequirement, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class Grant:
    ref: Ref
    attrs: tuple[Attr, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class EquivalencyDecl:
    ref: Ref
    title: str | None
    source: Requirement | None
    grants: tuple[Grant, ...]
    effective: Window | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class TransferLine:
    sources: tuple[Ref, ...]
    grants: tuple[Grant, ...]  # empty for `=> none`
    none: bool = False
    modifiers: tuple[Modifier, ...] = ()
    effective: Window | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class TransferBlock:
    source_issuer: str
    target_issuer: str
    title: str | None
    effective: Window | None
    lines: tuple[TransferLine, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    source_span: Span = field(default=NO_SPAN, compare=False, repr=False)
    target_span: Span = field(default=NO_SPAN, compare=False, repr=False)

    @property
    def rule_id(self) -> str:
        return f"{self.source_issuer}=>{self.target_issuer}"


@fast_pickling
@dataclass(frozen=True, slots=True)
class LevelsDecl:
    levels: tuple[str, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class CompetencyDecl:
    ref: Ref
    title: str | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@fast_pickling
@dataclass(frozen=True, slots=True)
class AliasDecl:
    outside: str
    ref: Ref
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Declaration = (
    IssuerDecl
    | ItemDecl
    | CredentialDecl
    | EquivalencyDecl
    | TransferBlock
    | LevelsDecl
    | CompetencyDecl
    | AliasDecl
)


@fast_pickling
@dataclass(frozen=True, slots=True)
class RuleFile:
    path: str
    declarations: tuple[Declaration, ...]


@fast_pickling
@dataclass(frozen=True, slots=True)
class RuleSetSyntax:
    """Every file of a rule set, in path order."""

    files: tuple[RuleFile, ...]

    def declarations(self) -> list[Declaration]:
        return [d for f in self.files for d in f.declarations]


ITEM_KINDS = ("course", "micro-course", "module", "badge", "assessment", "item")
GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F", "P")
# The attributes of a catalog item, in the order the formatter writes them.
ITEM_ATTRIBUTES = (
    "credits",
    "hours",
    "level",
    "subject",
    "tags",
    "valid",
    "repeatable",
    "teaches",
    "prerequisite",
)
BODY_WORDS = ("kind", "credits", "hours", "level", "subject", "tags", "valid", "effective", "limit")
DEFAULT_LEVELS = ("novice", "developing", "proficient", "mastery")


def attr_value(attrs: tuple[Attr, ...], name: str) -> object | None:
    """The value of the first attribute called `name`, or None."""
    for a in attrs:
        if a.name == name:
            return a.value
    return None
