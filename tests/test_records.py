"""Reading learner records: every field, every format, every kind of bad data."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackrules.records import (
    ACHIEVEMENT_FIELDS,
    GRADES,
    STATUSES,
    Achievement,
    LearnerRecord,
    Position,
    RecordError,
    load_records,
    parse_record_obj,
    read_records,
)
from stackrules.records.model import MAX_CREDITS, MAX_LEVEL, MIN_AMOUNT

DATA = Path(__file__).parent / "data" / "records"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(tmp_path: Path, *objects: object) -> Path:
    return write(tmp_path, "r.jsonl", "\n".join(json.dumps(o) for o in objects) + "\n")


def only_error(path: Path) -> RecordError:
    records, errors = load_records(path)
    assert records == []
    assert len(errors) == 1, errors
    return errors[0]


def one_achievement_error(tmp_path: Path, achievement: dict[str, object]) -> RecordError:
    return only_error(jsonl(tmp_path, {"learner": "L-1", "achievements": [achievement]}))


# Every field, read from each format.

FULL = {
    "item": "UFV:GD157",
    "grade": "B+",
    "credits": 3,
    "hours": 45.5,
    "completed_on": "2023-04-28",
    "expires_on": "2028-04-28",
    "status": "completed",
    "subject": "GD",
    "level": 100,
    "tags": ["design", "adobe"],
    "competencies": {"ECO:HAZARDS": "developing", "ECO:DATA": "novice"},
}
EXPECTED = Achievement(
    item="UFV:GD157",
    grade="B+",
    credits=3.0,
    hours=45.5,
    completed_on=date(2023, 4, 28),
    expires_on=date(2028, 4, 28),
    status="completed",
    subject="GD",
    level=100,
    tags=("design", "adobe"),
    competencies={"ECO:HAZARDS": "developing", "ECO:DATA": "novice"},
)


def same(a: Achievement, b: Achievement) -> bool:
    """Equal as values, wherever each was read."""
    return a.model_dump() == b.model_dump()


def test_every_field_from_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.json",
        json.dumps({"learner": "L-1", "catalog_date": "2024-09-01", "achievements": [FULL]}),
    )
    [record] = list(read_records(path))
    assert isinstance(record, LearnerRecord)
    assert record.learner == "L-1"
    assert record.catalog_date == date(2024, 9, 1)
    assert same(record.achievements[0], EXPECTED)
    assert record.achievements[0].position == Position(file=str(path))
    assert record.achievements[0].position.short() == str(path)


def test_every_field_from_jsonl(tmp_path: Path) -> None:
    path = jsonl(tmp_path, {"learner": "L-1", "catalog_date": "2024-09-01", "achievements": [FULL]})
    [record] = list(read_records(path))
    assert isinstance(record, LearnerRecord)
    assert same(record.achievements[0], EXPECTED)
    assert record.achievements[0].position == Position(file=str(path), kind="line", number=1)


def test_every_field_from_csv(tmp_path: Path) -> None:
    header = "learner,catalog_date," + ",".join(ACHIEVEMENT_FIELDS)
    row = (
        "L-1,2024-09-01,UFV:GD157,B+,3,45.5,2023-04-28,2028-04-28,completed,GD,100,"
        "design; adobe,ECO:HAZARDS=developing;ECO:DATA=novice"
    )
    path = write(tmp_path, "r.csv", f"{header}\n{row}\n")
    [record] = list(read_records(path))
    assert isinstance(record, LearnerRecord)
    assert record.catalog_date == date(2024, 9, 1)
    assert same(record.achievements[0], EXPECTED)
    assert record.achievements[0].position == Position(file=str(path), kind="row", number=2)
    assert record.achievements[0].position.short() == f"{path}:2"


def test_defaults() -> None:
    achievement = Achievement(item="X:1")
    assert achievement.status == "completed"
    assert achievement.tags == ()
    assert achievement.competencies == {}
    assert (achievement.grade, achievement.credits, achievement.completed_on) == (None, None, None)
    assert achievement.position is None


def test_models_are_frozen() -> None:
    achievement = Achievement(item="X:1")
    with pytest.raises(ValueError):
        achievement.item = "X:2"  # type: ignore[misc]


def test_position_is_not_a_user_field(tmp_path: Path) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", "position": 3})
    assert error.field == "achievements[0].position"
    assert error.message.startswith("unknown field `position`")


def test_hash_and_equality_include_position(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "learner,item\nL-1,X:1\nL-1,X:1\n")
    [record] = list(read_records(path))
    assert isinstance(record, LearnerRecord)
    first, second = record.achievements
    assert same(first, second)
    assert first != second
    assert len({first, second}) == 2
    assert first.at(None) == second.at(None)


def test_interfaces_example() -> None:
    [record] = list(read_records(DATA / "example.json"))
    assert isinstance(record, LearnerRecord)
    assert [a.item for a in record.achievements] == ["CAMOSUN:MATH100", "FOODSAFE:L1", "UFV:DM101"]
    assert record.achievements[0].credits == 3.0
    assert record.achievements[2].status == "in-progress"


def test_json_array(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.json",
        json.dumps([{"learner": "A"}, {"learner": "B", "achievements": [{"item": "X:1"}]}]),
    )
    records, errors = load_records(path)
    assert errors == []
    assert [r.learner for r in records] == ["A", "B"]
    assert records[1].achievements[0].position == Position(file=str(path), kind="index", number=2)


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "r.jsonl", '\n{"learner": "A"}\n   \n\n{"learner": "B"}\n')
    records, errors = load_records(path)
    assert errors == []
    assert [(r.learner, r.position and r.position.number) for r in records] == [("A", 2), ("B", 5)]


# Errors, one kind at a time.


def test_missing_item(tmp_path: Path) -> None:
    error = one_achievement_error(tmp_path, {"grade": "A"})
    assert error.field == "achievements[0].item"
    assert error.message == "required field is missing"
    assert error.learner == "L-1"
    assert (error.line, error.position_kind) == (1, "line")


def test_missing_learner(tmp_path: Path) -> None:
    error = only_error(jsonl(tmp_path, {"achievements": []}))
    assert error.field == "learner"
    assert error.learner is None
    assert error.message == "required field is missing"


def test_unknown_field_did_you_mean(tmp_path: Path) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", "complted_on": "2020-01-01"})
    assert error.message == "unknown field `complted_on` (did you mean `completed_on`?)"
    assert error.field == "achievements[0].complted_on"


def test_unknown_learner_field(tmp_path: Path) -> None:
    error = only_error(jsonl(tmp_path, {"learner": "L-1", "achievments": []}))
    assert error.message == "unknown field `achievments` (did you mean `achievements`?)"


def test_unknown_field_without_a_close_name(tmp_path: Path) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", "zzz": 1})
    assert error.message.startswith("unknown field `zzz` (expected one of `item`, `grade`")


def test_bad_grade_renders(tmp_path: Path) -> None:
    path = write(tmp_path, "records.csv", "learner,item,grade\nL-0003,X:1,E\n")
    error = only_error(path)
    assert error.render() == (
        f"{path}:row 2: learner L-0003: field `grade`: "
        "expected a letter grade (A+ … D-, F or P), got `E`"
    )


@pytest.mark.parametrize("grade", GRADES)
def test_every_grade_is_accepted(grade: str) -> None:
    assert Achievement.model_validate({"item": "X:1", "grade": grade}).grade == grade


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2023-02-30", "expected a date as YYYY-MM-DD, got `2023-02-30` (no such day)"),
        ("28/04/2023", "expected a date as YYYY-MM-DD, got `28/04/2023`"),
        ("2023-04-28T00:00:00", "expected a date as YYYY-MM-DD, got `2023-04-28T00:00:00`"),
        (20230428, "expected a date as YYYY-MM-DD, got `20230428`"),
    ],
)
def test_bad_date(tmp_path: Path, value: object, message: str) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", "completed_on": value})
    assert error.field == "achievements[0].completed_on"
    assert error.message == message


def test_bad_catalog_date(tmp_path: Path) -> None:
    error = only_error(jsonl(tmp_path, {"learner": "L-1", "catalog_date": "soon"}))
    assert error.field == "catalog_date"
    assert error.message == "expected a date as YYYY-MM-DD, got `soon`"


def test_bad_status(tmp_path: Path) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", "status": "done"})
    assert error.field == "achievements[0].status"
    expected = ", ".join(f"`{s}`" for s in STATUSES)
    assert error.message == f"expected a status ({expected}), got `done`"


@pytest.mark.parametrize("field", ["credits", "hours"])
def test_negative_amount(tmp_path: Path, field: str) -> None:
    error = one_achievement_error(tmp_path, {"item": "X:1", field: -3})
    assert error.message == "expected a number 0 or more, got `-3`"


@pytest.mark.parametrize("value", ["3", True, None])
def test_credits_must_be_a_json_number(tmp_path: Path, value: object) -> None:
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [{"item": "X:1", "credits": value}]})
    records, errors = load_records(path)
    if value is None:
        assert errors == [] and records[0].achievements[0].credits is None
    else:
        assert errors[0].message.startswith("expected a number, got ")


@pytest.mark.parametrize(
    ("value", "ok"), [(100, True), (100.0, True), (1.5, False), ("100", False), (True, False)]
)
def test_level_is_whole(tmp_path: Path, value: object, ok: bool) -> None:
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [{"item": "X:1", "level": value}]})
    records, errors = load_records(path)
    if ok:
        assert records[0].achievements[0].level == 100
    else:
        assert errors[0].message.startswith("expected a whole number, got ")


@pytest.mark.parametrize(
    ("achievement", "field", "start"),
    [
        ({"item": ""}, "achievements[0].item", "expected a non-empty value"),
        ({"item": 7}, "achievements[0].item", "expected text, got `7`"),
        ({"item": "X:1", "tags": "a;b"}, "achievements[0].tags", "expected a list"),
        ({"item": "X:1", "tags": ["a", 3]}, "achievements[0].tags[1]", "expected text"),
        ({"item": "X:1", "competencies": ["a"]}, "achievements[0].competencies", "expected an obj"),
        ({"item": "X:1", "competencies": {"C:1": 2}}, "achievements[0].competencies.C:1", "expe"),
        ("X:1", "achievements[0]", "expected an object, got `X:1`"),
    ],
)
def test_type_errors(tmp_path: Path, achievement: object, field: str, start: str) -> None:
    error = only_error(jsonl(tmp_path, {"learner": "L-1", "achievements": [achievement]}))
    assert error.field == field
    assert error.message.startswith(start)
    assert "Input should" not in error.message


def test_several_errors_of_one_learner_are_all_reported(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        {"learner": "L-1", "achievements": [{"item": "X:1", "grade": "E"}, {"status": "x"}]},
    )
    records, errors = load_records(path)
    assert records == []
    assert [e.field for e in errors] == [
        "achievements[0].grade",
        "achievements[1].item",
        "achievements[1].status",
    ]
    assert {e.record_index for e in errors} == {1}


def test_invalid_json_names_line_and_column() -> None:
    error = only_error(DATA / "invalid.json")
    assert (error.line, error.column, error.position_kind) == (3, 18, "line")
    assert error.message.startswith("invalid JSON: expecting property name")
    assert error.whole_file
    assert error.render().startswith(f"{DATA / 'invalid.json'}:line 3, column 18: invalid JSON")


def test_json_top_level_must_be_object_or_array(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "r.json", "42"))
    assert error.message == "expected a learner object or an array of learner objects"


def test_file_that_cannot_be_opened(tmp_path: Path) -> None:
    for name in ("nope.json", "nope.jsonl", "nope.csv"):
        error = only_error(tmp_path / name)
        assert error.file == str(tmp_path / name)
        assert error.message.startswith("cannot open the file")
        assert error.whole_file


def test_unknown_extension(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "r.xlsx", ""))
    assert error.message.startswith("unknown record file type (extension `.xlsx`")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"learner,item\nL-1,X:\xff\n")
    assert only_error(path).message.startswith("the file is not UTF-8 text")


def test_bad_learner_in_the_middle_of_jsonl_does_not_stop_the_rest() -> None:
    items = list(read_records(DATA / "learners.jsonl"))
    summary = [
        (i.learner, "ok") if isinstance(i, LearnerRecord) else (i.learner, i.line) for i in items
    ]
    assert summary == [
        ("L-0001", "ok"),
        ("L-0002", 3),
        ("L-0002", 3),
        ("L-0003", "ok"),
        (None, 5),
        ("L-0001", 6),
        ("L-0005", "ok"),
    ]
    errors = [i for i in items if isinstance(i, RecordError)]
    # Each bad object is one learner in error, whatever number of errors it has.
    assert sorted({e.record_index for e in errors if e.record_index}) == [2, 4, 5]


def test_duplicate_learner_is_an_error_for_the_second(tmp_path: Path) -> None:
    path = jsonl(tmp_path, {"learner": "L-1"}, {"learner": "L-2"}, {"learner": "L-1"})
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L-1", "L-2"]
    [error] = errors
    assert (error.learner, error.line, error.field) == ("L-1", 3, "learner")
    assert error.message == (
        "learner `L-1` already appeared at line 1 (give each learner's achievements in one object)"
    )


def test_duplicate_learner_in_json_array(tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", json.dumps([{"learner": "A"}, {"learner": "A"}]))
    [error] = load_records(path)[1]
    assert error.message.startswith("learner `A` already appeared at index 1")


def test_array_with_bad_entries() -> None:
    items = list(read_records(DATA / "array.json"))
    assert [type(i).__name__ for i in items] == [
        "LearnerRecord",
        "RecordError",
        "RecordError",
        "LearnerRecord",
    ]
    assert isinstance(items[2], RecordError)
    assert items[2].message == "expected a learner object, got `not a learner`"


# CSV specifics.


def test_csv_groups_non_adjacent_rows_in_first_appearance_order() -> None:
    items = list(read_records(DATA / "records.csv"))
    records = [i for i in items if isinstance(i, LearnerRecord)]
    assert [r.learner for r in records] == ["L-0002", "L-0001", "L-0004"]
    assert [a.item for a in records[0].achievements] == ["UFV:GD157", "UFV:DM101"]
    assert [a.item for a in records[1].achievements] == ["CAMOSUN:MATH100", "FOODSAFE:L1"]
    assert [a.position and a.position.number for a in records[1].achievements] == [3, 6]
    assert records[0].achievements[1].competencies == {
        "ECO:HAZARDS": "developing",
        "ECO:DATA": "novice",
    }
    assert records[0].achievements[0].tags == ("design", "adobe")
    learners = [i.learner for i in items]
    assert learners == ["L-0002", "L-0001", *["L-0003"] * 6, "L-0004"]


def test_csv_errors_name_row_and_column() -> None:
    errors = [i for i in read_records(DATA / "records.csv") if isinstance(i, RecordError)]
    assert [(e.line, e.field) for e in errors] == [
        (7, "grade"),
        (8, "credits"),
        (8, "completed_on"),
        (8, "status"),
        (8, "level"),
        (8, "competencies"),
    ]
    assert all(e.position_kind == "row" and e.learner == "L-0003" for e in errors)
    assert errors[1].message == "expected a number, got `abc`"


def test_csv_unknown_columns_reported_once_per_file() -> None:
    errors = list(read_records(DATA / "bad_header.csv"))
    assert all(isinstance(e, RecordError) for e in errors)
    messages = [e.message for e in errors if isinstance(e, RecordError)]
    assert messages[:2] == [
        "unknown column `complted_on` (did you mean `completed_on`?)",
        "unknown column `Grade` (did you mean `grade`?)",
    ]
    assert messages[2].startswith("unknown column `colour` (expected one of `learner`")
    assert all(isinstance(e, RecordError) and e.line == 1 and e.whole_file for e in errors)


def test_csv_header_problems(tmp_path: Path) -> None:
    messages = [
        e.message for e in load_records(write(tmp_path, "r.csv", "learner,grade,grade\n"))[1]
    ]
    assert messages == [
        "column `grade` appears more than once in the header",
        "required column `item` is missing from the header",
    ]
    assert only_error(write(tmp_path, "e.csv", "")).message.startswith("the file is empty")


def test_csv_empty_cells_are_absent_and_blank_rows_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "learner,item,grade,status,tags\n\nL-1, X:1 ,,,\n,,,,\n")
    [record] = load_records(path)[0]
    [achievement] = record.achievements
    assert achievement.item == "X:1"
    assert achievement.grade is None and achievement.status == "completed"
    assert achievement.tags == ()
    assert achievement.position is not None and achievement.position.number == 3


def test_csv_row_problems(tmp_path: Path) -> None:
    text = (
        "learner,item,competencies,catalog_date,\n"
        ",X:1,,,\n"
        "L-2,X:2,,,stray\n"
        "L-3,X:3,A=1;A=2,,\n"
        "L-4,X:4,,2024-01-01,\n"
        "L-4,X:5,,2024-02-01,\n"
    )
    errors = load_records(write(tmp_path, "r.csv", text))[1]
    assert [(e.line, e.learner, e.field, e.message) for e in errors] == [
        (2, None, "learner", "required field is missing"),
        (3, "L-2", None, "a value in column 5, which has no name in the header"),
        (4, "L-3", "competencies", "competency `A` is given twice"),
        (
            6,
            "L-4",
            "catalog_date",
            "catalog date `2024-02-01` differs from `2024-01-01` given at row 5",
        ),
    ]
    assert [e.record_index for e in errors] == [1, 2, 3, 4]


def test_csv_one_bad_row_makes_the_learner_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "learner,item,grade\nL-1,X:1,A\nL-2,X:1,A\nL-1,X:2,Z\n")
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L-2"]
    assert [(e.learner, e.line) for e in errors] == [("L-1", 4)]


# Aliases.


def test_aliases_rename_items_and_competencies(tmp_path: Path) -> None:
    aliases = {"https://example.edu/DATA-101": "UFV:DATA101", "case:123": "ECO:HAZARDS"}
    achievement = {
        "item": "https://example.edu/DATA-101",
        "competencies": {"case:123": "developing", "ECO:OTHER": "novice"},
    }
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [achievement, {"item": "UFV:X"}]})
    [record] = load_records(path, aliases)[0]
    assert [a.item for a in record.achievements] == ["UFV:DATA101", "UFV:X"]
    assert record.achievements[0].competencies == {
        "ECO:HAZARDS": "developing",
        "ECO:OTHER": "novice",
    }
    csv_path = write(
        tmp_path,
        "r.csv",
        "learner,item,competencies\nL-1,https://example.edu/DATA-101,case:123=mastery\n",
    )
    [record] = load_records(csv_path, aliases)[0]
    assert record.achievements[0].item == "UFV:DATA101"
    assert record.achievements[0].competencies == {"ECO:HAZARDS": "mastery"}


def test_aliases_are_exact(tmp_path: Path) -> None:
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [{"item": "case:123 "}]})
    [record] = load_records(path, {"case:123": "UFV:X"})[0]
    assert record.achievements[0].item == "case:123 "


def test_alias_clash_in_competencies(tmp_path: Path) -> None:
    achievement = {"item": "X:1", "competencies": {"a": "novice", "ECO:H": "mastery"}}
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [achievement]})
    assert load_records(path)[1] == []  # no clash without aliases
    path = jsonl(tmp_path, {"learner": "L-1", "achievements": [achievement]})
    [error] = load_records(path, {"a": "ECO:H"})[1]
    assert error.field == "achievements[0].competencies"
    assert error.message == "competency `ECO:H` is given twice (as `a` and `ECO:H`)"


def test_parse_record_obj_directly() -> None:
    result = parse_record_obj(
        {"learner": "L-1", "achievements": [{"item": "ob:1"}]},
        file="badge.json",
        position=4,
        position_kind="line",
        aliases={"ob:1": "UFV:X"},
    )
    assert isinstance(result, LearnerRecord)
    assert result.achievements[0].item == "UFV:X"
    assert result.achievements[0].position == Position(file="badge.json", kind="line", number=4)
    errors = parse_record_obj([], file="badge.json")
    assert isinstance(errors, list)
    assert errors[0].render() == "badge.json: expected a learner object, got `[]`"


def test_record_error_render_forms() -> None:
    error = RecordError(file="f.json", message="m")
    assert error.render() == "f.json: m"
    full = RecordError(
        file="f.jsonl", learner="L", line=2, position_kind="line", field="x", message="m"
    )
    assert full.render() == "f.jsonl:line 2: learner L: field `x`: m"


# Round trip: any CSV written from valid achievements reads back equal.

# Text as a spreadsheet keeps it: no control characters, no surrounding spaces (CSV cells
# are stripped).
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1
).filter(lambda s: s == s.strip())
_word = _text.filter(lambda s: ";" not in s and "=" not in s)
_amount = st.one_of(  # within the bounds a record accepts (the smaller, for credits)
    st.none(),
    st.just(0.0),
    st.floats(min_value=MIN_AMOUNT, max_value=MAX_CREDITS, allow_nan=False, allow_infinity=False),
)
_day = st.one_of(st.none(), st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
achievements = st.builds(
    Achievement,
    item=_text,
    grade=st.one_of(st.none(), st.sampled_from(GRADES)),
    credits=_amount,
    hours=_amount,
    completed_on=_day,
    expires_on=_day,
    status=st.sampled_from(STATUSES),
    subject=st.one_of(st.none(), _text),
    level=st.one_of(st.none(), st.integers(0, MAX_LEVEL)),
    tags=st.lists(_word, max_size=3).map(tuple),
    competencies=st.dictionaries(_word, _word, max_size=3),
)


def to_csv(rows: list[tuple[str, Achievement]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["learner", *ACHIEVEMENT_FIELDS])
    for learner, a in rows:
        cells = []
        for name in ACHIEVEMENT_FIELDS:
            value = getattr(a, name)
            if value is None:
                cells.append("")
            elif name == "tags":
                cells.append(";".join(value))
            elif name == "competencies":
                cells.append(";".join(f"{k}={v}" for k, v in value.items()))
            elif isinstance(value, float):
                cells.append(repr(value))
            else:
                cells.append(str(value))
        writer.writerow([learner, *cells])
    return out.getvalue()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L-1", "L-2", "L-3"]), achievements), max_size=8))
def test_csv_round_trip(tmp_path: Path, rows: list[tuple[str, Achievement]]) -> None:
    path = tmp_path / "round.csv"
    path.write_text(to_csv(rows), encoding="utf-8", newline="")
    records, errors = load_records(path)
    assert errors == []
    expected: dict[str, list[Achievement]] = {}
    for learner, a in rows:
        expected.setdefault(learner, []).append(a)
    assert [r.learner for r in records] == list(expected)
    for record in records:
        assert [a.at(None) for a in record.achievements] == expected[record.learner]
