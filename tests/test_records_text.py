"""Records and exceptions read from text in memory (`records.read_text`,
`exceptions.files.read_text`) are exactly those read from the file of that kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackrules.exceptions import files as exception_files
from stackrules.records import RecordError, read_records, read_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("examples/learners.json", "json"),
        ("examples/learners.jsonl", "jsonl"),
        ("examples/learners.csv", "csv"),
        ("tests/data/interop/records/learner-7-clr.json", "json"),
        ("tests/data/interop/records/sql-badge.jwt", "jwt"),
    ],
)
def test_text_reads_as_its_file(path: str, kind: str) -> None:
    file = str(ROOT / path)
    text = (ROOT / path).read_text("utf-8")
    assert list(read_text(text, kind, file)) == list(read_records(file))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.csv", "learner,item,grde\nL-1,A:B,A\n"),
        ("bad.jsonl", '{"learner": "L-1", "achievements": []}\n{"learner": \n'),
        ("bad.json", '{"learner": "L-1", "achievements": [{"item": "A:B", "grade": "Q"}]}'),
        ("crlf.csv", "\ufefflearner,item\r\nL-1,A:B\r\nL-2,A:C\r\n"),
    ],
)
def test_errors_from_text_are_those_of_the_file(tmp_path: Path, name: str, text: str) -> None:
    file = tmp_path / name
    file.write_bytes(text.encode("utf-8"))
    kind = name.rsplit(".", 1)[1]
    got = list(read_text(text, kind, str(file)))
    assert got == list(read_records(file))
    assert got


def test_exceptions_from_text_are_those_of_the_file(tmp_path: Path) -> None:
    source = ROOT / "examples" / "exceptions.csv"
    text = source.read_text("utf-8")
    assert list(exception_files.read_text(text, str(source), csv_text=True)) == list(
        exception_files.read(str(source))
    )
    lines = '{"learner": "L-1", "id": "E1", "kind": "grant", "item": "A:B"}\nnot json\n'
    file = tmp_path / "x.jsonl"
    file.write_text(lines, "utf-8")
    got = list(exception_files.read_text(lines, str(file), csv_text=False))
    assert got == list(exception_files.read(str(file)))
    assert isinstance(got[1], RecordError) and got[1].line == 2
