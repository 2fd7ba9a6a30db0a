"""The shipped JSON Schemas: current with the models, and true of real records and reports."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stackrules import schemas
from stackrules.report import (
    EarnedCredential,
    Evidence,
    InProgressCredential,
    LimitResult,
    NotCounted,
    Remaining,
    Report,
    RequirementResult,
    Transfer,
    dumps,
    report_to_json,
)

SPEC = Path("/work/shared/spec/interfaces.md")
DATA = Path(__file__).parent / "data" / "records"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = schemas.load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("name", schemas.NAMES)
def test_committed_schemas_are_current(name: str) -> None:
    """If this fails, run `python -m stackrules.schemas` and commit the result."""
    assert schemas.load_schema(name) == schemas.generate()[name]
    committed = Path(schemas.__file__).parent / schemas.file_name(name)
    assert committed.read_text(encoding="utf-8") == schemas.render(schemas.generate()[name])


def test_unknown_schema_name() -> None:
    with pytest.raises(ValueError, match="unknown schema `nope`"):
        schemas.load_schema("nope")


def test_interfaces_example_record_validates() -> None:
    record = json.loads((DATA / "example.json").read_text(encoding="utf-8"))
    if SPEC.exists():  # the fixture is the spec's example, verbatim
        text = SPEC.read_text(encoding="utf-8")
        block = re.search(r"## Learner records.*?```json\n(.*?)```", text, re.S)
        assert block is not None
        assert json.loads(block.group(1)) == record
    check = validator("record")
    check.validate(record)
    check.validate([record, record])


@pytest.mark.parametrize(
    "bad",
    [
        {"achievements": []},
        {"learner": "L", "achievements": [{"item": "X:1", "grade": "E"}]},
        {"learner": "L", "achievements": [{"item": "X:1", "complted_on": "2020-01-01"}]},
        {"learner": "L", "achievements": [{"item": "X:1", "credits": -1}]},
        {"learner": "L", "achievements": [{"item": "X:1", "status": "done"}]},
        {"learner": "L", "achievements": [{"grade": "A"}]},
        42,
    ],
)
def test_record_schema_rejects_what_the_reader_rejects(bad: Any) -> None:
    assert not validator("record").is_valid(bad)


def sample_report() -> Report:
    evidence = Evidence(
        item="UVIC:MATH100",
        origin="granted",
        grade="B+",
        credits=3.0,
        completed_on=date(2023, 4, 28),
        rule="CAMOSUN=>UVIC",
        source="rules/transfer.stack:4",
        sources=["CAMOSUN:MATH100"],
    )
    requirement = RequirementResult(
        name="required", label="all of", met=True, used=["UVIC:MATH100"], evidence=[evidence]
    )
    return Report(
        learner="L-0001",
        as_of=date(2026, 11, 22),
        catalog_date=date(2024, 9, 1),
        earned=[
            EarnedCredential(
                credential="UFV:DIGMKT",
                title="Digital marketing",
                source="rules/ufv.stack:12",
                completed_on=date(2024, 4, 30),
                requirements=[requirement],
                limits=[
                    LimitResult(
                        text="limit at most 6 credits from transfer",
                        source="rules/ufv.stack:20",
                        met=True,
                        value=3.0,
                    )
                ],
            )
        ],
        in_progress=[
            InProgressCredential(
                credential="RRU:CAF",
                title="Climate adaptation",
                source="rules/rru.stack:3",
                remaining=[
                    Remaining(
                        requirement="electives",
                        need=1.0,
                        unit="items",
                        options=["RRU:E3", "RRU:E4"],
                    ),
                    Remaining(requirement="hours", need=7.5, unit="hours"),
                ],
                remaining_credits=1.5,
            )
        ],
        transfers=[
            Transfer(
                rule="CAMOSUN=>UVIC",
                source="rules/transfer.stack:4",
                from_=["CAMOSUN:MATH100"],
                grants=["UVIC:MATH100"],
                credits=3.0,
                completed_on=date(2023, 4, 28),
            ),
            Transfer(
                rule="CAMOSUN:PE=>none",
                source="rules/transfer.stack:9",
                from_=["CAMOSUN:PE100"],
                reason="no-credit",
            ),
        ],
        not_counted=[NotCounted(item="FOODSAFE:L1", reason="expired")],
        held=["BCIT:MT-INTRO"],
        unused=["UVIC:STAT255"],
    )


def test_report_validates_against_schema() -> None:
    validator("report").validate(report_to_json(sample_report()))
    validator("report").validate(report_to_json(Report(learner="L", as_of=date(2026, 1, 1))))


def test_report_json_shape() -> None:
    data = report_to_json(sample_report())
    assert list(data)[:3] == ["schema", "learner", "as_of"]
    assert data["schema"] == "stackrules/report/v2"
    assert data["as_of"] == "2026-11-22"
    transfer = data["transfers"][0]
    assert list(transfer) == [
        "rule",
        "source",
        "from",
        "grants",
        "credits",
        "reason",
        "completed_on",
    ]
    assert transfer["reason"] is None
    assert data["transfers"][1]["grants"] == [] and data["transfers"][1]["credits"] == 0.0
    assert data["transfers"][1]["reason"] == "no-credit"
    remaining = data["in_progress"][0]["remaining"]
    assert remaining[0]["need"] == 1 and isinstance(remaining[0]["need"], int)
    assert remaining[1]["need"] == 7.5
    assert data["earned"][0]["expired"] is False
    assert data["not_counted"][0] == {
        "item": "FOODSAFE:L1",
        "reason": "expired",
        "rule": None,
        "source": None,
        "detail": None,
    }


def test_dumps_is_deterministic_and_keeps_floats() -> None:
    text = dumps(sample_report())
    assert text == dumps(sample_report())
    assert "\n" not in text
    assert '"credits":3.0' in text
    assert '"need":1,' in text
    assert '"from":["CAMOSUN:MATH100"]' in text
    assert json.loads(dumps(sample_report(), indent=2)) == json.loads(text)


def test_report_models_are_frozen_and_read_the_alias() -> None:
    report = Report.model_validate(report_to_json(sample_report()))
    assert report == sample_report()
    with pytest.raises(ValueError):
        report.learner = "x"  # type: ignore[misc]
