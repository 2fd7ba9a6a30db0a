"""Record errors: one problem with a record file, in words a registrar can act on.

Takes pydantic validation errors (or a reader's own findings) and gives `RecordError` values
naming the file, the learner, the line/row/index, the field and what was expected. Pydantic's
own wording never reaches the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import ErrorDetails

from stackrules.diagnostics import did_you_mean
from stackrules.exceptions.model import EXCEPTION_FIELDS, KINDS
from stackrules.quoted import shown, unicode_safe
from stackrules.records.model import ACHIEVEMENT_FIELDS, LEARNER_FIELDS, STATUSES, PositionKind

GRADE_EXPECTED = "expected a letter grade (A+ … D-, F or P)"


class RecordError(BaseModel):
    """One problem with a record file.

    `line` is a JSON Lines line, a CSV row (the header is row 1) or the 1-based index of a
    learner object in a JSON array, as `position_kind` says. `record_index` numbers the
    learners of the file in order of first appearance (1-based); every error of one learner
    shares it, and it is None for a problem with the whole file (nothing in it was read).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    learner: str | None = None
    line: int | None = None
    position_kind: PositionKind | None = None
    column: int | None = None
    field: str | None = None
    message: str
    record_index: int | None = None

    @field_validator("file", "learner", "field", "message")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # A key or value quoted from the record may hold a lone surrogate (a JSON `\ud800`
        # escape), which no UTF-8 output can hold: keep it as its escape.
        return value if value is None else unicode_safe(value)

    @property
    def whole_file(self) -> bool:
        """True when the problem is with the file itself rather than one learner."""
        return self.record_index is None

    def render(self) -> str:
        """One line: `file:row 14: learner L-1: field `grade`: expected …`."""
        where = self.file
        if self.line is not None:
            where += f":{self.position_kind or 'line'} {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        parts = [where]
        if self.learner is not None:
            parts.append(f"learner {self.learner}")
        if self.field is not None:
            parts.append(f"field `{self.field}`")
        parts.append(self.message)
        return ": ".join(parts)


def field_path(loc: Sequence[int | str]) -> str:
    """`("achievements", 2, "grade")` → `achievements[2].grade`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            text += f".{part}" if text else part
    return text


def unknown_field(name: str, known: Iterable[str]) -> str:
    known = list(known)
    hint = did_you_mean(name, known)
    if hint is None:
        hint = "expected one of " + ", ".join(f"`{k}`" for k in known)
    return f"unknown field `{name}` ({hint})"


def _last_name(loc: Sequence[int | str]) -> str | None:
    names = [part for part in loc if isinstance(part, str) and part != "[key]"]
    return names[-1] if names else None


def translate(error: ErrorDetails) -> str:
    """Our message for one pydantic error (never pydantic's own text)."""
    kind = error["type"]
    loc = error["loc"]
    got = shown(error.get("input"))
    name = _last_name(loc)
    if kind.startswith("sr_"):
        return error["msg"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        known = LEARNER_FIELDS if len(loc) == 1 else ACHIEVEMENT_FIELDS
        if len(loc) > 1 and loc[0] == "exceptions":
            known = EXCEPTION_FIELDS
        return unknown_field(str(loc[-1]), known)
    if kind == "literal_error":
        if name == "grade":
            return f"{GRADE_EXPECTED}, got {got}"
        if name == "kind" and "exceptions" in loc:
            hint = did_you_mean(str(error.get("input")), KINDS)
            options = ", ".join(f"`{k}`" for k in KINDS)
            return f"expected an exception kind ({options}), got {got}" + (
                f"; {hint}" if hint else ""
            )
        if name == "status":
            options = ", ".join(f"`{s}`" for s in STATUSES)
            return f"expected a status ({options}), got {got}"
        return f"invalid value {got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a number, got {got}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"expected a number 0 or more, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("string_type", "string_sub_type"):
        return f"expected text, got {got}"
    if kind == "string_unicode":
        return f"expected Unicode text, got {got} (a lone surrogate)"
    if kind == "string_too_short":
        return "expected a non-empty value"
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return f"expected a list, got {got}"
    if kind in ("dict_type", "mapping_type") and name == "competencies":
        return f"expected an object mapping competency identifiers to levels, got {got}"
    if kind in ("dict_type", "mapping_type", "model_type", "model_attributes_type"):
        return f"expected an object, got {got}"
    return f"invalid value {got}"


def from_validation(
    errors: Iterable[ErrorDetails], *, base: dict[str, Any], prefix: Sequence[int | str] = ()
) -> list[RecordError]:
    """RecordErrors for pydantic errors; `base` gives the shared file/learner/line fields."""
    result = []
    for error in errors:
        loc = (*prefix, *error["loc"])
        result.append(RecordError(**base, field=field_path(loc) or None, message=translate(error)))
    return result
