"""Reading CSV rows as text: the same rows, numbers, keys and errors as the csv module gives,
and a row's text parses back to the row's cells, however its values are quoted."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackrules.records.csvtext import CsvSyntaxError, CsvText, cells_of

Row = tuple[int, str | None, list[str]]


def reference(text: str, column: int) -> tuple[list[str] | None, list[Row]] | int:
    """Header and (number, key, cells) of each non-blank row, read the obvious way with the
    csv module (as the reader before this one did); or the row where the CSV breaks."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return header, rows
        except csv.Error:
            return number
        if number == 1:
            header = cells
            continue
        values = [cell.strip() for cell in cells]
        if not any(values):
            continue
        key = values[column] if column < len(values) else ""
        rows.append((number, key or None, cells))


def read(text: str, column: int) -> tuple[list[str] | None, list[Row]] | int:
    reader = CsvText(io.StringIO(text, newline=""))
    try:
        header = reader.header()
        entries = list(reader.entries(column))
    except CsvSyntaxError as failure:
        return failure.row
    texts = [text for _, _, text in entries]
    assert all(t.endswith(("\n", "\r")) for t in texts)
    cells = list(cells_of(texts))  # each text is one row, whole
    assert len(cells) == len(entries)
    assert reader.rows == len(entries)
    return header, [(n, key, c) for (n, key, _), c in zip(entries, cells, strict=True)]


CSV_TEXT = st.lists(
    st.sampled_from(["a", "b", " ", ",", '"', '""', "\n", "\r", "\r\n", "\t", "é", "\x00"]),
    max_size=40,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(text=CSV_TEXT, column=st.integers(min_value=0, max_value=2))
def test_rows_as_text_are_the_csv_modules_rows(text: str, column: int) -> None:
    assert read(text, column) == reference(text, column)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.text(st.sampled_from('ab ,"\n\r\t;'), max_size=6), min_size=1, max_size=4),
        max_size=8,
    ),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_rows_written_by_the_csv_module_read_back(rows: list[list[str]], terminator: str) -> None:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=terminator).writerows([["h1", "h2"], *rows])
    assert read(out.getvalue(), 0) == reference(out.getvalue(), 0)


def test_a_value_over_the_field_size_limit_is_the_csv_modules_error() -> None:
    text = "learner,item\n" + "L-1," + "x" * (csv.field_size_limit() + 1) + "\n"
    assert read(text, 0) == reference(text, 0) == 2


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        # a quoted value spanning lines is one row; the rows after it keep their numbers
        ('learner,item\nL-1,"A\nB"\nL-2,C\n', [2, 3]),
        ('learner,item\r\nL-1,"A\r\n\r\nB"\r\n\r\nL-2,C', [2, 4]),
        ('learner,item\n"L\n1",X\n,\n"",""\nL-2,Y', [2, 5]),
    ],
)
def test_row_numbers_count_rows_not_lines(text: str, numbers: list[int]) -> None:
    result = read(text, 0)
    assert not isinstance(result, int)
    assert [number for number, _, _ in result[1]] == numbers
