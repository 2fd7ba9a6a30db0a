"""One engine against others, on the same data, in the same run: the baseline for a speed-up.

Each `--engine LABEL=SRC[@OPTIONS]` is a source folder of stackrules (this checkout's `src`,
or an older commit's, checked out with `git worktree add /tmp/sr-old COMMIT`); the options,
joined by `+`: `tuned` runs it with the command line's collector settings
(`stackrules.tune_gc`: first threshold 10,000), otherwise Python's defaults; `kN` makes
reports of report v2's default scope with K = N (`--in-progress N`: the pursued credentials
and the N nearest others), otherwise every credential in progress (the only report engines
before v2 make). The synthetic catalog (`synth.py`) and its learners are written
once; then, `--rounds` times, every engine in turn evaluates the same learners in a fresh
process (`PYTHONPATH=SRC`), each report turned into its JSON text at once and dropped, as a
batch does (`bench_eval`'s timed pass). Printed: per engine, the median over rounds of the
milliseconds per learner of `Evaluator.evaluate` (CPU) and of `report.dumps` (wall clock),
the ratio of each engine's total to the first engine's, the median over rounds of that ratio
within a round, and whether every engine's reports are byte-identical to the first engine's
(a digest of the texts, with the rule folder's path taken out).

On a shared virtual machine whose speed drifts from minute to minute, engines run one after
another meet different phases of it. `--side-by-side` runs the engines of a round at the same
time instead, each pinned to a core of its own (engine k on core k + round, so that each core
serves each engine in turn; at most as many engines as cores): they then share every phase,
and the median of the round ratios is the figure to quote.

    git worktree add /tmp/sr-old 60ce2aa
    python benchmarks/bench_compare.py --engine old=/tmp/sr-old/src --engine now=src \\
        --engine now-tuned=src@tuned --learners 300 --rounds 3

The measured part (`bench_eval`'s loading and timed pass) imports only what every version
since the first benchmark has had (`stackrules.check.check_paths`, `model.build`, the
`Evaluator` (from `stackrules.evaluation`, or `stackrules.evaluate` before it),
`records.read_records`, `report.dumps`), so old commits run unchanged.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def child(rules: str, records: str, tuned: bool, in_progress: int | None) -> dict[str, Any]:
    """Evaluate every learner of `records` with the engine on `sys.path`, as `bench_eval`
    times a pass (each report dumped at once and dropped)."""
    from bench_eval import Evaluator, _load, _read_all, _timed_pass

    evaluator = Evaluator(_load(Path(rules)))
    learners = _read_all(Path(records), {})
    if tuned:  # what `stackrules.tune_gc` does; older engines do not have it
        first, second, third = gc.get_threshold()
        gc.set_threshold(max(first, 10_000), second, third)
    _, cpu, dump, texts = _timed_pass(evaluator, learners, None, in_progress)
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.replace(rules, "<rules>").encode() + b"\n")
    n = len(learners)
    return {
        "learners": n,
        "evaluate_ms": cpu / n * 1e3,
        "dumps_ms": dump / n * 1e3,
        "digest": digest.hexdigest(),
    }


def _engine(spec: str) -> tuple[str, str, bool, int | None]:
    label, _, rest = spec.partition("=")
    if not label or not rest:
        raise SystemExit(f"--engine {spec!r}: expected LABEL=SRC or LABEL=SRC@OPTIONS")
    src, _, modes = rest.partition("@")
    tuned, k = False, None
    for mode in filter(None, modes.split("+")):
        if mode == "tuned":
            tuned = True
        elif mode[:1] == "k" and mode[1:].isdigit():
            k = int(mode[1:])
        else:
            raise SystemExit(f"--engine {spec!r}: the options after @ are `tuned` and `kN`")
    if not (Path(src) / "stackrules").is_dir():
        raise SystemExit(f"--engine {spec!r}: {src} holds no `stackrules` package")
    return label, str(Path(src).resolve()), tuned, k


def _start(
    src: str, rules: str, records: str, tuned: bool, k: int | None, core: int | None
) -> subprocess.Popen[str]:
    """One engine's child process (pinned to `core`, if given)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    command += [rules, records, "1" if tuned else "0", "all" if k is None else str(k)]
    env = {**os.environ, "PYTHONPATH": src}
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin
    )


