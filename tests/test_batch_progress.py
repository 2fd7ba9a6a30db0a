"""The progress display: on standard error when it is a terminal, never otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules")
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text())


def command(tmp_path: Path) -> list[str]:
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(x) + "\n" for x in LEARNERS))
    out = tmp_path / "out.jsonl"
    return [
        sys.executable, "-m", "stackrules", "batch", "--rules", RULES, "--records",
        str(records), "--as-of", "2026-11-22", "--out", str(out),
    ]  # fmt: skip


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "100"}


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        command(tmp_path), stderr=secondary, stdout=subprocess.DEVNULL, env=environment()
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert process.wait() == 0
    text = shown.decode()
    assert "evaluating" in text
    assert "100%" in text
    assert "12 learners" in text
    assert "batch: 12 learners read, 12 reported, 0 in error" in text


def test_a_pipe_gets_no_progress_bar(tmp_path: Path) -> None:
    done = subprocess.run(command(tmp_path), capture_output=True, text=True, env=environment())
    assert done.returncode == 0
    assert "evaluating" not in done.stderr
    assert done.stderr.startswith("batch: 12 learners read, 12 reported, 0 in error")
