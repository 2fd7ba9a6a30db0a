"""Open Badges 3.0 and CLR 2.0 records: the standards bodies' examples, unmodified, and our own
documents covering each mapping rule and each failure."""

from __future__ import annotations

import base64
import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

import stackrules
from stackrules.cli import cli
from stackrules.interop.vc import EnvelopeError, decode_jwt, vc_date
from stackrules.records import LearnerRecord, RecordError, load_records
from stackrules.report import report_to_json
from stackrules.schemas import load_schema

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "interop"
HERE = ROOT / "tests" / "data" / "interop"
RULES = HERE / "badges.stack"
LEARNER = "did:example:ebfeb1f712ebc6f1c276e12ec21"


@pytest.fixture(scope="module")
def aliases() -> dict[str, str]:
    rules, diagnostics = stackrules.load_rules([RULES])
    assert rules is not None, [d.render() for d in diagnostics]
    return rules.aliases


def one(path: Path, aliases: dict[str, str] | None = None) -> LearnerRecord:
    records, errors = load_records(path, aliases)
    assert not errors, [e.render() for e in errors]
    assert len(records) == 1
    return records[0]


def errors_of(path: Path, aliases: dict[str, str] | None = None) -> list[RecordError]:
    records, errors = load_records(path, aliases)
    assert not records
    return errors


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(payload: Any, header: Any = None) -> str:
    head = header if header is not None else {"alg": "EdDSA", "typ": "vc+jwt"}
    return ".".join([b64(json.dumps(head).encode()), b64(json.dumps(payload).encode()), b64(b"s")])


def badge(**subject: Any) -> dict[str, Any]:
    """A small OpenBadgeCredential (VCDM 2.0) whose subject has these extra fields."""
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:00000000-0000-4000-8000-00000000000a",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://fvc.example.edu/issuers/1", "type": ["Profile"]},
        "validFrom": "2024-03-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:learner-1",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://fvc.example.edu/achievements/data-101",
                "type": ["Achievement"],
                "name": "Introduction to Data",
                "criteria": {"narrative": "Pass."},
            },
            **subject,
        },
    }


