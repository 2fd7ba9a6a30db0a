"""Checkpoints: what a batch has written, so that a killed run can be resumed exactly.

Takes the batch's settings (the fingerprint of its inputs) and, as it goes, how far it has
got; writes `checkpoint.json` in a state folder beside the output (`OUT.batch-state/`),
atomically (a new file, flushed, then renamed over the old one), only after the output and
errors files were flushed to disk up to the offsets it records. Resuming truncates both files
to those offsets and starts reading the input at the recorded learner, so the final output is
byte for byte that of an uninterrupted run: nothing after the checkpoint survives, nothing
before it is redone.

The fingerprint covers the records file (path, size, modification time and a hash of its
first megabyte), the rule files' contents, the as-of date, the output format and the mode;
resuming with anything different is refused, since appending to output made under other
settings would give a file no single run could have written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stackrules.syntax import rule_files

VERSION = 1
STATE_SUFFIX = ".batch-state"


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = VERSION
    fingerprint: dict[str, Any]
    next_ordinal: int = 1
    input_offset: int = 0
    input_line: int = 0
    out_offset: int = 0
    errors_offset: int = 0
    read: int = 0
    reported: int = 0
    in_error: int = 0
    changed: int = 0
    gained: dict[str, int] = Field(default_factory=dict)
    lost: dict[str, int] = Field(default_factory=dict)


def state_folder(out: str) -> Path:
    return Path(out + STATE_SUFFIX)


def rules_digest(paths: Iterable[str]) -> str:
    """A hash of the rule set's files: their names relative to the arguments, and contents."""
    digest = hashlib.sha256()
    files, _ = rule_files(list(paths))
    for path in files:
        digest.update(str(path).encode())
        digest.update(b"\0")
        digest.update(Path(path).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def input_fingerprint(path: str) -> dict[str, Any]:
    stat = os.stat(path)
    with open(path, "rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return {
        "path": os.path.abspath(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_sha256": head,
    }


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The settings that differ, in words, for the refusal message."""
    found = []
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            found.append(key.replace("_", " "))
    return found


def load(folder: Path) -> Checkpoint | None:
    path = folder / "checkpoint.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Checkpoint.model_validate_json(text)


def save(folder: Path, checkpoint: Checkpoint) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / "checkpoint.json.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(checkpoint.model_dump_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / "checkpoint.json")
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
