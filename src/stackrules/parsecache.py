"""A cache of parsed rule files, keyed by content, so that unchanged files are not parsed again.

Takes a rule file's display name and text; gives the syntax tree and diagnostics parsed from
exactly that text earlier, or None. Parsing is the slowest stage for a large catalog (Lark's
LALR parser in pure Python, a few seconds per megabyte), while a province's rules change a few
files at a time: like mypy's cache, this keeps one pickle per file, under a key that is the
hash of the parser's own sources (grammar, syntax tree, parser), the display name (spans carry
it, as the bytes the file system gave) and the text. A changed file, a new grammar or a new
version of the parser is a miss.

The cache lives in `$STACKRULES_CACHE_DIR`, else `$XDG_CACHE_HOME/stackrules/parse`, else
`~/.cache/stackrules/parse`; `STACKRULES_NO_CACHE=1` turns it off. It is an optimisation
only: an unreadable, unwritable, insecure or corrupt cache is ignored and the file is parsed.

Trust. Unpickling runs code, and an entry's key can be computed by anyone who has the package
and the rule file, so an entry is only unpickled once it is proved to be one this user wrote:

- the folder must be a directory owned by the current user that neither group nor others may
  write to (it is created 0700); any other folder is not used at all;
- it holds a per-user secret (`secret`, 32 random bytes, created 0600 with `O_EXCL` and
  `O_NOFOLLOW`, never followed through a symbolic link);
- each entry is `MAGIC`, an HMAC-SHA256 under that secret of the entry's key and its payload,
  then the payload; the MAC is checked (in constant time) before the payload is unpickled, and
  covering the key means an authentic entry copied under another key is refused too;
- entries are written to a fresh 0600 file (`O_EXCL`, `O_NOFOLLOW`) renamed into place, so a
  reader never sees half an entry, and every path is opened relative to the folder's open
  descriptor, so swapping the folder after it was checked changes nothing.

A code-free format would need no secret, but the value is a graph of frozen dataclasses (the
syntax tree with its spans) that pickle restores several times faster than any hand-written
decoder we tried; authenticating the pickle keeps that speed and leaves nothing to trust but a
file only this user can read. Where the platform lacks `O_NOFOLLOW` or user ids (Windows) the
cache is off.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from stackrules.grammarfile import grammar_text

_PARSER_SOURCES = (
    "span.py",
    "ast.py",
    "syntax.py",
    "diagnostics.py",
    "parsecache.py",
    "grammarfile.py",
)

MAGIC = b"stackrules-parse-cache 2\n"
SECRET_NAME = "secret"
SECRET_SIZE = 32
_MAC_SIZE = hashlib.sha256().digest_size
_SUFFIX = ".entry"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SUPPORTED = bool(_NOFOLLOW and _DIRECTORY) and hasattr(os, "getuid")


@lru_cache(maxsize=1)
def _fingerprint() -> bytes:
    """A hash of everything that decides what parsing gives."""
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


def _name_bytes(name: str) -> bytes:
    """The display name as the file system gave it: a name that is not UTF-8 arrives with
    surrogate escapes, which `str.encode` refuses."""
    try:
        return os.fsencode(name)
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogatepass")


def entry_key(name: str, text: str) -> str:
    digest = hashlib.sha256(_fingerprint())
    digest.update(_name_bytes(name))
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _private(info: os.stat_result) -> bool:
    """Owned by this user, and nobody else may write to it."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


@contextmanager
def _opened(create: bool) -> Iterator[int | None]:
    """The cache folder's descriptor once it is checked to be private, else None."""
    where = folder()
    if where is None or not _SUPPORTED:
        yield None
        return
    try:
        if create:
            where.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(where, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except OSError:
        yield None
        return
    try:
        yield descriptor if _private(os.fstat(descriptor)) else None
    finally:
        os.close(descriptor)


def _secret(directory: int, create: bool) -> bytes | None:
    """The per-user secret in the folder, made on first use; None when it is not trustworthy."""
    flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC
    try:
        handle = os.open(SECRET_NAME, flags, dir_fd=directory)
    except FileNotFoundError:
        if not create:
            return None
        return _new_secret(directory)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or not _private(info) or info.st_mode & 0o077:
            return None
        value = os.read(handle, SECRET_SIZE + 1)
    finally:
        os.close(handle)
    return value if len(value) == SECRET_SIZE else None


def _new_secret(directory: int) -> bytes | None:
    value = secrets.token_bytes(SECRET_SIZE)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        handle = os.open(SECRET_NAME, flags, 0o600, dir_fd=directory)
    except FileExistsError:  # another process made it first: use theirs
        return _secret(directory, create=False)
    try:
        written = os.write(handle, value)
    finally:
        os.close(handle)
    if written != SECRET_SIZE:
        os.unlink(SECRET_NAME, dir_fd=directory)
        return None
    return value


def _mac(secret: bytes, key: str, payload: bytes) -> bytes:
    signer = hmac.new(secret, key.encode("ascii"), hashlib.sha256)
    signer.update(b"\0")
    signer.update(payload)
    return signer.digest()


def _read_entry(directory: int, key: str) -> bytes | None:
    handle = os.open(key + _SUFFIX, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=directory)
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(handle)


def load(name: str, text: str) -> Any | None:
    with _opened(create=False) as directory:
        if directory is None:
            return None
        try:
            secret = _secret(directory, create=False)
            if secret is None:
                return None
            key = entry_key(name, text)
            data = _read_entry(directory, key)
        except (OSError, ValueError):  # missing or unreadable: a miss
            return None
        if data is None or not data.startswith(MAGIC):
            return None
        start = len(MAGIC) + _MAC_SIZE
        mac, payload = data[len(MAGIC) : start], data[start:]
        if len(mac) != _MAC_SIZE or not hmac.compare_digest(mac, _mac(secret, key, payload)):
            return None  # not written by this user for this key: never unpickled
        try:
            return pickle.loads(payload)
        except Exception:  # an authentic entry of an incompatible build: a miss
            return None


def store(name: str, text: str, value: Any) -> None:
    with _opened(create=True) as directory:
        if directory is None:
            return
        try:
            secret = _secret(directory, create=True)
            if secret is None:
                return
            key = entry_key(name, text)
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            _write_entry(directory, key, MAGIC + _mac(secret, key, payload) + payload)
        except (OSError, ValueError, pickle.PicklingError, RecursionError):
            return


def _write_entry(directory: int, key: str, data: bytes) -> None:
    temporary = f".{key}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    handle = os.open(temporary, flags, 0o600, dir_fd=directory)
    try:
        with os.fdopen(handle, "wb", closefd=False) as stream:
            stream.write(data)
        os.replace(temporary, key + _SUFFIX, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        raise
    finally:
        os.close(handle)
