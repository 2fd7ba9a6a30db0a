"""The Dask engine and API, on a real local cluster: same output and accounting as local."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stackrules
from stackrules.cli import cli

distributed = pytest.importorskip("distributed", reason="the `dask` extra is not installed")
dask_bag = pytest.importorskip("dask.bag")
dask_dataframe = pytest.importorskip("dask.dataframe")
pandas = pytest.importorskip("pandas")

from batchdata import csv_rows  # noqa: E402
from stackrules.batch.dask import evaluate_bag, evaluate_dataframe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules")
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text())
AS_OF = date(2026, 11, 22)
BAD = {"learner": "BAD", "achievements": [{"item": "X:1", "grade": "Z"}]}


# A bounded wait for every result: a cluster that stops answering fails the test, never hangs it.
RESULT_TIMEOUT = 180


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A fresh two-worker cluster per test, so one test's cluster trouble cannot reach another."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as running,
        distributed.Client(running) as client,
    ):
        client.wait_for_workers(2, timeout=RESULT_TIMEOUT)
        yield running


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_engine_dask_on_a_cluster_gives_the_local_output(cluster: Any, tmp_path: Path) -> None:
    objects = [*LEARNERS, BAD, *LEARNERS[:2]]
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(o) + "\n" for o in objects))
    outputs = {}
    for engine in (
        ["--engine", "local"],
        ["--engine", "dask", "--scheduler", cluster.scheduler_address],
    ):
        out, errors = tmp_path / f"{engine[1]}.out", tmp_path / f"{engine[1]}.err"
        code, _, err = run(
            "batch", "--rules", RULES, "--records", str(records), "--as-of", "2026-11-22",
            "--out", str(out), "--errors", str(errors), *engine,
        )  # fmt: skip
        assert code == 3
        assert "15 learners read, 12 reported, 3 in error" in err
        outputs[engine[1]] = (out.read_bytes(), errors.read_bytes())
    assert outputs["dask"] == outputs["local"]


def test_engine_dask_starts_a_local_cluster_by_default(tmp_path: Path) -> None:
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(o) + "\n" for o in LEARNERS[:3]))
    code, out, err = run(
        "batch", "--rules", RULES, "--records", str(records), "--as-of", "2026-11-22",
        "--engine", "dask", "--workers", "1", "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0].startswith("learner,credential,status,remaining_credits")
    assert "3 learners read, 3 reported, 0 in error" in err


def test_evaluate_bag_matches_evaluate(cluster: Any) -> None:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    with distributed.Client(cluster) as client:
        bag = dask_bag.from_sequence([*LEARNERS, BAD], npartitions=4)
        results = client.compute(evaluate_bag(bag, rules, AS_OF)).result(timeout=RESULT_TIMEOUT)
    assert [r["learner"] for r in results] == [x["learner"] for x in LEARNERS] + ["BAD"]
    assert results[-1]["errors"][0]["field"] == "achievements[0].grade"
    for raw, result in zip(LEARNERS, results, strict=False):
        record = stackrules.records.parse_record_obj(raw, file="x", aliases=rules.aliases)
        assert isinstance(record, stackrules.LearnerRecord)
        expected = stackrules.report.report_to_json(stackrules.evaluate(rules, record, AS_OF))
        assert json.loads(json.dumps(result["report"])) == json.loads(json.dumps(expected))


def test_evaluate_bag_with_a_time_limit_reports_learners_past_it(cluster: Any) -> None:
    """A limit no search can meet (a nanosecond): the learners whose evaluation needs a search
    are in error with the limit's message, on the workers; none is lost."""
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    with distributed.Client(cluster) as client:
        bag = dask_bag.from_sequence(LEARNERS, npartitions=2)
        limited = evaluate_bag(bag, rules, AS_OF, learner_timeout=1e-9)
        results = client.compute(limited).result(timeout=RESULT_TIMEOUT)
    assert [r["learner"] for r in results] == [x["learner"] for x in LEARNERS]
    stopped = [r for r in results if "errors" in r]
    assert stopped, "a nanosecond is enough for no search"
    for r in stopped:
        assert r["errors"][0]["message"].startswith("evaluation stopped after 1e-09 s")


def test_evaluate_dataframe_gives_the_csv_projection(cluster: Any, tmp_path: Path) -> None:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    rows = csv_rows([*LEARNERS, BAD])
    frame = pandas.DataFrame(rows).fillna("")
    with distributed.Client(cluster) as client:
        projection = evaluate_dataframe(
            dask_dataframe.from_pandas(frame, npartitions=3), rules, AS_OF
        )
        result = client.compute(projection).result(timeout=RESULT_TIMEOUT)
    _check_projection(result, tmp_path)


def test_evaluate_dataframe_on_the_threaded_scheduler(tmp_path: Path) -> None:
    """Dask's default for dataframes: the partitions run in threads of this process and share
    one evaluator (with a time limit, which each thread keeps for itself)."""
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    frame = pandas.DataFrame(csv_rows([*LEARNERS, BAD])).fillna("")
    projection = evaluate_dataframe(
        dask_dataframe.from_pandas(frame, npartitions=4), rules, AS_OF, learner_timeout=600
    )
    _check_projection(projection.compute(scheduler="threads", num_workers=4), tmp_path)


def _check_projection(result: Any, tmp_path: Path) -> None:
    """`result` is the projection of LEARNERS and BAD: the batch command's CSV rows for the
    learners, an error row for BAD."""
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(o) + "\n" for o in LEARNERS))
    _, expected_csv, _ = run(
        "batch", "--rules", RULES, "--records", str(records), "--as-of", "2026-11-22",
        "--format", "csv",
    )  # fmt: skip
    expected = sorted(expected_csv.splitlines()[1:])
    ok = result[result["status"] != "error"].drop(columns=["error"])
    got = sorted(",".join(_csv_cell(v) for v in row) for row in ok.itertuples(index=False))
    assert got == expected
    bad = result[result["status"] == "error"]
    assert list(bad["learner"]) == ["BAD"]
    assert "field `grade`" in bad["error"].iloc[0]


def _csv_cell(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if "," in text else text
