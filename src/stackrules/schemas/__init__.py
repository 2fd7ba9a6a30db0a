"""The JSON Schemas that ship with the package: learner record files, reports, diagnostics.

`load_schema("record")` / `load_schema("report")` / `load_schema("diagnostics")` give the
committed schema files; `generate()` gives what the pydantic models produce now.
`python -m stackrules.schemas` rewrites the committed files from the models, here and in the
repository's `docs/schemas/` when that folder exists (tests check that all three agree).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from stackrules.diagnostics import Diagnostic
from stackrules.records import LearnerRecord
from stackrules.report import Report

DRAFT = "https://json-schema.org/draft/2020-12/schema"
NAMES: tuple[str, ...] = ("record", "report", "diagnostics")
# The repository's published copies (absent from an installed package).
DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def _record_schema() -> dict[str, Any]:
    # Validation mode: the record schema describes what a record file may contain.
    learner = LearnerRecord.model_json_schema(by_alias=True, mode="validation")
    defs = learner.pop("$defs", {})
    defs["LearnerRecord"] = learner
    ref = {"$ref": "#/$defs/LearnerRecord"}
    return {
        "$schema": DRAFT,
        "title": "stackrules learner record file",
        "description": (
            "One learner object, or an array of learner objects. Record files may also hold "
            "Open Badges 3.0 and CLR 2.0 credentials (JSON or compact VC-JWT), which follow "
            "1EdTech's schemas and are read as described in docs/interop-ob3-clr.md."
        ),
        "oneOf": [ref, {"type": "array", "items": ref}],
        "$defs": dict(sorted(defs.items())),
    }


def _report_schema() -> dict[str, Any]:
    # Serialization mode: the report schema describes what the engine writes.
    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": DRAFT, **schema}


def _diagnostics_schema() -> dict[str, Any]:
    # What `stackrules check --format json` prints: an array of diagnostics.
    schema = TypeAdapter(list[Diagnostic]).json_schema(mode="serialization")
    return {
        "$schema": DRAFT,
        "title": "stackrules diagnostics",
        "description": "The diagnostics of a rule set, as `stackrules check --format json` prints.",
        **schema,
    }


def generate() -> dict[str, dict[str, Any]]:
    """Each schema as the models define it now, by name."""
    return {
        "record": _record_schema(),
        "report": _report_schema(),
        "diagnostics": _diagnostics_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    """A schema as its committed file holds it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    """The committed schema `name` (`record` or `report`)."""
    if name not in NAMES:
        known = ", ".join(f"`{n}`" for n in NAMES)
        raise ValueError(f"unknown schema `{name}` (expected {known})")
    text = resources.files(__name__).joinpath(file_name(name)).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write(folder: Path | None = None) -> list[Path]:
    """Write every schema file into `folder` (default: this package, and `docs/schemas/` of
    the repository when it exists); give the paths."""
    targets = [folder] if folder is not None else [Path(__file__).parent]
    if folder is None and DOCS.is_dir():
        targets.append(DOCS)
    written = []
    for target in targets:
        for name, schema in generate().items():
            path = target / file_name(name)
            path.write_text(render(schema), encoding="utf-8")
            written.append(path)
    return written
