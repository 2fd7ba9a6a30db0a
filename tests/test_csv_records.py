"""A learner's CSV rows read the quick way (`CsvLines.record`) give exactly the record that
reading them row by row (`parse_group`) gives, and give way to it whenever anything is
wrong: differential testing over random headers, cells and aliases."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from stackrules.records import CSV_COLUMNS, LearnerRecord
from stackrules.records.csvfile import CsvLines, parse_group, parse_lines

FILE = "learners.csv"
ALIASES = {"OLD:ITEM": "CAPU:Y", "OLD-C": "C1", "OLD:GOAL": "CAPU:CERT"}

# Per column: values read as they are, and values that are wrong (for CSV, or for any record).
VALUES: dict[str, tuple[list[str], list[str]]] = {
    "item": (["CAPU:X", " CAPU:Y ", "OLD:ITEM", ""], ["", " "]),
    "grade": (["", "A", "b+", "P"], ["Q"]),
    "credits": (["", "3", "3.5", " 4 ", "0", "0.001"], ["-1", "1e999", "abc", "0.0001"]),
    "hours": (["", "40", "12.5"], ["1e999", "x"]),
    "completed_on": (["", "2020-01-01", "2021-06-30"], ["2020-02-30", "soon"]),
    "expires_on": (["", "2030-01-01"], ["2030-13-01"]),
    "status": (["", "completed", "in-progress", "failed"], ["done"]),
    "subject": (["", "MATH", " ENGL "], []),
    "level": (["", "100", "100.0", " 200 "], ["1e20", "abc", "-5", "100.5"]),
    "tags": (["", "t1;t2", " ; ", "t1"], []),
    "competencies": (["", "C1=a;C2=b", "C1=a"], ["C1=a;C1=b", "x", "C1=a;OLD-C=b"]),
    "catalog_date": (["", "", "2020-01-01"], ["2021-06-30", "bad"]),
    "pursuing": (["", "", "CAPU:CERT", "OLD:GOAL;CAPU:DIP"], [" ; "]),
    "": (["", " "], ["x"]),
}
# A header `check_header` lets through: `learner`, `item`, any other columns once, unnamed ones
# (one anywhere, and up to two at the end: a header with trailing commas).
OTHERS = [name for name in CSV_COLUMNS if name not in ("learner", "item")]
NAMES = st.tuples(
    st.lists(st.sampled_from([*OTHERS, ""]), unique=True, max_size=6),
    st.integers(min_value=0, max_value=2),
).map(lambda drawn: ("learner", "item", *drawn[0], *[""] * drawn[1]))


def cell(draw: st.DrawFn, name: str) -> str:
    good, bad = VALUES[name]
    wrong = bad and draw(st.integers(min_value=0, max_value=11)) == 0
    return draw(st.sampled_from(bad if wrong else good))


@st.composite
def learner_lines(draw: st.DrawFn) -> tuple[str | None, CsvLines]:
    names = draw(NAMES)
    learner = draw(st.sampled_from(["L-1", "L-1", "L-1", None]))
    count = draw(st.integers(min_value=1, max_value=5))
    lines = []
    for number in range(2, 2 + 3 * count, 3):
        cells = [learner or "", *(cell(draw, name) for name in names[1:])]
        width = draw(st.sampled_from([0, 0, 0, 0, 0, 0, -1, 1, 2]))  # cells missing, or more
        if width < 0:
            cells.pop()
        for _ in range(width):  # trailing commas (a blank cell), or a value past the header
            cells.append(draw(st.sampled_from(["", "", " ", "x"])))
        out = io.StringIO()
        csv.writer(out).writerow(cells)
        lines.append((number, out.getvalue()))
    return learner, CsvLines(tuple(names), tuple(lines))


@settings(max_examples=1500, deadline=None)
@given(learner_lines(), st.sampled_from([None, ALIASES]))
def test_the_quick_reading_is_the_row_by_row_reading(
    given_lines: tuple[str | None, CsvLines], aliases: dict[str, str] | None
) -> None:
    learner, lines = given_lines
    where = {"file": FILE, "aliases": aliases, "record_index": 3}
    slow = list(parse_group(learner, lines.rows(), **where))
    assert list(parse_lines(learner, lines, **where)) == slow
    quick = lines.record(learner, file=FILE, aliases=aliases)
    plain = "" not in lines.names and all(
        len(next(csv.reader([text]))) <= len(lines.names) for _, text in lines.lines
    )
    if quick is None:
        # only a learner in error, or cells the quick reading leaves to the row-by-row one
        assert not (len(slow) == 1 and isinstance(slow[0], LearnerRecord)) or not plain
        return
    assert slow == [quick]
    (record,) = slow
    assert isinstance(record, LearnerRecord)
    assert quick.position == record.position
    assert [a.position for a in quick.achievements] == [a.position for a in record.achievements]


def stray(lines: CsvLines) -> bool:
    """Whether a row has a value in a cell that no column names."""
    names = lines.names
    return any(
        cell.strip() and (index >= len(names) or not names[index])
        for _, text in lines.lines
        for index, cell in enumerate(next(csv.reader([text])))
    )


@settings(max_examples=1500, deadline=None)
@given(learner_lines(), st.sampled_from([None, ALIASES]))
def test_the_quick_reading_reads_every_learner_the_row_by_row_reading_reads(
    given_lines: tuple[str | None, CsvLines], aliases: dict[str, str] | None
) -> None:
    """Blank cells without a column name (a trailing comma) do not stop the quick reading;
    a value in one is an error of the row-by-row reading."""
    learner, lines = given_lines
    slow = list(parse_group(learner, lines.rows(), file=FILE, aliases=aliases, record_index=3))
    good = len(slow) == 1 and isinstance(slow[0], LearnerRecord)
    if stray(lines):
        assert not good
    if good:
        assert lines.record(learner, file=FILE, aliases=aliases) == slow[0]
