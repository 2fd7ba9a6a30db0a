"""Golden outputs of `where`, `graph`, `suggest` and `credit-loss` on the sample rules.

`tests/corpus/maps/cases.txt` lists the cases (`NAME.EXT: ARGUMENTS`, run from the repository
root); each expected output is `tests/corpus/maps/NAME.EXT`. Regenerate with
`UPDATE_GOLDEN=1 pytest tests/test_maps_corpus.py` and review the diff: a golden file is a
claim about what an advisor is shown, not a snapshot.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "maps"


def _cases() -> list[tuple[str, list[str]]]:
    cases = []
    for line in (CORPUS / "cases.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, args = line.partition(":")
            cases.append((name.strip(), shlex.split(args)))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "args"), CASES, ids=[n for n, _ in CASES])
def test_case(name: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    expected = CORPUS / name
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(result.stdout, encoding="utf-8")
    assert expected.exists(), f"no {name}: run with UPDATE_GOLDEN=1"
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_every_expected_file_is_a_case() -> None:
    names = {n for n, _ in CASES}
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name != "cases.txt"}
    assert files <= names, files - names
