"""One learner, many attempts: how evaluation grows with the size of one record.

A record of N passed attempts of one repeatable item (each on its own day, within 25 years),
evaluated against a small rule set with an `N credits from` node over the item (`amount`), and
also an `all of` naming it (`allof`). Each size is evaluated once on a fresh evaluator (no
remembered allocations), timed with `time.perf_counter`; the table gives seconds per size and
the growth exponent between consecutive sizes (1 is linear, 2 quadratic).

Issue #14 item 12: 20,000 attempts did not finish in a minute (the conflicts between
achievements were found by comparing every pair of bitmasks).

    python benchmarks/bench_attempts.py                       # 4k, 8k, 20k attempts
    python benchmarks/bench_attempts.py --sizes 1000,2000 --variant amount
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from stackrules import LearnerRecord, load_rules
from stackrules.records import parse_record_obj

RULES = """\
issuer T "Test" { hours per credit 10 }
course T:A "A" credits 3
course T:R "Topics" credits 1 repeatable
credential T:TOPICS "Topics" {
    topics "Topics": 4 credits from (T:R)
}
"""
ALL_OF = """\
credential T:CERT "Certificate" {
    core "Core": all of (T:A, T:R)
}
"""
AS_OF = date(2026, 11, 22)


def record(attempts: int) -> LearnerRecord:
    """`attempts` passed attempts of `T:R`, and one of `T:A`."""
    start = date(2000, 1, 1)
    achievements: list[dict[str, object]] = [
        {
            "item": "T:R",
            "grade": "B",
            "completed_on": (start + timedelta(days=i % 9000)).isoformat(),
        }
        for i in range(attempts)
    ]
    achievements.append({"item": "T:A", "grade": "A", "completed_on": "2020-01-01"})
    parsed = parse_record_obj({"learner": "L", "achievements": achievements}, file="<bench>")
    assert isinstance(parsed, LearnerRecord), parsed
    return parsed


def measure(sizes: list[int], variant: str) -> list[tuple[int, float, list[str]]]:
    """(attempts, seconds, earned credentials) per size, each on a fresh evaluator."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attempts.stack"
        path.write_text(RULES + (ALL_OF if variant == "allof" else ""))
        for size in sizes:
            rules, diagnostics = load_rules([str(path)])
            assert rules is not None, diagnostics
            learner = record(size)
            begin = time.perf_counter()
            report = rules.evaluator.evaluate(learner, AS_OF)
            seconds = time.perf_counter() - begin
            results.append((size, seconds, [e.credential for e in report.earned]))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,8000,20000", help="attempts, comma-separated")
    parser.add_argument("--variant", choices=["amount", "allof", "both"], default="both")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = ["amount", "allof"] if args.variant == "both" else [args.variant]
    print(f"{'variant':8} {'attempts':>9} {'seconds':>8} {'growth':>7}")
    for variant in variants:
        previous: tuple[int, float] | None = None
        for size, seconds, _ in measure(sizes, variant):
            growth = ""
            if previous is not None and previous[1] > 0 and size != previous[0]:
                growth = f"{math.log(seconds / previous[1]) / math.log(size / previous[0]):.2f}"
            print(f"{variant:8} {size:>9,} {seconds:>8.2f} {growth:>7}")
            previous = (size, seconds)


if __name__ == "__main__":
    main()
