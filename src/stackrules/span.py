"""Source spans: where in which rule file a construct was written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a rule file. Lines and columns count from 1; `end_*` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def short(self) -> str:
        """`file:line`, the form reports cite rules by."""
        return f"{self.file}:{self.line}"


NO_SPAN = Span("<generated>", 0, 0, 0, 0)
