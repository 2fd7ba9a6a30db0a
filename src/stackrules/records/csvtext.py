"""CSV text as numbered rows, each kept as the text it was read from.

Takes CSV text open with `newline=""` (a file, or text split with `keepends=True`); gives the
header's cells, then for each non-blank row after it its number (the header is row 1; a row
is one CSV record, however many lines its quoted values span, and a blank row still counts),
its key (the stripped cell of one column, None when empty) and its text exactly as read,
ending with a line break (one is added to a last line without). The text is what grouping
spills and what a batch ships to its workers; it is parsed into cells again (`cells_of`) only
where the cells are used, which costs less than carrying them.

- Reading is strict (`csv.reader(strict=True)`): a quoted value never closed (which would
  otherwise swallow the rest of the file into one cell) or text after a closing quote raises
  `CsvSyntaxError`, naming the row where it happens.
- A line without a quote character, no longer than the csv module's field size limit, is one
  row whose cells are its comma-separated pieces, exactly as the csv module reads it: such a
  line, the usual kind, is split directly, several times faster. Any other line goes through
  the csv module, with the lines a quoted value spans.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from stackrules.records.errors import RecordError
from stackrules.records.extsort import Entry


class CsvSyntaxError(csv.Error):
    """The file is not valid CSV at row `row` (the header is row 1), in words."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(reason)
        self.row = row
        self.reason = reason

    def record_error(self, file: str) -> RecordError:
        """The whole-file error for it: nothing in the file can be trusted after it."""
        message = f"the file is not valid CSV: {self.reason}"
        return RecordError(file=file, line=self.row, position_kind="row", message=message)


_CSV_REASONS = {
    "unexpected end of data": "a quoted value that starts in this row is never closed",
    "',' expected after '\"'": (
        'text after the closing quote of a value (a quote inside a quoted value is written `""`)'
    ),
}


class _Feed:
    """The lines the csv module reads, starting with one already taken from the file, kept
    so that a row's text is known."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.pending: str | None = None
        self.taken: list[str] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.pending
        if line is None:
            line = next(self.lines)
        else:
            self.pending = None
        self.taken.append(line)
        return line


class CsvText:
    """One CSV text, read once: `header()` first, then `entries(column)`."""

    def __init__(self, handle: Iterable[str]) -> None:
        self._lines = iter(handle)
        self._feed = _Feed(self._lines)
        self._reader = csv.reader(self._feed, strict=True)
        self.number = 0  # rows read so far, the header and blank rows included
        self.rows = 0  # non-blank rows given by `entries`

    def header(self) -> list[str] | None:
        """The first row's cells, or None for a text without any line."""
        line = next(self._lines, None)
        if line is None:
            return None
        self.number = 1
        return self._row(line)[0]

    def entries(self, column: int) -> Iterator[Entry]:
        """(number, key, text) of each non-blank row after the header; `column`: the key's."""
        limit = csv.field_size_limit()
        number = self.number
        for line in self._lines:
            number += 1
            if '"' in line or len(line) > limit:
                self.number = number
                cells, text = self._row(line)
                key = cells[column].strip() if len(cells) > column else ""
                if not key and not any(cell.strip() for cell in cells):
                    continue
            else:
                text = line
                pieces = line.split(",", column + 1)
                key = pieces[column].strip() if len(pieces) > column else ""
                if not key and not line.replace(",", "").strip():
                    continue
            if text[-1] not in "\r\n":
                text += "\n"
            self.rows += 1
            yield number, key or None, text
        self.number = number

    def _row(self, line: str) -> tuple[list[str], str]:
        """The cells and text of the row that starts with `line` (row `self.number`)."""
        feed = self._feed
        feed.taken.clear()
        feed.pending = line
        try:
            cells = next(self._reader)
        except csv.Error as failure:
            reason = str(failure)
            raise CsvSyntaxError(self.number, _CSV_REASONS.get(reason, reason)) from None
        taken = feed.taken
        return cells, taken[0] if len(taken) == 1 else "".join(taken)


def cells_of(texts: Iterable[str]) -> Iterator[list[str]]:
    """The cells of each row text given by `CsvText.entries`, one list per text."""
    return csv.reader(texts, strict=True)