def write(tmp_path: Path, doc: Any, name: str = "badge.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


UNDATED = {k: v for k, v in badge().items() if k != "validFrom"}


# ------------------------------------------------------------------ the standards' examples


def test_basic_open_badge(aliases: dict[str, str]) -> None:
    record = one(SHARED / "ob3" / "basicOpenBadgeCredential.json", aliases)
    assert record.learner == LEARNER
    (achievement,) = record.achievements
    assert achievement.item == "EDU:TEAMWORK"  # the achievement id, through an alias
    assert achievement.completed_on == date(2010, 1, 1)  # validFrom
    assert achievement.status == "completed"
    (source,) = record.sources
    assert source.type == "OpenBadgeCredential"
    assert source.verification == "unverified" and source.proof is None
    assert source.items == ("EDU:TEAMWORK",)


def test_ctdl_alignment_target_code(aliases: dict[str, str]) -> None:
    record = one(SHARED / "ob3" / "achievementAlignmentCe.json", aliases)
    assert record.achievements[0].item == "EDU:REQ-ANALYSIS"


def test_full_open_badge(aliases: dict[str, str]) -> None:
    record = one(SHARED / "ob3" / "fullOpenBadge.json", aliases)
    (a,) = record.achievements
    # Its `CTDL` alignment gives the CTID in targetUrl (its targetCode is a local code).
    assert a.item == "EDU:DEGREE"
    assert a.grade == "A"  # result[0].value under a LetterGrade result description
    assert a.credits == 42.0  # creditsEarned
    assert a.completed_on == date(2010, 1, 2)  # activityEndDate, before validFrom
    assert a.expires_on == date(2030, 1, 1)  # validUntil
    assert a.status == "completed"


def test_skill_assertion_without_an_alias_keeps_the_achievement_id() -> None:
    record = one(SHARED / "ob3" / "skillAssertionCase.json")
    item = "https://example.com/achievements/robotics/robot-programming"
    assert record.achievements[0].item == item
    assert record.achievements[0].completed_on == date(2022, 7, 1)


def test_clr_reads_its_embedded_credentials(aliases: dict[str, str]) -> None:
    record = one(SHARED / "clr" / "clr-signed-example.json", aliases)
    assert record.learner == LEARNER
    # The subject's `achievement` list describes achievements; only the embedded credential
    # awards one.
    assert [a.item for a in record.achievements] == ["EDU:ACHIEVEMENT-1"]
    clr, inner = record.sources
    assert (clr.type, clr.path, clr.items) == ("ClrCredential", "$", ("EDU:ACHIEVEMENT-1",))
    assert inner.type == "AchievementCredential"
    assert inner.path == "$.credentialSubject.verifiableCredential[0]"
    assert clr.proof == inner.proof == "DataIntegrityProof eddsa-rdfc-2022"
    assert {clr.verification, inner.verification} == {"unverified"}


def test_the_examples_evaluate_with_an_unverified_provenance() -> None:
    runner = CliRunner()
    for path in sorted(SHARED.glob("*/*.json")):
        if path.parent.name == "ctdl" or path.name.startswith("context"):
            continue
        result = runner.invoke(
            cli, ["evaluate", "--rules", str(RULES), str(path), "--as-of", "2026-01-01"]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        jsonschema.validate(report, load_schema("report"))
        assert report["provenance"]
        assert {p["verification"] for p in report["provenance"]} == {"unverified"}


# ------------------------------------------------------------------ our documents


def test_worked_example_clr_of_object_enveloped_and_compact_jwts(aliases: dict[str, str]) -> None:
    record = one(HERE / "records" / "learner-7-clr.json", aliases)
    assert record.learner == "did:example:learner-7"
    by_item = {a.item: a for a in record.achievements}
    assert set(by_item) == {"FVC:DATA101", "FVC:STAT110", "FVC:SQL"}
    data = by_item["FVC:DATA101"]  # humanCode `DATA 101` is not aliased; the id is
    assert (data.grade, data.credits, data.completed_on) == ("B+", 3.0, date(2024, 4, 26))
    stat = by_item["FVC:STAT110"]  # humanCode alias; lower-case `a-` read as `A-`
    assert (stat.grade, stat.completed_on) == ("A-", date(2024, 12, 13))
    sql = by_item["FVC:SQL"]  # VCDM 1.1 JWT: `sub`, `nbf`, `exp` fill the credential
    assert sql.completed_on == date(2024, 6, 10) and sql.expires_on == date(2027, 6, 10)
    paths = [(s.path, s.format, s.proof) for s in record.sources]
    assert paths == [
        ("$", "json", None),
        ("$.credentialSubject.verifiableCredential[0]", "json", None),
        ("$.credentialSubject.verifiableCredential[1]", "vc-jwt", "JWT ES256"),
        ("$.credentialSubject.verifiableCredential[2].vc", "vc-jwt", "JWT EdDSA"),
    ]


def test_jwt_files(aliases: dict[str, str]) -> None:
    sql = one(HERE / "records" / "sql-badge.jwt", aliases)
    assert sql.learner == "did:example:learner-7"
    (source,) = sql.sources
    assert (source.id, source.issuer, source.path) == (
        "urn:uuid:0b6e1f52-6d0c-4f4e-9f55-3a5d0e0f1a03",
        "https://badges.example.org/issuers/9",
        "$.vc",
    )
    stat = one(HERE / "records" / "stat110-vcdm2.jwt", aliases)
    assert stat.achievements[0].item == "FVC:STAT110" and stat.sources[0].path == "$"


def test_a_jwt_in_json_txt_and_jsonl_files(tmp_path: Path) -> None:
    token = jwt(badge())
    for name, text in [
        ("bare.json", token + "\n"),
        ("string.json", json.dumps(token)),
        ("one.txt", "\n" + token + "\n"),
        ("lines.jsonl", json.dumps(token) + "\n"),
    ]:
        record = one(write(tmp_path, text, name))
        assert record.achievements[0].item == "https://fvc.example.edu/achievements/data-101"
        assert record.sources[0].format == "vc-jwt"


def test_jsonl_and_arrays_mix_credentials_and_learner_objects(tmp_path: Path) -> None:
    plain = {"learner": "L-1", "achievements": [{"item": "FVC:SQL"}]}
    lines = "\n".join(json.dumps(x) for x in (badge(), plain)) + "\n"
    records, errors = load_records(write(tmp_path, lines, "mixed.jsonl"))
    assert not errors
    assert [r.learner for r in records] == ["did:example:learner-1", "L-1"]
    assert records[0].position is not None and records[0].position.number == 1
    assert records[1].sources == ()
    records, errors = load_records(write(tmp_path, [plain, badge()], "mixed.json"))
    assert [r.learner for r in records] == ["L-1", "did:example:learner-1"] and not errors


def test_a_learner_twice_is_an_error_for_the_second(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(x) for x in (badge(), badge())) + "\n"
    records, errors = load_records(write(tmp_path, lines, "twice.jsonl"))
    assert len(records) == 1
    (error,) = errors
    assert (error.line, error.field) == (2, "credentialSubject.id")
    assert "already appeared at line 1" in error.message


# ------------------------------------------------------------------ mapping rules


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Completed", "completed"),
        ("Failed", "failed"),
        ("Withdrew", "withdrawn"),
        ("InProgress", "in-progress"),
        ("Enrolled", "in-progress"),
        ("OnHold", "in-progress"),
        ("Provisional", "in-progress"),
    ],
)
def test_result_status(tmp_path: Path, status: str, expected: str) -> None:
    doc = badge(result=[{"type": ["Result"], "status": status}])
    assert one(write(tmp_path, doc)).achievements[0].status == expected


