"""Source spans: where in which rule file a construct was written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def fast_pickling(cls: type[T]) -> type[T]:
    """Pickle a frozen, slotted dataclass as a call of its constructor with its fields.

    The default pickling of slotted dataclasses looks the fields up again for every object it
    restores, which made loading a cached syntax tree (`stackrules.parsecache`) slower than
    parsing much of it again; a constructor call is several times faster.
    """
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[type[T], tuple[Any, ...]]:
        return cls, tuple(getattr(self, name) for name in names)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


@fast_pickling
@dataclass(frozen=True, slots=True)
class Span:
    """A region of a rule file. Lines and columns count from 1; `end_*` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def location(self) -> str:
        return f"{printable(self.file)}:{self.line}:{self.column}"

    def short(self) -> str:
        """`file:line`, the form reports cite rules by."""
        return f"{printable(self.file)}:{self.line}"


def printable(text: str) -> str:
    """`text` with what no output can encode shown as U+FFFD.

    A file name that is not UTF-8 reaches Python with each undecodable byte as a lone
    surrogate (PEP 383), which a UTF-8 terminal, file or JSON document refuses to encode.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


NO_SPAN = Span("<generated>", 0, 0, 0, 0)
