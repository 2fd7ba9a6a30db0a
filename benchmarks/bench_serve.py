"""The HTTP API under load: `POST /v1/evaluate` latency and throughput.

Starts `stackrules serve` as its own process (1 and 2 workers) on a free local port, for the
sample rules (`rules/`, the learners of `examples/learners.json`) and for a synthetic catalog
(`synth.make_catalog`, 1,000 credentials by default, and its generated learners). Each
server is warmed with every learner, then, for each level of concurrency (1, 10, 50 clients:
threads, each with its own keep-alive connection), the learners are posted round-robin and
each request's latency is timed from the client. Reported per level: p50 and p95 latency (ms)
and throughput (requests/s), the median of `--runs` passes. Every answer must be 200: a
failed request stops the benchmark.

    python benchmarks/bench_serve.py                    # the full run (a few minutes)
    python benchmarks/bench_serve.py --quick            # a tiny catalog, for the smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_AS_OF = "2026-11-22"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(rules: Path, workers: int) -> Iterator[str]:
    """A running `stackrules serve` (its own process group), and its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "stackrules", "serve", "--rules", str(rules)]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def load(url: str, bodies: list[bytes], clients: int, requests: int) -> dict[str, float]:
    """`requests` POSTs over `clients` threads; latency percentiles and throughput."""
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []
    share = [requests // clients + (1 if k < requests % clients else 0) for k in range(clients)]

    def client(k: int) -> None:
        mine: list[float] = []
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=url, timeout=120, headers=headers) as http:
            for j in range(share[k]):
                body = bodies[(k * 7919 + j) % len(bodies)]
                start = time.perf_counter()
                answer = http.post("/v1/evaluate", content=body)
                mine.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"a request failed: {failures[0]}")
    return {
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
        "throughput_rps": len(latencies) / wall,
    }


def bench(
    name: str,
    rules: Path,
    bodies: list[bytes],
    workers: list[int],
    levels: list[int],
    requests: int,
    runs: int,
) -> list[dict[str, Any]]:
    results = []
    for w in workers:
        with server(rules, w) as url:
            for _ in range(2 * w):  # every worker sees every learner once, roughly
                load(url, bodies, min(len(bodies), 4), len(bodies))
            for clients in levels:
                passes = [load(url, bodies, clients, max(requests, clients)) for _ in range(runs)]
                row = {
                    "rules": name,
                    "workers": w,
                    "clients": clients,
                    **{k: statistics.median(p[k] for p in passes) for k in passes[0]},
                }
                results.append(row)
                print(
                    f"{name:<22} workers {w}  clients {clients:>3}  "
                    f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
                    f"{row['throughput_rps']:7.1f} req/s",
                    flush=True,
                )
    return results


def _body(record: Any, as_of: str) -> bytes:
    return json.dumps({"record": record, "as_of": as_of}).encode()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="stackrules serve benchmark")
    parser.add_argument("--credentials", type=int, default=1000, help="synthetic catalog size")
    parser.add_argument("--lines", type=int, default=1500, help="synthetic transfer lines")
    parser.add_argument("--learners", type=int, default=200, help="synthetic learners")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--clients", default="1,10,50", help="concurrency levels")
    parser.add_argument("--requests", type=int, default=400, help="requests per level and pass")
    parser.add_argument("--runs", type=int, default=3, help="passes per level (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.credentials, args.lines, args.learners = 20, 40, 6
        args.requests, args.runs, args.workers, args.clients = 12, 1, "1", "1,4"
    workers = [int(w) for w in args.workers.split(",")]
    levels = [int(c) for c in args.clients.split(",")]
    sample = json.loads((ROOT / "examples" / "learners.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "results": bench(
            "sample rules",
            ROOT / "rules",
            [_body(r, SAMPLE_AS_OF) for r in sample],
            workers,
            levels,
            args.requests,
            args.runs,
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        catalog = synth.make_catalog(args.credentials, args.lines, seed=args.seed)
        folder = catalog.write(Path(tmp) / "rules")
        learners = list(synth.make_learners(catalog, args.learners, seed=args.seed + 1))
        bodies = [_body(synth.record_json(r), synth.AS_OF.isoformat()) for r in learners]
        label = f"synthetic {args.credentials}"
        out["results"] += bench(label, folder, bodies, workers, levels, args.requests, args.runs)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
