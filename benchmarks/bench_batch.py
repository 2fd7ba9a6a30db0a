"""Batch benchmark: throughput with 1 and 2 workers, the cost of merely reading the input, the
start-up of the worker pool, and peak memory as the input grows.

A synthetic catalog (`synth.py`, default 1,000 credentials and 1,500 transfer lines) and
learner records of 8-40 achievements, written outside the timed regions. Measured, with
medians of `--runs`:

- throughput: `stackrules.batch.run_file` (what `stackrules batch` runs) on `--learners`
  learners from JSON Lines to a JSON Lines file, for each worker count in `--workers`; the
  rules are loaded once beforehand (their cost is printed separately; with the parse cache
  warm after the first use), each run gets a fresh evaluator (no allocation problems
  remembered from an earlier run), pool start-up
  (forking the workers, which inherit the compiled rules) is inside the timed region and
  also reported on its own;
- parse: the same run with `validate_only` (read, decode and validate every learner, no
  evaluation) — the "time to merely parse the same input" the batch is compared with;
- memory: `stackrules batch --validate-only` as a separate process on `--memory-learners`
  learners (JSON Lines and CSV with every learner's rows scattered over the file), its peak
  memory summed over the process and its workers (sampled every 50 ms with psutil): resident
  size (`peak_mb`, which counts the pages the forked workers share with the parent once per
  process) and proportional size (`pss_mb`, which counts each page once),
  and the same for a full evaluation of `--learners` and 4x `--learners` learners. Large inputs
  repeat a pool of distinct generated records under new learner identifiers, so that writing
  a million learners takes seconds, not an hour.

Goals (issue 4): at least 10,000 learners/s on 2 cores; peak memory under 500 MB whatever the
input size; batch time within 10x of parsing the input.

    python benchmarks/bench_batch.py                                   # defaults
    python benchmarks/bench_batch.py --learners 300 --memory-learners 100000,1000000 --json b.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stackrules
import synth
from stackrules.batch import run_file
from stackrules.batch.source import Source, open_source
from stackrules.batch.work import Job
from stackrules.evaluation.evaluator import Evaluator


def write_learners(
    pool: list[dict[str, Any]], count: int, folder: Path, shuffle_csv: bool
) -> tuple[Path, Path]:
    """`count` learners as JSON Lines and CSV, reusing `pool`'s records under new names."""
    jsonl, csv_path = folder / f"learners-{count}.jsonl", folder / f"learners-{count}.csv"
    with jsonl.open("w", encoding="utf-8") as out:
        for k in range(count):
            record = {**pool[k % len(pool)], "learner": f"L{k:08d}"}
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    columns = ["learner", "item", "grade", "credits", "completed_on", "status"]
    with csv_path.open("w", encoding="utf-8") as out:
        out.write(",".join([*columns, "catalog_date"]) + "\n")
        block: list[str] = []
        rng = random.Random(count)
        for k in range(count):
            record = pool[k % len(pool)]
            for a in record["achievements"]:
                cells = [f"L{k:08d}", *(str(a.get(c, "")) for c in columns[1:])]
                cells.append(record.get("catalog_date", ""))
                block.append(",".join(cells) + "\n")
            if len(block) >= 200_000 or k == count - 1:
                if shuffle_csv:  # learners' rows scattered within blocks of 200k rows
                    rng.shuffle(block)
                out.writelines(block)
                block = []
    return jsonl, csv_path


# How often the memory of a measured batch is sampled. Reading a process's proportional size
# makes the kernel walk its pages: every 50 ms, for a batch and its two workers, that took
# about a sixth of a 2-core machine (30,000 learners: 104.6 s sampled, 87.2 s not); every
# 500 ms, 79.7 s with the same peaks (526 MB resident, 444 proportional): a batch's memory
# climbs over seconds, not milliseconds.
SAMPLE_SECONDS = 0.5


