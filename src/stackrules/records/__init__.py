"""Learner records: reading record files into validated, immutable records.

Takes a record file (`.json`, `.jsonl` or `.csv`) and the rule set's aliases; gives a stream
of `LearnerRecord` values, with a `RecordError` in place of each learner that could not be
read. See `stackrules.records.readers` for the formats and `stackrules.records.csvfile` for
CSV's rules.
"""

from stackrules.records.csvfile import CSV_COLUMNS, REQUIRED_COLUMNS
from stackrules.records.errors import RecordError
from stackrules.records.model import (
    ACHIEVEMENT_FIELDS,
    GRADES,
    LEARNER_FIELDS,
    STATUSES,
    Achievement,
    Grade,
    LearnerRecord,
    Position,
    PositionKind,
    Status,
)
from stackrules.records.parse import parse_record_obj
from stackrules.records.readers import TextKind, load_records, read_records, read_text

__all__ = [
    "ACHIEVEMENT_FIELDS",
    "CSV_COLUMNS",
    "GRADES",
    "LEARNER_FIELDS",
    "REQUIRED_COLUMNS",
    "STATUSES",
    "Achievement",
    "Grade",
    "LearnerRecord",
    "Position",
    "PositionKind",
    "RecordError",
    "Status",
    "TextKind",
    "load_records",
    "parse_record_obj",
    "read_records",
    "read_text",
]
