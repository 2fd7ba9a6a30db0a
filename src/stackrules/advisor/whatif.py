"""What-if: hypothetical completions added to a learner's record, without editing the record.

Takes `ITEM[:GRADE]` texts (the `--add` option) or item identifiers chosen by a planner, and a
record; gives a new record with one hypothetical achievement per addition. A hypothetical
completion is dated the as-of date, so it satisfies every `within` modifier and lies in every
`effective` window that contains the as-of date. Without a grade it carries none: an
achievement with no grade meets every `min grade` (semantics §1) while ranking below any
record grade, so a planned course never displaces evidence the learner already has when an
equivalency picks its sources. `--catalog-date` replaces the record's catalog date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from stackrules.model import RuleSet
from stackrules.records import GRADES, Achievement, LearnerRecord


class WhatIfError(ValueError):
    """An `--add` value that names nothing in the rule set, or carries a bad grade."""


@dataclass(frozen=True, slots=True)
class Addition:
    item: str
    grade: str | None = None

    def text(self) -> str:
        return self.item if self.grade is None else f"{self.item}:{self.grade}"


def parse_addition(text: str, rules: RuleSet, aliases: Mapping[str, str]) -> Addition:
    """`UFV:DM101` or `UFV:DM101:B+` (or an alias of the item). Identifiers hold exactly one
    colon, so a second one separates the grade."""
    spec = text.strip()
    if spec in aliases:
        return Addition(aliases[spec])
    parts = spec.split(":")
    if len(parts) == 3:
        ident, grade = f"{parts[0]}:{parts[1]}", parts[2]
        if grade not in GRADES:
            raise WhatIfError(
                f"`{text}`: `{grade}` is not a grade (expected one of {', '.join(GRADES)})"
            )
    elif len(parts) == 2:
        ident, grade = spec, None
    else:
        raise WhatIfError(f"`{text}` is not ITEM or ITEM:GRADE (an identifier is ISSUER:CODE)")
    if ident not in rules.items:
        close = _closest(ident, rules.items)
        hint = f"; did you mean `{close}`?" if close else ""
        raise WhatIfError(f"`{ident}` is not an item or credential of the rule set{hint}")
    return Addition(ident, grade)


def _closest(ident: str, known: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(ident, list(known), n=1, cutoff=0.75)
    return found[0] if found else None


def hypothetical(addition: Addition, as_of: date) -> Achievement:
    return Achievement(item=addition.item, grade=addition.grade, completed_on=as_of)


def apply_what_if(
    record: LearnerRecord,
    additions: Sequence[Addition],
    as_of: date,
    catalog_date: date | None = None,
) -> LearnerRecord:
    """The record with the additions completed on `as_of`, and `catalog_date` when given."""
    if not additions and catalog_date is None:
        return record
    update: dict[str, object] = {}
    if additions:
        extra = tuple(hypothetical(a, as_of) for a in additions)
        update["achievements"] = record.achievements + extra
    if catalog_date is not None:
        update["catalog_date"] = catalog_date
    return record.model_copy(update=update)
