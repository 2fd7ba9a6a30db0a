"""Evaluation benchmark: learners per second on one core, the per-learner cost split, how the
cost grows with the catalog, and the rule-graph index against the naive evaluation.

Two synthetic catalogs (`synth.py`): the base one (default 1,000 credentials, 1,500 transfer
lines) and one `--factor` times larger (default 10: 10,000 credentials, 15,000 lines); learner
records of 8-40 achievements are generated for each (same distribution) and written to JSON
Lines, all outside the timed regions. For each catalog, single process, medians of `--runs`:

- read: `stackrules.read_records` over the JSON Lines file (per learner);
- evaluate: `Evaluator.evaluate` for every learner (the throughput figure);
- report: `stackrules.report.dumps` of each report as soon as it is made (the report is then
  dropped, as a batch does);
- split of evaluate, from one more, instrumented pass (functions wrapped with timers by this
  script only): record rows → achievements (`achievements.counting`), index look-ups
  (`Fixpoint.targets`), equivalencies (`Fixpoint._fire`), earned decisions (`Fixpoint._earn`),
  the report (`Evaluator._report`, of which the K nearest, `leasttodo.nearest`, and
  `Explainer.in_progress`, the entries shown);
- naive: `Evaluator(rules, use_index=False)` on the first `--naive-learners` of the same
  learners, in the same run, and whether its reports are byte-identical to the indexed ones.

The process runs with the garbage collector settings of the command line (`stackrules.tune_gc`);
`--gc default` measures with Python's defaults instead.

`--budget` caps the seconds of one timed pass: when evaluation is slow, fewer learners than
asked are measured, and the output says how many. `--profile` prints the top cProfile
hotspots (cumulative time) of evaluating the base catalog's learners.

Every timed pass has a fresh evaluator: a pass over learners an evaluator has already seen
finds their allocation problems and light verdicts remembered, which no batch of distinct
learners does (before 2026-12-05's third round, passes after the first reused one evaluator
and the base catalog's figures were a warm re-run). Both report scopes are timed side by side
in the same run (passes alternated): the default (`--in-progress`, K = 5) and `all` (every
credential in progress, the first version's report), with the median and largest report size
of each.

Goals (from the issues): at least 1,000 learners/s/core with the default scope, evaluation and
`dumps` included (at least 250 with every subject selector unscoped, `--unscoped 1.0`, median
report at most 20 KB and the largest at most 100 KB); a 10x catalog costing under 2x per
learner.

    python benchmarks/bench_eval.py                          # 2,000 learners, 1k and 10k catalogs
    python benchmarks/bench_eval.py --learners 500 --budget 60 --profile 200 --json out.json

`--reports FILE` measures nothing: it evaluates the base catalog's first `--learners` learners
(in the `--in-progress` scope: K = 5 unless told, `all` for every credential in progress)
and writes their reports as JSON Lines to FILE or, when FILE exists, compares them with it
line by line (exit status 1 and the first learner that differs). Write the file with one
version of the engine and check every later version against it: the reports must never change.

    python benchmarks/bench_eval.py --learners 300 --reports golden-1k.jsonl
    python benchmarks/bench_eval.py --credentials 10000 --lines 15000 --learners 20 \
        --reports golden-10k.jsonl
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stackrules.check import check_paths
from stackrules.diagnostics import has_errors
from stackrules.model import RuleSet, build
from stackrules.records import LearnerRecord, RecordError, read_records
from stackrules.report import dumps

try:
    from stackrules.evaluation import Evaluator
except ImportError:  # an engine before the evaluation package (`bench_compare` runs old ones)
    from stackrules.evaluate import Evaluator  # type: ignore[import-not-found,no-redef]
from synth import AS_OF, make_catalog, make_learners, write_jsonl

GOAL_RATE = 1000.0
GOAL_RATIO = 2.0
# (label, owner, name): disjoint parts of Evaluator.evaluate, plus nested parts; an owner is a
# class or the module whose attribute the caller looks up (`stackrules.evaluation`)
SPLIT = (
    ("achievements", "achievements", "counting"),
    ("index", "Fixpoint", "targets"),
    ("equivalencies", "Fixpoint", "_fire"),
    ("earned decisions", "Fixpoint", "_earn"),
    ("report", "Evaluator", "_report"),
    ("  of which the K nearest", "evaluator", "nearest"),
    ("  of which in_progress", "Explainer", "in_progress"),
)


# -------------------------------------------------------------------- helpers


def _load(folder: Path) -> RuleSet:
    syntax, diagnostics = check_paths([folder])
    if has_errors(diagnostics):
        errors = [str(d) for d in diagnostics if d.severity == "error"][:5]
        raise SystemExit("the generated rule set has errors:\n" + "\n".join(errors))
    return build(syntax)


def _timed_pass(
    evaluator: Evaluator,
    records: list[LearnerRecord],
    budget: float | None,
    in_progress: int | None = None,
) -> tuple[float, float, float, list[str]]:
    """Evaluate records in order, each report turned into its JSON text at once and dropped,
    as a batch does (holding hundreds of report objects would make the garbage collector's
    work, not the engine's, grow with the pass); stop early when the budget (seconds) runs
    out. Returns the seconds of evaluation (wall clock and CPU) and of `dumps` (wall clock),
    and the texts."""
    texts: list[str] = []
    gc.collect()
    wall = cpu = dump = 0.0
    start = time.perf_counter()
    for record in records:
        t0, c0 = time.perf_counter(), time.process_time()
        if in_progress is None:  # every credential in progress (engines before report v2 too)
            report = evaluator.evaluate(record, AS_OF)
        else:
            report = evaluator.evaluate(record, AS_OF, in_progress=in_progress)
        t1, c1 = time.perf_counter(), time.process_time()
        texts.append(dumps(report))
        del report
        t2 = time.perf_counter()
        wall, cpu, dump = wall + t1 - t0, cpu + c1 - c0, dump + t2 - t1
        if budget is not None and t2 - start > budget:
            break
    return wall, cpu, dump, texts


def _measure(
    make: Callable[[], Evaluator],
    records: list[LearnerRecord],
    runs: int,
    budget: float | None,
    in_progress: int | None = None,
) -> tuple[float, float, float, int, list[str]]:
    """`_measure_modes` for one report scope."""
    return _measure_modes(make, records, runs, budget, {"": in_progress})[""]


def _measure_modes(
    make: Callable[[], Evaluator],
    records: list[LearnerRecord],
    runs: int,
    budget: float | None,
    modes: dict[str, int | None],
) -> dict[str, tuple[float, float, float, int, list[str]]]:
    """Median seconds per learner over `runs` passes for each report scope (`in_progress` K,
    None for all): evaluation (wall clock, CPU) and `dumps`, the number of learners
    measured and the first pass's report texts. Every pass has a fresh evaluator from
    `make` (a pass over learners the evaluator has already seen would find their problems
    solved); the modes' passes are alternated round by round so that the machine's drift
    falls on every mode alike. The first mode's first pass fixes how many learners fit in
    the budget; later passes evaluate exactly those."""
    first = next(iter(modes))
    wall, cpu, dump, texts = _timed_pass(make(), records, budget, modes[first])
    n = len(texts)
    passes: dict[str, list[tuple[float, float, float]]] = {first: [(wall, cpu, dump)]}
    kept: dict[str, list[str]] = {first: texts}
    for name, k in modes.items():
        if name != first:
            wall, cpu, dump, kept[name] = _timed_pass(make(), records[:n], None, k)
            passes[name] = [(wall, cpu, dump)]
    for _ in range(runs - 1):
        for name, k in modes.items():
            wall, cpu, dump, _ = _timed_pass(make(), records[:n], None, k)
            passes[name].append((wall, cpu, dump))
    return {
        name: (
            statistics.median(p[0] / n for p in done),
            statistics.median(p[1] / n for p in done),
            statistics.median(p[2] / n for p in done),
            n,
            kept[name],
        )
        for name, done in passes.items()
    }


def _sizes(texts: list[str]) -> dict[str, float]:
    sizes = [len(t.encode()) for t in texts]
    return {"median_bytes": statistics.median(sizes), "max_bytes": max(sizes)}


@contextmanager
def _method_timers() -> Iterator[tuple[Counter[str], Counter[str]]]:
    """Wrap the evaluator's stage methods with timers (this benchmark only; undone after)."""
    from stackrules.evaluation import achievements, evaluator, explanations, fixpoint

    classes: dict[str, Any] = {
        "Evaluator": Evaluator,
        "Explainer": explanations.Explainer,
        "Fixpoint": fixpoint.Fixpoint,
        "achievements": achievements,
        "evaluator": evaluator,
    }
    seconds: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    saved: list[tuple[Any, str, Callable[..., Any]]] = []
    for label, cls_name, name in SPLIT:
        cls = classes.get(cls_name)
        original = getattr(cls, name, None) if cls is not None else None
        if cls is None or original is None:
            continue  # the engine changed: that part is simply not reported

        def timed(*a: Any, _f: Callable[..., Any] = original, _l: str = label, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                seconds[_l] += time.perf_counter() - t
                calls[_l] += 1

        functools.update_wrapper(timed, original)
        saved.append((cls, name, original))
        setattr(cls, name, timed)
    try:
        yield seconds, calls
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


def _median_time(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _read_all(path: Path, aliases: dict[str, str]) -> list[LearnerRecord]:
    out = []
    for item in read_records(path, aliases):
        if isinstance(item, RecordError):
            raise SystemExit(f"generated record unreadable: {item.render()}")
        out.append(item)
    return out


# -------------------------------------------------------------------- one catalog


def bench_catalog(
    label: str,
    n_credentials: int,
    n_lines: int,
    n_learners: int,
    n_naive: int,
    runs: int,
    budget: float | None,
    seed: int,
    tmp: Path,
    n_issuers: int | None = None,
    unscoped: float = 0.1,
    in_progress: int | None = 5,
) -> dict[str, Any]:
    print(f"… {label}: {n_credentials} credentials, {n_lines} lines", file=sys.stderr, flush=True)
    catalog = make_catalog(n_credentials, n_lines, seed, n_issuers=n_issuers, unscoped=unscoped)
    folder = catalog.write(tmp / f"rules-{label}")
    model = _load(folder)
    indexed = Evaluator(model)
    generated = list(make_learners(catalog, n_learners, seed=seed + 1))
    path = write_jsonl(generated, tmp / f"learners-{label}.jsonl")
    aliases = dict(model.aliases)

    # read: the whole file, every learner
    records = _read_all(path, aliases)
    read_s = _median_time(lambda: _read_all(path, aliases), runs) / len(records)

    # evaluate (indexed): the default report scope and `--in-progress all`, side by side
    print(f"  indexed evaluation of up to {len(records)} learners", file=sys.stderr, flush=True)
    modes = {"default": in_progress, "all": None}
    measured = _measure_modes(lambda: Evaluator(model), records, runs, budget, modes)
    eval_s, eval_cpu, dump_s, n_eval, texts = measured["default"]
    all_s, all_cpu, all_dump_s, _, all_texts = measured["all"]

    # split, one instrumented pass over the same learners
    with _method_timers() as (seconds, calls):
        t = time.perf_counter()
        for record in records[:n_eval]:
            indexed.evaluate(record, AS_OF, in_progress=in_progress)
        instrumented = time.perf_counter() - t
    split = {label: seconds[label] / n_eval for label, _, _ in SPLIT if label in seconds}
    split["other"] = (instrumented - sum(v for k, v in seconds.items() if k.strip() == k)) / n_eval
    calls_per = {k: v / n_eval for k, v in calls.items()}

    # naive, same learners (a prefix), same run
    k = min(n_naive, n_eval)
    print(f"  naive evaluation of up to {k} learners", file=sys.stderr, flush=True)
    naive_s, _, _, n_naive_done, naive_texts = _measure(
        lambda: Evaluator(model, use_index=False), records[:k], runs, budget
    )
    identical = naive_texts == all_texts[:n_naive_done]

    shapes = [json.loads(t) for t in all_texts]
    achievements = [len(r.achievements) for r in records[:n_eval]]
    return {
        "label": label,
        "unscoped": unscoped,
        "stats": catalog.stats,
        "learners_generated": len(records),
        "learners_evaluated": n_eval,
        "runs": runs,
        "mean_achievements": statistics.mean(achievements),
        "mean_earned": statistics.mean(len(s["earned"]) for s in shapes),
        "mean_in_progress": statistics.mean(len(s["in_progress"]) for s in shapes),
        "mean_transfers": statistics.mean(len(s["transfers"]) for s in shapes),
        "per_learner_ms": {
            "read": read_s * 1e3,
            "evaluate": eval_s * 1e3,
            "evaluate_cpu": eval_cpu * 1e3,
            "report_dumps": dump_s * 1e3,
            "total": (read_s + eval_s + dump_s) * 1e3,
        },
        "learners_per_second": 1 / eval_s,
        "learners_per_second_end_to_end": 1 / (read_s + eval_s + dump_s),
        "in_progress": in_progress,
        "report": _sizes(texts),
        "all": {
            "evaluate_ms": all_s * 1e3,
            "evaluate_cpu_ms": all_cpu * 1e3,
            "report_dumps_ms": all_dump_s * 1e3,
            "learners_per_second": 1 / all_s,
            "learners_per_second_with_dumps": 1 / (all_s + all_dump_s),
            "report": _sizes(all_texts),
        },
        "default_over_all": (all_s + all_dump_s) / (eval_s + dump_s),
        "split_ms": {k: v * 1e3 for k, v in split.items()},
        "calls_per_learner": calls_per,
        "naive_learners": n_naive_done,
        "naive_per_learner_ms": naive_s * 1e3,
        "naive_over_indexed": naive_s / eval_s,
        "naive_identical": identical,
    }


def profile(catalog_size: tuple[int, int], n: int, seed: int, tmp: Path, top: int = 15) -> str:
    """cProfile of evaluating `n` learners against the base catalog: the top hotspots."""
    catalog = make_catalog(catalog_size[0], catalog_size[1], seed)
    model = _load(catalog.write(tmp / "rules-profile"))
    evaluator = Evaluator(model)
    records = list(make_learners(catalog, n, seed=seed + 1))
    prof = cProfile.Profile()
    prof.enable()
    for record in records:
        dumps(evaluator.evaluate(record, AS_OF, in_progress=5))
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def reports(
    catalog_size: tuple[int, int],
    n: int,
    seed: int,
    unscoped: float,
    path: Path,
    tmp: Path,
    in_progress: int | None = None,
) -> int:
    """Write the reports of `n` learners to `path`, or compare them with it: exit status.
    `in_progress`: the report's scope (K; None: every credential in progress)."""
    catalog = make_catalog(catalog_size[0], catalog_size[1], seed, unscoped=unscoped)
    folder = catalog.write(tmp / "rules-reports")
    evaluator = Evaluator(_load(folder))
    # (engines before report v2 know no scope: every credential in progress)
    scope = {} if in_progress is None else {"in_progress": in_progress}
    # reports name rule files by path: the temporary folder becomes `<rules>`
    texts = [
        dumps(evaluator.evaluate(r, AS_OF, **scope)).replace(str(folder), "<rules>")
        for r in make_learners(catalog, n, seed=seed + 1)
    ]
    if not path.exists():
        path.write_text("".join(t + "\n" for t in texts))
        print(f"wrote {len(texts)} reports to {path}")
        return 0
    saved = path.read_text().splitlines()
    for k, (old, new) in enumerate(zip(saved, texts, strict=False)):
        if old != new:
            learner = json.loads(old).get("learner")
            print(f"{path}: report {k + 1} (learner {learner}) differs", file=sys.stderr)
            return 1
    if len(saved) != len(texts):
        print(f"{path}: {len(saved)} reports saved, {len(texts)} evaluated", file=sys.stderr)
        return 1
    print(f"{len(texts)} reports identical to {path}")
    return 0


def _report_text(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        s, p = r["stats"], r["per_learner_ms"]
        lines.append(
            f"[{r['label']}] {s['credentials']} credentials, {s['transfer_lines']} transfer lines, "
            f"{s['courses']} courses, {s['issuers']} issuers, {r['unscoped']:.0%} of "
            f"subject requirements unscoped; {r['learners_evaluated']} of "
            f"{r['learners_generated']} learners evaluated (mean {r['mean_achievements']:.1f} "
            f"achievements; {r['mean_earned']:.2f} earned, {r['mean_in_progress']:.1f} in "
            f"progress, {r['mean_transfers']:.1f} transfers), median of {r['runs']} runs"
        )
        lines.append(
            f"  per learner: read {p['read']:.3f} ms, evaluate {p['evaluate']:.2f} ms "
            f"(CPU {p['evaluate_cpu']:.2f} ms), "
            f"report dumps {p['report_dumps']:.3f} ms, total {p['total']:.2f} ms"
        )
        lines.append(
            f"  throughput: {r['learners_per_second']:.1f} learners/s evaluate only, "
            f"{r['learners_per_second_end_to_end']:.1f} learners/s read + evaluate + dumps"
        )
        calls = r["calls_per_learner"]
        split = ", ".join(
            f"{k.strip()} {v:.2f} ms" + (f" ({calls[k]:.1f} calls)" if k in calls else "")
            for k, v in r["split_ms"].items()
        )
        lines.append(f"  evaluate split (instrumented pass): {split}")
        a, rep = r["all"], r["report"]
        rate = 1e3 / (p["evaluate"] + p["report_dumps"])
        lines.append(
            f"  report scope --in-progress {r['in_progress']}: {rate:.1f} "
            f"learners/s evaluate + dumps, report median {rep['median_bytes'] / 1e3:.1f} KB, "
            f"largest {rep['max_bytes'] / 1e3:.1f} KB"
        )
        lines.append(
            f"  report scope --in-progress all (same run, alternated): "
            f"{a['learners_per_second_with_dumps']:.1f} learners/s evaluate + dumps "
            f"(evaluate {a['evaluate_ms']:.2f} ms, dumps {a['report_dumps_ms']:.2f} ms), report "
            f"median {a['report']['median_bytes'] / 1e3:.1f} KB, largest "
            f"{a['report']['max_bytes'] / 1e3:.1f} KB; default is {r['default_over_all']:.2f}x "
            "as fast"
        )
        lines.append(
            f"  naive (use_index=False), first {r['naive_learners']} learners: "
            f"{r['naive_per_learner_ms']:.2f} ms/learner = {r['naive_over_indexed']:.2f}x the "
            f"indexed cost; reports identical: {r['naive_identical']}"
        )
    base = results[0]
    for big in results[1:]:
        ratio = big["per_learner_ms"]["evaluate"] / base["per_learner_ms"]["evaluate"]
        ok = "met" if ratio < GOAL_RATIO else "NOT met"
        lines.append(
            f"\ncatalog x{big['stats']['credentials'] / base['stats']['credentials']:g} "
            f"[{big['label']}]: per-learner evaluate cost x{ratio:.2f} "
            f"(goal < {GOAL_RATIO:g}x: {ok})"
        )
    p0 = results[0]["per_learner_ms"]
    rate = 1e3 / (p0["evaluate"] + p0["report_dumps"])
    ok = "met" if rate >= GOAL_RATE else "NOT met"
    lines.append(
        f"throughput {rate:.1f} learners/s/core, evaluate + dumps, default scope "
        f"(goal >= {GOAL_RATE:g}: {ok})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="stackrules evaluation benchmark")
    parser.add_argument("--credentials", type=int, default=1000, help="base catalog size")
    parser.add_argument("--lines", type=int, default=1500, help="base transfer lines")
    parser.add_argument("--factor", type=int, default=10, help="size of the larger catalog")
    parser.add_argument(
        "--grow",
        choices=("size", "institutions", "both"),
        default="size",
        help="how the larger catalog grows: the same institutions, larger (the generator's "
        "default of at most 50), or `--factor` times as many institutions of the base size",
    )
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--naive-learners", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="timed passes (median)")
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds for one timed pass (default: none)"
    )
    parser.add_argument("--profile", type=int, default=0, help="cProfile this many learners")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--reports", type=Path, help="write (or compare with) the base catalog's reports"
    )
    parser.add_argument(
        "--in-progress",
        type=lambda v: None if v == "all" else int(v),
        default=5,
        help="the report scope timed as the default mode (K, or `all`); `all` is always timed "
        "beside it",
    )
    parser.add_argument(
        "--unscoped",
        type=float,
        default=0.1,
        help="share of subject-credit requirements that name no issuer (any institution's "
        "course of the subject counts)",
    )
    parser.add_argument(
        "--gc",
        choices=("tuned", "default"),
        default="tuned",
        help="the garbage collector's settings: the command line's (`stackrules.tune_gc`) or "
        "Python's defaults",
    )
    args = parser.parse_args(argv)
    if args.gc == "tuned":
        from stackrules.runtime import tune_gc  # here: bench_compare imports this module

        #                                         with older engines, which lack it
        tune_gc()
    if args.reports:
        with tempfile.TemporaryDirectory(prefix="stackrules-bench-") as tmp_name:
            size = (args.credentials, args.lines)
            status = reports(
                size,
                args.learners,
                args.seed,
                args.unscoped,
                args.reports,
                Path(tmp_name),
                args.in_progress,
            )
        raise SystemExit(status)

    # (label, credentials, lines, issuers: None = the generator's default, or how many times
    # the base catalog's institutions)
    sizes: list[tuple[str, int, int, int | None]] = [("base", args.credentials, args.lines, None)]
    if args.factor > 1:
        big = (args.credentials * args.factor, args.lines * args.factor)
        if args.grow in ("size", "both"):
            sizes.append((f"x{args.factor}", *big, None))
        if args.grow in ("institutions", "both"):
            sizes.append((f"x{args.factor}-institutions", *big, args.factor))
    results: list[dict[str, Any]] = []
    hotspots = None
    with tempfile.TemporaryDirectory(prefix="stackrules-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for label, n, lines, times in sizes:
            issuers = results[0]["stats"]["issuers"] * times if times else None
            results.append(
                bench_catalog(
                    label,
                    n,
                    lines,
                    args.learners,
                    args.naive_learners,
                    args.runs,
                    args.budget,
                    args.seed,
                    tmp,
                    n_issuers=issuers,
                    unscoped=args.unscoped,
                    in_progress=args.in_progress,
                )
            )
        if args.profile:
            hotspots = profile((args.credentials, args.lines), args.profile, args.seed, tmp)
    print(_report_text(results))
    if hotspots:
        print("\ncProfile, base catalog, top by cumulative time:\n" + hotspots)
    print(f"garbage collector: {args.gc} (thresholds {gc.get_threshold()})")
    out = {
        "python": sys.version.split()[0],
        "gc": args.gc,
        "results": results,
        "profile": hotspots,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
