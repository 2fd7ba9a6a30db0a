"""Grouping rows of text by key in bounded memory: a partitioned sort that spills plain text.

Takes a stream of entries (number, key, text): numbers increase along the stream, a key of
None makes a group of its own, and a text is one row as read, ending with a line break (it
may span lines). Gives the groups, (key, [(number, text), ...]), each group's rows in stream
order, the groups in the order of their first rows. That is what grouping a CSV file by
learner needs when one learner's rows are scattered over a file larger than memory
(`stackrules.records.csvfile`).

- Up to `max_rows` entries, everything happens in memory (one dictionary), as for a small
  file.
- Beyond that, the entries are spilled by a hash of their key to `FAN_OUT` partition files,
  so that all the rows of one key are in one partition, in stream order. Each partition is
  grouped in memory and written back group by group in order of first row, and a k-way merge
  of these files by first row gives the final order. A partition still larger than
  `max_rows` is partitioned again by another hash, so at most `max_rows` entries are held at
  any time (plus one group per file being merged, and a single key with more rows than that,
  which no hash can split).

Spill files are plain text, one entry after another: `number,breaks,size,`, the key (`size`
characters; an empty size for no key) and the text, where `breaks` counts the line breaks
before the last, so an entry spanning lines is read back whole. Nothing is pickled: writing
and reading an entry costs well under a microsecond. The files are in a private temporary
folder (mode 0700), removed at the end, on error and when the caller stops early.
"""

from __future__ import annotations

import heapq
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

Entry = tuple[int, str | None, str]
Member = tuple[int, str]
Group = tuple[str | None, list[Member]]

FAN_OUT = 64


def group(
    entries: Iterable[Entry], *, max_rows: int = 50_000, folder: str | None = None
) -> Iterator[Group]:
    """(key, rows) for each group, in order of first row; see the module docstring.

    Every entry is read before the first group is given.
    """
    stream = iter(entries)
    buffer = list(itertools.islice(stream, max_rows))
    more = next(stream, None)
    if more is None:
        yield from _in_memory(buffer)
        return
    spill = _Spill(folder, max_rows)
    try:
        partitions = _Partitions(spill, 0)
        partitions.add_new(buffer)
        buffer.clear()
        partitions.add_new(itertools.chain((more,), stream))
        grouped = [spill.grouped(path, 0) for path in partitions.close()]
        yield from spill.merged(grouped)
    finally:
        spill.close()


def _in_memory(entries: Iterable[Entry]) -> Iterator[Group]:
    groups: dict[str | tuple[int], Group] = {}
    for number, key, text in entries:
        slot: str | tuple[int] = key if key is not None else (number,)
        found = groups.get(slot)
        if found is None:
            groups[slot] = (key, [(number, text)])
        else:
            found[1].append((number, text))
    return iter(groups.values())


class _Spill:
    """The spill files of one grouping, in one private temporary folder."""

    def __init__(self, folder: str | None, max_rows: int) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="stackrules-sort-", dir=folder)
        self._count = 0
        self._handles: list[IO[str]] = []  # closed at the end, if an error left one open
        self.max_rows = max_rows

    def create(self) -> tuple[str, IO[str]]:
        self._count += 1
        path = os.path.join(self._tmp.name, f"{self._count:06d}.txt")
        handle = _open(path, "w")
        self._handles.append(handle)
        return path, handle

    def grouped(self, path: str, depth: int) -> str:
        """A file of `path`'s entries grouped, groups in order of first row; `path` removed.

        Entries are copied as they are, never parsed beyond their key.
        """
        entries = _entries(path)
        held = list(itertools.islice(entries, self.max_rows + 1))
        if len(held) > self.max_rows:
            partitions = _Partitions(self, depth + 1)
            partitions.add(itertools.chain(held, entries))
            held = []
            parts = partitions.close()
            os.remove(path)
            if len(parts) > 1:
                done = [self.grouped(part, depth + 1) for part in parts]
                out_path, out = self.create()
                with out:
                    for key, members in self.merged(done):
                        out.writelines(_entry(number, key, text) for number, text in members)
                for part in done:
                    os.remove(part)
                return out_path
            # every entry has one key (or keys no hash tells apart): held whole
            path = parts[0]
            held = list(_entries(path))
        out_path, out = self.create()
        with out:
            for together in _by_key(held):
                out.writelines(together)
        os.remove(path)
        return out_path

    def merged(self, paths: list[str]) -> Iterator[Group]:
        """The groups of grouped files, in order of first row."""
        return heapq.merge(*(_groups(path) for path in paths), key=_first)

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._tmp.cleanup()


