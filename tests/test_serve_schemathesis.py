"""Property tests of the API from its own OpenAPI document (schemathesis): whatever a request
that fits the schema holds, the answer is never a server error, and no request reaches the
internal-error guard. Bounded and deterministic: a few examples per operation, derandomized.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from stackrules.serve.app import create_app
from stackrules.serve.state import RuleHolder

ROOT = Path(__file__).resolve().parents[1]

APP = create_app(RuleHolder.load([str(ROOT / "rules")]), time_limit=5)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_is_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
    assert APP.state.tally.failures == 0


def test_the_schema_covers_the_api() -> None:
    paths = TestClient(APP).get("/openapi.json").json()["paths"]
    assert "/v1/evaluate" in paths and "/v1/admin/reload" in paths
