"""A killed batch loses nothing: `--resume` finishes it with exactly the uninterrupted output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stackrules
from batchdata import csv_rows, write_csv
from stackrules.batch import ResumeRefused, run_file
from stackrules.batch.source import Source, Unit, open_source
from stackrules.batch.work import Job
from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules")
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text())
AS_OF = date(2026, 11, 22)


def learners(copies: int) -> list[dict[str, Any]]:
    bad = {"learner": "BAD", "achievements": [{"item": "X:1", "grade": "Z"}]}
    result: list[dict[str, Any]] = []
    for n in range(copies):
        result.extend({**x, "learner": f"{x['learner']}-{n:03d}"} for x in LEARNERS)
        result.append({**bad, "learner": f"BAD-{n:03d}"})
    return result


def write(path: Path, objects: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    return str(path)


class Interrupt(Exception):
    pass


def interrupted_after(chunks: int) -> Any:
    seen = [0]

    def progress(units: list[Unit]) -> None:
        seen[0] += 1
        if seen[0] == chunks:
            raise Interrupt

    return progress


def batch(source: Source, out: Path, errors: Path, **options: Any) -> Any:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    job = Job(rules=rules, as_of=AS_OF, fmt=options.pop("fmt", "jsonl"), file=source.path)
    return run_file(
        job,
        source,
        rule_paths=[RULES],
        out=str(out),
        errors=str(errors),
        chunk=5,
        checkpoint_seconds=0,
        **options,
    )


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_resume_after_an_interruption_gives_the_uninterrupted_output(
    tmp_path: Path, kind: str
) -> None:
    objects = learners(6)
    if kind == "jsonl":
        records = write(tmp_path / "in.jsonl", objects)
    else:
        records = str(tmp_path / "in.csv")
        write_csv(Path(records), csv_rows(objects))
    whole_out, whole_err = tmp_path / "whole.out", tmp_path / "whole.err"
    source = open_source(records)
    assert isinstance(source, Source)
    full = batch(source, whole_out, whole_err)
    assert full.read == len(objects) and full.in_error == 6

    out, err = tmp_path / "part.out", tmp_path / "part.err"
    with pytest.raises(Interrupt):
        batch(open_source(records), out, err, progress=interrupted_after(4))  # type: ignore[arg-type]
    # A torn write after the last checkpoint: resuming must cut it off.
    with open(out, "a") as handle:
        handle.write('{"learner": "torn')
    assert (Path(str(out) + ".batch-state") / "checkpoint.json").exists()
    resumed = batch(open_source(records), out, err, resume=True)  # type: ignore[arg-type]
    assert resumed.resumed_at > 1
    assert out.read_bytes() == whole_out.read_bytes()
    assert err.read_bytes() == whole_err.read_bytes()
    assert (resumed.read, resumed.reported, resumed.in_error) == (
        full.read,
        full.reported,
        full.in_error,
    )
    assert not Path(str(out) + ".batch-state").exists()


def test_resume_refuses_other_inputs(tmp_path: Path) -> None:
    records = write(tmp_path / "in.jsonl", learners(3))
    out, err = tmp_path / "o", tmp_path / "e"
    with pytest.raises(Interrupt):
        batch(open_source(records), out, err, progress=interrupted_after(2))  # type: ignore[arg-type]
    write(tmp_path / "in.jsonl", learners(4))
    with pytest.raises(ResumeRefused, match="records differ"):
        batch(open_source(records), out, err, resume=True)  # type: ignore[arg-type]
    result = CliRunner().invoke(
        cli,
        ["batch", "--rules", RULES, "--records", records, "--out", str(out), "--resume"],
    )
    assert result.exit_code == 2
    assert "cannot resume: the interrupted run used other settings or inputs" in result.stderr


def test_resume_without_a_checkpoint_runs_from_the_start(tmp_path: Path) -> None:
    records = write(tmp_path / "in.jsonl", learners(1))
    summary = batch(open_source(records), tmp_path / "o", tmp_path / "e", resume=True)  # type: ignore[arg-type]
    assert summary.read == len(LEARNERS) + 1 and summary.resumed_at == 0


def test_a_run_killed_with_sigkill_resumes_to_the_same_output(tmp_path: Path) -> None:
    """The real thing: a separate process, killed without warning part-way through."""
    records = write(tmp_path / "in.jsonl", learners(25))
    base = [sys.executable, "-m", "stackrules", "batch", "--rules", RULES, "--records", records]
    base += ["--as-of", "2026-11-22", "--checkpoint-every", "0", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    whole = tmp_path / "whole.jsonl"
    subprocess.run(
        [*base, "--out", str(whole), "--errors", str(tmp_path / "whole-errors.jsonl")],
        env=env,
        check=False,
        capture_output=True,
    )
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    args = [*base, "--out", str(out), "--errors", str(errors)]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, start_new_session=True)
    checkpoint = Path(str(out) + ".batch-state") / "checkpoint.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists() and json.loads(checkpoint.read_text())["next_ordinal"] > 60:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # the batch and its workers, at once
    process.wait()
    done_before = len(out.read_text().splitlines())
    assert 0 < done_before < len(whole.read_text().splitlines())
    finish = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True)
    assert finish.returncode == 3  # the BAD learners
    assert "(resumed at learner" in finish.stderr
    assert "325 learners read, 300 reported, 25 in error" in finish.stderr
    assert out.read_bytes() == whole.read_bytes()
    assert errors.read_bytes() == (tmp_path / "whole-errors.jsonl").read_bytes()
