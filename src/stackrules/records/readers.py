"""Reading record files: the format follows the extension (`.json`, `.jsonl`, `.csv`).

Takes a path and the rule set's aliases; gives, one at a time, each learner's `LearnerRecord`
or the `RecordError`s of a learner that could not be read (then reading goes on with the
next learner). A problem with the whole file (it cannot be opened, is not valid JSON, has a bad
CSV header) is a `RecordError` with no `record_index`, and nothing more is read from the file.
Bad data never raises.

- `.json`: one learner object, or an array of them (positions are 1-based array indexes;
  the whole file is decoded at once; when it is valid JSON but beyond a limit of
  `stackrules.records.jsonsafe`, an array's members are decoded one by one instead, so that
  the limit is an error for the learner it concerns).
- `.jsonl`: one learner object per line, blank lines skipped; a line that is not valid JSON
  is an error for that line only. Read line by line, in bounded memory.
- `.csv`: see `stackrules.records.csvfile`.
- `.jwt` or `.txt`: one compact VC-JWT per non-blank line (positions are line numbers).

`read_text` reads text already in memory (a web form's field) as the file of a given kind.

Open Badges 3.0 and CLR 2.0 credentials are recognised by content (`stackrules.interop.ob3`):
a `.json` file may be one credential, an array whose members are credentials or learner
objects, a JSON string holding a compact VC-JWT, or a bare compact VC-JWT; a `.jsonl` line
may be a credential or a JSON string holding a compact VC-JWT. Each credential is one
learner's whole record (a CLR bundles several achievements of one learner).

A learner identifier that appears in two objects of a JSON or JSON Lines file is an error for
the second object (records are never merged: a second object is usually a mistake, and
merging would hide it). Only the identifiers seen so far are kept in memory.

JSON is decoded by `stackrules.records.jsonsafe`, within its limits (nesting, number sizes, no
key given twice in one object, no lone surrogates): text beyond them is a record error like
invalid JSON, for the learner (an array member of `.json`, a line of `.jsonl`) or, in a
`.json` file that is not an array, for the file. A lone surrogate is an error for the learner
whose object holds it, naming the field; the other learners are read.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from stackrules.interop.ob3 import is_credential, read_credential_json, read_credential_jwt
from stackrules.interop.vc import looks_like_jwt
from stackrules.records import jsonsafe
from stackrules.records.csvfile import read_csv, read_csv_lines
from stackrules.records.errors import RecordError, field_path
from stackrules.records.model import LearnerRecord, PositionKind
from stackrules.records.parse import learner_of, parse_record_obj

READERS = (".json", ".jsonl", ".csv", ".jwt", ".txt")
TextKind = Literal["json", "jsonl", "csv", "jwt"]

Item = LearnerRecord | RecordError


def read_records(
    path: str | os.PathLike[str], aliases: Mapping[str, str] | None = None
) -> Iterator[Item]:
    """Each learner of the record file at `path`, in file order (errors in its place)."""
    file = os.fspath(path)
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        yield from read_csv(file, file, aliases)
    elif suffix == ".jsonl":
        yield from _read_jsonl(file, aliases)
    elif suffix == ".json":
        yield from _read_json(file, aliases)
    elif suffix in (".jwt", ".txt"):
        yield from _read_jwt_lines(file, aliases)
    else:
        known = ", ".join(f"`{s}`" for s in READERS)
        shown = f"`{suffix}`" if suffix else "none"
        yield RecordError(
            file=file, message=f"unknown record file type (extension {shown}; expected {known})"
        )


def read_text(
    text: str, kind: TextKind, name: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Item]:
    """Each learner of record text already in memory (a form field, an upload), read as the
    file of that kind would be (`json`, `jsonl`, `csv`, `jwt`: one compact VC-JWT per line);
    `name` stands for the file in errors and provenance."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark, as `utf-8-sig` drops it from a file
    if kind == "csv":
        yield from read_csv_lines(io.StringIO(text, newline=""), name, aliases)
    elif kind == "jsonl":
        yield from _jsonl_lines(_numbered(io.StringIO(text, newline=None), name), name, aliases)
    elif kind == "jwt":
        yield from _jwt_lines(_numbered(io.StringIO(text, newline=None), name), name, aliases)
    else:
        yield from _json_text(text, name, aliases)


def load_records(
    path: str | os.PathLike[str], aliases: Mapping[str, str] | None = None
) -> tuple[list[LearnerRecord], list[RecordError]]:
    """All the records of a file and all its errors, in file order."""
    records: list[LearnerRecord] = []
    errors: list[RecordError] = []
    for item in read_records(path, aliases):
        if isinstance(item, LearnerRecord):
            records.append(item)
        else:
            errors.append(item)
    return records, errors