def _result(label: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"engine {label} failed:\n{err.strip()}")
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", action="append", default=[], metavar="LABEL=SRC[@OPTIONS]")
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1500)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--unscoped",
        type=float,
        default=0.1,
        help="share of subject requirements that name no issuer (synth.make_catalog)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run the engines of a round at the same time, each on a core of its own",
    )
    parser.add_argument("--child", nargs=4, metavar=("RULES", "RECORDS", "TUNED", "K"))
    args = parser.parse_args(argv)
    if args.child:
        rules, records, tuned, k = args.child
        print(json.dumps(child(rules, records, tuned == "1", None if k == "all" else int(k))))
        return {}
    engines = [_engine(spec) for spec in args.engine]
    if not engines:
        raise SystemExit("give at least one --engine LABEL=SRC")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.side_by_side and len(engines) > len(cores):
        raise SystemExit(
            f"--side-by-side runs every engine on a core of its own: {len(engines)} engines, "
            f"{len(cores)} cores"
        )

    sys.path.insert(0, str(HERE))
    import synth

    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in engines}
    with tempfile.TemporaryDirectory(prefix="stackrules-compare-") as tmp:
        catalog = synth.make_catalog(
            args.credentials, args.lines, args.seed, unscoped=args.unscoped
        )
        rules = str(catalog.write(Path(tmp) / "rules"))
        learners = synth.make_learners(catalog, args.learners, seed=args.seed + 1)
        records = str(synth.write_jsonl(learners, Path(tmp) / "learners.jsonl"))
        for round_no in range(1, args.rounds + 1):
            if args.side_by_side:
                # every engine at once, engine k on core k + round (mod the cores): all meet
                # the same phase of the machine, and each core serves each engine in turn
                started = []
                for n, (label, src, tuned, k) in enumerate(engines):
                    core = cores[(n + round_no) % len(cores)]
                    started.append((label, _start(src, rules, records, tuned, k, core)))
                results = [(label, _result(label, process)) for label, process in started]
            else:
                results = [
                    (label, _result(label, _start(src, rules, records, tuned, k, None)))
                    for label, src, tuned, k in engines
                ]
            for label, result in results:
                runs[label].append(result)
                print(
                    f"round {round_no} {label}: evaluate {result['evaluate_ms']:.1f} ms, "
                    f"dumps {result['dumps_ms']:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    summary: dict[str, Any] = {}
    first_label = engines[0][0]
    for label, _, tuned, _ in engines:
        evaluate = statistics.median(r["evaluate_ms"] for r in runs[label])
        dumps = statistics.median(r["dumps_ms"] for r in runs[label])
        ratios = [
            (first["evaluate_ms"] + first["dumps_ms"]) / (mine["evaluate_ms"] + mine["dumps_ms"])
            for first, mine in zip(runs[first_label], runs[label], strict=True)
        ]
        summary[label] = {
            "collector": "tuned" if tuned else "default",
            "evaluate_ms": round(evaluate, 2),
            "dumps_ms": round(dumps, 2),
            "total_ms": round(evaluate + dumps, 2),
            "round_ratio": round(statistics.median(ratios), 3),
            "identical_to_first": runs[label][0]["digest"] == runs[first_label][0]["digest"],
        }
    base = summary[first_label]["total_ms"]
    how = "side by side" if args.side_by_side else "one after another"
    print(
        f"{args.learners} learners, {args.credentials} credentials, {how}, "
        f"medians of {args.rounds} rounds"
    )
    print(
        "| engine | collector | evaluate ms | dumps ms | both | speed-up | median of round "
        "ratios | same reports |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, row in summary.items():
        row["speedup"] = round(base / row["total_ms"], 2)
        print(
            f"| {label} | {row['collector']} | {row['evaluate_ms']:.1f} | {row['dumps_ms']:.1f} "
            f"| {row['total_ms']:.1f} | {row['speedup']:.2f}x | {row['round_ratio']:.3f}x | "
            f"{'yes' if row['identical_to_first'] else 'NO'} |"
        )
    out = {
        "learners": args.learners,
        "rounds": args.rounds,
        "side_by_side": args.side_by_side,
        "engines": summary,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
