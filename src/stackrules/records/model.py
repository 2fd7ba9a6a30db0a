"""The learner record model: what one learner has achieved, as read from a record file.

Takes plain JSON-like values (validated by pydantic) and gives immutable `LearnerRecord` and
`Achievement` values. Where a value was read from (file and line, row or array index) is kept
beside the validated fields as `position`: it is never a field a record file may set.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from stackrules.exceptions.model import RegistrarException
from stackrules.quoted import as_date, shown

Grade = Literal["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F", "P"]
Status = Literal["completed", "in-progress", "failed", "withdrawn"]
PositionKind = Literal["line", "row", "index"]

# Letter grades best first, then `P` (pass); the order the language's grade scale uses.
GRADES: tuple[str, ...] = get_args(Grade)
STATUSES: tuple[str, ...] = get_args(Status)

ACHIEVEMENT_FIELDS: tuple[str, ...] = (
    "item",
    "grade",
    "credits",
    "hours",
    "completed_on",
    "expires_on",
    "status",
    "subject",
    "level",
    "tags",
    "competencies",
)
LEARNER_FIELDS: tuple[str, ...] = (
    "learner",
    "catalog_date",
    "pursuing",
    "achievements",
    "exceptions",
)


# Bounds on the numbers a record may give (docs/tutorial.md, "Limits"). Far beyond any real
# record, they keep arithmetic exact and finite: a denormal credit value or a 400-digit level
# would otherwise overflow in the allocator (dividing a need by a tiny amount) or in output.
MIN_AMOUNT = 0.001  # the smallest non-zero credits or hours
MAX_CREDITS = 10_000
MAX_HOURS = 100_000
MAX_LEVEL = 9_999

NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
Credits = Annotated[float, Field(strict=True, ge=0, le=MAX_CREDITS, allow_inf_nan=False)]
Hours = Annotated[float, Field(strict=True, ge=0, le=MAX_HOURS, allow_inf_nan=False)]
Level = Annotated[int, Field(ge=0, le=MAX_LEVEL)]


class Position(BaseModel):
    """Where something was read: a JSON Lines line, a CSV row (the header is row 1), the
    1-based index of an object in a JSON array, or (no kind, no number) the one object of a
    JSON file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    kind: PositionKind | None = None
    number: int | None = None

    def short(self) -> str:
        """`file:number` (or just `file`), the form reports cite sources by."""
        return self.file if self.number is None else f"{self.file}:{self.number}"

    def render(self) -> str:
        """`file:row 14`, `file:line 3`, `file:index 2` or just `file`."""
        if self.number is None:
            return self.file
        return f"{self.file}:{self.kind or 'line'} {self.number}"


def amount_range_message(name: str, got: str) -> str:
    """What a credits or hours value out of bounds is told (`got` as `shown` gives it)."""
    most = MAX_CREDITS if name == "credits" else MAX_HOURS
    return f"expected 0 or a number from {MIN_AMOUNT} to {most:,}, got {got}"


def level_range_message(got: str) -> str:
    """What a level out of bounds is told (`got` as `shown` gives it)."""
    return f"expected a whole number from 0 to {MAX_LEVEL}, got {got}"


