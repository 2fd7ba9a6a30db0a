"""CSV record files: one achievement per row, rows of one learner anywhere in the file.

Takes a CSV file whose header names the columns (`learner` and `item` required; the other
achievement fields and `catalog_date` optional); gives each learner's `LearnerRecord`, or the
`RecordError`s of a learner whose rows are malformed, in order of first appearance.

- Row numbers count the header as row 1 (a blank row still counts as a row; it is skipped).
- An empty cell means the field is absent; cells are stripped of surrounding spaces.
- `tags` is `;`-separated; `competencies` is `ID=level;ID=level`.
- A header with an unknown (usually misspelled), duplicated or missing required column makes
  the whole file unreadable: each such column is reported once, at row 1, and no learner is
  read. Guessing past a misspelled column would evaluate every learner on silently missing
  data, and repeating the same complaint for every row helps nobody.
- A column with an empty header name is ignored while its cells are empty; a value in it is an
  error for that row's learner.
- `catalog_date` may be given on any of a learner's rows; rows that give different dates are an
  error.
- `pursuing` is `;`-separated credential identifiers; the learner's rows are united, and a row
  may leave `item` (and every other achievement column) empty when it carries only `pursuing`.
- Rows are read as text (`stackrules.records.csvtext`) and grouped by learner by
  `learner_groups`: in memory for ordinary files, by a partitioned sort through temporary
  files for files too large for that (`stackrules.records.extsort`). A learner's rows stay
  text (`CsvLines`, what a batch sends to its workers) until they are parsed into `Row`s.
- Quoting is strict: a quoted value never closed (an unterminated quote, which would otherwise
  swallow the rest of the file into one cell) or text after a closing quote makes the file
  unreadable, reported at the row where it happens (`CsvSyntaxError`).
- Numbers are checked against the record's bounds (`stackrules.records.model`) before they
  are converted, so a value of thousands of digits is an error for its row like any other.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError

from stackrules.quoted import shown
from stackrules.records.csvtext import CsvSyntaxError, CsvText, cells_of
from stackrules.records.errors import RecordError, from_validation, unknown_field
from stackrules.records.extsort import group
from stackrules.records.model import (
    ACHIEVEMENT_FIELDS,
    Achievement,
    LearnerRecord,
    Position,
    amount_range_message,
    level_range_message,
)
from stackrules.records.parse import AliasClash, alias_achievement, parse_achievement

CSV_COLUMNS: tuple[str, ...] = ("learner", "catalog_date", "pursuing", *ACHIEVEMENT_FIELDS)
REQUIRED_COLUMNS: tuple[str, ...] = ("learner", "item")

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(slots=True)
class Row:
    """One non-blank CSV row: its number, its named cells and any cells it should not have."""

    number: int
    cells: dict[str, str]
    stray: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CsvLines:
    """One learner's rows as read: the header's column names and (row number, text) of each
    row, the cheapest form to hold, spill and send to another process."""

    names: tuple[str, ...]
    lines: tuple[tuple[int, str], ...]

    def rows(self) -> list[Row]:
        texts = (text for _, text in self.lines)
        return [
            make_row(number, cells, self.names)
            for (number, _), cells in zip(self.lines, cells_of(texts), strict=True)
        ]

    def record(
        self, learner: str | None, *, file: str, aliases: Mapping[str, str] | None
    ) -> LearnerRecord | None:
        """The learner's record read the quick way, or None when anything in the rows needs
        a word (then `parse_group` over `rows()` reads them one by one and says what).

        The record is the one `parse_group` gives, with the same values and positions: the
        rows' cells are read by column index (no `Row` per row) and every achievement is
        validated in one call, as for a JSON record, instead of one call per row.
        """
        if learner is None:
            return None
        columns = _columns(self.names)
        width = len(self.names)
        achievements: list[Any] = []
        numbers: list[int] = []
        catalog_date: tuple[int, str] | None = None
        pursuing: list[str] = []
        texts = (text for _, text in self.lines)
        try:
            for (number, _), cells in zip(self.lines, cells_of(texts), strict=True):
                count = len(cells)
                # a value in a cell that no column names is an error, which parse_group reports
                for index in columns.unnamed:
                    if index < count and cells[index].strip():
                        return None
                if count > width and any(cell.strip() for cell in cells[width:]):
                    return None
                if columns.catalog_date < count:
                    given = cells[columns.catalog_date].strip()
                    catalog_date, differs = _catalog_date(given, number, catalog_date)
                    if differs is not None:
                        return None
                pursues = columns.pursuing < count and _add_goals(
                    cells[columns.pursuing], aliases, pursuing
                )
                raw: dict[str, Any] = {}
                for index, name, as_text in columns.achievement:
                    text = cells[index].strip() if index < count else ""
                    if not text:
                        continue
                    if as_text:
                        raw[name] = text
                        continue
                    value, problem = field_value(name, text)
                    if problem is not None:
                        return None
                    raw[name] = value
                if pursues and not raw:  # a row that carries only what the learner pursues
                    continue
                achievements.append(alias_achievement(raw, aliases))
                numbers.append(number)
            data = _record_data(learner, achievements, catalog_date, pursuing)
            record = LearnerRecord.model_validate(data)
        except (AliasClash, ValidationError):
            return None
        for achievement, number in zip(record.achievements, numbers, strict=True):
            achievement._position = Position(file=file, kind="row", number=number)
        record._position = Position(file=file, kind="row", number=self.lines[0][0])
        return record


class _Columns(NamedTuple):
    """Where a header's columns are: (index, name, whether the cell is the value as it is)
    of each achievement field in field order, the index of `catalog_date` and of `pursuing`
    (beyond any row's cells when absent), and the indexes of the columns without a name."""

    achievement: tuple[tuple[int, str, bool], ...]
    catalog_date: int
    pursuing: int
    unnamed: tuple[int, ...]


@functools.lru_cache(maxsize=64)
def _columns(names: tuple[str, ...]) -> _Columns:
    """The columns of a header."""
    where = {name: index for index, name in enumerate(names) if name}
    achievement = tuple(
        (where[name], name, name in _TEXT_FIELDS) for name in ACHIEVEMENT_FIELDS if name in where
    )
    unnamed = tuple(index for index, name in enumerate(names) if not name)
    absent = sys.maxsize  # not len(names): a row may have more cells than the header
    return _Columns(
        achievement, where.get("catalog_date", absent), where.get("pursuing", absent), unnamed
    )


def parse_lines(
    learner: str | None,
    lines: CsvLines,
    *,
    file: str,
    aliases: Mapping[str, str] | None,
    record_index: int,
) -> Iterator[LearnerRecord | RecordError]:
    """The record of one learner's rows as read, or every problem found in them."""
    record = lines.record(learner, file=file, aliases=aliases)
    if record is not None:
        yield record
        return
    yield from parse_group(
        learner, lines.rows(), file=file, aliases=aliases, record_index=record_index
    )


def read_csv(
    path: str, file: str, aliases: Mapping[str, str] | None
) -> Iterator[LearnerRecord | RecordError]:
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as failure:
        yield RecordError(file=file, message=f"cannot open the file: {failure.strerror or failure}")
        return
    with handle:
        yield from read_csv_lines(handle, file, aliases)


def read_csv_lines(
    handle: Iterable[str], file: str, aliases: Mapping[str, str] | None
) -> Iterator[LearnerRecord | RecordError]:
    """The learners of CSV text already open (a file, or text split with `keepends=True`),
    `file` naming it in errors."""
    opened = learner_groups(CsvText(handle), file)
    if isinstance(opened, list):
        yield from opened
        return
    for index, (learner, lines) in enumerate(opened, start=1):
        yield from parse_lines(learner, lines, file=file, aliases=aliases, record_index=index)


def learner_groups(
    text: CsvText, file: str, *, max_rows: int = 50_000, folder: str | None = None
) -> Iterator[tuple[str | None, CsvLines]] | list[RecordError]:
    """Each learner and its rows as read, or the problems that make the whole file unreadable.

    Groups are in order of first appearance, each a learner and its rows in file order; a
    row without a learner is a group of its own (it belongs to nobody). Up to `max_rows`
    rows are grouped in memory; beyond that, through temporary files in `folder`
    (`stackrules.records.extsort`), so a file of any size is read in bounded memory. Either
    way every row is read before this returns, so a file without a header, with a wrong
    header, not UTF-8 or not valid CSV anywhere is reported here, before any learner.
    """
    try:
        header = text.header()
        if header is None:
            return [RecordError(file=file, message="the file is empty (expected a header row)")]
        names = tuple(name.strip() for name in header)
        problems = check_header(list(names), file)
        if problems:
            return problems
        groups = group(text.entries(names.index("learner")), max_rows=max_rows, folder=folder)
        first = next(groups, None)  # `group` reads every row before its first group
    except UnicodeDecodeError as failure:
        return [RecordError(file=file, message=f"the file is not UTF-8 text ({failure.reason})")]
    except CsvSyntaxError as failure:
        return [failure.record_error(file)]
    if first is None:
        return iter(())
    return (
        (learner, CsvLines(names, tuple(lines)))
        for learner, lines in itertools.chain([first], groups)
    )


def check_header(names: list[str], file: str) -> list[RecordError]:
    """One error per unknown, repeated or missing required column."""
    base: dict[str, Any] = {"file": file, "line": 1, "position_kind": "row"}
    problems = []
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        if name not in CSV_COLUMNS:
            message = unknown_field(name, CSV_COLUMNS).replace("unknown field", "unknown column")
            problems.append(RecordError(**base, field=name, message=message))
        elif name in seen:
            message = f"column `{name}` appears more than once in the header"
            problems.append(RecordError(**base, field=name, message=message))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            message = f"required column `{name}` is missing from the header"
            problems.append(RecordError(**base, field=name, message=message))
    return problems


def make_row(number: int, cells: list[str], names: tuple[str, ...]) -> Row:
    """A row's cells by column name, stripped, and the columns without a name that have a
    value."""
    row = Row(number, {})
    for position, cell in enumerate(cells):
        value = cell.strip()
        name = names[position] if position < len(names) else ""
        if name:
            row.cells[name] = value
        elif value:
            row.stray.append(f"column {position + 1}")
    return row


def parse_group(
    learner: str | None,
    group: list[Row],
    *,
    file: str,
    aliases: Mapping[str, str] | None,
    record_index: int,
) -> Iterator[LearnerRecord | RecordError]:
    """The record of one learner's rows, or every problem found in them."""
    errors: list[RecordError] = []
    achievements: list[Achievement] = []
    catalog_date: tuple[int, str] | None = None
    pursuing: list[str] = []  # the learner's rows united, in order of first mention
    for row in group:
        row_errors: list[RecordError] = []
        base: dict[str, Any] = {
            "file": file,
            "learner": learner,
            "line": row.number,
            "position_kind": "row",
            "record_index": record_index,
        }
        if learner is None:
            message = "required field is missing"
            row_errors.append(RecordError(**base, field="learner", message=message))
        for where in row.stray:
            message = f"a value in {where}, which has no name in the header"
            row_errors.append(RecordError(**base, message=message))
        given = row.cells.get("catalog_date", "")
        catalog_date, differs = _catalog_date(given, row.number, catalog_date)
        if differs is not None:
            row_errors.append(RecordError(**base, field="catalog_date", message=differs))
        pursues = _add_goals(row.cells.get("pursuing", ""), aliases, pursuing)
        raw, problems = achievement_cells(row.cells)
        row_errors.extend(RecordError(**base, field=name, message=text) for name, text in problems)
        if pursues and not raw and not problems:
            # a row that carries only what the learner pursues
            errors.extend(sorted(row_errors, key=_column_order))
            continue
        where_read = Position(file=file, kind="row", number=row.number)
        parsed = parse_achievement(raw, where=where_read, base=base, aliases=aliases)
        if isinstance(parsed, Achievement):
            achievements.append(parsed)
        else:
            row_errors.extend(parsed)
        errors.extend(sorted(row_errors, key=_column_order))
    if learner is not None and not errors:
        data = _record_data(learner, tuple(achievements), catalog_date, pursuing)
        try:
            record = LearnerRecord.model_validate(data)
        except ValidationError as invalid:
            line = catalog_date[0] if catalog_date is not None else group[0].number
            base = {"file": file, "learner": learner, "line": line, "position_kind": "row"}
            base["record_index"] = record_index
            errors.extend(from_validation(invalid.errors(include_url=False), base=base))
        else:
            record._position = Position(file=file, kind="row", number=group[0].number)
            yield record
            return
    yield from errors


def _catalog_date(
    given: str, number: int, known: tuple[int, str] | None
) -> tuple[tuple[int, str] | None, str | None]:
    """The learner's catalog date, (row, date) where it is first given, once row `number`
    gives `given` (empty: none), and why `given` is wrong when it differs from that."""
    if not given:
        return known, None
    if known is None:
        return (number, given), None
    if given != known[1]:
        return known, f"catalog date `{given}` differs from `{known[1]}` given at row {known[0]}"
    return known, None


def _add_goals(cell: str, aliases: Mapping[str, str] | None, pursuing: list[str]) -> bool:
    """Add the credentials a `pursuing` cell names (`;`-separated) to the learner's, aliases
    resolved, each once in order of first mention; whether the cell names any."""
    goals = [goal.strip() for goal in cell.split(";") if goal.strip()]
    for goal in goals:
        goal = aliases.get(goal, goal) if aliases else goal
        if goal not in pursuing:
            pursuing.append(goal)
    return bool(goals)


def _record_data(
    learner: str,
    achievements: Sequence[Any],
    catalog_date: tuple[int, str] | None,
    pursuing: list[str],
) -> dict[str, Any]:
    """What `LearnerRecord.model_validate` takes for a learner's rows."""
    data: dict[str, Any] = {"learner": learner, "achievements": achievements}
    if catalog_date is not None:
        data["catalog_date"] = catalog_date[1]
    if pursuing:
        data["pursuing"] = tuple(pursuing)
    return data


def achievement_cells(cells: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The achievement fields of a row as JSON-like values, and problems only CSV can have.

    Numbers that do not look like numbers are passed on as text: validation then says what
    was expected, in the same words as for JSON.
    """
    raw: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name in ACHIEVEMENT_FIELDS:
        text = cells.get(name, "")
        if not text:
            continue
        if name in _TEXT_FIELDS:
            raw[name] = text
            continue
        value, problem = field_value(name, text)
        if problem is not None:
            problems.append((name, problem))
        if value is not _ABSENT:
            raw[name] = value
    return raw, problems


# Achievement fields whose cell is the value as it is; the others are `field_value`'s.
_TEXT_FIELDS = frozenset(ACHIEVEMENT_FIELDS) - {"credits", "hours", "level", "tags", "competencies"}
_ABSENT: Any = object()


def field_value(name: str, text: str) -> tuple[Any, str | None]:
    """The value of a non-empty `credits`, `hours`, `level`, `tags` or `competencies` cell
    and a problem with it, or `_ABSENT` and the problem when the cell gives no value."""
    if name in ("credits", "hours"):
        number = float(text) if _NUMBER.fullmatch(text) else None
        if number is not None and not math.isfinite(number):  # thousands of digits
            return _ABSENT, amount_range_message(name, shown(text))
        return (text if number is None else number), None
    if name == "level":
        number = float(text) if _NUMBER.fullmatch(text) else None
        if number is not None and not -1e18 < number < 1e18:  # beyond any level, and int()
            return _ABSENT, level_range_message(shown(text))
        if _INTEGER.fullmatch(text):
            return int(text), None
        return (text if number is None else number), None
    if name == "tags":
        return [tag.strip() for tag in text.split(";") if tag.strip()], None
    return competency_pairs(text)


def competency_pairs(text: str) -> tuple[dict[str, str], str | None]:
    """`ID=level;ID=level` as a mapping, or the first problem with it."""
    pairs: dict[str, str] = {}
    for piece in text.split(";"):
        piece = piece.strip()
        if not piece:
            continue
        competency, equals, level = (part.strip() for part in piece.partition("="))
        if not equals or not competency or not level:
            return pairs, f"expected `ID=level` pairs separated by `;`, got `{piece}`"
        if competency in pairs:
            return pairs, f"competency `{competency}` is given twice"
        pairs[competency] = level
    return pairs, None


def _column_order(error: RecordError) -> int:
    """Errors of one row in the order of the columns (row-wide problems first)."""
    name = (error.field or "").split("[")[0]
    return CSV_COLUMNS.index(name) + 1 if name in CSV_COLUMNS else 0
