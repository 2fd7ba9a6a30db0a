"""Benchmark: `plan` for targets three ladders deep (a diploma that requires a certificate
that requires a micro-credential) in a synthetic catalog of 1,000 credentials.

For each of `--targets` such diplomas, plans for an empty record and for `--learners`
synthetic learners of the diploma's issuer; every plan is timed `--runs` times (in process,
`time.perf_counter`) and the median is reported, beside the median time of one evaluation of
the same record (the baseline: a plan always costs at least one). Goal: plan under 1 s at the
median.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_plan.py --runs 3 --json plan.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stackrules import load_rules
from stackrules.advisor.plan import Planner
from stackrules.records import LearnerRecord
from synth import AS_OF, Catalog, make_catalog, make_learners


def deep_targets(catalog: Catalog, n: int) -> list[str]:
    """Diplomas whose ladder reaches a micro-credential through a certificate."""
    found = []
    for ident in sorted(catalog.credentials):
        info = catalog.credentials[ident]
        if info.tier != 2:
            continue
        if any(catalog.credentials[c].ladder for c in info.ladder):
            found.append(ident)
    step = max(1, len(found) // n) if found else 1
    return found[::step][:n]


def timed(fn: object, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1500)
    parser.add_argument("--targets", type=int, default=5)
    parser.add_argument("--learners", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    catalog = make_catalog(args.credentials, args.lines, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = catalog.write(Path(tmp) / "rules")
        t0 = time.perf_counter()
        compiled, _ = load_rules([folder])
        load_s = time.perf_counter() - t0
    assert compiled is not None, "the synthetic rules have errors"
    planner = Planner(compiled.model, compiled.evaluator)
    learners = list(make_learners(catalog, 400, seed=args.seed + 1))
    as_of: date = AS_OF
    rows = []
    for target in deep_targets(catalog, args.targets):
        issuer = target.split(":", 1)[0]
        records = [LearnerRecord(learner="EMPTY")]
        records += [
            r for r in learners if any(a.item.startswith(issuer + ":") for a in r.achievements)
        ][: args.learners]
        for record in records:
            plan_s, result = timed(lambda r=record, t=target: planner.plan(r, t, as_of), args.runs)
            eval_s, _ = timed(lambda r=record: compiled.evaluator.evaluate(r, as_of), args.runs)
            rows.append(
                {
                    "target": target,
                    "learner": record.learner,
                    "status": result.status,  # type: ignore[attr-defined]
                    "items": len(result.items),  # type: ignore[attr-defined]
                    "credits": round(result.cost.credits, 3),  # type: ignore[attr-defined]
                    "proposals": result.rounds,  # type: ignore[attr-defined]
                    "plan_s": round(plan_s, 4),
                    "evaluate_s": round(eval_s, 4),
                }
            )
            print(json.dumps(rows[-1]))
    plans = [r["plan_s"] for r in rows]
    evals = [r["evaluate_s"] for r in rows]
    summary = {
        "credentials": args.credentials,
        "transfer_lines": args.lines,
        "load_s": round(load_s, 2),
        "plans": len(rows),
        "plan_median_s": round(statistics.median(plans), 4) if plans else None,
        "plan_max_s": round(max(plans), 4) if plans else None,
        "evaluate_median_s": round(statistics.median(evals), 4) if evals else None,
        "goal_under_1s": bool(plans) and statistics.median(plans) < 1.0,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
