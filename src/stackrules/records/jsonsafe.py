"""Decoding JSON from outside: `json.loads` with limits, and one error type for every failure.

Takes JSON text (a record file, a JSON Lines line, a VC-JWT segment, a CTDL document); gives the
decoded value, or raises `JsonError` with a message in our words and, where known, the line and
column or the path of the problem. Callers turn it into their located error (a `RecordError`
naming the file, line and learner; a CTDL import error). Nothing else is raised for bad text.

The limits, and why (each is an input that made the standard decoder or the code after it
fail with a traceback, or hide data):

- Nesting deeper than `MAX_DEPTH` (64) arrays and objects is rejected before decoding: the
  decoder recurses, and around 1,000 levels raises `RecursionError`; our own readers and
  messages walk values recursively too. No record, badge or CTDL document nests past a dozen.
- Integers longer than `MAX_INT_DIGITS` (30) digits are rejected: Python refuses to convert
  integers of more than 4,300 digits (`ValueError`), and far shorter ones overflow a float or
  make exact arithmetic slow (a 400-digit integer cannot become a float). 30 digits is above
  any number a record, badge or CTDL document writes as a number (a 64-bit integer has at most
  20 digits) and far above any credit, hour or timestamp.
- Numbers with a fraction or exponent must be finite, below `MAX_FLOAT` (1e30) in size, and at
  most `MAX_NUMBER_CHARS` characters long: `1e400` decodes to infinity, `NaN` and `Infinity`
  are not JSON, and a huge float becomes a huge exact number when credits are added up.
- A key given twice in one object is rejected: JSON decoders keep the last value silently, so
  `{"learner": "L1", "learner": "L2"}` would be read as learner L2.
- A string holding a lone surrogate (`"\\ud800"`) is rejected: it is not a character, it
  cannot be written out as UTF-8, and printing it fails.

A reader calls `loads(text)` and catches `JsonError`: `syntax` says the text is not JSON;
`line`/`column` locate a syntax error, a refused number or too deep a nesting; `loc` and
`document` are set for a lone surrogate, which is found after decoding (so the reader can name
the learner and the field, and read the learners that have none). `array_items` splits an
array that failed a limit into its members, to decode one at a time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 64
MAX_INT_DIGITS = 30
MAX_FLOAT = 1e30
MAX_NUMBER_CHARS = 100

Loc = tuple[str | int, ...]

# A JSON string (escapes included), or one bracket; what the depth scan steps over.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_ITEM_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_NOT_BRACKETS_OR_QUOTES = re.compile(r'[^\[\]{}"]+')
_PARENTHESES = str.maketrans("[{]}", "(())")
# A `\uD800`-`\uDFFF` escape: worth looking for lone surrogates in the decoded value.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class JsonError(ValueError):
    """JSON text that is not valid, or is beyond a limit.

    `line` and `column` (1-based) locate the problem in the text when known; `loc` is the path
    of the value concerned inside the decoded document (`("achievements", 0, "item")`) when
    known; `document` is the decoded value when decoding itself succeeded (a lone surrogate),
    so that a caller can still name the learner. `syntax` is True when the text is not JSON
    at all (rather than JSON beyond a limit).
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        loc: Loc | None = None,
        document: Any = None,
        syntax: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.loc = loc
        self.document = document
        self.syntax = syntax


