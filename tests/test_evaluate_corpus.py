"""Golden evaluation corpus: each folder holds rules, a record and the expected report.

`tests/corpus/evaluate/NAME/` has `rules.stack`, `record.json` and `expected.json` (the
reports at as-of 2026-11-22). Regenerate with `UPDATE_GOLDEN=1 pytest tests/test_evaluate_corpus.py`
and review the diff: a golden file is a claim about the semantics, not a snapshot.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import jsonschema
import pytest

import stackrules
from stackrules.report import report_to_json
from stackrules.schemas import load_schema

CORPUS = Path(__file__).parent / "corpus" / "evaluate"
AS_OF = date(2026, 11, 22)
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _evaluate(case: Path) -> list[dict[str, object]]:
    rules, diagnostics = stackrules.load_rules([case / "rules.stack"])
    assert rules is not None, [d.render() for d in diagnostics]
    records, errors = stackrules.load_records(case / "record.json", aliases=rules.aliases)
    assert not errors, [e.render() for e in errors]
    reports = [report_to_json(stackrules.evaluate(rules, r, AS_OF)) for r in records]
    text = json.dumps(reports)
    return json.loads(text.replace(str(case) + "/", ""))  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", CASES)
def test_case(name: str) -> None:
    case = CORPUS / name
    reports = _evaluate(case)
    schema = load_schema("report")
    for r in reports:
        jsonschema.validate(r, schema)
    expected_path = case / "expected.json"
    rendered = json.dumps(reports, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(rendered, encoding="utf-8")
    assert expected_path.exists(), f"no expected.json for {name}: run with UPDATE_GOLDEN=1"
    assert rendered == expected_path.read_text(encoding="utf-8")
