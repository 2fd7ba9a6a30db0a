"""Parse, check and compile benchmark: how long a large rule set takes to load, and in how much
memory.

For each size (credentials, transfer lines) a synthetic rule set (`synth.py`) is generated
once and written to a temporary folder of `.stack` files, outside the timed region. Each run
then times, in-process with `time.perf_counter`:

- parse: `stackrules.syntax.parse_paths` (reading the files, syntax tree);
- check: `stackrules.check.check` (every semantic diagnostic);
- build: `stackrules.model.build` (the compiled model);
- index: `stackrules.evaluation.evaluator.Evaluator(model)` (the rule graph and selector index).

Cold runs parse every file (the parse cache is off); warm runs repeat the same, with the parse
cache of `stackrules.parsecache` filled by one untimed run (unchanged files are loaded, not
parsed: the common case of a nightly job over rules that rarely change).

The table shows the median of `--runs` runs. Peak memory is measured in one extra, untimed run
under `tracemalloc` (Python allocations of parse + check + build + index); `maxrss` is the
process's peak resident size so far (it only grows, so read it for the largest size).

Goal (from the issue): parse + check of 10,000 credentials and 50,000 transfer lines in under
5 s on one core, memory in proportion to the rule set.

    python benchmarks/bench_parse.py                      # 1k, 2k, 5k, 10k credentials
    python benchmarks/bench_parse.py --sizes 1000 --runs 3 --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stackrules.check import check
from stackrules.diagnostics import has_errors
from stackrules.evaluation.evaluator import Evaluator
from stackrules.model import build
from stackrules.syntax import parse_paths
from synth import make_catalog

LINES_PER_CREDENTIAL = 5
GOAL_SECONDS = 5.0
STAGES = ("parse", "check", "build", "index")


def _once(folder: Path) -> tuple[dict[str, float], list[Any]]:
    c0 = time.process_time()
    t0 = time.perf_counter()
    syntax, diagnostics = parse_paths([folder])
    t1 = time.perf_counter()
    diagnostics = diagnostics + check(syntax)
    t2 = time.perf_counter()
    model = build(syntax)
    t3 = time.perf_counter()
    Evaluator(model)
    t4 = time.perf_counter()
    cpu = time.process_time() - c0
    times = {"parse": t1 - t0, "check": t2 - t1, "build": t3 - t2, "index": t4 - t3, "cpu": cpu}
    return times, diagnostics


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def bench_size(
    n_credentials: int, n_lines: int, runs: int, seed: int, memory: bool = True
) -> dict[str, Any]:
    catalog = make_catalog(n_credentials, n_lines, seed)
    with tempfile.TemporaryDirectory(prefix="stackrules-bench-") as tmp:
        folder = catalog.write(Path(tmp) / "rules")
        size_bytes = sum(len(t.encode()) for t in catalog.files.values())
        samples: dict[str, list[float]] = {s: [] for s in (*STAGES, "cpu")}
        diagnostics: list[Any] = []
        os.environ["STACKRULES_NO_CACHE"] = "1"
        for _ in range(runs):
            gc.collect()
            times, diagnostics = _once(folder)
            for stage in samples:
                samples[stage].append(times[stage])
        del os.environ["STACKRULES_NO_CACHE"]
        saved = os.environ.get("STACKRULES_CACHE_DIR")
        os.environ["STACKRULES_CACHE_DIR"] = str(Path(tmp) / "cache")
        _once(folder)  # fills the cache
        warm: list[tuple[float, float]] = []
        for _ in range(runs):
            gc.collect()
            times, _ = _once(folder)
            warm.append((times["parse"], times["parse"] + times["check"]))
        if saved is None:
            del os.environ["STACKRULES_CACHE_DIR"]
        else:
            os.environ["STACKRULES_CACHE_DIR"] = saved
        os.environ["STACKRULES_NO_CACHE"] = "1"
        peak_mb = None
        if memory:
            gc.collect()
            tracemalloc.start()
            _once(folder)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peak_mb = peak / (1024 * 1024)
        del os.environ["STACKRULES_NO_CACHE"]
    med = {s: statistics.median(v) for s, v in samples.items()}
    totals = [sum(samples[s][k] for s in STAGES) for k in range(runs)]
    parse_check = [samples["parse"][k] + samples["check"][k] for k in range(runs)]
    errors = [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity != "error"]
    return {
        "credentials": catalog.stats["credentials"],
        "transfer_lines": catalog.stats["transfer_lines"],
        "courses": catalog.stats["courses"],
        "issuers": catalog.stats["issuers"],
        "files": len(catalog.files),
        "megabytes_of_text": size_bytes / 1e6,
        "runs": runs,
        "median_seconds": med,
        "median_parse_check_seconds": statistics.median(parse_check),
        "warm_median_parse_seconds": statistics.median(w[0] for w in warm),
        "warm_median_parse_check_seconds": statistics.median(w[1] for w in warm),
        "median_total_seconds": statistics.median(totals),
        "median_total_cpu_seconds": med["cpu"],
        "errors": len(errors),
        "has_errors": has_errors(diagnostics),
        "first_errors": [str(d) for d in errors[:5]],
        "warnings": len(warnings),
        "warning_codes": dict(Counter(d.code for d in warnings)),
        "peak_traced_mb": peak_mb,
        "peak_mb_per_1k_credentials": (
            peak_mb / (n_credentials / 1000) if peak_mb is not None else None
        ),
        "maxrss_mb": _maxrss_mb(),
    }


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'creds':>6} {'lines':>6} {'MB':>5} | {'parse':>6} {'check':>6} {'build':>6} "
        f"{'index':>6} | {'p+c':>6} {'total':>6} {'cpu':>6} | {'warm p+c':>8} | "
        f"{'peak MB':>7} {'MB/1k':>6} "
        f"{'rss MB':>7} | {'err':>3} {'warn':>4}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        m = r["median_seconds"]
        peak = r["peak_traced_mb"]
        per = r["peak_mb_per_1k_credentials"]
        rows.append(
            f"{r['credentials']:>6} {r['transfer_lines']:>6} {r['megabytes_of_text']:>5.1f} | "
            f"{m['parse']:>6.2f} {m['check']:>6.2f} {m['build']:>6.2f} {m['index']:>6.2f} | "
            f"{r['median_parse_check_seconds']:>6.2f} {r['median_total_seconds']:>6.2f} "
            f"{r['median_total_cpu_seconds']:>6.2f} | "
            f"{r['warm_median_parse_check_seconds']:>8.2f} | "
            f"{(peak or 0):>7.0f} {(per or 0):>6.1f} {r['maxrss_mb']:>7.0f} | "
            f"{r['errors']:>3} {r['warnings']:>4}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="stackrules parse/check/build benchmark")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 2000, 5000, 10000],
        help="comma-separated credential counts (default 1000,2000,5000,10000)",
    )
    parser.add_argument(
        "--lines-per-credential",
        type=float,
        default=LINES_PER_CREDENTIAL,
        help="transfer lines per credential (default 5: 50,000 lines for 10,000 credentials)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)

    results = []
    for n in args.sizes:
        lines = round(n * args.lines_per_credential)
        print(f"… {n} credentials, {lines} transfer lines", file=sys.stderr, flush=True)
        results.append(bench_size(n, lines, args.runs, args.seed, memory=not args.no_memory))
    print(_table(results))
    biggest = max(results, key=lambda r: r["credentials"])
    verdict = "met" if biggest["median_parse_check_seconds"] < GOAL_SECONDS else "NOT met"
    print(
        f"\ngoal: parse + check of {biggest['credentials']} credentials and "
        f"{biggest['transfer_lines']} lines under {GOAL_SECONDS:g} s: "
        f"{biggest['median_parse_check_seconds']:.2f} s cold ({verdict}; median of {args.runs} "
        f"runs); {biggest['warm_median_parse_check_seconds']:.2f} s with the parse cache warm"
    )
    for r in results:
        if r["errors"]:
            print(
                f"check reported {r['errors']} error(s) at {r['credentials']}:", *r["first_errors"]
            )
        if r["warnings"]:
            print(f"warnings at {r['credentials']} credentials: {r['warning_codes']}")
    out = {"python": sys.version.split()[0], "results": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