class _Partitions:
    """Entries spilled to up to FAN_OUT files by a hash of their key (salted by `depth`, so
    that a partition spilled again splits differently)."""

    def __init__(self, spill: _Spill, depth: int) -> None:
        self._spill = spill
        self._depth = depth
        self._files: dict[int, tuple[str, IO[str]]] = {}

    def add_new(self, entries: Iterable[Entry]) -> None:
        """Entries not yet written (depth 0)."""
        files = self._files
        for number, key, text in entries:
            slot = hash(key if key is not None else number) % FAN_OUT
            opened = files.get(slot)
            if opened is None:
                opened = files[slot] = self._spill.create()
            opened[1].write(_entry(number, key, text))

    def add(self, entries: Iterable[str]) -> None:
        """Entries as written."""
        files, depth = self._files, self._depth
        for entry in entries:
            number, _, size, rest = entry.split(",", 3)
            slot = hash((depth, rest[: int(size)] if size else number)) % FAN_OUT
            opened = files.get(slot)
            if opened is None:
                opened = files[slot] = self._spill.create()
            opened[1].write(entry)

    def close(self) -> list[str]:
        """The partition files."""
        for _, handle in self._files.values():
            handle.close()
        return [path for path, _ in self._files.values()]


def _open(path: str, mode: str) -> IO[str]:
    # Texts come from decoded files, but a caller's string may hold a lone surrogate.
    return open(path, mode, encoding="utf-8", errors="surrogatepass", newline="")


def _entry(number: int, key: str | None, text: str) -> str:
    """An entry as written: `number,breaks,size,` then the key (`size` characters; no size:
    no key) and the text, `breaks` counting the line breaks before the last (where a text
    file opened with `newline=""` splits lines: at `\n`, `\r\n` or `\r`)."""
    if key is None:
        payload, size = text, ""
    else:
        payload, size = key + text, str(len(key))
    if "\r" in payload:
        breaks = payload.count("\n") + payload.count("\r") - payload.count("\r\n") - 1
    else:
        breaks = payload.count("\n") - 1
    return f"{number},{breaks},{size},{payload}"


def _entries(path: str) -> Iterator[str]:
    """The entries of a spill file, as written."""
    with _open(path, "r") as handle:
        for line in handle:
            if line[line.index(",") + 1] != "0":  # spans lines
                breaks = int(line.split(",", 2)[1])
                line += "".join(itertools.islice(handle, breaks))
            yield line


def _by_key(entries: Iterable[str]) -> Iterator[list[str]]:
    """Entries grouped by key, groups in order of first entry (an entry without a key alone)."""
    groups: dict[str | tuple[str], list[str]] = {}
    for entry in entries:
        number, _, size, rest = entry.split(",", 3)
        slot: str | tuple[str] = rest[: int(size)] if size else (number,)
        found = groups.get(slot)
        if found is None:
            groups[slot] = [entry]
        else:
            found.append(entry)
    return iter(groups.values())


def _groups(path: str) -> Iterator[Group]:
    """The groups of a grouped spill file (a key's entries are together; an entry without a
    key is a group of its own)."""
    key: str | None = None
    members: list[Member] = []
    with _open(path, "r") as handle:
        for line in handle:
            number, breaks, size, payload = line.split(",", 3)
            if breaks != "0":
                payload += "".join(itertools.islice(handle, int(breaks)))
            if size:
                cut = int(size)
                if payload[:cut] == key:
                    members.append((int(number), payload[cut:]))
                    continue
                if members:
                    yield key, members
                key, members = payload[:cut], [(int(number), payload[cut:])]
            else:
                if members:
                    yield key, members
                key, members = None, [(int(number), payload)]
    if members:
        yield key, members


def _first(group: Group) -> int:
    return group[1][0][0]
