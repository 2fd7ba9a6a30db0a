"""From one JSON-like learner object to a `LearnerRecord`, or the errors that stop it.

Takes a decoded object (from JSON, JSON Lines, or another reader such as Open Badges) with
the file name, its position and the rule set's aliases; gives a `LearnerRecord` whose
achievements carry that position, or a list of `RecordError` for that learner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from stackrules.quoted import shown, unicode_safe
from stackrules.records.errors import RecordError, from_validation
from stackrules.records.model import Achievement, LearnerRecord, Position, PositionKind


class AliasClash(Exception):
    """Two competency identifiers of one achievement name the same rule identifier."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def alias_achievement(raw: Any, aliases: Mapping[str, str] | None) -> Any:
    """`raw` with its item and competency identifiers read through `aliases`.

    Anything that is not shaped like an achievement is returned unchanged (validation will
    say what is wrong with it). Raises AliasClash when two competency keys become one.
    """
    if not aliases or not isinstance(raw, dict):
        return raw
    result = dict(raw)
    item = result.get("item")
    if isinstance(item, str) and item in aliases:
        result["item"] = aliases[item]
    competencies = result.get("competencies")
    if isinstance(competencies, dict):
        mapped: dict[Any, Any] = {}
        written: dict[Any, Any] = {}
        for key, level in competencies.items():
            target = aliases.get(key, key) if isinstance(key, str) else key
            if target in mapped:
                raise AliasClash(
                    f"competency `{target}` is given twice (as `{written[target]}` and `{key}`)"
                )
            mapped[target] = level
            written[target] = key
        result["competencies"] = mapped
    return result


def learner_of(obj: Any) -> str | None:
    """The learner identifier of a raw object, when it has a usable one."""
    if isinstance(obj, dict):
        learner = obj.get("learner")
        # Not one holding a lone surrogate: no output file could name it.
        if isinstance(learner, str) and learner and unicode_safe(learner) == learner:
            return learner
    return None


def parse_record_obj(
    obj: Any,
    *,
    file: str,
    position: int | None = None,
    position_kind: PositionKind = "index",
    aliases: Mapping[str, str] | None = None,
    record_index: int | None = None,
) -> LearnerRecord | list[RecordError]:
    """Validate one learner object read at `position` of `file`.

    Gives the record (its achievements positioned where the object was read), or every
    problem found with it. Never raises for bad data.
    """
    base: dict[str, Any] = {
        "file": file,
        "learner": learner_of(obj),
        "line": position,
        "position_kind": position_kind if position is not None else None,
        "record_index": record_index,
    }
    if not isinstance(obj, dict):
        return [RecordError(**base, message=f"expected a learner object, got {shown(obj)}")]
    data = dict(obj)
    achievements = data.get("achievements")
    errors: list[RecordError] = []
    if isinstance(achievements, list):
        aliased = []
        for index, raw in enumerate(achievements):
            try:
                aliased.append(alias_achievement(raw, aliases))
            except AliasClash as clash:
                field = f"achievements[{index}].competencies"
                errors.append(RecordError(**base, field=field, message=clash.message))
                aliased.append(raw)
        data["achievements"] = aliased
    pursuing = data.get("pursuing")
    if aliases and isinstance(pursuing, list):
        data["pursuing"] = [aliases.get(p, p) if isinstance(p, str) else p for p in pursuing]
    try:
        record = LearnerRecord.model_validate(data)
    except ValidationError as invalid:
        errors.extend(from_validation(invalid.errors(include_url=False), base=base))
    if errors:
        return errors
    if position is None:
        where = Position(file=file)
    else:
        where = Position(file=file, kind=position_kind, number=position)
    for achievement in record.achievements:
        achievement._position = where
    record._position = where
    return record


def parse_achievement(
    raw: dict[str, Any],
    *,
    where: Position,
    base: dict[str, Any],
    aliases: Mapping[str, str] | None,
) -> Achievement | list[RecordError]:
    """Validate one achievement read at `where` (a CSV row); field paths are column names."""
    try:
        data = alias_achievement(raw, aliases)
    except AliasClash as clash:
        return [RecordError(**base, field="competencies", message=clash.message)]
    try:
        achievement = Achievement.model_validate(data)
    except ValidationError as invalid:
        return from_validation(invalid.errors(include_url=False), base=base)
    achievement._position = where
    return achievement