def test_failed_and_in_progress_badges_are_reported_not_counted(tmp_path: Path) -> None:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    reasons = {}
    for status in ("Failed", "Withdrew", "InProgress", "Enrolled"):
        doc = badge(result=[{"status": status}])
        report = stackrules.evaluate(
            rules, one(write(tmp_path, doc), rules.aliases), date(2025, 1, 1)
        )
        reasons[status] = [(n.item, n.reason) for n in report.not_counted]
    item = "FVC:DATA101"
    assert reasons == {
        "Failed": [(item, "failed")],
        "Withdrew": [(item, "failed")],
        "InProgress": [(item, "in-progress")],
        "Enrolled": [(item, "in-progress")],
    }


def test_grades_credits_and_dates(tmp_path: Path) -> None:
    doc = badge(
        result=[{"value": "92%"}, {"value": " b- "}],
        creditsEarned=1.5,
        activityEndDate="2024-02-20T23:00:00-08:00",
    )
    doc["awardedDate"] = "2024-02-25T00:00:00Z"
    doc["validUntil"] = "2027-02-25T00:00:00Z"
    a = one(write(tmp_path, doc)).achievements[0]
    assert (a.grade, a.credits) == ("B-", 1.5)
    assert a.completed_on == date(2024, 2, 20)  # the day as written, no time-zone shift
    assert a.expires_on == date(2027, 2, 25)
    del doc["credentialSubject"]["activityEndDate"]
    assert one(write(tmp_path, doc)).achievements[0].completed_on == date(2024, 2, 25)
    del doc["awardedDate"]
    assert one(write(tmp_path, doc)).achievements[0].completed_on == date(2024, 3, 1)


def test_vcdm_1_1_dates_and_string_types(tmp_path: Path) -> None:
    doc = badge()
    doc["@context"] = [
        "https://www.w3.org/2018/credentials/v1",
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    ]
    doc["type"] = "OpenBadgeCredential"
    doc["credentialSubject"]["achievement"]["type"] = "Achievement"
    del doc["validFrom"]
    doc["issuanceDate"] = "2023-09-15T10:00:00Z"
    doc["expirationDate"] = "2026-09-15"
    a = one(write(tmp_path, doc)).achievements[0]
    assert (a.completed_on, a.expires_on) == (date(2023, 9, 15), date(2026, 9, 15))


@pytest.mark.parametrize("version", ["context.json", *(f"context-3.0.{n}.json" for n in range(4))])
def test_open_badges_contexts_3_0_x(tmp_path: Path, version: str) -> None:
    doc = badge()
    doc["@context"][1] = f"https://purl.imsglobal.org/spec/ob/v3p0/{version}"
    assert one(write(tmp_path, doc)).learner == "did:example:learner-1"