class _Learners:
    """Numbers the objects of a file and turns a repeated learner into an error."""

    def __init__(self, file: str, kind: PositionKind, aliases: Mapping[str, str] | None) -> None:
        self.file = file
        self.kind: PositionKind = kind
        self.aliases = aliases
        self.count = 0
        self.seen: dict[str, int] = {}

    def parse(self, obj: Any, position: int, *, suspect: bool = False) -> Iterator[Item]:
        """The record of one decoded object. `suspect`: the text held a lone surrogate
        somewhere (`jsonsafe.JsonError.document`), so this object is searched for one."""
        if suspect:
            error = self.surrogate(obj, position)
            if error is not None:
                yield error
                return
        if is_credential(obj) or (isinstance(obj, str) and looks_like_jwt(obj)):
            yield from self.parse_credential(obj, position)
            return
        self.count += 1
        learner = learner_of(obj)
        if learner is not None and learner in self.seen:
            yield self.repeated(learner, position, "learner")
            return
        if learner is not None:
            self.seen[learner] = position
        result = parse_record_obj(
            obj,
            file=self.file,
            position=position,
            position_kind=self.kind,
            aliases=self.aliases,
            record_index=self.count,
        )
        if isinstance(result, LearnerRecord):
            yield result
        else:
            yield from result

    def parse_credential(self, obj: Any, position: int) -> Iterator[Item]:
        """A credential (object, or a string holding a compact VC-JWT) as one learner."""
        self.count += 1
        where: dict[str, Any] = {
            "file": self.file,
            "position": position,
            "position_kind": self.kind,
            "aliases": self.aliases,
            "record_index": self.count,
        }
        if isinstance(obj, str):
            result = read_credential_jwt(obj, **where)
        else:
            result = read_credential_json(obj, **where)
        if not isinstance(result, LearnerRecord):
            yield from result
            return
        if result.learner in self.seen:
            yield self.repeated(result.learner, position, "credentialSubject.id")
            return
        self.seen[result.learner] = position
        yield result

    def surrogate(self, obj: Any, position: int | None) -> RecordError | None:
        """The error for a lone surrogate in `obj`, naming its field; None when it has none."""
        found = jsonsafe.lone_surrogate(obj)
        if found is None:
            return None
        loc, escape = found
        self.count += 1
        return _surrogate_error(obj, loc, escape, self.file, position, self.kind, self.count)

    def repeated(self, learner: str, position: int, field: str) -> RecordError:
        message = (
            f"learner `{learner}` already appeared at {self.kind} {self.seen[learner]} "
            "(give each learner's achievements in one object)"
        )
        return RecordError(
            file=self.file,
            learner=learner,
            line=position,
            position_kind=self.kind,
            field=field,
            message=message,
            record_index=self.count,
        )


def _open_error(file: str, failure: OSError) -> RecordError:
    return RecordError(file=file, message=f"cannot open the file: {failure.strerror or failure}")


def _surrogate_error(
    obj: Any,
    loc: jsonsafe.Loc,
    escape: str,
    file: str,
    position: int | None,
    kind: PositionKind,
    record_index: int,
) -> RecordError:
    """A lone surrogate in one learner's object: the learner (when its identifier is sound)
    and the field, as the record's field paths or, in a credential, its JSON path."""
    credential = is_credential(obj)
    learner: Any = None
    if credential:
        subject = obj.get("credentialSubject")
        learner = subject.get("id") if isinstance(subject, dict) else None
    else:
        learner = learner_of(obj)
    if not isinstance(learner, str) or jsonsafe.lone_surrogate(learner) is not None:
        learner = None
    return RecordError(
        file=file,
        learner=learner,
        line=position,
        position_kind=kind if position is not None else None,
        field=(jsonsafe.json_path(loc) if credential else field_path(loc)) or None,
        message=jsonsafe.surrogate_message(escape),
        record_index=record_index,
    )


