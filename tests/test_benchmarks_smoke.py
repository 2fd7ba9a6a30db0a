"""The benchmark scripts run, at a tiny size, so they never rot.

Behaviour only, never wall-clock times: the generated rule set checks without errors, the
generator is deterministic, records round-trip through JSON Lines and CSV, and naive and
indexed evaluation give identical reports.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_eval  # noqa: E402
import bench_parse  # noqa: E402
import synth  # noqa: E402
from stackrules import load_records  # noqa: E402
from stackrules.check import check_paths  # noqa: E402
from stackrules.diagnostics import has_errors  # noqa: E402
from stackrules.evaluation.evaluator import Evaluator  # noqa: E402
from stackrules.model import build  # noqa: E402
from stackrules.report import dumps  # noqa: E402


@pytest.fixture(scope="module")
def catalog() -> synth.Catalog:
    return synth.make_catalog(40, 120, seed=3)


def test_catalog_is_deterministic_and_sized(catalog: synth.Catalog) -> None:
    again = synth.make_catalog(40, 120, seed=3)
    assert again.text == catalog.text
    assert synth.make_catalog(40, 120, seed=4).text != catalog.text
    assert catalog.stats["credentials"] == 40
    assert catalog.stats["transfer_lines"] == 120


def test_generated_rules_check_without_errors(catalog: synth.Catalog, tmp_path: Path) -> None:
    syntax, diagnostics = check_paths([catalog.write(tmp_path / "rules")])
    assert not has_errors(diagnostics), [str(d) for d in diagnostics if d.severity == "error"]
    model = build(syntax)
    assert len(model.credentials) == 40


def test_naive_and_indexed_reports_are_identical(catalog: synth.Catalog, tmp_path: Path) -> None:
    syntax, _ = check_paths([catalog.write(tmp_path / "rules")])
    model = build(syntax)
    learners = list(synth.make_learners(catalog, 12, seed=5))
    assert all(len(r.achievements) >= 8 for r in learners)
    indexed, naive = Evaluator(model), Evaluator(model, use_index=False)
    for record in learners:
        assert dumps(indexed.evaluate(record, synth.AS_OF)) == dumps(
            naive.evaluate(record, synth.AS_OF)
        )


def test_records_round_trip(catalog: synth.Catalog, tmp_path: Path) -> None:
    learners = list(synth.make_learners(catalog, 6, seed=5))
    assert learners == list(synth.make_learners(catalog, 6, seed=5))
    for path in (
        synth.write_jsonl(learners, tmp_path / "l.jsonl"),
        synth.write_csv(learners, tmp_path / "l.csv"),
    ):
        read, errors = load_records(path)
        assert not errors
        assert [r.learner for r in read] == [r.learner for r in learners]
        assert [len(r.achievements) for r in read] == [len(r.achievements) for r in learners]
        assert [r.catalog_date for r in read] == [r.catalog_date for r in learners]


def test_bench_parse_main(tmp_path: Path) -> None:
    out = bench_parse.main(["--sizes", "20", "--runs", "1", "--json", str(tmp_path / "p.json")])
    (result,) = out["results"]
    assert result["errors"] == 0
    assert result["credentials"] == 20
    assert (tmp_path / "p.json").exists()


def test_bench_eval_main(tmp_path: Path) -> None:
    out = bench_eval.main(
        [
            "--credentials", "20", "--lines", "40", "--factor", "2", "--learners", "4",
            "--naive-learners", "3", "--runs", "1", "--profile", "2",
            "--json", str(tmp_path / "e.json"),
        ]
    )  # fmt: skip
    assert [r["stats"]["credentials"] for r in out["results"]] == [20, 40]
    for r in out["results"]:
        assert r["learners_evaluated"] == 4
        assert r["naive_learners"] == 3
        assert r["naive_identical"] is True
    assert "cumulative" in out["profile"]


def test_bench_batch_main(tmp_path: Path) -> None:
    """Throughput with 1 and 2 workers against merely reading, and peak memory of the command
    line as a separate process: resident size summed over the processes, and proportional
    size (each shared page once), never more than the resident sum."""
    import bench_batch

    path = tmp_path / "b.json"
    code = bench_batch.main(
        [
            "--credentials", "20", "--lines", "40", "--learners", "6", "--distinct", "6",
            "--runs", "1", "--memory-learners", "30", "--memory-formats", "jsonl",
            "--json", str(path),
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(path.read_text())
    assert set(out["throughput"]) == {"1", "2"}
    assert all(run["learners"] == 6 for run in out["throughput"].values())
    memory = out["memory"]
    assert set(memory) == {"validate jsonl 30", "evaluate jsonl 6", "evaluate jsonl 24"}
    assert all(0 < m["pss_mb"] <= m["peak_mb"] for m in memory.values())


def test_bench_batch_evaluates_both_formats_beside_validate_only(tmp_path: Path) -> None:
    """`--evaluate-learners` and `--evaluate-formats`: a full evaluation of each format at each
    count, each beside `--validate-only` on the same file (unless the memory runs had it)."""
    import bench_batch

    path = tmp_path / "b.json"
    code = bench_batch.main(
        [
            "--credentials", "20", "--lines", "40", "--learners", "6", "--distinct", "6",
            "--no-throughput", "--memory-learners", "12", "--memory-formats", "jsonl",
            "--evaluate-learners", "12", "--evaluate-formats", "jsonl,csv",
            "--json", str(path),
        ]
    )  # fmt: skip
    assert code == 0
    memory = json.loads(path.read_text())["memory"]
    assert set(memory) == {
        "validate jsonl 12", "evaluate jsonl 12", "validate csv 12", "evaluate csv 12",
    }  # fmt: skip
    assert all(m["learners_per_second"] > 0 for k, m in memory.items() if k != "validate jsonl 12")


def test_bench_compare_runs_engines_on_the_same_data(tmp_path: Path) -> None:
    """Two labels for the installed engine: both run in their own process on the same
    learners, and their reports are byte-identical."""
    import bench_compare
    import stackrules

    src = str(Path(stackrules.__file__).resolve().parent.parent)
    out = bench_compare.main(
        [
            "--engine", f"a={src}", "--engine", f"b={src}@tuned",
            "--credentials", "40", "--lines", "120", "--learners", "6", "--rounds", "1",
            "--json", str(tmp_path / "compare.json"),
        ]
    )  # fmt: skip
    engines = out["engines"]
    assert [engines[k]["collector"] for k in ("a", "b")] == ["default", "tuned"]
    assert engines["a"]["identical_to_first"] and engines["b"]["identical_to_first"]
    assert all(engines[k]["evaluate_ms"] > 0 for k in ("a", "b"))
    with pytest.raises(SystemExit, match="holds no `stackrules` package"):
        bench_compare.main(["--engine", f"x={tmp_path}"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    if cores >= 2:  # side by side: both at once, one core each
        out = bench_compare.main(
            [
                "--engine", f"a={src}", "--engine", f"b={src}@tuned", "--side-by-side",
                "--credentials", "40", "--lines", "120", "--learners", "6", "--rounds", "2",
            ]
        )  # fmt: skip
        assert out["side_by_side"] and out["engines"]["b"]["identical_to_first"]
        assert out["engines"]["a"]["round_ratio"] == 1.0
    with pytest.raises(SystemExit, match="a core of its own"):
        engines = [f"--engine=e{k}={src}" for k in range(cores + 1)]
        bench_compare.main([*engines, "--side-by-side"])


def test_bench_serve_quick(tmp_path: Path) -> None:
    """A real server for the sample rules and a tiny synthetic catalog: every request
    answered 200 (the benchmark stops otherwise), a row per rule set and concurrency."""
    import bench_serve

    out = bench_serve.main(["--quick", "--json", str(tmp_path / "s.json")])
    rows = out["results"]
    assert [(r["rules"], r["clients"]) for r in rows] == [
        ("sample rules", 1), ("sample rules", 4), ("synthetic 20", 1), ("synthetic 20", 4),
    ]  # fmt: skip
    assert all(0 < r["p50_ms"] <= r["p95_ms"] and r["throughput_rps"] > 0 for r in rows)
    assert json.loads((tmp_path / "s.json").read_text())["results"] == rows