def test_aliases_through_id_human_code_and_ctdl_alignment(tmp_path: Path) -> None:
    doc = badge()
    achievement = doc["credentialSubject"]["achievement"]
    achievement["humanCode"] = "STAT 110"
    achievement["alignment"] = [
        {"targetCode": "not-a-ctid", "targetType": "CFItem"},
        {"targetCode": "ce-5b0f6a4e-8d3c-4a53-9a43-0c3f2d1e7a10", "targetType": "ceterms:Badge"},
    ]
    path = write(tmp_path, doc)
    assert one(path, {"STAT 110": "FVC:STAT110"}).achievements[0].item == "FVC:STAT110"
    ctid = {"ce-5b0f6a4e-8d3c-4a53-9a43-0c3f2d1e7a10": "FVC:SQL"}
    assert one(path, ctid).achievements[0].item == "FVC:SQL"
    # A CFItem alignment's code is not a Credential Engine identifier.
    assert one(path, {"not-a-ctid": "FVC:SQL"}).achievements[0].item == achievement["id"]
    # Two names of one achievement that alias to the same rule identifier agree.
    agree = {"STAT 110": "FVC:STAT110", achievement["id"]: "FVC:STAT110"}
    assert one(path, agree).achievements[0].item == "FVC:STAT110"


# ------------------------------------------------------------------ failures


