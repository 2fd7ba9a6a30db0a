"""The parse cache: a hit gives exactly what parsing gives; anything odd is a miss."""

from __future__ import annotations

import dataclasses
import os
import pickle
import stat
import subprocess
import sys
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
    assert len(list(cache.glob("*.entry"))) == len(files)

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
    for entry in cache.glob("*.entry"):
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


RULE = 'issuer A "A"\ncourse A:X "X" credits 3\n'
OTHER = 'issuer A "A"\ncourse A:X "X" credits 30\n'


class Planted:
    """A pickle that, loaded, writes a marker file: what an attacker would plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def plant(cache: Path, name: str, text: str, payload: bytes) -> None:
    """Put `payload` where this and earlier versions of the cache look for the entry."""
    key = parsecache.entry_key(name, text)
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    (cache / f"{key}.entry").write_bytes(payload)
    (cache / key[:2]).mkdir(exist_ok=True)
    (cache / key[:2] / f"{key}.pickle").write_bytes(payload)


def test_a_planted_pickle_is_never_run(cache: Path, tmp_path: Path) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    marker = tmp_path / "marker"
    evil = pickle.dumps(Planted(marker))
    warm = tmp_path / "warm.stack"
    warm.write_text(OTHER)
    syntax.parse_file(warm)  # the folder and its secret exist
    for payload in (evil, parsecache.MAGIC + bytes(32) + evil):
        plant(cache, str(rule), RULE, payload)
        tree, diagnostics = syntax.parse_file(rule)
        assert not marker.exists()
        assert diagnostics == [] and len(tree.declarations) == 2


def test_a_planted_entry_with_other_rules_is_not_used(cache: Path, tmp_path: Path) -> None:
    rule, other = tmp_path / "a.stack", tmp_path / "b.stack"
    rule.write_text(RULE)
    other.write_text(OTHER)
    expected = deep(syntax.parse_text(RULE, str(rule)))
    forged = syntax.parse_text(OTHER, str(rule))
    # A plain pickle (what earlier versions trusted), and an authentic entry of another file
    # renamed to this file's key: the MAC covers the key.
    plant(cache, str(rule), RULE, pickle.dumps(forged))
    assert deep(syntax.parse_file(rule)) == expected
    syntax.parse_file(other)
    authentic = (cache / f"{parsecache.entry_key(str(other), OTHER)}.entry").read_bytes()
    plant(cache, str(rule), RULE, authentic)
    assert deep(syntax.parse_file(rule)) == expected


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_folder_others_may_write_to_is_refused(cache: Path, tmp_path: Path, mode: int) -> None:
    cache.mkdir()
    cache.chmod(mode)
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    plant(cache, str(rule), RULE, pickle.dumps(syntax.parse_text(OTHER, str(rule))))
    before = sorted(cache.rglob("*"))
    assert deep(syntax.parse_file(rule)) == deep(syntax.parse_text(RULE, str(rule)))
    assert sorted(cache.rglob("*")) == before  # nothing read, nothing written
    assert parsecache.load(str(rule), RULE) is None


def test_a_folder_of_another_user_is_refused(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    syntax.parse_file(rule)
    assert parsecache.load(str(rule), RULE) is not None
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache).st_uid + 1)
    assert parsecache.load(str(rule), RULE) is None


def test_the_folder_secret_and_entries_are_private(cache: Path, tmp_path: Path) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    syntax.parse_file(rule)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    files = list(cache.iterdir())
    assert {f.name for f in files} == {"secret", f"{parsecache.entry_key(str(rule), RULE)}.entry"}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_secret_that_is_a_symlink_is_not_followed(cache: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(bytes(parsecache.SECRET_SIZE))
    elsewhere.chmod(0o600)
    cache.mkdir(mode=0o700)
    (cache / "secret").symlink_to(elsewhere)
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    syntax.parse_file(rule)
    assert parsecache.load(str(rule), RULE) is None
    assert elsewhere.read_bytes() == bytes(parsecache.SECRET_SIZE)


def test_a_truncated_entry_is_rebuilt(cache: Path, tmp_path: Path) -> None:
    rule = tmp_path / "a.stack"
    rule.write_text(RULE)
    expected = deep(syntax.parse_file(rule))
    (entry,) = cache.glob("*.entry")
    whole = entry.read_bytes()
    for size in (0, 10, len(parsecache.MAGIC) + 5, len(whole) // 2, len(whole) - 1):
        entry.write_bytes(whole[:size])
        assert parsecache.load(str(rule), RULE) is None
        assert deep(syntax.parse_file(rule)) == expected
        assert entry.read_bytes() == whole


def test_a_rule_file_name_that_is_not_utf8(cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    name = os.fsdecode(os.fsencode(folder) + b"/\xffbad.stack")
    Path(name).write_text(RULE + "zzz\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONIOENCODING": "utf-8"}
    for _ in range(2):  # filling the cache, then from the cache
        for fmt in ("text", "json"):
            command = [sys.executable, "-m", "stackrules", "check", "--format", fmt, str(folder)]
            done = subprocess.run(command, env=env, capture_output=True, check=False)
            assert done.returncode == 1, done.stderr.decode()
            assert b"Traceback" not in done.stderr
            shown = "\ufffdbad.stack" if fmt == "text" else "\\ufffdbad.stack"
            assert shown.encode() in done.stdout
    assert len(list(cache.glob("*.entry"))) == 1


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_rule_bytes_read_line_ends_as_a_text_file_does(
    tmp_path: Path, cache: Path, ending: bytes
) -> None:
    """A rule file is read once, as bytes (what a server keeps and hashes); its line ends
    are then read as text mode reads them, so every span is where an editor shows it."""
    for rule in all_rule_files():
        name = rule.relative_to(ROOT).as_posix()
        data = rule.read_bytes().replace(b"\n", ending)
        kept = syntax.parse_source(syntax.RuleSource(name, data))
        plain = syntax.parse_source(syntax.RuleSource(name, rule.read_bytes()))
        assert deep(kept) == deep(plain)


def test_a_rule_file_that_cannot_be_read_is_sr100(tmp_path: Path) -> None:
    latin = tmp_path / "latin.stack"
    latin.write_bytes(b'issuer A "\xe9cole"\n')
    (_, found) = syntax.parse_file(latin, "latin.stack")
    assert [(d.code, d.message) for d in found] == [
        ("SR100", "cannot read `latin.stack`: not utf-8 text")
    ]
    (_, missing) = syntax.parse_file(tmp_path / "gone.stack", "gone.stack")
    assert [d.code for d in missing] == ["SR100"]
    assert "no such file" in missing[0].message
