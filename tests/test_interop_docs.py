"""The interop pages' worked examples show what the commands print (run from the repository
root with the pages' own relative paths)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def blocks(page: str) -> list[tuple[str, str]]:
    text = (ROOT / "docs" / page).read_text("utf-8")
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


def run(command: str) -> tuple[int, str, str]:
    words = shlex.split(command)
    assert words[0] == "stackrules"
    result = CliRunner().invoke(cli, words[1:])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_ob3_clr_worked_example() -> None:
    found = blocks("interop-ob3-clr.md")
    index = next(i for i, (kind, body) in enumerate(found) if kind == "sh" and "evaluate" in body)
    code, out, _ = run(found[index][1].strip())
    assert code == 0
    assert found[index + 1] == ("json", out)
    aliases = next(body for kind, body in found if body.startswith("alias "))
    rules = (ROOT / "tests" / "data" / "interop" / "badges.stack").read_text("utf-8")
    assert aliases in rules


def test_ctdl_export_worked_example(tmp_path: Path) -> None:
    found = blocks("interop-ctdl.md")
    command = next(b for k, b in found if k == "sh" and "export ctdl tests/" in b).strip()
    command = command.replace("transfer.jsonld", str(tmp_path / "transfer.jsonld"))
    assert run(command)[0] == 0
    shown = json.loads(next(b for k, b in found if k == "json"))
    graph = json.loads((tmp_path / "transfer.jsonld").read_text("utf-8"))["@graph"]
    assert shown in graph
    line = (ROOT / "tests" / "data" / "interop" / "transfer.stack").read_text("utf-8").split("\n")
    assert line[39].strip() == "NIC:BUS110 => VIU:MGMT191 min grade C"
    assert line[37].startswith("transfer NIC => VIU")


def test_ctdl_import_worked_example() -> None:
    found = blocks("interop-ctdl.md")
    index = next(i for i, (k, b) in enumerate(found) if k == "sh" and "import ctdl ../" in b)
    code, out, err = run(found[index][1].strip())
    assert code == 0
    assert found[index + 1] == ("", out)
    assert found[index + 2] == ("", err)
