"""Calendar arithmetic for `valid for` and `within`: months and years, not days.

Arithmetic saturates: a date moved past the calendar's last day (9999-12-31) is that day, and
one moved before its first (0001-01-01) is that day, so any record date and any rule duration
give an answer (a badge earned in 9996 and valid for 5 years never lapses; `within 8000 years`
reaches back to the first day) instead of an overflow.
"""

from __future__ import annotations

import calendar
import math
from datetime import MAXYEAR, MINYEAR, date

from stackrules.ast import Duration

# More months than separate any two representable dates: a longer move saturates anyway.
_SPAN = 12 * (MAXYEAR - MINYEAR + 1)


def _months(d: Duration) -> int:
    amount = float(d.amount)
    months = amount * 12 if d.unit == "years" else amount
    if math.isnan(months):
        return 0
    if abs(months) > _SPAN:  # infinity too
        return _SPAN if months > 0 else -_SPAN
    return round(months)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months; the 31st becomes the month's last day where needed.
    Saturates at `date.min` and `date.max`."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if year > MAXYEAR:
        return date.max
    if year < MINYEAR:
        return date.min
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