def _read_json(file: str, aliases: Mapping[str, str] | None) -> Iterator[Item]:
    try:
        with open(file, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as failure:
        yield _open_error(file, failure)
        return
    except UnicodeDecodeError as failure:
        yield RecordError(file=file, message=f"the file is not UTF-8 text ({failure.reason})")
        return
    yield from _json_text(text, file, aliases)


def _json_text(text: str, file: str, aliases: Mapping[str, str] | None) -> Iterator[Item]:
    suspect = False
    try:
        data = jsonsafe.loads(text)
    except jsonsafe.JsonError as failure:
        if failure.document is None:
            if looks_like_jwt(text):
                yield from _one_credential(text, file, aliases)
                return
            items = None if failure.syntax else jsonsafe.array_items(text)
            if items is not None:
                # Valid JSON beyond a limit: an array's members are read one by one, so that
                # one bad learner is an error for that learner only.
                yield from _read_members(file, items, aliases)
                return
            yield RecordError(
                file=file,
                line=failure.line,
                position_kind="line" if failure.line is not None else None,
                column=failure.column,
                message=failure.message,
            )
            return
        # Decoded, but a string holds a lone surrogate: an error for the learner(s) holding one.
        data, suspect = failure.document, True
    if isinstance(data, list):
        learners = _Learners(file, "index", aliases)
        for index, obj in enumerate(data, start=1):
            yield from learners.parse(obj, index, suspect=suspect)
        return
    if suspect:
        found = jsonsafe.lone_surrogate(data)
        assert found is not None
        yield _surrogate_error(data, *found, file, None, "index", 1)
    elif is_credential(data) or (isinstance(data, str) and looks_like_jwt(data)):
        yield from _one_credential(data, file, aliases)
    elif isinstance(data, dict):
        result = parse_record_obj(data, file=file, aliases=aliases, record_index=1)
        yield from [result] if isinstance(result, LearnerRecord) else result
    else:
        yield RecordError(
            file=file, message="expected a learner object or an array of learner objects"
        )


def _read_members(
    file: str, items: list[tuple[int, int, str]], aliases: Mapping[str, str] | None
) -> Iterator[Item]:
    learners = _Learners(file, "index", aliases)
    for index, (line, column, text) in enumerate(items, start=1):
        try:
            obj = jsonsafe.loads(text)
        except jsonsafe.JsonError as failure:
            if failure.document is not None:
                yield from learners.parse(failure.document, index, suspect=True)
                continue
            learners.count += 1
            message = failure.message
            if failure.line is not None and failure.column is not None:
                at_line = line + failure.line - 1
                at_column = failure.column + (column - 1 if failure.line == 1 else 0)
                message += f" (line {at_line}, column {at_column} of the file)"
            yield RecordError(
                file=file,
                line=index,
                position_kind="index",
                message=message,
                record_index=learners.count,
            )
            continue
        yield from learners.parse(obj, index)


def _one_credential(data: Any, file: str, aliases: Mapping[str, str] | None) -> Iterator[Item]:
    """The one credential of a `.json` file: an object, or a compact VC-JWT."""
    if isinstance(data, str):
        result = read_credential_jwt(data, file=file, aliases=aliases, record_index=1)
    else:
        result = read_credential_json(data, file=file, aliases=aliases, record_index=1)
    yield from [result] if isinstance(result, LearnerRecord) else result


def _lines(file: str) -> Iterator[tuple[int, str] | RecordError]:
    """The non-blank lines of a text file, numbered; an error where it cannot be read on."""
    try:
        handle = open(file, encoding="utf-8-sig")  # noqa: SIM115
    except OSError as failure:
        yield _open_error(file, failure)
        return
    with handle:
        yield from _numbered(handle, file)


def _numbered(lines: Iterable[str], file: str) -> Iterator[tuple[int, str] | RecordError]:
    number = 0
    try:
        for number, text in enumerate(lines, start=1):
            if text.strip():
                yield number, text
    except UnicodeDecodeError as failure:
        yield RecordError(
            file=file,
            line=number + 1,
            position_kind="line",
            message=f"the file is not UTF-8 text ({failure.reason}); reading stopped here",
        )


def _read_jwt_lines(file: str, aliases: Mapping[str, str] | None) -> Iterator[Item]:
    yield from _jwt_lines(_lines(file), file, aliases)


def _jwt_lines(
    lines: Iterable[tuple[int, str] | RecordError], file: str, aliases: Mapping[str, str] | None
) -> Iterator[Item]:
    learners = _Learners(file, "line", aliases)
    for entry in lines:
        if isinstance(entry, RecordError):
            yield entry
        else:
            number, text = entry
            yield from learners.parse_credential(text.strip(), number)


def _read_jsonl(file: str, aliases: Mapping[str, str] | None) -> Iterator[Item]:
    yield from _jsonl_lines(_lines(file), file, aliases)


def _jsonl_lines(
    lines: Iterable[tuple[int, str] | RecordError], file: str, aliases: Mapping[str, str] | None
) -> Iterator[Item]:
    learners = _Learners(file, "line", aliases)
    for entry in lines:
        if isinstance(entry, RecordError):
            yield entry
            continue
        number, text = entry
        suspect = False
        try:
            obj = jsonsafe.loads(text.rstrip("\r\n"))
        except jsonsafe.JsonError as failure:
            if failure.document is None:
                learners.count += 1
                yield RecordError(
                    file=file,
                    line=number,
                    position_kind="line",
                    column=failure.column,
                    message=failure.message,
                    record_index=learners.count,
                )
                continue
            obj, suspect = failure.document, True
        yield from learners.parse(obj, number, suspect=suspect)
