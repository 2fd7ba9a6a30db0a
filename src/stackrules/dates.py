"""Calendar arithmetic for `valid for` and `within`: months and years, not days."""

from __future__ import annotations

import calendar
from datetime import date

from stackrules.ast import Duration


def _months(d: Duration) -> int:
    amount = float(d.amount)
    return round(amount * 12) if d.unit == "years" else round(amount)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months; the 31st becomes the month's last day where needed."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def add_duration(day: date, d: Duration) -> date:
    return add_months(day, _months(d))


def subtract_duration(day: date, d: Duration) -> date:
    return add_months(day, -_months(d))


def lapsed(completed: date | None, valid_for: Duration | None, as_of: date) -> bool:
    """Whether something completed on `completed` and valid for `valid_for` has run out by
    `as_of` (never, without a date or a validity)."""
    if completed is None or valid_for is None:
        return False
    return add_duration(completed, valid_for) < as_of
