"""Batch input: a record file cut into units of work, one learner each, in input order.

Takes a `.jsonl` or `.csv` record file; gives `Unit`s, each the raw data of one learner (a
JSON Lines line, or every CSV row of one learner) numbered in order of first appearance.
Units are cheap to make and to ship to a worker process: validating and evaluating them is
the workers' job (`stackrules.batch.work`), so the reading process never becomes the
bottleneck.

- JSON Lines is read as bytes, line by line; a unit remembers the byte offset after its
  line, which is how `--resume` starts again in the middle of a file without reading the
  part already done. A line that is not UTF-8 is an error for that line only.
- CSV rows are grouped by learner by `stackrules.records.csvfile.learner_groups` (a
  partitioned sort through temporary files beyond `max_rows` rows), so one learner's rows
  may be anywhere in a file larger than memory. A unit holds its rows as text (`CsvLines`),
  parsed by the worker. The whole file is read before the first unit is given; a problem
  with the file itself (no header, a misspelt column, bytes that are not UTF-8, broken
  quoting) stops the batch before any learner is evaluated, because every learner's rows
  would be in doubt.

A problem with the whole file is a `RecordError` without a `record_index`, collected in
`Source.file_errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stackrules.records.csvfile import CsvLines, learner_groups
from stackrules.records.csvtext import CsvText
from stackrules.records.errors import RecordError
from stackrules.records.model import LearnerRecord

Kind = Literal["jsonl", "csv", "object"]
FORMATS: dict[str, Kind] = {".jsonl": "jsonl", ".csv": "csv"}

CsvRow = tuple[int, dict[str, str], list[str]]


@dataclass(frozen=True, slots=True)
class Unit:
    """One learner's raw data and where it was read.

    `position` is the JSON Lines line, the learner's first CSV row, or the 1-based index of a
    record given to the Python API (`object`); `data` is the line's bytes, the learner's rows
    as read (`CsvLines`) or already parsed, as (row number, cells, stray cells) (a
    dataframe's, `stackrules.batch.dask`), or the record (a `LearnerRecord` or a learner
    object); `end` is the byte offset just after a JSON Lines line (0 otherwise).
    """

    ordinal: int
    kind: Kind
    position: int
    data: bytes | CsvLines | tuple[CsvRow, ...] | LearnerRecord | Mapping[str, Any]
    learner: str | None = None
    end: int = 0


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where to start reading: the next learner's ordinal and, for JSON Lines, its place."""

    ordinal: int = 1
    offset: int = 0
    line: int = 0


@dataclass
class Source:
    """A record file opened for a batch: its units, its size and its whole-file errors."""

    path: str
    display: str
    kind: Kind
    size: int
    max_rows: int = 50_000
    tmp_dir: str | None = None
    file_errors: list[RecordError] = field(default_factory=list)
    rows_read: int = 0

    def units(self, cursor: Cursor = Cursor()) -> Iterator[Unit]:
        """Every unit from `cursor` on, in input order."""
        if self.kind == "jsonl":
            yield from self._jsonl(cursor)
        else:
            yield from self._csv(cursor)

    def _jsonl(self, cursor: Cursor) -> Iterator[Unit]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115
        except OSError as failure:
            self.file_errors.append(_open_error(self.display, failure))
            return
        with handle:
            handle.seek(cursor.offset)
            ordinal, number, offset = cursor.ordinal, cursor.line, cursor.offset
            for raw in handle:
                number += 1
                offset += len(raw)
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                yield Unit(ordinal, "jsonl", number, raw, end=offset)
                ordinal += 1

    def _csv(self, cursor: Cursor) -> Iterator[Unit]:
        try:
            handle = open(self.path, encoding="utf-8-sig", newline="")  # noqa: SIM115
        except OSError as failure:
            self.file_errors.append(_open_error(self.display, failure))
            return
        with handle:
            text = CsvText(handle)
            opened = learner_groups(text, self.display, max_rows=self.max_rows, folder=self.tmp_dir)
        if isinstance(opened, list):
            self.file_errors.extend(opened)
            return
        self.rows_read = text.rows
        for ordinal, (learner, data) in enumerate(opened, start=1):
            if ordinal < cursor.ordinal:
                continue
            yield Unit(ordinal, "csv", data.lines[0][0], data, learner=learner)


def open_source(
    path: str, *, max_rows: int = 50_000, tmp_dir: str | None = None
) -> Source | RecordError:
    """The batch source for a `.jsonl` or `.csv` file, or why it cannot be one."""
    suffix = os.path.splitext(path)[1].lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        shown = f"`{suffix}`" if suffix else "none"
        message = f"batch reads `.jsonl` or `.csv` record files (extension {shown})"
        return RecordError(file=path, message=message)
    try:
        size = os.path.getsize(path)
    except OSError as failure:
        return _open_error(path, failure)
    return Source(path, path, kind, size, max_rows=max_rows, tmp_dir=tmp_dir)


def _open_error(file: str, failure: OSError) -> RecordError:
    return RecordError(file=file, message=f"cannot open the file: {failure.strerror or failure}")
