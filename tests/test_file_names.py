"""A rule file whose name is not UTF-8 is read, cached and cited (with U+FFFD), never a crash.

Python hands such a name over with each undecodable byte as a lone surrogate (PEP 383); it
reaches spans, diagnostics, reports and exports, none of which a UTF-8 output can encode as
is. `CliRunner` writes strictly, as a UTF-8 terminal or file does.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SHOWN = "\ufffdrules"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for source in sorted((ROOT / "rules").rglob("*.stack")):
        name = os.fsencode(folder) + b"/\xffrules-" + os.fsencode(source.name)
        shutil.copyfile(source, os.fsdecode(name))
    return folder


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 3), result.output
    return result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "--format", "json"],
        ["evaluate", "--format", "jsonl"],
        ["evaluate", "--format", "text"],
    ],
)
def test_reports_cite_the_file(rules: Path, command: list[str]) -> None:
    learners = str(ROOT / "examples" / "learners.json")
    output = run(*command, "--rules", str(rules), "--as-of", "2026-11-22", learners)
    assert SHOWN in output


def test_check_and_fmt(rules: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    bad = os.fsdecode(os.fsencode(broken) + b"/\xffbad.stack")
    Path(bad).write_text('issuer A "A"\ncourse A:X "X" { credits 3 }\n')
    for fmt in ("text", "json"):
        output = run("check", "--format", fmt, str(broken))
        assert "\ufffdbad.stack" in (
            output if fmt == "text" else json.loads(output)[0]["span"]["file"]
        )
    assert "\ufffdbad.stack" in run("fmt", "--check", str(broken))
    run("fmt", "--check", str(rules))
    run("fmt", "--diff", str(rules))


def test_ctdl_export_and_batch(rules: Path, tmp_path: Path) -> None:
    assert SHOWN in run("export", "ctdl", str(rules))
    learners = json.loads((ROOT / "examples" / "learners.json").read_text())
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(x) + "\n" for x in learners))
    out = tmp_path / "out.jsonl"
    run("batch", "--rules", str(rules), "--records", str(records), "--out", str(out))
    assert SHOWN in out.read_text("utf-8")
