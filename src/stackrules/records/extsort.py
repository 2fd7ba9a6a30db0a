"""Grouping rows by key in bounded memory: an external merge sort in two passes.

Takes a stream of rows, each with a group key (or None: a group of its own) and a position
that increases along the stream; gives the groups, each a list of rows in stream order, in the
order in which each group's first row appears. That is exactly what grouping a CSV file of
achievements by learner needs when one learner's rows are scattered over a file larger than
memory.

- While the rows fit in `max_rows`, everything happens in memory (one dictionary), as for a
  small file.
- Beyond that, rows are spilled to sorted runs on disk (sorted by key, then position), the
  runs are merged so that each key's rows arrive together, and the groups are spilled again
  to runs sorted by first position and merged into the final order. At most `max_rows` rows
  (plus the rows of the one group being assembled) and `FAN_IN` open run files are held at
  any time.

Runs are pickle streams in a private temporary folder removed at the end.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

FAN_IN = 64


class Keyed(Generic[T]):
    """How to read a row's group key and position."""

    def __init__(self, key: Callable[[T], str | None], position: Callable[[T], int]) -> None:
        self.key = key
        self.position = position

    def sort_key(self, row: T) -> tuple[bool, str, int]:
        key = self.key(row)
        # Keyless rows sort after the keyed ones and never group with each other.
        return (key is None, key or "", self.position(row))


class _Runs:
    """Sorted runs of picklable values in one temporary folder."""

    def __init__(self, folder: str | None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="stackrules-sort-", dir=folder)
        self._count = 0

    def write(self, values: Iterable[Any]) -> str:
        self._count += 1
        path = os.path.join(self._tmp.name, f"run-{self._count:06d}.pickle")
        # One self-contained pickle per value: a shared Pickler or Unpickler would keep every
        # value in its memo, which is the whole run in memory again.
        with open(path, "wb") as handle:
            for value in values:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @staticmethod
    def read(path: str) -> Iterator[Any]:
        with open(path, "rb") as handle:
            while True:
                try:
                    yield pickle.load(handle)
                except EOFError:
                    return

    def merged(self, paths: list[str], key: Callable[[Any], Any]) -> Iterator[Any]:
        """All values of the runs in key order, never more than FAN_IN files open at once."""
        while len(paths) > FAN_IN:
            head, paths = paths[:FAN_IN], paths[FAN_IN:]
            paths.append(self.write(heapq.merge(*(self.read(p) for p in head), key=key)))
            for path in head:
                os.remove(path)
        yield from heapq.merge(*(self.read(p) for p in paths), key=key)

    def close(self) -> None:
        self._tmp.cleanup()


def group(
    rows: Iterable[T],
    keyed: Keyed[T],
    *,
    max_rows: int = 50_000,
    folder: str | None = None,
) -> Iterator[tuple[str | None, list[T]]]:
    """(key, rows) for each group, in order of first appearance; see the module docstring."""
    rows = iter(rows)
    buffer = list(itertools.islice(rows, max_rows))
    if len(buffer) < max_rows:
        yield from _in_memory(buffer, keyed)
        return
    runs = _Runs(folder)
    try:
        by_key: list[str] = []
        while buffer:
            buffer.sort(key=keyed.sort_key)
            by_key.append(runs.write(buffer))
            buffer = list(itertools.islice(rows, max_rows))
        together = runs.merged(by_key, keyed.sort_key)
        by_first: list[str] = []
        pending: list[tuple[int, str | None, list[T]]] = []
        held = 0
        for key, members in _consecutive(together, keyed):
            pending.append((keyed.position(members[0]), key, members))
            held += len(members)
            if held >= max_rows:
                pending.sort(key=_first)
                by_first.append(runs.write(pending))
                pending, held = [], 0
        if pending:
            pending.sort(key=_first)
            by_first.append(runs.write(pending))
        for _, key, members in runs.merged(by_first, _first):
            yield key, members
    finally:
        runs.close()


def _first(entry: tuple[int, str | None, list[Any]]) -> int:
    return entry[0]


def _consecutive(rows: Iterable[T], keyed: Keyed[T]) -> Iterator[tuple[str | None, list[T]]]:
    """Runs of rows with the same key (keyless rows alone)."""
    current: list[T] = []
    current_key: str | None = None
    for row in rows:
        key = keyed.key(row)
        if current and (key is None or key != current_key):
            yield current_key, current
            current = []
        current.append(row)
        current_key = key
    if current:
        yield current_key, current


def _in_memory(rows: list[T], keyed: Keyed[T]) -> Iterator[tuple[str | None, list[T]]]:
    groups: dict[str | tuple[int], tuple[str | None, list[T]]] = {}
    for row in rows:
        key = keyed.key(row)
        slot: str | tuple[int] = key if key is not None else (keyed.position(row),)
        groups.setdefault(slot, (key, []))[1].append(row)
    yield from groups.values()
