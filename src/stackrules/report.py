"""The report: what one learner's record earns, has started, transfers and leaves out.

Takes nothing from other stages: these are the frozen pydantic models the evaluator fills and
the CLI prints, with `report_to_json` and `dumps` giving the contract's JSON (field order as
declared, `from` for a transfer's sources, ISO dates, every field always present, `null` where
a value is absent). `stackrules.schemas` publishes the JSON Schema generated from them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

SCHEMA_ID = "stackrules/report/v2"

Origin = Literal["record", "granted", "earned", "held"]
Unit = Literal["items", "credits", "hours"]
NotCountedReason = Literal[
    "failed",
    "in-progress",
    "expired",
    "unknown",
    "below-minimum-grade",
    "too-old",
    "outside-dates",
    "no-credit",
    "repeat",
    "excluded",
]


def _empty(value: list[Any]) -> bool:
    return not value


# the ids of the registrar exceptions that decided a result (`exceptions.md`): written only
# when there are some, so a report without exceptions is what it was before them
def _exception_ids() -> Any:
    return Field(default_factory=list, exclude_if=_empty)


class _ReportModel(BaseModel):
    # Every field is always written, so the published schema lists every field as required.
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )


def _optional(*names: str) -> Callable[[dict[str, Any]], None]:
    """A schema edit: these fields are written only when they have a value."""

    def edit(schema: dict[str, Any]) -> None:
        schema["required"] = [r for r in schema.get("required", []) if r not in names]

    return edit


class Evidence(_ReportModel):
    """One achievement an allocation used, and where it came from."""

    item: str
    origin: Origin
    grade: str | None = None
    credits: float | None = None
    hours: float | None = None
    completed_on: date | None = None
    rule: str | None = None
    source: str | None = None
    sources: list[str] = Field(default_factory=list)
    exceptions: list[str] = _exception_ids()


class RequirementResult(_ReportModel):
    """A named requirement of a credential and the achievements used for it."""

    name: str
    label: str
    met: bool
    used: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    exceptions: list[str] = _exception_ids()


class LimitResult(_ReportModel):
    """A `limit` of a credential (as written, canonically), its value and whether it holds.
    `exceptions`: the registrar's exceptions that waived it (it then holds, whatever is
    counted) or adjusted its amount (it holds against the new one)."""

    text: str
    source: str
    met: bool
    value: float
    exceptions: list[str] = _exception_ids()


class EarnedCredential(_ReportModel):
    credential: str
    title: str
    source: str
    completed_on: date | None = None
    expired: bool = False
    pursued: bool = False
    requirements: list[RequirementResult] = Field(default_factory=list)
    limits: list[LimitResult] = Field(default_factory=list)


class Remaining(_ReportModel):
    """One requirement node that falls short: how much more it needs, and what could fill it."""

    requirement: str
    need: int | float
    unit: Unit
    options: list[str] = Field(default_factory=list)
    # a `limit` entry: the limit as `stackrules fmt` writes it after the word `limit`, and
    # where it is (`file:line`); left out of every other entry
    limit: str | None = Field(default=None, exclude_if=lambda v: v is None)
    source: str | None = Field(default=None, exclude_if=lambda v: v is None)
    # the registrar's exceptions that adjusted the requirement or limit this need is counted
    # against (the text above is the rules'; the need is against the adjusted amount)
    exceptions: list[str] = _exception_ids()

    model_config = ConfigDict(json_schema_extra=_optional("limit", "source"))

    @field_serializer("need")
    def _whole_need(self, need: int | float) -> int | float:
        # `need: 2`, never `2.0`: a count of items reads as a whole number.
        if isinstance(need, float) and need.is_integer():
            return int(need)
        return need


class InProgressCredential(_ReportModel):
    """A credential started (or pursued) and not earned: what remains in the allocation that
    leaves the least to do (`semantics.md` §4). A pursued credential not offered at the
    learner's catalog date has `offered: false` and nothing decided."""

    credential: str
    title: str
    source: str
    pursued: bool = False
    offered: bool = True
    remaining: list[Remaining] = Field(default_factory=list)
    requirements: list[RequirementResult] = Field(default_factory=list)
    remaining_credits: float = 0.0
    remaining_items: float = 0.0

    @field_serializer("remaining_items")
    def _whole_items(self, items: float) -> int | float:
        return int(items) if items.is_integer() else items


class Transfer(_ReportModel):
    """An equivalency that fired, or a `=> none` line that matched (`reason: "no-credit"`)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    rule: str
    source: str
    from_: list[str] = Field(alias="from")
    grants: list[str] = Field(default_factory=list)
    credits: float = 0.0
    reason: Literal["no-credit"] | None = None
    completed_on: date | None = None


class NotCounted(_ReportModel):
    """A record achievement that counts toward nothing, and why."""

    item: str
    reason: NotCountedReason
    rule: str | None = None
    source: str | None = None
    detail: str | None = None


class Provenance(_ReportModel):
    """A verifiable credential (Open Badges 3.0, CLR 2.0) the learner's record was read from.

    `verification` says whether its proof or signature was checked; this engine does not check
    them, so it is always `unverified`, whatever `proof` the document carries.
    """

    id: str | None
    type: str
    issuer: str | None
    format: Literal["json", "vc-jwt"]
    file: str
    path: str
    proof: str | None
    verification: Literal["unverified"]
    items: list[str] = Field(default_factory=list)


class ExceptionResult(_ReportModel):
    """A registrar exception of the learner (`exceptions.md`): whether it changed anything
    and how (`effect`), or why not, with who approved it and when."""

    id: str
    kind: str
    applied: bool
    effect: str
    approved_by: str | None = None
    approved_on: date | None = None
    note: str | None = None


class CatalogWarning(_ReportModel):
    """A record achievement whose identifier its issuer's catalog does not have (most often a
    misspelling): it can only count where a rule selects it by its record values."""

    item: str
    message: str


class Report(_ReportModel):
    """The whole answer for one learner at one as-of date."""

    schema_: str = Field(default=SCHEMA_ID, alias="schema")
    learner: str
    as_of: date
    catalog_date: date | None = None
    earned: list[EarnedCredential] = Field(default_factory=list)
    in_progress: list[InProgressCredential] = Field(default_factory=list)
    # how many credentials are in progress, shown or not, and how many of those not pursued
    # the report shows (K, `--in-progress`; None: every one) (§6)
    started: int = 0
    in_progress_limit: int | None = None
    transfers: list[Transfer] = Field(default_factory=list)
    not_counted: list[NotCounted] = Field(default_factory=list)
    held: list[str] = Field(default_factory=list)
    unused: list[str] = Field(default_factory=list)
    provenance: list[Provenance] = Field(default_factory=list)
    exceptions: list[ExceptionResult] = Field(default_factory=list, exclude_if=_empty)
    warnings: list[CatalogWarning] = Field(default_factory=list, exclude_if=_empty)

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


def report_to_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready values, keys in declared order."""
    return report.model_dump(mode="json", by_alias=True)


def dumps(report: Report, *, indent: int | None = None) -> str:
    """The report as JSON text: the same report always gives the same bytes.

    One compact line by default (JSON Lines), written by pydantic's own serializer (no
    intermediate dictionaries: five times as fast as `json.dumps` of `report_to_json` on a
    large report); `indent` for a readable document. Either way the same values in the same
    order as `report_to_json`, never NaN or infinity (no report value can be one)."""
    if indent is None:
        return report.model_dump_json(by_alias=True)
    return json.dumps(report_to_json(report), ensure_ascii=False, allow_nan=False, indent=indent)
