"""The batch state folder is private and never followed; `--resume` trusts nothing it cannot check.

A symbolic link where `OUT.batch-state` or a file in it should be, a damaged checkpoint or
learner table, and an output or errors file that is not what the checkpoint counted on are
each refused with exit status 2 and a message naming the path, never written through, never a
traceback, never an output padded with NUL bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import stackrules
from stackrules.batch import ResumeRefused, StateError, run_file
from stackrules.batch.source import Source, Unit, open_source
from stackrules.batch.work import Job
from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules")
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text())
AS_OF = date(2026, 11, 22)


class Interrupt(Exception):
    pass


def records(tmp_path: Path, copies: int = 4) -> str:
    bad = {"learner": "BAD", "achievements": [{"item": "X:1", "grade": "Z"}]}
    lines = []
    for n in range(copies):
        lines.append({**bad, "learner": f"BAD-{n:03d}"})
        lines.extend({**x, "learner": f"{x['learner']}-{n:03d}"} for x in LEARNERS)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in lines))
    return str(path)


def batch(source: str, out: Path, errors: Path, **options: Any) -> Any:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    opened = open_source(source)
    assert isinstance(opened, Source)
    job = Job(rules=rules, as_of=AS_OF, fmt="jsonl", file=opened.path)
    return run_file(
        job,
        opened,
        rule_paths=[RULES],
        out=str(out),
        errors=str(errors),
        chunk=3,
        checkpoint_seconds=0,
        **options,
    )


def interrupted(tmp_path: Path) -> tuple[str, Path, Path, Path]:
    """A run stopped after a few chunks: its records, output, errors and state folder."""
    source = records(tmp_path)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    done = [0]

    def progress(units: list[Unit]) -> None:
        done[0] += 1
        if done[0] == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        batch(source, out, errors, progress=progress)
    state = Path(str(out) + ".batch-state")
    assert (state / "checkpoint.json").exists()
    assert out.stat().st_size > 0 and errors.stat().st_size > 0
    return source, out, errors, state


def cli_batch(source: str, out: Path, errors: Path, *more: str) -> Result:
    args = ["batch", "--rules", RULES, "--records", source, "--out", str(out)]
    args += ["--errors", str(errors), "--as-of", AS_OF.isoformat(), *more]
    return CliRunner().invoke(cli, args)


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


# Symbolic links and foreign folders (#14, item 3)


@pytest.mark.parametrize("resume", [False, True])
def test_a_state_folder_that_is_a_symlink_is_not_followed(tmp_path: Path, resume: bool) -> None:
    source = records(tmp_path)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    target = tmp_path / "victim"
    target.mkdir()
    (target / "keep").write_text("precious")
    state = Path(str(out) + ".batch-state")
    state.symlink_to(target)
    result = cli_batch(source, out, errors, *(["--resume"] if resume else []))
    refused(result, f"`{state}` is a symbolic link")
    assert sorted(p.name for p in target.iterdir()) == ["keep"]
    assert (target / "keep").read_text() == "precious"
    with pytest.raises(StateError, match="symbolic link"):
        batch(source, out, errors, resume=resume)


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("name", ["checkpoint.json", "seen.sqlite", "checkpoint.json.tmp"])
def test_a_state_file_that_is_a_symlink_is_not_followed(
    tmp_path: Path, name: str, dangling: bool
) -> None:
    source, out, errors, state = interrupted(tmp_path)
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious")
    (state / name).unlink(missing_ok=True)
    (state / name).symlink_to(victim)
    result = cli_batch(source, out, errors, "--resume")
    refused(result, f"`{state / name}` is a symbolic link")
    assert victim.read_text() == "precious" if not dangling else not victim.exists()
    # Starting again removes the link, never what it points to.
    assert cli_batch(source, out, errors).exit_code == 3
    assert victim.read_text() == "precious" if not dangling else not victim.exists()


def test_a_state_folder_others_may_write_to_is_refused(tmp_path: Path) -> None:
    source, out, errors, state = interrupted(tmp_path)
    state.chmod(0o777)
    refused(cli_batch(source, out, errors, "--resume"), f"`{state}`", "others may write")
    refused(cli_batch(source, out, errors), f"`{state}`")


def test_the_state_is_private(tmp_path: Path) -> None:
    _, _, _, state = interrupted(tmp_path)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    names = sorted(p.name for p in state.iterdir())
    assert {"checkpoint.json", "seen.sqlite"} <= set(names)
    for name in names:  # SQLite's own files (-wal, -shm) take the table's permissions
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


# Resuming against outputs that changed (#14, item 5)


def test_resume_refuses_a_deleted_output(tmp_path: Path) -> None:
    source, out, errors, _ = interrupted(tmp_path)
    out.unlink()
    refused(cli_batch(source, out, errors, "--resume"), f"`{out}` is missing")
    assert not out.exists()  # not recreated full of NUL bytes


def test_resume_refuses_a_moved_errors_file(tmp_path: Path) -> None:
    source, out, errors, _ = interrupted(tmp_path)
    errors.rename(tmp_path / "moved.jsonl")
    refused(cli_batch(source, out, errors, "--resume"), f"errors file `{errors}` is missing")


def test_resume_refuses_a_truncated_output(tmp_path: Path) -> None:
    source, out, errors, state = interrupted(tmp_path)
    counted = json.loads((state / "checkpoint.json").read_text())["out_offset"]
    cut = out.read_bytes()[: counted - 1]
    out.write_bytes(cut)
    refused(cli_batch(source, out, errors, "--resume"), f"`{out}` is shorter")
    assert out.read_bytes() == cut


def test_resume_refuses_an_altered_output(tmp_path: Path) -> None:
    source, out, errors, state = interrupted(tmp_path)
    counted = json.loads((state / "checkpoint.json").read_text())["out_offset"]
    data = bytearray(out.read_bytes())
    data[counted - 5] ^= 0x20  # within what the checkpoint counted on
    out.write_bytes(bytes(data))
    refused(cli_batch(source, out, errors, "--resume"), f"`{out}` was changed")
    with pytest.raises(ResumeRefused, match="was changed"):
        batch(source, out, errors, resume=True)


def test_resume_accepts_an_output_that_only_grew(tmp_path: Path) -> None:
    """A torn write after the checkpoint is what resuming exists to cut off."""
    source, out, errors, _ = interrupted(tmp_path)
    with open(out, "a") as handle:
        handle.write('{"learner": "torn')
    summary = batch(source, out, errors, resume=True)
    assert summary.resumed_at > 1
    assert b"torn" not in out.read_bytes() and b"\0" not in out.read_bytes()


# Damaged state files (#14, item 5)


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "\xff\xfe",
        "[]",
        "{}",
        '{"version": 2}',
        '{"version": 2, "fingerprint": {}, "next_ordinal": "many"}',
        '{"version": 2, "fingerprint": {}, "gained": {"X": true}}',
        '{"version": 1, "fingerprint": {}}',
    ],
)
def test_a_damaged_checkpoint_is_a_clear_error(tmp_path: Path, text: str) -> None:
    source, out, errors, state = interrupted(tmp_path)
    (state / "checkpoint.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    path = state / "checkpoint.json"
    refused(cli_batch(source, out, errors, "--resume"), f"`{path}`", "run without --resume")


def test_a_checkpoint_of_a_killed_run_reads_back(tmp_path: Path) -> None:
    _, _, _, state = interrupted(tmp_path)
    saved = json.loads((state / "checkpoint.json").read_text())
    assert saved["version"] == 2 and len(saved["out_tail"]) == 64


@pytest.mark.parametrize("damage", ["garbage", "schema", "missing"])
def test_a_damaged_learner_table_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    source, out, errors, state = interrupted(tmp_path)
    seen = state / "seen.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(seen) + suffix).unlink(missing_ok=True)
    if damage == "garbage":
        seen.write_bytes(b"this is not an SQLite database, not at all" * 100)
    elif damage == "schema":
        with sqlite3.connect(seen) as db:
            db.execute("CREATE TABLE seen (who TEXT, n INTEGER)")
        os.chmod(seen, 0o600)
    result = cli_batch(source, out, errors, "--resume")
    refused(result, f"`{seen}`", "run without --resume")
    # Starting again (without --resume) is always possible.
    again = cli_batch(source, out, errors)
    assert again.exit_code == 3 and "in error" in again.stderr
