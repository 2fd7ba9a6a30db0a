"""`stackrules serve`: the JSON API against a real server process (a free local port), and in
process where a fake client address, a slow clock or another setting is needed.

What it shows: every sample learner's report from the API equals `stackrules evaluate`'s
(JSON and text, with and without the registrar exceptions); Open Badges 3.0 / CLR 2.0
documents and VC-JWTs are read as the record readers read them; each error class is a problem
detail with the command line's messages; a reload swaps rules with no failed request, and a
rule set with errors never replaces a good one (`test_serve_workers.py`: with several workers);
reload only from this machine; an address in use is a usage error; CORS is off unless asked
for; plans and the nearest credentials, like evaluations, stop at the time limit.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from serveproc import NEW_CREDENTIAL, PROBLEM, Server, problem
from stackrules.cli import cli
from stackrules.evaluation import allocation
from stackrules.serve import state
from stackrules.serve.app import create_app
from stackrules.serve.state import RuleHolder

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "interop"
INTEROP = ROOT / "tests" / "data" / "interop"
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text())
AS_OF = "2026-11-22"


@pytest.fixture(scope="module")
def rules_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of rules/ that the reload tests may break and mend."""
    folder = tmp_path_factory.mktemp("serve") / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


@pytest.fixture(scope="module")
def server(rules_copy: Path) -> Iterator[Server]:
    running = Server(rules_copy, rules_copy.parent / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def holder() -> RuleHolder:
    return RuleHolder.load([str(ROOT / "rules")])


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _exception_rows() -> dict[str, list[dict[str, Any]]]:
    """`examples/exceptions.csv` as the API takes it: one object per row, as the exceptions
    file reader reads a row (empty cells left out, `from` split on `;`, numbers as numbers)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with open(ROOT / "examples" / "exceptions.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            obj: dict[str, Any] = {}
            for name, value in row.items():
                value = value.strip()
                if not value or name == "learner":
                    continue
                if name == "from":
                    obj[name] = [v.strip() for v in value.split(";")]
                elif name in ("amount", "credits", "hours", "level"):
                    obj[name] = float(value)
                else:
                    obj[name] = value
            rows.setdefault(row["learner"], []).append(obj)
    return rows


# ---------------------------------------------------------------- the same answers as the CLI


def test_every_sample_learner_gets_the_reports_evaluate_prints(server: Server) -> None:
    rules = server.rules
    command = ["evaluate", "--rules", rules, "examples/learners.json", "--as-of", AS_OF]
    plain = json.loads(_cli(*command))
    with_exceptions = json.loads(_cli(*command, "--exceptions", "examples/exceptions.csv"))
    rows = _exception_rows()
    assert rows, "the sample exceptions are empty"
    assert len(plain) == len(LEARNERS) == len(with_exceptions)
    for record, expected, expected_exc in zip(LEARNERS, plain, with_exceptions, strict=True):
        answer = server.client.post("/v1/evaluate", json={"record": record, "as_of": AS_OF})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == expected
        exceptions = rows.get(record["learner"], [])
        answer = server.client.post(
            "/v1/evaluate", json={"record": record, "as_of": AS_OF, "exceptions": exceptions}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected_exc
    # the exceptions made a difference somewhere, so the comparison above tested something
    assert plain != with_exceptions


def test_the_text_audit_is_what_evaluate_prints(server: Server) -> None:
    rules = server.rules
    expected = _cli(
        "evaluate", "--rules", rules, "examples/learners.json", "--as-of", AS_OF,
        "--format", "text", "--target", "UVIC:BA", "--in-progress", "all",
    )  # fmt: skip
    texts = []
    for record in LEARNERS:
        answer = server.client.post(
            "/v1/evaluate",
            json={
                "record": record, "as_of": AS_OF, "format": "text",
                "targets": ["UVIC:BA"], "in_progress": "all",
            },
        )  # fmt: skip
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        texts.append(answer.text)
    assert "".join(texts) == expected


def test_plan_and_nearest_are_what_the_commands_print(server: Server) -> None:
    record = next(r for r in LEARNERS if r["learner"] == "L-1011")
    common = ["--rules", server.rules, "examples/learners.json", "--as-of", AS_OF]
    common += ["--learner", "L-1011", "--format", "json"]
    expected = json.loads(_cli("plan", *common, "--target", "DSGN:DIGITAL", "--per-term", "3"))
    answer = server.client.post(
        "/v1/plan",
        json={"record": record, "as_of": AS_OF, "targets": ["DSGN:DIGITAL"], "per_term": 3},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected and expected["status"] == "planned"
    expected = json.loads(_cli("nearest", *common, "--top", "3"))
    answer = server.client.post("/v1/nearest", json={"record": record, "as_of": AS_OF, "top": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
    assert len(expected["credentials"]) == 3


def test_open_badges_and_clr_documents_and_vc_jwts_are_records(holder: RuleHolder) -> None:
    """Each document of the interop data, as a JSON object or a compact VC-JWT string, gives
    the report `evaluate` gives for the same file (rules: the interop test rules)."""
    badges = RuleHolder.load([str(INTEROP / "badges.stack")])
    client = TestClient(create_app(badges))
    records = INTEROP / "records"
    files = sorted(records.glob("*.json")) + sorted(records.glob("*.jwt"))
    files += [SHARED / "ob3" / n for n in ("basicOpenBadgeCredential.json", "fullOpenBadge.json")]
    files += [SHARED / "clr" / "clr-signed-example.json"]
    tried = 0
    for path in files:
        text = path.read_text(encoding="utf-8").strip()
        if path.suffix == ".jwt":
            if "\n" in text:
                continue
            value: Any = text
        else:
            value = json.loads(text)
            if not isinstance(value, dict) or "learner" in value:
                continue
        result = CliRunner().invoke(
            cli, ["evaluate", "--rules", str(INTEROP / "badges.stack"), str(path), "--as-of", AS_OF]
        )
        answer = client.post("/v1/evaluate", json={"record": value, "as_of": AS_OF})
        if result.exit_code == 0:
            assert answer.status_code == 200, (path, answer.text)
            expected = json.loads(result.stdout)
            # provenance names where the credential was read: a file there, the request here
            assert expected["provenance"] and all(
                p["file"] == str(path) for p in expected["provenance"]
            )
            for p in expected["provenance"]:
                p["file"] = "record"
            assert answer.json() == expected, path
            tried += 1
        else:
            assert result.exit_code == 3, (path, result.output)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            messages = [e["message"] for e in answer.json()["errors"]]
            assert all(m in result.output for m in messages), (path, messages)
    assert tried >= 3


# ---------------------------------------------------------------- errors


def test_a_bad_record_is_422_with_the_field_and_a_did_you_mean(server: Server) -> None:
    record = {
        "learner": "L-9",
        "achievements": [{"item": "UFV:DM101", "grade": "B+", "complted_on": "2024-01-01"}],
        "pursuing": ["UFV:DIGMKTT"],
    }
    body = problem(server.client.post("/v1/evaluate", json={"record": record}), 422)
    assert body["errors"] == [
        {
            "code": "record",
            "learner": "L-9",
            "field": "achievements[0].complted_on",
            "message": "unknown field `complted_on` (did you mean `completed_on`?)",
            "did_you_mean": "completed_on",
        }
    ]
    del record["achievements"][0]["complted_on"]  # type: ignore[attr-defined]
    body = problem(server.client.post("/v1/evaluate", json={"record": record}), 422)
    (error,) = body["errors"]
    assert error["field"] == "pursuing[0]" and error["did_you_mean"] == "UFV:DIGMKT"


def test_an_unknown_target_is_a_usage_problem(server: Server) -> None:
    answer = server.client.post(
        "/v1/evaluate", json={"record": LEARNERS[0], "targets": ["UVIC:BAA"]}
    )
    (error,) = problem(answer, 422)["errors"]
    assert error["code"] == "usage" and error["field"] == "targets[0]"
    assert error["did_you_mean"] == "UVIC:BA"


def test_a_body_that_is_not_json_is_400(server: Server) -> None:
    for body in (b'{"record": ', b"[1, 2]", b"\xff\xfe", b'{"record": {}, "record": {}}'):
        problem(server.client.post("/v1/evaluate", content=body), 400)


def test_a_request_that_is_not_the_api_s_is_422_with_each_field(server: Server) -> None:
    answer = server.client.post(
        "/v1/evaluate",
        json={"record": 5, "as_of": "2026-02-30", "in_progress": -1, "targts": []},
    )
    body = problem(answer, 422)
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"record", "as_of", "in_progress", "targts"}
    assert fields["targts"]["did_you_mean"] == "targets"
    assert all(e["code"] == "request" for e in body["errors"])


def test_unknown_identifiers_are_404_with_a_did_you_mean(server: Server) -> None:
    body = problem(server.client.get("/v1/where/CAMOSUN:MATH1000"), 404)
    assert body["errors"][0]["did_you_mean"] == "CAMOSUN:MATH100"
    body = problem(server.client.get("/v1/credentials/UFV:DIGMKTT"), 404)
    assert body["errors"][0]["did_you_mean"] == "UFV:DIGMKT"
    problem(server.client.get("/v1/graph", params={"credential": "NOPE:X"}), 404)
    problem(server.client.get("/v1/nothing-here"), 404)


def test_a_body_over_the_limit_is_413(server: Server) -> None:
    record = {"learner": "L-1", "achievements": [], "pad": "x" * (1024 * 1024)}
    problem(server.client.post("/v1/evaluate", json={"record": record}), 413)
    # the server goes on answering
    assert server.client.get("/healthz").status_code == 200


def test_a_learner_past_the_time_limit_is_504(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh rule set (nothing remembered from other learners' searches), and a clock
    # that is always past any deadline: the first search stops
    client = TestClient(create_app(RuleHolder.load([str(ROOT / "rules")]), time_limit=2))
    ticks = itertools.count(0, 1000)  # every look at the clock is 1000 s later
    monkeypatch.setattr(allocation, "_clock", lambda: float(next(ticks)))
    body = problem(client.post("/v1/evaluate", json={"record": LEARNERS[2], "as_of": AS_OF}), 504)
    assert "2 s" in body["detail"]
    monkeypatch.undo()
    answer = client.post("/v1/evaluate", json={"record": LEARNERS[2], "as_of": AS_OF})
    assert answer.status_code == 200


def test_a_plan_or_nearest_past_the_time_limit_is_504(monkeypatch: pytest.MonkeyPatch) -> None:
    # the planner's own evaluations and its integer programs run under the server's limit
    # (which the plan, some 4 s, is well within but for the clock 1000 s later at each look)
    client = TestClient(create_app(RuleHolder.load([str(ROOT / "rules")]), time_limit=60))
    ticks = itertools.count(0, 1000)
    monkeypatch.setattr(allocation, "_clock", lambda: float(next(ticks)))
    asked = {"record": LEARNERS[2], "as_of": AS_OF, "targets": ["UVIC:BA"]}
    body = problem(client.post("/v1/plan", json=asked), 504)
    assert body["detail"] == "the learner's plan took longer than the server's limit of 60 s"
    body = problem(client.post("/v1/nearest", json={**asked, "top": 2}), 504)
    assert "nearest credentials took longer than the server's limit of 60 s" in body["detail"]
    monkeypatch.undo()
    assert client.post("/v1/plan", json=asked).json()["status"] in ("planned", "earned")
    assert client.post("/v1/nearest", json={**asked, "top": 2}).status_code == 200


def test_bad_input_never_reaches_the_internal_error_handler(holder: RuleHolder) -> None:
    app = create_app(holder)
    client = TestClient(app)
    for body in (b"null", b'"x"', b'{"record": "a.b.c"}', b'{"record": {"learner": 5}}'):
        assert client.post("/v1/evaluate", content=body).status_code in (400, 422)
    for path in ("/v1/plan", "/v1/nearest", "/v1/graph?format=svg"):
        assert client.post(path, content=b'{"record": []}').status_code == 422
    assert client.get("/v1/graph", params={"format": "pdf"}).status_code == 422
    assert app.state.tally.failures == 0


def test_a_defect_is_a_500_problem_without_a_traceback(
    holder: RuleHolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stackrules.serve import service

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("secret record data")

    monkeypatch.setattr(service, "evaluate_body", broken)
    app = create_app(holder)
    client = TestClient(app, raise_server_exceptions=False)
    body = problem(client.post("/v1/evaluate", json={"record": LEARNERS[0]}), 500)
    assert "secret" not in json.dumps(body)
    assert app.state.tally.failures == 1


# ---------------------------------------------------------------- the rules, reload, security


def test_rules_info_gives_the_hash_and_counts(server: Server) -> None:
    info = server.client.get("/v1/rules").json()
    assert info["hash"].startswith("sha256:") and len(info["hash"]) == 71
    assert info["counts"]["credentials"] == 19 and info["counts"]["equivalencies"] > 0
    assert all(d["severity"] == "warning" for d in info["diagnostics"])


def test_reload_swaps_rules_with_no_failed_request(server: Server, rules_copy: Path) -> None:
    before = server.client.get("/v1/rules").json()["hash"]
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                answer = client.post("/v1/evaluate", json={"record": LEARNERS[0], "as_of": AS_OF})
                statuses.append(answer.status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    target = rules_copy / "ufv" / "digital-marketing.stack"
    original = target.read_text(encoding="utf-8")
    try:
        # a rule set with an error: 422 with its diagnostics, the old rules keep serving
        target.write_text(original + "\ncredential BROKEN:\n", encoding="utf-8")
        body = problem(server.client.post("/v1/admin/reload"), 422)
        assert any(d["severity"] == "error" for d in body["diagnostics"])
        assert server.client.get("/v1/rules").json()["hash"] == before
        # a good change is served
        target.write_text(original + "\n# reloaded\n", encoding="utf-8")
        answer = server.client.post("/v1/admin/reload")
        assert answer.status_code == 200, answer.text
        assert answer.json()["replaced"] is True
        after = server.client.get("/v1/rules").json()["hash"]
        assert after != before and answer.json()["rules"]["hash"] == after
        # SIGHUP does the same
        target.write_text(original, encoding="utf-8")
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while server.client.get("/v1/rules").json()["hash"] != before:
            assert time.monotonic() < deadline, "SIGHUP did not reload the rules"
            time.sleep(0.1)
    finally:
        target.write_text(original, encoding="utf-8")
        stop.set()
        for t in threads:
            t.join()
    assert server.process.poll() is None
    assert len(statuses) > 3 and set(statuses) == {200}


def test_a_reload_of_unchanged_rules_compiles_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    held = RuleHolder.load([str(folder)])
    before = held.version
    compiled: list[object] = []
    original = state.load_sources

    def counted(sources: Any, found: Any = ()) -> Any:
        compiled.append(sources)
        return original(sources, found)

    monkeypatch.setattr(state, "load_sources", counted)
    unchanged = held.reload()
    assert (unchanged.replaced, unchanged.error, compiled) == (False, False, [])
    assert held.version is before
    (folder / "added.stack").write_text(NEW_CREDENTIAL, encoding="utf-8")
    changed = held.reload()
    assert changed.replaced and len(compiled) == 1
    assert "DSGN:RELOADED" in held.current().model.credentials


def test_reload_only_from_this_machine(holder: RuleHolder) -> None:
    app = create_app(holder)
    remote = TestClient(app, client=("203.0.113.7", 50000))
    problem(remote.post("/v1/admin/reload"), 403)
    local = TestClient(app, client=("127.0.0.1", 50000))
    answer = local.post("/v1/admin/reload")
    assert answer.status_code == 200 and answer.json()["replaced"] is False  # unchanged


def test_cors_is_off_unless_an_origin_is_given(server: Server, holder: RuleHolder) -> None:
    origin = {"Origin": "https://advisor.example.edu"}
    answer = server.client.get("/v1/credentials", headers=origin)
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    answer = server.client.options("/v1/evaluate", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    allowed = TestClient(create_app(holder, cors_origins=["https://advisor.example.edu"]))
    answer = allowed.get("/v1/credentials", headers=origin)
    assert answer.headers["access-control-allow-origin"] == "https://advisor.example.edu"
    other = allowed.get("/v1/credentials", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


def test_it_listens_on_localhost_by_default() -> None:
    from stackrules.cli.serve import serve_command

    host = next(p for p in serve_command.params if p.name == "host")
    assert host.default == "127.0.0.1"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_address_in_use_is_a_usage_error(workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(
            cli, ["serve", "--rules", "rules", "--port", port, "--workers", workers]
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in result.output
    assert "Traceback" not in result.output


def test_several_workers_need_a_posix_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(signal, "SIGHUP")  # as on Windows
    result = CliRunner().invoke(cli, ["serve", "--rules", "rules", "--workers", "2"])
    assert result.exit_code == 2 and "needs a POSIX system" in result.output


def test_a_rule_set_with_errors_is_never_served() -> None:
    result = CliRunner().invoke(cli, ["serve", "--rules", "examples/broken-rules"])
    assert result.exit_code == 1
    assert "error" in result.stderr


# ---------------------------------------------------------------- the catalog and maps


def test_credentials_search_and_detail(server: Server) -> None:
    found = server.client.get("/v1/credentials", params={"q": "digital"}).json()
    assert [c["id"] for c in found["credentials"]] == ["DSGN:DIGITAL", "UFV:DIGMKT"]
    ufv = server.client.get("/v1/credentials", params={"issuer": "UFV"}).json()
    assert ufv["count"] >= 1 and all(c["issuer"] == "UFV" for c in ufv["credentials"])
    detail = server.client.get("/v1/credentials/UFV:DIGMKT").json()
    latest = detail["versions"][-1]
    assert latest["requirements"][0]["text"].startswith("all of (UFV:DM101")
    assert latest["limits"][0]["text"] == "limit at most 2 items from tagged design"
    # transfer routes: granted items a requirement names, and those a selector picks
    # (`60 credits from issuer UVIC and level >= 100` counts the block credit UVIC:ENGL-1XX)
    routes = server.client.get("/v1/credentials/UVIC:BA").json()["transfer_routes"]
    granted = {(r["grants"], tuple(r["from"])) for r in routes}
    assert ("UVIC:MATH100", ("CAMOSUN:MATH100",)) in granted
    assert ("UVIC:ENGL-1XX", ("CAMOSUN:ENGL151",)) in granted
    assert all("camosun-uvic/transfer.stack:" in r["source"] for r in routes)


def test_where_is_what_the_command_prints(server: Server) -> None:
    rules = server.rules
    expected = json.loads(_cli("where", "--rules", rules, "CAMOSUN:MATH100", "--format", "json"))
    assert server.client.get("/v1/where/CAMOSUN:MATH100").json() == expected


def test_the_graph_in_each_format(server: Server) -> None:
    rules = server.rules
    expected = _cli("graph", "--rules", rules, "--credential", "UFV:DIGMKT", "--format", "mermaid")
    answer = server.client.get(
        "/v1/graph", params={"format": "mermaid", "credential": "UFV:DIGMKT"}
    )
    assert answer.text == expected
    svg = server.client.get("/v1/graph", params={"format": "svg", "credential": "UFV:DIGMKT"})
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<?xml") and 'xmlns="http://www.w3.org/2000/svg"' in svg.text
    html = server.client.post(
        "/v1/graph?format=html&credential=UFV:DIGMKT",
        json={"record": LEARNERS[0], "as_of": AS_OF},
    )
    assert html.status_code == 200 and "learner L-1001" in html.text


def test_the_openapi_document_names_every_route(server: Server) -> None:
    paths = server.client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/evaluate", "/v1/plan", "/v1/nearest", "/v1/rules", "/v1/admin/reload",
        "/v1/where/{identifier}", "/v1/credentials", "/v1/credentials/{identifier}", "/v1/graph",
    } <= set(paths)  # fmt: skip
    body = paths["/v1/evaluate"]["post"]["requestBody"]["content"]["application/json"]
    assert "record" in body["schema"]["properties"]


def test_no_record_reaches_the_server_log(server: Server) -> None:
    record = {"learner": "SECRET-LEARNER-42", "achievements": [{"item": "UFV:DM101"}]}
    assert server.client.post("/v1/evaluate", json={"record": record}).status_code == 200
    server.client.post("/v1/evaluate", json={"record": {**record, "grade": "Z"}})
    server.client.post("/v1/graph", json={"record": record})
    time.sleep(0.2)
    log = server.log.read_text(encoding="utf-8")
    assert '"POST /v1/evaluate HTTP/1.1" 200' in log  # the access log is there, and says
    assert "SECRET-LEARNER-42" not in log  # nothing of the record
