"""The grouping of rows of text by key: whatever the memory limit, the in-memory answer."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackrules.records import extsort
from stackrules.records.extsort import Entry, group

Grouped = list[tuple[str | None, list[tuple[int, str]]]]


def expected(entries: list[Entry]) -> Grouped:
    """Groups in order of first appearance, keyless rows alone: the obvious way."""
    order: list[str | tuple[int]] = []
    members: dict[str | tuple[int], tuple[str | None, list[tuple[int, str]]]] = {}
    for number, key, text in entries:
        slot: str | tuple[int] = key if key is not None else (number,)
        if slot not in members:
            order.append(slot)
            members[slot] = (key, [])
        members[slot][1].append((number, text))
    return [members[slot] for slot in order]


# Texts as a CSV reader gives them: anything, ending with a line break, with line breaks of
# every kind (and commas, digits, quotes) inside, which a spill file must keep whole.
_PIECES = st.sampled_from(["a", "7", ",", '"', " ", "é", "\n", "\r", "\r\n", "\x00", "\u2028"])
TEXTS = st.builds(
    lambda pieces, end: "".join(pieces) + end,
    st.lists(_PIECES, max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
KEYS = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", "c", "d", "1", "a,b", "x\ny", "x\r", "\rz", "12,3,", ""]),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(KEYS, TEXTS), max_size=60),
    max_rows=st.integers(min_value=1, max_value=12),
)
def test_grouping_in_bounded_memory_equals_grouping_in_memory(
    rows: list[tuple[str | None, str]], max_rows: int
) -> None:
    entries = [(number, key, text) for number, (key, text) in enumerate(rows, start=2)]
    assert list(group(entries, max_rows=max_rows)) == expected(entries)  # spills
    assert list(group(entries, max_rows=100)) == expected(entries)  # in memory


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.one_of(st.none(), st.sampled_from("abcdefgh")), max_size=80),
    max_rows=st.integers(min_value=1, max_value=6),
)
def test_partitions_too_large_are_partitioned_again(keys: list[str | None], max_rows: int) -> None:
    """With two partitions a level, most partitions exceed the limit and split again."""
    entries = [(n, key, f"row {n}\n") for n, key in enumerate(keys, start=2)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(extsort, "FAN_OUT", 2)
        assert list(group(entries, max_rows=max_rows)) == expected(entries)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(KEYS, TEXTS), max_size=60),
    max_rows=st.integers(min_value=1, max_value=6),
)
def test_partitions_split_again_keep_texts_spanning_lines_whole(
    rows: list[tuple[str | None, str]], max_rows: int
) -> None:
    """Partitions split again and merged into one file keep texts spanning lines whole."""
    entries = [(number, key, text) for number, (key, text) in enumerate(rows, start=2)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(extsort, "FAN_OUT", 2)
        assert list(group(entries, max_rows=max_rows)) == expected(entries)


def test_one_key_with_more_rows_than_the_limit_is_held_whole(tmp_path: Path) -> None:
    entries: list[Entry] = [(n, "same" if n % 10 else "other", f"{n}\n") for n in range(500)]
    folder = tmp_path / "sort"
    folder.mkdir()
    assert list(group(entries, max_rows=20, folder=str(folder))) == expected(entries)
    assert list(folder.iterdir()) == []


def test_spill_files_are_private_and_removed_at_the_end(tmp_path: Path) -> None:
    entries: list[Entry] = [(n, f"k{(n * 7919) % 500}", f"row,{n}\n") for n in range(3000)]
    folder = tmp_path / "sort"
    folder.mkdir()
    groups = group(entries, max_rows=20, folder=str(folder))
    first = next(groups)
    (spill,) = folder.iterdir()  # one private folder while the groups are read
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700
    assert [first, *groups] == expected(entries)
    assert list(folder.iterdir()) == []


def test_spill_files_are_removed_when_the_reader_stops_early_or_fails(tmp_path: Path) -> None:
    folder = tmp_path / "sort"
    folder.mkdir()
    entries: list[Entry] = [(n, f"k{n % 50}", f"{n}\n") for n in range(1000)]
    groups = group(entries, max_rows=20, folder=str(folder))
    next(groups)
    groups.close()  # the caller stops (an interrupt, an error downstream)
    assert list(folder.iterdir()) == []

    def failing() -> Iterator[Entry]:
        yield from entries
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        next(group(failing(), max_rows=20, folder=str(folder)))
    assert list(folder.iterdir()) == []


def test_a_file_larger_than_the_memory_limit_keeps_memory_flat() -> None:
    """Grouping 200k scattered rows with a 5k-row limit adds little to peak memory.

    Holding those rows at once would add about 50 MB (measured with a list of them); the
    bounded grouping adds a few.
    """
    script = (
        "import resource\n"
        "from stackrules.records.extsort import group\n"
        "def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "before = peak()\n"
        "rows = ((n, f'L{(n * 7919) % 20000:06d}', f'L{n},MATH 101,A,3.0\\n')"
        " for n in range(200_000))\n"
        "count = sum(1 for _ in group(rows, max_rows=5000))\n"
        "print(count, peak() - before)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    count, grown_mb = map(int, done.stdout.split())
    assert count == 20000
    assert grown_mb < 15, grown_mb
