"""`--exceptions FILE`: a student information system's exception table, joined to learners.

Takes a JSON Lines file (one exception per line) or a CSV file (one per row, header first),
each with a `learner` field; gives each learner's exceptions, and a `RecordError` (file,
line or row, learner, field) for each line or row that cannot be read. CSV cells are stripped;
an empty cell is an absent field; `from` is `;`-separated; numbers are numbers.

`Loaded` keeps the table in memory (`evaluate`, `plan`, `nearest`: one record file's worth).
`ExceptionIndex` loads it into an on-disk SQLite table keyed by learner, so that a batch joins
a large, unordered table to its learners in bounded memory: each worker opens the index
read-only by path and looks its learner up when the unit is evaluated.

Rows for a learner the record file does not hold are never silently dropped: once every
learner has been read, `Loaded.strangers` (in memory) and `index_strangers` (the index against
the batch's on-disk table of learners read) give one record error per such row, naming the
exceptions file, the line or row, the learner and the exception's id.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

from stackrules.diagnostics import did_you_mean
from stackrules.exceptions.check import record_errors
from stackrules.exceptions.model import EXCEPTION_FIELDS, RegistrarException
from stackrules.model import RuleSet
from stackrules.records.errors import RecordError, translate, unknown_field
from stackrules.records.model import LearnerRecord, PositionKind

FILE_FIELDS: tuple[str, ...] = ("learner", *EXCEPTION_FIELDS)
_NUMBERS = ("amount", "credits", "hours", "level")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

# a batch's did-you-mean for a learner not in the record file looks among the learners read
# only when there are at most this many, and for the first `HINTS` such learners (beyond
# that, the comparisons would cost more than the hints are worth)
HINT_LEARNERS = 5_000
HINTS = 100


class Found(NamedTuple):
    """One exception of the file, with its learner and where it is (line or row)."""

    learner: str
    exception: RegistrarException
    line: int
    position_kind: PositionKind


Entry = Found | RecordError


def position_kind(path: str) -> PositionKind:
    """How an exceptions file numbers its entries: CSV rows, else JSON Lines lines."""
    return "row" if path.lower().endswith(".csv") else "line"


def read(path: str) -> Iterator[Entry]:
    """Each exception of the file with its learner, or the error of a line or row."""
    kind = position_kind(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as failure:
        yield RecordError(file=path, message=f"cannot read the file ({failure.strerror})")
        return
    with handle:
        yield from _entries(path, kind, handle)


def read_text(text: str, name: str, *, csv_text: bool) -> Iterator[Entry]:
    """Each exception of text already in memory (a web form's field), as `read` gives those
    of a file: CSV when `csv_text`, else JSON Lines; `name` stands for the file in errors."""
    kind: PositionKind = "row" if csv_text else "line"
    yield from _entries(name, kind, io.StringIO(text.removeprefix("\ufeff"), newline=""))


def _entries(path: str, kind: PositionKind, handle: Iterable[str]) -> Iterator[Entry]:
    if kind == "row":
        yield from _csv(path, handle)
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as failure:
            yield _error(path, kind, number, None, None, f"not JSON ({failure.msg})")
            continue
        yield from _one(path, kind, number, obj)


def read_objects(source: str, objects: Sequence[Any]) -> Iterator[Entry]:
    """Each exception of a list of decoded objects (the HTTP API's `exceptions`), checked as
    a file's lines are; positions are 1-based indexes into the list."""
    for number, obj in enumerate(objects, start=1):
        yield from _one(source, "index", number, obj)


def _csv(path: str, handle: Any) -> Iterator[Entry]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip() for h in header]
    unknown = [n for n in names if n and n not in FILE_FIELDS]
    for name in unknown:
        yield _error(path, "row", 1, None, name, unknown_field(name, FILE_FIELDS))
    if unknown:
        return
    for number, cells in enumerate(reader, start=2):
        obj: dict[str, Any] = {}
        for name, cell in zip(names, cells, strict=False):
            value = cell.strip()
            if not name or not value:
                continue
            if name == "from":
                obj[name] = [v.strip() for v in value.split(";") if v.strip()]
            elif name in _NUMBERS and _NUMBER.fullmatch(value):
                obj[name] = float(value)
            else:
                obj[name] = value
        if obj:
            yield from _one(path, "row", number, obj)


def _one(path: str, kind: PositionKind, number: int, obj: Any) -> Iterator[Entry]:
    if not isinstance(obj, dict):
        yield _error(path, kind, number, None, None, "expected an object")
        return
    learner = obj.get("learner")
    if not isinstance(learner, str) or not learner:
        yield _error(path, kind, number, None, "learner", "required field is missing")
        return
    data = {k: v for k, v in obj.items() if k != "learner"}
    try:
        yield Found(learner, RegistrarException.model_validate(data), number, kind)
    except ValidationError as failure:
        ident = data.get("id") if isinstance(data.get("id"), str) else None
        for error in failure.errors():
            name = str(error["loc"][0]) if error["loc"] else None
            if error["type"] == "extra_forbidden" and name is not None:
                message = unknown_field(name, FILE_FIELDS)
            else:
                message = translate({**error, "loc": ("exceptions", 0, *error["loc"])})
            field = f"exceptions[{ident}].{name}" if ident else name
            yield _error(path, kind, number, learner, field, message)


def _error(
    path: str,
    kind: PositionKind,
    number: int,
    learner: str | None,
    field: str | None,
    message: str,
) -> RecordError:
    return RecordError(
        file=path,
        learner=learner,
        line=number,
        position_kind=kind,
        field=field,
        message=message,
        record_index=0 if learner is not None else None,
    )


class Loaded:
    """An exceptions file in memory: each learner's exceptions, and the file's errors."""

    def __init__(self, path: str, entries: Iterable[Entry] | None = None) -> None:
        """The file at `path`, or `entries` already read (`read_text`) under that name."""
        self.path = path
        self.by_learner: dict[str, list[RegistrarException]] = {}
        self.errors: list[RecordError] = []
        self.found: list[Found] = []
        for entry in read(path) if entries is None else entries:
            if isinstance(entry, RecordError):
                self.errors.append(entry)
            else:
                self.found.append(entry)
                self.by_learner.setdefault(entry.learner, []).append(entry.exception)

    def lookup(self, learner: str) -> tuple[list[RegistrarException], list[RecordError]]:
        """The learner's exceptions, and the errors of its rows that could not be read."""
        errors = [e for e in self.errors if e.learner == learner]
        return self.by_learner.get(learner, []), errors

    @property
    def unreadable(self) -> bool:
        """Whether the file itself could not be read (or its header is wrong): nothing in
        it was, and no learner may be evaluated as if it had no exceptions."""
        return any(e.learner is None and (e.line is None or e.line == 1) for e in self.errors)

    @property
    def file_errors(self) -> list[RecordError]:
        """Errors of rows naming no learner (or of the file itself)."""
        return [e for e in self.errors if e.learner is None]

    def strangers(self, present: Collection[str], record_file: str) -> list[RecordError]:
        """One record error per row of the file for a learner not in `present` (every
        learner of the record file, asked for or not), in file order: the exception cannot
        apply to anybody, and the registrar must hear of it (a mistyped learner, or a
        record file that is not the one the table was exported with). A row that could not
        be read either keeps its own error."""
        absent = {learner for learner in self.by_learner if learner not in present}
        absent |= {e.learner for e in self.errors if e.learner and e.learner not in present}
        if not absent:
            return []
        known = sorted(present)
        hints = {learner: did_you_mean(learner, known) for learner in absent}
        out: list[tuple[int, RecordError]] = [
            (f.line, stranger(self.path, f, record_file, hints[f.learner]))
            for f in self.found
            if f.learner in absent
        ]
        out += [(e.line or 0, e) for e in self.errors if e.learner in absent]
        return [e for _, e in sorted(out, key=lambda p: p[0])]


def stranger(exceptions_file: str, found: Found, record_file: str, hint: str | None) -> RecordError:
    """The record error of an exception for a learner the record file does not hold."""
    message = (
        f"exception `{found.exception.id}` is for learner `{found.learner}`, "
        f"who is not in `{record_file}`"
    )
    return RecordError(
        file=exceptions_file,
        learner=found.learner,
        line=found.line,
        position_kind=found.position_kind,
        field=f"exceptions[{found.exception.id}].learner",
        message=message + (f"; {hint}" if hint else ""),
        record_index=0,
    )


def joined(
    record: LearnerRecord,
    extra: Sequence[RegistrarException],
    extra_errors: Sequence[RecordError],
    rules: RuleSet,
    *,
    file: str,
    exceptions_file: str | None,
    record_index: int | None = None,
) -> tuple[LearnerRecord, list[RecordError]]:
    """The record with its exceptions from an exceptions file after its own, and every
    problem with them: the file's rows for it that could not be read, and the exceptions
    naming what the rule set does not have (`check`), each cited in the file it came from."""
    full = with_exceptions(record, extra)
    if rules.aliases and full.exceptions:
        resolved = tuple(aliased(e, rules.aliases) for e in full.exceptions)
        full = full.model_copy(update={"exceptions": resolved})
    errors = list(extra_errors)
    if full.exceptions:
        own = {e.id for e in record.exceptions}
        from_file = {e.id: exceptions_file or file for e in extra if e.id not in own}
        errors += record_errors(full, rules, file=file, record_index=record_index, files=from_file)
    return full, errors


def join_loaded(
    record: LearnerRecord,
    table: Loaded | None,
    rules: RuleSet,
    *,
    file: str,
    exceptions_file: str | None,
) -> tuple[LearnerRecord, list[RecordError]]:
    """`joined` for a command that read the exceptions file into memory (`Loaded`): the
    record as it is when neither it nor the file has exceptions."""
    if not record.exceptions and table is None:
        return record, []
    extra, extra_errors = table.lookup(record.learner) if table else ([], [])
    return joined(record, extra, extra_errors, rules, file=file, exceptions_file=exceptions_file)


def aliased(exc: RegistrarException, aliases: Mapping[str, str]) -> RegistrarException:
    """The exception with its items read through the rule set's aliases (as a record's
    achievements are): a registrar may name a course by its outside identifier."""
    update: dict[str, Any] = {}
    if exc.item is not None and exc.item in aliases:
        update["item"] = aliases[exc.item]
    if exc.for_ is not None and exc.for_ in aliases:
        update["for_"] = aliases[exc.for_]
    if any(i in aliases for i in exc.from_):
        update["from_"] = tuple(aliases.get(i, i) for i in exc.from_)
    return exc.model_copy(update=update) if update else exc


def with_exceptions(record: LearnerRecord, extra: Sequence[RegistrarException]) -> LearnerRecord:
    """The record with an exceptions file's exceptions for it after its own."""
    if not extra:
        return record
    return record.model_copy(update={"exceptions": (*record.exceptions, *extra)})


class ExceptionIndex:
    """An exceptions file loaded into an SQLite table keyed by learner (made privately:
    created new, never through a link, readable by its owner only)."""

    def __init__(self, source: str, index: str) -> None:
        self.source = source
        self.path = index
        self.errors: list[RecordError] = []  # only rows naming no learner: the rest are kept
        fd = os.open(
            index, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        os.close(fd)
        db = sqlite3.connect(index)
        try:
            db.execute(
                "CREATE TABLE exc (learner TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,"
                " line INTEGER NOT NULL)"
            )
            batch: list[tuple[str, int, str, int]] = []
            for seq, entry in enumerate(read(source)):
                if isinstance(entry, RecordError):
                    if entry.learner is None:
                        self.errors.append(entry)
                        continue
                    row = (entry.learner, seq, "!" + entry.model_dump_json(), entry.line or 0)
                else:
                    doc = entry.exception.model_dump_json(by_alias=True, exclude_none=True)
                    row = (entry.learner, seq, doc, entry.line)
                batch.append(row)
                if len(batch) >= 10_000:
                    db.executemany("INSERT INTO exc VALUES (?, ?, ?, ?)", batch)
                    batch.clear()
            db.executemany("INSERT INTO exc VALUES (?, ?, ?, ?)", batch)
            db.execute("CREATE INDEX exc_learner ON exc (learner, seq)")
            db.commit()
        finally:
            db.close()


class IndexReader:
    """A worker's read-only view of an `ExceptionIndex`, by its path."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def lookup(self, learner: str) -> tuple[list[RegistrarException], list[RecordError]]:
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        rows = self._db.execute(
            "SELECT doc FROM exc WHERE learner = ? ORDER BY seq", (learner,)
        ).fetchall()
        found: list[RegistrarException] = []
        errors: list[RecordError] = []
        for (doc,) in rows:
            if doc.startswith("!"):
                errors.append(RecordError.model_validate_json(doc[1:]))
            else:
                found.append(RegistrarException.model_validate_json(doc))
        return found, errors

    def __getstate__(self) -> dict[str, Any]:  # a connection never travels to a worker
        return {"path": self.path, "_db": None}


def index_strangers(
    index: str,
    exceptions_file: str,
    learners: str,
    record_file: str,
) -> Iterator[RecordError]:
    """`Loaded.strangers` for a batch, in bounded memory: the rows of the index (`index`, an
    `ExceptionIndex` of `exceptions_file`) whose learner is not in the `present` table of the
    SQLite file `learners` (every learner the batch read, asked for or not), in file order.
    A did-you-mean is given where it is cheap (`HINT_LEARNERS`, `HINTS`); the learners
    without one are never held in memory beyond `HINTS`."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS read_", (os.path.abspath(learners),))  # (never a URI)
        rows = db.execute(
            "SELECT learner, doc, line FROM exc WHERE learner NOT IN"
            " (SELECT learner FROM read_.present) ORDER BY seq"
        )
        known: list[str] | None = None
        hints: dict[str, str | None] = {}
        kind = position_kind(exceptions_file)
        for learner, doc, line in rows:
            if doc.startswith("!"):
                yield RecordError.model_validate_json(doc[1:])
                continue
            if known is None:
                count = db.execute("SELECT count(*) FROM read_.present").fetchone()[0]
                small = count <= HINT_LEARNERS
                query = "SELECT learner FROM read_.present"
                known = [r[0] for r in db.execute(query)] if small else []
            hint = hints.get(learner)
            if learner not in hints and known and len(hints) < HINTS:
                hint = hints[learner] = did_you_mean(learner, known)
            exc = RegistrarException.model_validate_json(doc)
            found = Found(learner, exc, line, kind)
            yield stranger(exceptions_file, found, record_file, hint)
    finally:
        db.close()


# per process: the index readers opened so far, by path (a worker opens each once)
_READERS: dict[str, IndexReader] = {}


def join_exceptions(
    record: LearnerRecord,
    rules: RuleSet,
    *,
    index: str | None,
    file: str,
    exceptions_file: str | None,
    record_index: int | None,
) -> tuple[LearnerRecord, list[RecordError]]:
    """A batch unit's record joined to its exceptions in the index (if any), checked."""
    extra: list[RegistrarException] = []
    extra_errors: list[RecordError] = []
    if index is not None:
        reader = _READERS.get(index)
        if reader is None:
            reader = _READERS[index] = IndexReader(index)
        extra, extra_errors = reader.lookup(record.learner)
        extra_errors = [e.model_copy(update={"record_index": record_index}) for e in extra_errors]
    return joined(
        record,
        extra,
        extra_errors,
        rules,
        file=file,
        exceptions_file=exceptions_file,
        record_index=record_index,
    )
