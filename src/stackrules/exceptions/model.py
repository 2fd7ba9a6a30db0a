"""One registrar exception as data: the record's `exceptions` list and the rows of an
exceptions file give these.

Every kind shares one model (a row of a student information system's exception table has the
same columns whatever its kind); which fields a kind needs, and whether the names it uses
exist in the rule set, is `stackrules.exceptions.check`'s business, so that a problem is
reported with the exception's `id` rather than its position in a list.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from stackrules.quoted import as_date

Kind = Literal["waive", "adjust", "substitute", "also-allow", "apply", "exclude", "grant"]
KINDS: tuple[str, ...] = get_args(Kind)
Grade = Literal["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "P"]

_Text = Annotated[StrictStr, Field(min_length=1)]
_Amount = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]

# the fields each kind needs, and those it may have besides the common ones (`exceptions.md`)
REQUIRED: dict[str, tuple[str, ...]] = {
    "waive": ("credential",),
    "adjust": ("credential", "amount"),
    "substitute": ("credential", "item", "for"),
    "also-allow": ("credential", "requirement", "item"),
    "apply": ("credential", "requirement", "item"),
    "exclude": ("item",),
    "grant": ("item",),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "waive": ("requirement", "limit"),
    "adjust": ("requirement", "limit"),
    "substitute": ("requirement",),
    "also-allow": (),
    "apply": (),
    "exclude": ("credential",),
    "grant": ("credits", "hours", "level", "subject", "grade", "completed_on", "from"),
}
COMMON: tuple[str, ...] = ("id", "kind", "approved_by", "approved_on", "note")
EXCEPTION_FIELDS: tuple[str, ...] = (
    *COMMON,
    "credential",
    "requirement",
    "limit",
    "item",
    "for",
    "amount",
    "credits",
    "hours",
    "level",
    "subject",
    "grade",
    "completed_on",
    "from",
)


def _require(schema: dict[str, Any], *names: str) -> None:
    required = schema.setdefault("required", [])
    required.extend(n for n in names if n not in required)


class RegistrarException(BaseModel):
    """A registrar's decision for one learner (`exceptions.md`): a waiver, an adjusted amount,
    a substitution, an also-allow, a course directive, an exclusion or a grant."""

    # The schema lists the approval as required (as it is: `check` makes its absence a record
    # error naming the exception); the model lets it through so that the error can name it.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        json_schema_extra=lambda schema: _require(schema, "approved_by", "approved_on"),
    )

    id: _Text = Field(description="The registrar's reference; unique per learner.")
    kind: Kind = Field(description="What the exception does.")
    # required for every kind: checked with the exception's id (`check`), not here, so that
    # the message can name it
    approved_by: _Text | None = Field(default=None, description="Who approved it (required).")
    approved_on: date | None = Field(
        default=None, description="When it was approved, YYYY-MM-DD (required)."
    )
    note: StrictStr | None = Field(default=None, description="Free text for the audit.")
    credential: _Text | None = Field(default=None, description="Credential identifier.")
    requirement: _Text | None = Field(default=None, description="Named requirement.")
    limit: _Text | None = Field(
        default=None, description="A limit, as `stackrules fmt` writes it after `limit`."
    )
    item: _Text | None = Field(default=None, description="Item identifier.")
    for_: _Text | None = Field(
        default=None, alias="for", description="`substitute`: the item replaced."
    )
    amount: _Amount | None = Field(default=None, description="`adjust`: the new N.")
    credits: _Amount | None = Field(default=None, description="`grant`: credits granted.")
    hours: _Amount | None = Field(default=None, description="`grant`: hours granted.")
    level: _Amount | None = Field(default=None, description="`grant`: level of what is granted.")
    subject: _Text | None = Field(default=None, description="`grant`: its subject.")
    grade: Grade | None = Field(default=None, description="`grant`: its grade.")
    completed_on: date | None = Field(default=None, description="`grant`: its completion date.")
    from_: tuple[_Text, ...] = Field(
        default=(), alias="from", description="`grant`: the record items it rests on."
    )

    _dates = field_validator("approved_on", "completed_on", mode="before")(as_date)

    def given(self) -> set[str]:
        """The kind-specific fields that have a value, by their record names."""
        names = set()
        for name in EXCEPTION_FIELDS[len(COMMON) :]:
            attr = name + "_" if name in ("for", "from") else name
            value = getattr(self, attr)
            if value is not None and value != ():
                names.add(name)
        return names