class _Refused(Exception):
    """Raised from inside the decoder's hooks; `literal` is the number text, if a number."""

    def __init__(self, message: str, literal: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.literal = literal


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(
                    f"key `{_visible(key)}` is given twice in one object (JSON readers keep "
                    "only one of the values, silently; give each key once)"
                )
            seen.add(key)
    return obj


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(
            f"the number `{_short(text)}` has {digits} digits (at most {MAX_INT_DIGITS} are "
            "accepted)",
            text,
        )
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(
            f"the number `{_short(text)}` is {len(text)} characters long (at most "
            f"{MAX_NUMBER_CHARS} are accepted)",
            text,
        )
    value = float(text)
    if not math.isfinite(value) or abs(value) >= MAX_FLOAT:
        raise _Refused(f"the number `{text}` is out of range (at most 1e30 in size)", text)
    return value


def _constant(text: str) -> float:
    raise _Refused(f"`{text}` is not a JSON number", text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant
)


def loads(text: str | bytes) -> Any:
    """The value of JSON `text`, within the limits above; raises JsonError otherwise."""
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as failure:
            raise JsonError(f"the text is not UTF-8 ({failure.reason})", syntax=True) from None
    _check_depth(text)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as failure:
        reason = failure.msg[:1].lower() + failure.msg[1:]
        raise JsonError(
            f"invalid JSON: {reason}", line=failure.lineno, column=failure.colno, syntax=True
        ) from None
    except _Refused as refused:
        line, column = _locate_number(text, refused.literal)
        raise JsonError(refused.message, line=line, column=column) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise JsonError(f"arrays and objects nested more than {MAX_DEPTH} deep") from None
    if _may_hold_surrogate(text):
        where = lone_surrogate(value)
        if where is not None:
            loc, found = where
            raise JsonError(surrogate_message(found), loc=loc, document=value)
    return value


def _may_hold_surrogate(text: str) -> bool:
    if "\\u" in text and _ESCAPED_SURROGATE.search(text):
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    # Fast, in C, for the usual text (no bracket inside a string): without escaped backslashes
    # and quotes, every `"` of JSON delimits a string. Keep only quotes and brackets; removing
    # `""` keeps every bracket on its side of the strings, and leaves no quote when no string
    # holds a bracket. The brackets, as parentheses: each pass of removing `()` takes one
    # level off every innermost pair, so MAX_DEPTH passes empty any text within the limit.
    # Other text (deeper, a bracket in a string, or not JSON) is scanned token by token.
    plain = text.replace("\\\\", "").replace('\\"', "")
    brackets = _NOT_BRACKETS_OR_QUOTES.sub("", plain).replace('""', "")
    if '"' not in brackets:
        brackets = brackets.translate(_PARENTHESES)
        for _ in range(MAX_DEPTH):
            shorter = brackets.replace("()", "")
            if len(shorter) == len(brackets):
                break
            brackets = shorter
        if not brackets:
            return
    depth = 0
    for token in _TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _line_column(text, token.start())
                raise JsonError(
                    f"arrays and objects nested more than {MAX_DEPTH} deep",
                    line=line,
                    column=column,
                )
        elif char in "]}":
            depth -= 1


def array_items(text: str) -> list[tuple[int, int, str]] | None:
    """The members of a top-level JSON array as (line, column, text), undecoded; None when
    `text` is not an array whose members can be told apart. A reader whose file failed a
    limit uses it to decode the members one at a time, so that one bad member is an error
    for that member only."""
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        return None
    items: list[tuple[int, int, str]] = []
    depth = 0
    begin = start + 1
    for token in _ITEM_TOKEN.finditer(text, start):
        char = token.group()
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                end = token.start()
                break
        elif char == "," and depth == 1:
            items.append(_item(text, begin, token.start()))
            begin = token.end()
    else:
        return None  # the array never closes: not JSON
    if text[end + 1 :].strip():
        return None
    last = _item(text, begin, end)
    if last[2] or items:
        items.append(last)
    return items


def _item(text: str, begin: int, end: int) -> tuple[int, int, str]:
    piece = text[begin:end]
    offset = begin + len(piece) - len(piece.lstrip())
    return (*_line_column(text, offset), piece.strip())


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _locate_number(text: str, literal: str | None) -> tuple[int | None, int | None]:
    """Where a refused number (or constant) is written: after `[`, `:` or `,`, as a whole."""
    if literal is None:
        return None, None
    found = re.search(r"[\[:,]\s*(" + re.escape(literal) + r")(?![0-9.eE+\-])", text)
    if found is None:
        found = re.search(re.escape(literal), text)
        if found is None:  # pragma: no cover - the decoder read it from this text
            return None, None
        return _line_column(text, found.start())
    return _line_column(text, found.start(1))


def lone_surrogate(value: Any) -> tuple[Loc, str] | None:
    """The path of the first string (or key) of a decoded value that holds a lone surrogate,
    and the surrogate as an escape (`\\ud800`); None when there is none."""
    for loc, text in _strings(value, ()):
        found = _SURROGATE.search(text)
        if found is not None:
            return loc, f"\\u{ord(found.group()):04x}"
    return None


def surrogate_message(escape: str) -> str:
    return f"text holds a lone surrogate `{escape}` (half of a UTF-16 pair, not a character)"


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    # Recursion is safe: the depth was checked before decoding.
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield (*loc, key), key
            yield from _strings(inner, (*loc, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings(inner, (*loc, index))


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}…{text[-10:]}"


def _visible(text: str) -> str:
    """A key as a message can show it: control and lone surrogate characters escaped."""
    return "".join(
        c if c.isprintable() and not _SURROGATE.match(c) else f"\\u{ord(c):04x}" for c in text
    )


def json_path(loc: Loc, root: str = "$") -> str:
    """`("credentialSubject", "result", 0)` → `$.credentialSubject.result[0]`."""
    text = root
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