class PeakMemory:
    """Peak memory of a process and its children, sampled every `SAMPLE_SECONDS`: the sum of their
    resident sizes (`rss`: a page the forked workers share with the parent, the compiled
    rules above all, counts once per process) and of their proportional sizes (`pss`, where
    Linux gives it: a shared page counts once in all, split between the processes sharing it,
    the memory the run takes from the machine)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = pss = 0
            try:
                for process in [self.process, *self.process.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        info = process.memory_full_info()
                        total += info.rss
                        pss += getattr(info, "pss", info.rss)
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(SAMPLE_SECONDS)

    def stop(self) -> tuple[int, int]:
        """The peaks: summed resident size, summed proportional size (bytes)."""
        self._stop.set()
        self._thread.join()
        return self.peak, self.peak_pss


def measure_process(args: list[str]) -> tuple[float, tuple[int, int], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    begin = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = PeakMemory(process.pid)
    _, err = process.communicate()
    peak = sampler.stop()
    return time.perf_counter() - begin, peak, err.decode().strip().splitlines()[-1]


def timed_run(job: Job, source: Source, rules: list[str], out: Path, workers: int) -> Any:
    return run_file(job, source, rule_paths=rules, out=str(out), workers=workers)


def _memory_entry(seconds: float, peak: tuple[int, int]) -> dict[str, Any]:
    return {"seconds": round(seconds, 1), "peak_mb": peak[0] // 2**20, "pss_mb": peak[1] // 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1500)
    parser.add_argument("--learners", type=int, default=400, help="learners per timed run")
    parser.add_argument("--distinct", type=int, default=2000, help="distinct generated records")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-learners", default="100000,1000000")
    parser.add_argument("--memory-formats", default="jsonl,csv")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument(
        "--evaluate-learners",
        default="",
        help="learner counts of the full evaluations as a separate process (default: "
        "--learners and 4x --learners)",
    )
    parser.add_argument(
        "--evaluate-formats",
        default="jsonl",
        help="their input formats (csv: every learner's rows scattered, as for --validate-only)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    stackrules.tune_gc()  # as the command line does (the timed runs are in this process)
    results: dict[str, Any] = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        catalog = synth.make_catalog(args.credentials, args.lines, seed=1)
        catalog.write(folder / "rules")
        rule_paths = [str(folder / "rules")]
        distinct = max(args.distinct, args.learners)
        pool = [synth.record_json(r) for r in synth.make_learners(catalog, distinct, seed=2)]
        begin = time.perf_counter()
        compiled, _ = stackrules.load_rules(rule_paths)
        results["load_rules_seconds"] = round(time.perf_counter() - begin, 2)
        assert compiled is not None
        print(f"rules: {args.credentials} credentials, loaded in {results['load_rules_seconds']} s")
        sample = folder / "sample.jsonl"
        with sample.open("w") as out:
            for record in pool[: args.learners]:
                out.write(json.dumps(record) + "\n")
        as_of = date(2026, 6, 30)
        throughput: dict[str, Any] = {}
        worker_counts = [] if args.no_throughput else [int(w) for w in args.workers.split(",")]
        for workers in worker_counts:
            evaluate_times, parse_times, startups = [], [], []
            for _ in range(args.runs):
                for validate, times in ((False, evaluate_times), (True, parse_times)):
                    # A fresh evaluator each run: the engine remembers solved allocation
                    # problems across learners, and a run must not start with the last one's.
                    fresh = stackrules.CompiledRules(compiled.model, Evaluator(compiled.model))
                    job = Job(rules=fresh, as_of=as_of, file=str(sample), validate_only=validate)
                    source = open_source(str(sample))
                    assert isinstance(source, Source)
                    begin = time.perf_counter()
                    summary = timed_run(job, source, rule_paths, folder / "out.jsonl", workers)
                    times.append(time.perf_counter() - begin)
                    assert summary.read == args.learners
                    if not validate:
                        startups.append(summary.startup_seconds)
            ev, pa = statistics.median(evaluate_times), statistics.median(parse_times)
            throughput[str(workers)] = {
                "learners": args.learners,
                "batch_seconds": round(ev, 3),
                "learners_per_second": round(args.learners / ev, 1),
                "parse_seconds": round(pa, 3),
                "parse_learners_per_second": round(args.learners / pa, 1),
                "batch_to_parse_ratio": round(ev / pa, 1),
                "pool_startup_seconds": round(statistics.median(startups), 3),
            }
            print(f"workers={workers}: {json.dumps(throughput[str(workers)])}")
        results["throughput"] = throughput
        base = throughput.get("1", {}).get("learners_per_second")
        two = throughput.get("2", {}).get("learners_per_second")
        if base and two:
            results["speedup_2_workers"] = round(two / base, 2)
            print(f"2 workers / 1 worker: {results['speedup_2_workers']}x")

        memory: dict[str, Any] = {}
        exe = [sys.executable, "-m", "stackrules", "batch", "--rules", *rule_paths]
        exe += ["--as-of", "2026-06-30", "--workers", "2", "--out", os.devnull]
        memory_counts = [int(n) for n in args.memory_learners.split(",") if n]
        memory_formats = args.memory_formats.split(",")
        for count in memory_counts:
            jsonl, csv_path = write_learners(pool, count, folder, shuffle_csv=True)
            for kind, path in (("jsonl", jsonl), ("csv", csv_path)):
                if kind not in memory_formats:
                    continue
                extra: list[str] = []
                seconds, peak, last = measure_process(
                    [*exe, "--records", str(path), "--validate-only", *extra]
                )
                key = f"validate {kind} {count}"
                memory[key] = _memory_entry(seconds, peak)
                print(f"{key}: {memory[key]} ({last})")
            jsonl.unlink()
            csv_path.unlink()
        counts = [int(n) for n in args.evaluate_learners.split(",") if n] or [
            args.learners,
            4 * args.learners,
        ]
        formats = args.evaluate_formats.split(",")
        for count in counts:
            jsonl, csv_path = write_learners(pool, count, folder, shuffle_csv="csv" in formats)
            for kind, path in (("jsonl", jsonl), ("csv", csv_path)):
                if kind not in formats:
                    continue
                # with counts given, each beside `--validate-only` on the same file
                for validate in (True, False) if args.evaluate_learners else (False,):
                    if validate and count in memory_counts and kind in memory_formats:
                        continue  # measured above
                    flags = ["--validate-only"] if validate else []
                    seconds, peak, last = measure_process([*exe, "--records", str(path), *flags])
                    key = f"{'validate' if validate else 'evaluate'} {kind} {count}"
                    memory[key] = _memory_entry(seconds, peak)
                    memory[key]["learners_per_second"] = round(count / seconds, 1)
                    print(f"{key}: {memory[key]} ({last})")
        results["memory"] = memory
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
