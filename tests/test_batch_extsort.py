"""The external grouping of CSV rows: whatever the memory limit, the in-memory answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stackrules.records.extsort import Keyed, group

KEYED: Keyed[tuple[str | None, int]] = Keyed(lambda row: row[0], lambda row: row[1])


def expected(rows: list[tuple[str | None, int]]) -> list[tuple[str | None, list[int]]]:
    """Groups in order of first appearance, keyless rows alone: the obvious way."""
    order: list[str | tuple[int]] = []
    members: dict[str | tuple[int], list[int]] = {}
    for key, number in rows:
        slot: str | tuple[int] = key if key is not None else (number,)
        if slot not in members:
            order.append(slot)
            members[slot] = []
        members[slot].append(number)
    return [(s if isinstance(s, str) else None, members[s]) for s in order]


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(st.one_of(st.none(), st.sampled_from("abcdefgh")), max_size=60),
    max_rows=st.integers(min_value=1, max_value=12),
)
def test_grouping_in_bounded_memory_equals_grouping_in_memory(
    keys: list[str | None], max_rows: int
) -> None:
    rows = [(key, number) for number, key in enumerate(keys, start=2)]
    got = [(key, [n for _, n in members]) for key, members in group(rows, KEYED, max_rows=max_rows)]
    assert got == expected(rows)


def test_many_runs_are_merged_a_few_files_at_a_time(tmp_path: Path) -> None:
    rows = [(f"k{(n * 7919) % 500}", n) for n in range(3000)]
    folder = tmp_path / "sort"
    folder.mkdir()
    got = list(group(rows, KEYED, max_rows=20, folder=str(folder)))  # 150 runs > FAN_IN
    assert [(k, [n for _, n in m]) for k, m in got] == expected(rows)
    assert list(folder.iterdir()) == []  # temporary runs are removed


def test_a_file_larger_than_the_memory_limit_keeps_memory_flat() -> None:
    """Sorting 200k scattered rows with a 5k-row buffer adds little to peak memory.

    Holding those rows at once would add about 30 MB (measured with a list of them); the
    bounded sort adds a few.
    """
    script = (
        "import resource\n"
        "from stackrules.records.extsort import Keyed, group\n"
        "def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "before = peak()\n"
        "rows = ((f'L{(n * 7919) % 20000:06d}', n) for n in range(200_000))\n"
        "keyed = Keyed(lambda r: r[0], lambda r: r[1])\n"
        "count = sum(1 for _ in group(rows, keyed, max_rows=5000))\n"
        "print(count, peak() - before)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    count, grown_mb = map(int, done.stdout.split())
    assert count == 20000
    assert grown_mb < 15, grown_mb