class Achievement(BaseModel):
    """One thing a learner achieved: an item or credential identifier and what is known of it.
    Values given here override the catalog's."""

    # Equality and hashing include `position`, so two identical rows of a file stay two
    # achievements (a repeated course is not the same achievement twice).
    model_config = ConfigDict(frozen=True, extra="forbid")

    item: NonEmptyStr = Field(description="Item or credential identifier (or an alias of one).")
    grade: Grade | None = Field(default=None, description="Letter grade, or `P` for a pass.")
    credits: Credits | None = Field(
        default=None, description=f"Credits earned: 0, or {MIN_AMOUNT} to {MAX_CREDITS}."
    )
    hours: Hours | None = Field(
        default=None, description=f"Hours completed: 0, or {MIN_AMOUNT} to {MAX_HOURS}."
    )
    completed_on: date | None = Field(default=None, description="Completion date, YYYY-MM-DD.")
    expires_on: date | None = Field(default=None, description="Expiry date, YYYY-MM-DD.")
    status: Status = Field(default="completed", description="Whether the item was completed.")
    subject: NonEmptyStr | None = Field(default=None, description="Subject code.")
    level: Level | None = Field(
        default=None, description=f"Course level (100, 200, ...), 0 to {MAX_LEVEL}."
    )
    tags: tuple[NonEmptyStr, ...] = Field(default=(), description="Tags (CSV: `;`-separated).")
    competencies: dict[NonEmptyStr, NonEmptyStr] = Field(
        default_factory=dict,
        description="Competency identifier to level name (CSV: `ID=level;ID=level`).",
    )

    _position: Position | None = PrivateAttr(default=None)

    _dates = field_validator("completed_on", "expires_on", mode="before")(as_date)

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: Any) -> Any:
        # Letter grades in any case (`b+` is `B+`), on every path a record is read by.
        if isinstance(value, str) and value.upper() in GRADES:
            return value.upper()
        return value

    @field_validator("credits", "hours", mode="before")
    @classmethod
    def _amount(cls, value: Any, info: ValidationInfo) -> Any:
        # Only numbers 0 or more are checked here; validation says what else is wrong.
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if value != value or value < 0 or value == 0:  # NaN, negative, zero
            return value
        most = MAX_CREDITS if info.field_name == "credits" else MAX_HOURS
        if MIN_AMOUNT <= value <= most:
            return value
        message = amount_range_message(info.field_name or "credits", "{got}")
        raise PydanticCustomError("sr_amount_range", message, {"got": shown(value)})

    @field_validator("level", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        if value is None:
            return value
        whole = isinstance(value, float) and value.is_integer()
        if whole or (isinstance(value, int) and not isinstance(value, bool)):
            if 0 <= value <= MAX_LEVEL:
                return int(value)
            message = level_range_message("{got}")
            raise PydanticCustomError("sr_level_range", message, {"got": shown(value)})
        raise PydanticCustomError(
            "sr_whole_number", "expected a whole number, got {got}", {"got": shown(value)}
        )

    @property
    def position(self) -> Position | None:
        """Where the achievement was read (a CSV row, a JSON Lines line), if from a file."""
        return self._position

    def at(self, position: Position | None) -> Achievement:
        """A copy of this achievement recorded as read at `position`."""
        copy = self.model_copy()
        copy._position = position
        return copy

    def __hash__(self) -> int:
        values = tuple(getattr(self, name) for name in ACHIEVEMENT_FIELDS if name != "competencies")
        return hash((values, tuple(sorted(self.competencies.items())), self._position))


class CredentialSource(BaseModel):
    """A verifiable credential (Open Badges 3.0, CLR 2.0) that a record was read from.

    Provenance kept beside the record, never a field a record file may set: which document,
    where in the file, how it was secured, whether that was checked, and what was read from it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(description="The credential's `id` (or the JWT's `jti`).")
    type: str = Field(
        description="`OpenBadgeCredential`, `AchievementCredential` or `ClrCredential`."
    )
    issuer: str | None = Field(description="The issuer's identifier.")
    format: Literal["json", "vc-jwt"] = Field(description="How the credential was written.")
    file: str = Field(description="The file it was read from.")
    path: str = Field(description="JSON path of the credential in the file (or JWT payload).")
    proof: str | None = Field(description="How the document says it is secured, if at all.")
    verification: Literal["unverified"] = Field(
        description="Whether its proof or signature was checked: never, so far."
    )
    items: tuple[str, ...] = Field(description="Rule identifiers read from it.")


class LearnerRecord(BaseModel):
    """One learner's record: an identifier, an optional catalog date and the achievements."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner: NonEmptyStr = Field(description="Learner identifier, unique in a file.")
    catalog_date: date | None = Field(
        default=None, description="Date that picks credential versions (default: the as-of date)."
    )
    pursuing: tuple[NonEmptyStr, ...] = Field(
        default=(),
        description="Credentials the learner pursues (declared programmes and goals): always "
        "reported, in full (CSV: `;`-separated).",
    )
    achievements: tuple[Achievement, ...] = Field(default=(), description="What was achieved.")
    exceptions: tuple[RegistrarException, ...] = Field(
        default=(), description="The registrar's exceptions for this learner (`exceptions.md`)."
    )

    _position: Position | None = PrivateAttr(default=None)
    _sources: tuple[CredentialSource, ...] = PrivateAttr(default=())

    _dates = field_validator("catalog_date", mode="before")(as_date)

    @property
    def position(self) -> Position | None:
        """Where the record was read (its first line, row or array index), if from a file."""
        return self._position

    @property
    def sources(self) -> tuple[CredentialSource, ...]:
        """The verifiable credentials the record was read from (none for a plain record)."""
        return self._sources

    def from_credentials(self, sources: tuple[CredentialSource, ...]) -> LearnerRecord:
        """A copy of this record noted as read from these credentials."""
        copy = self.model_copy()
        copy._sources = sources
        return copy

    def at(self, position: Position | None) -> LearnerRecord:
        """A copy of this record recorded as read at `position`."""
        copy = self.model_copy()
        copy._position = position
        return copy

    def __hash__(self) -> int:
        return hash(
            (
                self.learner,
                self.catalog_date,
                self.pursuing,
                self.achievements,
                self.exceptions,
                self._position,
                self._sources,
            )
        )
