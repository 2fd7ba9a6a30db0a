"""A cache of parsed rule files, keyed by content, so that unchanged files are not parsed again.

Takes a rule file's display name and text; gives the syntax tree and diagnostics parsed from
exactly that text earlier, or None. Parsing is the slowest stage for a large catalog (Lark's
LALR parser in pure Python, a few seconds per megabyte), while a province's rules change a few
files at a time: like mypy's cache, this keeps one pickle per file, under a key that is the
hash of the parser's own sources (grammar, syntax tree, parser), the display name (spans carry
it) and the text. A changed file, a new grammar or a new version of the parser is a miss.

The cache lives in `$STACKRULES_CACHE_DIR`, else `$XDG_CACHE_HOME/stackrules/parse`, else
`~/.cache/stackrules/parse`; `STACKRULES_NO_CACHE=1` turns it off. It is an optimisation
only: an unreadable, unwritable or corrupt cache is ignored and the file is parsed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

_PARSER_SOURCES = ("span.py", "ast.py", "syntax.py", "diagnostics.py", "parsecache.py")


@lru_cache(maxsize=1)
def _fingerprint() -> bytes:
    """A hash of everything that decides what parsing gives."""
    from stackrules.syntax import grammar_text

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(grammar_text().encode())
    for name in _PARSER_SOURCES:
        digest.update((here / name).read_bytes())
    return digest.digest()


def folder() -> Path | None:
    if os.environ.get("STACKRULES_NO_CACHE"):
        return None
    explicit = os.environ.get("STACKRULES_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stackrules" / "parse"


def _path(where: Path, name: str, text: str) -> Path:
    digest = hashlib.sha256(_fingerprint())
    digest.update(name.encode())
    digest.update(b"\0")
    digest.update(text.encode())
    key = digest.hexdigest()
    return where / key[:2] / f"{key}.pickle"


def load(name: str, text: str) -> Any | None:
    where = folder()
    if where is None:
        return None
    try:
        with open(_path(where, name, text), "rb") as handle:
            return pickle.load(handle)
    except Exception:  # a missing or damaged entry is a miss, never a failure
        return None


def store(name: str, text: str, value: Any) -> None:
    where = folder()
    if where is None:
        return
    try:
        target = _path(where, name, text)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, target)
    except (OSError, pickle.PicklingError, RecursionError):
        return
