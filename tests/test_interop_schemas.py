"""The published schemas: the copies in docs/schemas/ are what the package generates, and the
diagnostics schema is true of what `check --format json` prints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from stackrules import schemas
from stackrules.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


@pytest.mark.parametrize("name", schemas.NAMES)
def test_docs_copies_equal_what_the_package_generates(name: str) -> None:
    """If this fails, run `python -m stackrules.schemas` and commit the result."""
    published = (DOCS / schemas.file_name(name)).read_text(encoding="utf-8")
    assert published == schemas.render(schemas.generate()[name])
    assert json.loads(published) == schemas.load_schema(name)


def test_diagnostics_schema_describes_check_output(tmp_path: Path) -> None:
    broken = tmp_path / "broken.stack"
    broken.write_text("issuer A\ncredential A:C {\n  core: B:X\n}\ncourse A:Y credits\n")
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(broken)])
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    assert printed and {d["severity"] for d in printed} == {"error"}
    schema = schemas.load_schema("diagnostics")
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(printed, schema)
    assert not jsonschema.Draft202012Validator(schema).is_valid([{"code": "SR101"}])


def test_report_schema_is_versioned_and_lists_provenance() -> None:
    report = schemas.load_schema("report")
    assert report["properties"]["schema"]["default"] == "stackrules/report/v2"
    provenance = report["$defs"]["Provenance"]
    assert provenance["properties"]["verification"]["const"] == "unverified"
    assert "provenance" in report["required"]
