"""The parse cache: a hit gives exactly what parsing gives; anything odd is a miss."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from stackrules import parsecache, syntax

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STACKRULES_CACHE_DIR", str(folder))
    monkeypatch.delenv("STACKRULES_NO_CACHE", raising=False)
    return folder


def deep(parsed: tuple[Any, list[Any]]) -> tuple[Any, list[Any]]:
    tree, diagnostics = parsed
    return dataclasses.astuple(tree), [d.model_dump() for d in diagnostics]


def all_rule_files() -> list[Path]:
    return sorted((ROOT / "rules").rglob("*.stack")) + sorted(
        (ROOT / "examples" / "broken-rules").glob("*.stack")
    )


def test_a_hit_is_byte_for_byte_what_parsing_gives(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = all_rule_files()
    first = [syntax.parse_file(f) for f in files]
    assert len(list(cache.rglob("*.pickle"))) == len(files)

    def no_parsing(text: str, path: str = "") -> object:
        raise AssertionError("parsed again although the file is cached")

    monkeypatch.setattr(syntax, "parse_text", no_parsing)
    again = [syntax.parse_file(f) for f in files]
    # Spans are left out of equality, so compare every field, spans included.
    assert [deep(x) for x in again] == [deep(x) for x in first]


def test_a_changed_file_or_another_name_is_a_miss(cache: Path, tmp_path: Path) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text('issuer A "A"\ncourse A:X "X" { credits 3 }\n')
    syntax.parse_file(rule)
    assert parsecache.load(str(rule), rule.read_text()) is not None
    assert parsecache.load(str(rule), rule.read_text() + "\n") is None
    assert parsecache.load("elsewhere.stack", rule.read_text()) is None


def test_a_damaged_entry_is_ignored(cache: Path, tmp_path: Path) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text('issuer A "A"\n')
    expected = syntax.parse_file(rule)
    for entry in cache.rglob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert deep(syntax.parse_file(rule)) == deep(expected)


def test_the_cache_can_be_turned_off(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKRULES_NO_CACHE", "1")
    rule = tmp_path / "a.stack"
    rule.write_text('issuer A "A"\n')
    syntax.parse_file(rule)
    assert not cache.exists()


def test_an_unwritable_cache_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("STACKRULES_CACHE_DIR", str(blocker / "cache"))  # under a file
    rule = tmp_path / "a.stack"
    rule.write_text('issuer A "A"\n')
    parsed, diagnostics = syntax.parse_file(rule)
    assert diagnostics == [] and len(parsed.declarations) == 1