def _mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with the value at a dotted path replaced (None deletes it)."""
    result = copy.deepcopy(doc)
    parts = path.split(".")
    target: Any = result
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return result


FAILURES = [
    ("credentialSubject.id", None, "$.credentialSubject.id", "required field is missing"),
    ("credentialSubject.id", 7, "$.credentialSubject.id", "expected the learner's identifier"),
    ("credentialSubject", "x", "$.credentialSubject", "expected the credential subject"),
    (
        "credentialSubject.achievement",
        None,
        "$.credentialSubject.achievement",
        "required field is missing",
    ),
    (
        "credentialSubject.achievement.id",
        None,
        "$.credentialSubject.achievement.id",
        "required field is missing",
    ),
    ("type", ["VerifiableCredential"], "$.type", "not an Open Badges 3.0 or CLR 2.0 credential"),
    ("type", None, "$.type", "required field is missing"),
    (
        "@context",
        [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v2p0/context.json",
        ],
        "$.@context[1]",
        "is not version 3.0",
    ),
    (
        "credentialSubject.result",
        [{"status": "Passed"}],
        "$.credentialSubject.result[0].status",
        "unknown result status `Passed`",
    ),
    (
        "credentialSubject.result",
        [{"status": "Completed"}, {"status": "Failed"}],
        "$.credentialSubject.result[1].status",
        "contradicts the status given at $.credentialSubject.result[0].status",
    ),
    (
        "credentialSubject.result",
        [{"value": "A"}, {"value": "B"}],
        "$.credentialSubject.result[1].value",
        "grade `B` contradicts",
    ),
    (
        "credentialSubject.result",
        ["A"],
        "$.credentialSubject.result[0]",
        "expected a result object",
    ),
    (
        "credentialSubject.creditsEarned",
        "three",
        "$.credentialSubject.creditsEarned",
        "expected a number 0 or more",
    ),
    (
        "credentialSubject.activityEndDate",
        "last spring",
        "$.credentialSubject.activityEndDate",
        "expected a date-time",
    ),
    ("validFrom", "2024-02-30T00:00:00Z", "$.validFrom", "expected a date-time"),
    ("validUntil", "2024-01-01T25:00:00Z", "$.validUntil", "expected a date-time"),
]


@pytest.mark.parametrize(("where", "value", "path", "message"), FAILURES)
def test_documents_that_cannot_be_mapped_name_the_json_path(
    tmp_path: Path, where: str, value: Any, path: str, message: str
) -> None:
    (error,) = errors_of(write(tmp_path, _mutate(badge(), where, value)))
    assert error.field == path
    assert message in error.message
    assert error.record_index == 1


def test_a_letter_grade_result_that_is_not_a_letter(tmp_path: Path) -> None:
    doc = badge(result=[{"resultDescription": "urn:rd:1", "value": "92"}])
    doc["credentialSubject"]["achievement"]["resultDescription"] = [
        {"id": "urn:rd:1", "type": ["ResultDescription"], "resultType": "LetterGrade"}
    ]
    (error,) = errors_of(write(tmp_path, doc))
    assert error.field == "$.credentialSubject.result[0].value"
    assert error.message.startswith("expected a letter grade (A+ … D-, F or P), got `92`")


def test_an_achievement_that_names_two_rule_identifiers(tmp_path: Path) -> None:
    doc = badge()
    doc["credentialSubject"]["achievement"]["humanCode"] = "STAT 110"
    aliases = {"https://fvc.example.edu/achievements/data-101": "FVC:DATA101"}
    aliases["STAT 110"] = "FVC:STAT110"
    (error,) = errors_of(write(tmp_path, doc), aliases)
    assert error.field == "$.credentialSubject.achievement.humanCode"
    assert "names two rule identifiers" in error.message


def test_clr_failures(tmp_path: Path) -> None:
    clr = json.loads((HERE / "records" / "learner-7-clr.json").read_text("utf-8"))
    other = _mutate(clr, "credentialSubject.verifiableCredential.0.credentialSubject.id", "did:x")
    (error,) = errors_of(write(tmp_path, other))
    assert error.field == "$.credentialSubject.verifiableCredential[0].credentialSubject.id"
    assert error.message == "subject `did:x` is not the CLR's subject `did:example:learner-7`"
    assert error.learner == "did:example:learner-7"
    nested = _mutate(clr, "credentialSubject.verifiableCredential.0", copy.deepcopy(clr))
    (error,) = errors_of(write(tmp_path, nested))
    assert error.field == "$.credentialSubject.verifiableCredential[0].type"
    assert error.message == "a CLR inside a CLR is not read"
    broken = _mutate(clr, "credentialSubject.verifiableCredential.2", "eyJhbGciOiJub25lIn0.@@.")
    (error,) = errors_of(write(tmp_path, broken))
    assert error.field == "$.credentialSubject.verifiableCredential[2]"
    assert "compact JWT" in error.message


@pytest.mark.parametrize(
    ("token", "path", "message"),
    [
        ("a.b", "$", "expected a compact JWT"),
        (b64(b"{}") + "." + b64(b"[1]") + ".", "$", "the JWT payload is not a JSON object"),
        (b64(b"{}") + "." + b64(b"\xff") + ".", "$", "the JWT payload is not JSON"),
        (b64(b"[]") + "." + b64(b"{}") + ".", "$", "the JWT header is not a JSON object"),
        (jwt({"iss": "x"}), "$", "the JWT payload is not a verifiable credential"),
        (jwt({"vc": "x"}), "$.vc", "expected the `vc` claim to be a credential object"),
        (jwt({"vc": UNDATED, "nbf": "soon"}), "$.nbf", "expected seconds since 1970"),
    ],
)
def test_jwt_failures(tmp_path: Path, token: str, path: str, message: str) -> None:
    (error,) = errors_of(write(tmp_path, token + "\n", "bad.jwt"))
    assert (error.field, error.line) == (path, 1)
    assert message in error.message


def test_jwt_decoding_keeps_what_a_verifier_needs() -> None:
    token = jwt(badge(), {"alg": "ES256", "kid": "k"})
    decoded = decode_jwt(token)
    assert decoded.algorithm == "ES256"
    assert decoded.signing_input == token.rsplit(".", 1)[0].encode("ascii")
    assert decoded.signature == b"s"


def test_vc_dates() -> None:
    assert vc_date("2024-04-30", "$.x") == date(2024, 4, 30)
    assert vc_date("2024-04-30T23:59:59+14:00", "$.x") == date(2024, 4, 30)
    with pytest.raises(EnvelopeError) as failure:
        vc_date(20240430, "$.x")
    assert failure.value.path == "$.x"


def test_evaluate_exits_3_naming_the_path(tmp_path: Path) -> None:
    doc = _mutate(badge(), "credentialSubject.result", [{"status": "Passed"}])
    result = CliRunner().invoke(cli, ["evaluate", "--rules", str(RULES), str(write(tmp_path, doc))])
    assert result.exit_code == 3
    assert "field `$.credentialSubject.result[0].status`: unknown result status `Passed`" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_reports_from_credentials_are_deterministic_and_valid(aliases: dict[str, str]) -> None:
    rules, _ = stackrules.load_rules([RULES])
    assert rules is not None
    record = one(HERE / "records" / "learner-7-clr.json", aliases)
    first = report_to_json(stackrules.evaluate(rules, record, date(2025, 6, 30)))
    again = report_to_json(stackrules.evaluate(rules, record, date(2025, 6, 30)))
    assert first == again
    jsonschema.validate(first, load_schema("report"))
    assert [e["credential"] for e in first["earned"]] == ["FVC:DATA-MC"]
