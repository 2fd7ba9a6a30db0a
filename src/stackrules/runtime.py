"""Process settings for evaluating many learners.

An evaluator keeps a large, long-lived heap: the compiled rule set, the per-rule templates and
the solved problems it remembers. CPython's cyclic garbage collector, with its default first
threshold (a collection every 700 net new container objects), promotes the objects of each
report under construction and so runs full collections over that whole heap again and again:
on the evaluation benchmark about a fifth of the time of evaluating and dumping a report,
although the engine leaves no cyclic garbage. `tune_gc` raises the first threshold so that
full collections become rare; the others keep their values, and cyclic garbage (of other code
in the process) is still collected.

The command line, its worker processes and its Dask tasks call it; a program that embeds the
engine may call it once too.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """Raise the collector's first threshold to `GEN0_THRESHOLD` (never lower it)."""
    first, second, third = gc.get_threshold()
    if 0 < first < GEN0_THRESHOLD:
        gc.set_threshold(GEN0_THRESHOLD, second, third)
