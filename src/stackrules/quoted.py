"""Values from outside, as messages quote them and as the models read dates.

`shown` quotes a value in a message (strings as written, anything else as JSON, shortened,
lone surrogates escaped: `unicode_safe`); `as_date` is the one reading of a date a record or
a registrar's exception gives (a `date`, or `YYYY-MM-DD` and nothing else), a pydantic
"before" validator. A module of its own, importing nothing of the package: the record model
and the exception model (which the record model includes) both use it.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from pydantic_core import PydanticCustomError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def unicode_safe(text: str) -> str:
    """`text` with any lone surrogate (which JSON's `\\ud800` escapes can produce, and no
    UTF-8 file can hold) written as its escape, so that a message quoting it can be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value: Any) -> str:
    """A value as a message quotes it: strings as written, anything else as JSON."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except ValueError:  # an integer of more digits than Python converts to text
        return "a number too long to show"
    except RecursionError:
        return "a value nested too deeply to show"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{unicode_safe(text)}`"


def as_date(value: Any) -> Any:
    """Accept a `date` or an ISO `YYYY-MM-DD` string, nothing else (no timestamps)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            message = "expected a date as YYYY-MM-DD, got `{got}` (no such day)"
            raise PydanticCustomError("sr_date", message, {"got": value}) from None
    raise PydanticCustomError(
        "sr_date", "expected a date as YYYY-MM-DD, got {got}", {"got": shown(value)}
    )
