"""Shared test data for the batch tests: sample learners as CSV rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def csv_rows(learners: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for learner in learners:
        for a in learner["achievements"]:
            row = {"learner": learner["learner"], "catalog_date": learner.get("catalog_date", "")}
            for key, value in a.items():
                if key == "tags":
                    value = ";".join(value)
                elif key == "competencies":
                    value = ";".join(f"{k}={v}" for k, v in value.items())
                row[key] = str(value)
            rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> str:
    names = ["learner", "catalog_date"]
    for row in rows:
        names.extend(k for k in row if k not in names)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)
