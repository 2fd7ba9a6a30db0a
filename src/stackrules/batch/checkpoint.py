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
settings would give a file no single run could have written. The checkpoint also records, for
the output and errors files, the size it counted on and a SHA-256 of the last `TAIL` bytes
before it: a file that was deleted, moved, cut short or changed since is refused too, where
truncating it would have padded it with NUL bytes and reported success.

The state folder is private and never followed through a symbolic link: it is created 0700,
an existing one must be a real directory of this user that nobody else may write to, and
every file in it must be a regular file (created 0600 with `O_EXCL` and `O_NOFOLLOW`); a
symbolic link or a foreign folder where the state should be is a `StateError`, never written
through. A damaged `checkpoint.json` is a `ResumeRefused` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackrules.span import printable
from stackrules.syntax import rule_files

VERSION = 2
STATE_SUFFIX = ".batch-state"
CHECKPOINT = "checkpoint.json"
SEEN = "seen.sqlite"
# What may be in the state folder: the checkpoint, its temporary file, SQLite's files.
STATE_FILES = (
    CHECKPOINT,
    CHECKPOINT + ".tmp",
    SEEN,
    SEEN + "-wal",
    SEEN + "-shm",
    SEEN + "-journal",
)
TAIL = 64 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class StateError(Exception):
    """The batch state folder, or a file in it, is not safe to use."""


class ResumeRefused(Exception):
    """`--resume` cannot continue: the checkpoint was made with other settings, the output or
    errors file changed since, or the state is damaged."""


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = VERSION
    fingerprint: dict[str, Any]
    next_ordinal: int = 1
    input_offset: int = 0
    input_line: int = 0
    out_offset: int = 0
    errors_offset: int = 0
    # SHA-256 of the last `TAIL` bytes before each offset (None: standard output, a device).
    out_tail: str | None = None
    errors_tail: str | None = None
    read: int = 0
    reported: int = 0
    in_error: int = 0
    changed: int = 0
    gained: dict[str, int] = Field(default_factory=dict)
    lost: dict[str, int] = Field(default_factory=dict)
    # `--exceptions`: rows for learners not in the record file, once reported (at the end)
    strangers: int = 0
    strangers_reported: bool = False


def state_folder(out: str) -> Path:
    return Path(out + STATE_SUFFIX)


def rules_digest(paths: Iterable[str]) -> str:
    """A hash of the rule set's files: their names relative to the arguments, and contents."""
    digest = hashlib.sha256()
    files, _ = rule_files(list(paths))
    for path in files:
        digest.update(os.fsencode(path))
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


def shown(path: Path | str) -> str:
    return printable(os.fspath(path))


def tail_digest(path: str, offset: int) -> str:
    """SHA-256 of the `TAIL` bytes of `path` before `offset`."""
    with open(path, "rb") as handle:
        start = max(0, offset - TAIL)
        handle.seek(start)
        return hashlib.sha256(handle.read(offset - start)).hexdigest()


def verify_output(path: str, offset: int, tail: str | None, what: str) -> None:
    """Refuse to resume when `path` is not, up to `offset`, what the checkpoint recorded."""
    if offset == 0 or tail is None:
        return  # nothing written yet that could be lost
    again = "; run without --resume to start again"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ResumeRefused(
            f"the {what} file `{shown(path)}` is missing (the checkpoint counted on its first "
            f"{offset} bytes){again}"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ResumeRefused(f"the {what} file `{shown(path)}` is not a regular file{again}")
    if info.st_size < offset:
        raise ResumeRefused(
            f"the {what} file `{shown(path)}` is shorter ({info.st_size} bytes) than at the "
            f"checkpoint ({offset} bytes){again}"
        )
    if tail_digest(path, offset) != tail:
        raise ResumeRefused(
            f"the {what} file `{shown(path)}` was changed since the checkpoint (the bytes "
            f"before offset {offset} differ){again}"
        )


def check_folder(folder: Path, files: bool = True) -> bool:
    """Whether the state folder exists; a `StateError` if it is not a private directory, or
    (with `files`) if what is in it is not regular files."""
    info = _unfollowed(folder, "folder")
    if info is None:
        return False
    if not stat.S_ISDIR(info.st_mode):
        raise StateError(f"the batch state folder `{shown(folder)}` is not a directory")
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateError(
            f"the batch state folder `{shown(folder)}` belongs to another user or others may "
            "write to it; remove it or make it private"
        )
    for name in STATE_FILES if files else ():
        check_file(folder / name)
    return True


def check_file(path: Path) -> bool:
    """Whether a state file exists; a `StateError` if it is a symbolic link or not a file."""
    info = _unfollowed(path, "file")
    if info is None:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"the batch state file `{shown(path)}` is not a regular file")
    return True


def _unfollowed(path: Path, what: str) -> os.stat_result | None:
    """The state folder's or file's own status (None: it does not exist); a `StateError` if
    it is a symbolic link, which is never followed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise StateError(
            f"the batch state {what} `{shown(path)}` is a symbolic link; it is not followed "
            "(remove the link)"
        )
    return info


def prepare(folder: Path) -> None:
    """The state folder, made private (0700) or checked to be."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        check_folder(folder)


def create_file(path: Path) -> None:
    """A new, empty, private file; never through a symbolic link, never an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    try:
        os.close(os.open(path, flags, 0o600))
    except FileExistsError:
        raise StateError(
            f"the batch state file `{shown(path)}` appeared while it was made"
        ) from None


def load(folder: Path) -> Checkpoint | None:
    if not check_folder(folder):
        return None
    path = folder / CHECKPOINT
    try:
        handle = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as stream:
        data = stream.read()
    damaged = f"the checkpoint `{shown(path)}` is damaged"
    again = "; run without --resume to start again"
    try:
        doc = json.loads(data)
    except ValueError:
        raise ResumeRefused(f"{damaged} (not JSON){again}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        raise ResumeRefused(f"{damaged} (no checkpoint version){again}")
    if doc["version"] != VERSION:
        raise ResumeRefused(
            f"the checkpoint `{shown(path)}` was written by another version of stackrules{again}"
        )
    try:
        return Checkpoint.model_validate(doc, strict=True)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise ResumeRefused(f"{damaged} (`{where}`: {first['msg'].lower()}){again}") from None


def save(folder: Path, checkpoint: Checkpoint) -> None:
    temporary = folder / (CHECKPOINT + ".tmp")
    with suppress(FileNotFoundError):  # a killed run's left-over (a link is not followed)
        os.unlink(temporary)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    with os.fdopen(os.open(temporary, flags, 0o600), "w", encoding="utf-8") as handle:
        handle.write(checkpoint.model_dump_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / CHECKPOINT)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove(folder: Path) -> None:
    """Remove the state folder (a `StateError` if it is a link or another user's)."""
    if check_folder(folder, files=False):  # rmtree removes links in it, never follows them
        shutil.rmtree(folder, ignore_errors=True)
