"""Golden diagnostics: `tests/corpus/check/NAME/case.stack` beside `expected.txt`.

`expected.txt` is what `stackrules check case.stack` prints: one rendered diagnostic per
line, then the summary. Regenerate with `UPDATE_GOLDEN=1 pytest tests/test_check_corpus.py`
and review every changed line by eye.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackrules.check import check_paths
from stackrules.diagnostics import summary

CORPUS = Path(__file__).resolve().parent / "corpus" / "check"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.stack").is_file())


def render(case: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(case)  # diagnostics name the file as `case.stack`
    _, diagnostics = check_paths(["case.stack"])
    return "".join(f"{d.render()}\n" for d in diagnostics) + summary(diagnostics) + "\n"


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CORPUS / name
    actual = render(case, monkeypatch)
    expected_file = case / "expected.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(actual, "utf-8")
    assert expected_file.is_file(), f"no expected.txt for {name}: run with UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text("utf-8")
