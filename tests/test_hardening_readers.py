"""Hostile input to every JSON reader (issue #14): records (.json, .jsonl), VC-JWT payloads,
Open Badges / CLR credentials and CTDL documents. Each hazard is a worded, located error with a
documented exit status, never a traceback; `import ctdl` never writes a declaration the document
does not make, whatever its text fields hold."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackrules import ast
from stackrules.cli import cli
from stackrules.interop.ctdl_import import CtdlError, import_ctdl, visible
from stackrules.interop.ob3 import read_credential_json
from stackrules.records import LearnerRecord, RecordError, jsonsafe, load_records
from stackrules.syntax import parse_text

ROOT = Path(__file__).resolve().parents[1]
BADGE_RULES = ROOT / "tests" / "data" / "interop" / "badges.stack"

# ------------------------------------------------------------------ hazards

DEEP = "[" * 1000 + "]" * 1000
BIG = "9" * 4301


def learner(name: str, credits: str = "3", completed: str = '"2024-04-30"') -> str:
    return (
        f'{{"learner": "{name}", "achievements": [{{"item": "FVC:DATA101", "credits": {credits},'
        f' "completed_on": {completed}}}]}}'
    )


# name → (a learner object's text, words the message must hold)
HAZARDS: dict[str, tuple[str, str]] = {
    "long integer": (learner("L1", credits=BIG), "4301 digits"),
    "400-digit integer": (learner("L1", credits="1" * 400), "400 digits"),
    "huge float": (learner("L1", credits="1e400"), "out of range"),
    "NaN": (learner("L1", credits="NaN"), "`NaN` is not a JSON number"),
    "deep nesting": (learner("L1", credits=DEEP), "nested more than 64 deep"),
    "lone surrogate": (learner("L1", completed='"\\ud800"'), "lone surrogate `\\ud800`"),
    "duplicate key": (
        '{"learner": "L1", "learner": "L2", "achievements": []}',
        "key `learner` is given twice",
    ),
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def evaluate(path: Path) -> tuple[int, str, str]:
    return run("evaluate", "--rules", str(BADGE_RULES), str(path), "--format", "jsonl")


def jwt(payload: str) -> str:
    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"alg": "none"}))
    return f"{header}.{part(payload)}."


# ------------------------------------------------------------------ the decoder


@pytest.mark.parametrize("name", HAZARDS)
def test_the_decoder_refuses_each_hazard_with_one_error_type(name: str) -> None:
    text, words = HAZARDS[name]
    with pytest.raises(jsonsafe.JsonError) as refused:
        jsonsafe.loads(text)
    assert words in refused.value.message


def test_the_decoder_locates_what_it_can() -> None:
    with pytest.raises(jsonsafe.JsonError) as refused:
        jsonsafe.loads('{"a": 1,\n "b": [' + "1" * 40 + "]}")
    assert (refused.value.line, refused.value.column) == (2, 8)
    with pytest.raises(jsonsafe.JsonError) as refused:
        jsonsafe.loads('{"a": [{"b": "ok"}, {"c": "\\udc00"}]}')
    assert refused.value.loc == ("a", 1, "c")
    assert refused.value.document == {"a": [{"b": "ok"}, {"c": "\udc00"}]}


def test_brackets_in_strings_neither_hide_nor_fake_depth() -> None:
    hidden = '["]",' * 100 + "1" + ',"["]' * 100  # 100 deep; strings balance the brackets
    with pytest.raises(jsonsafe.JsonError) as refused:
        jsonsafe.loads(hidden)
    assert "nested more than 64 deep" in refused.value.message
    text = '["' + "[" * 100 + '", "\\\\\\"{{{{"]'  # the second string: \\\" then braces
    assert jsonsafe.loads(text) == ["[" * 100, '\\"{{{{']


def test_the_decoder_accepts_what_is_within_the_limits() -> None:
    nested = "[" * jsonsafe.MAX_DEPTH + "]" * jsonsafe.MAX_DEPTH
    assert jsonsafe.loads(nested) is not None
    assert jsonsafe.loads("9" * 30) == int("9" * 30)
    assert jsonsafe.loads('"\\ud83d\\ude00 \\\\ud800"') == "\U0001f600 \\ud800"  # a pair; text
    assert jsonsafe.loads('{"[": "]]]]", "a": 1.5e29}') == {"[": "]]]]", "a": 1.5e29}


# ------------------------------------------------------------------ record files


@pytest.mark.parametrize("name", HAZARDS)
def test_each_hazard_in_a_json_record_exits_3(tmp_path: Path, name: str) -> None:
    text, words = HAZARDS[name]
    path = tmp_path / "record.json"
    path.write_text(text, encoding="utf-8")
    code, _, err = evaluate(path)
    assert code == 3
    assert words in err and str(path) in err


@pytest.mark.parametrize("name", HAZARDS)
def test_each_hazard_in_a_jsonl_line_is_that_lines_error(tmp_path: Path, name: str) -> None:
    text, words = HAZARDS[name]
    path = tmp_path / "records.jsonl"
    path.write_text(f"{learner('L0')}\n{text}\n{learner('L9')}\n", encoding="utf-8")
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L0", "L9"]  # the others are read
    (error,) = errors
    assert error.line == 2 and error.position_kind == "line" and words in error.message
    code, out, err = evaluate(path)
    assert code == 3
    assert f"{path}:line 2" in err
    assert [json.loads(line)["learner"] for line in out.splitlines()] == ["L0", "L9"]


@pytest.mark.parametrize("name", HAZARDS)
def test_each_hazard_in_a_json_array_is_that_members_error(tmp_path: Path, name: str) -> None:
    text, words = HAZARDS[name]
    path = tmp_path / "records.json"
    path.write_text(f"[\n{learner('L0')},\n {text},\n{learner('L9')}\n]\n", encoding="utf-8")
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L0", "L9"]  # the others are read
    (error,) = errors
    assert (error.line, error.position_kind, error.record_index) == (2, "index", 2)
    assert words in error.message
    if name not in ("duplicate key", "lone surrogate"):  # a number or a bracket: where
        assert "(line 3, column " in error.message


def test_a_lone_surrogate_names_the_learner_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    text = "[" + learner("L0") + "," + learner("L1", completed='"\\ud800"') + "]"
    path.write_text(text, encoding="utf-8")
    records, errors = load_records(path)
    assert [r.learner for r in records] == ["L0"]
    (error,) = errors
    assert (error.learner, error.line, error.field) == ("L1", 2, "achievements[0].completed_on")


def test_a_duplicate_learner_key_is_not_read_as_the_last_one(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text(HAZARDS["duplicate key"][0] + "\n", encoding="utf-8")
    records, errors = load_records(path)
    assert records == [] and "`learner`" in errors[0].message


# ------------------------------------------------------------------ VC-JWT and Open Badges


def badge(**subject: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": "https://fvc.example.edu",
        "validFrom": "2024-04-30T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:L1",
            "achievement": {"id": "https://fvc.example.edu/achievements/data-101"},
            **subject,
        },
    }


@pytest.mark.parametrize("name", HAZARDS)
def test_each_hazard_in_a_vc_jwt_payload_exits_3(tmp_path: Path, name: str) -> None:
    text, words = HAZARDS[name]
    payload = json.dumps(badge())[:-2] + ', "extra": ' + text + "}}"
    path = tmp_path / "badges.jwt"
    path.write_text(jwt(json.dumps(badge())) + "\n" + jwt(payload) + "\n", encoding="utf-8")
    records, errors = load_records(path)
    assert len(records) == 1
    (error,) = errors
    assert error.line == 2 and words in error.message
    code, _, err = evaluate(path)
    assert code == 3 and f"{path}:line 2" in err


@pytest.mark.parametrize(
    ("subject", "field", "words"),
    [
        ({"result": [{"status": ["Completed"]}]}, "result[0].status", "expected a status"),
        ({"result": [{"status": {"a": 1}}]}, "result[0].status", "expected a status"),
        ({"result": [{"value": ["A"]}]}, "result[0].value", "expected a result value"),
        (
            {"result": [{"value": "A", "resultDescription": ["x"]}]},
            "result[0].resultDescription",
            "expected the `id` of a result description",
        ),
        ({"creditsEarned": 10**400}, "creditsEarned", "expected a number from 0 to"),
        ({"creditsEarned": 10**5000}, "creditsEarned", "a number of about"),
        ({"creditsEarned": float("inf")}, "creditsEarned", "expected a number from 0 to"),
        ({"creditsEarned": [3]}, "creditsEarned", "expected a number 0 or more"),
        ({"activityEndDate": ["2024-01-01"]}, "activityEndDate", "expected a date-time"),
    ],
)
def test_open_badges_fields_of_the_wrong_type_are_record_errors(
    subject: dict[str, Any], field: str, words: str
) -> None:
    result = read_credential_json(badge(**subject), file="badge.json")
    assert not isinstance(result, LearnerRecord)
    (error,) = result
    assert isinstance(error, RecordError)
    assert error.field == f"$.credentialSubject.{field}" and words in error.message
    assert error.learner == "did:example:L1"


def test_an_open_badges_document_with_a_list_status_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "badge.json"
    path.write_text(json.dumps(badge(result=[{"status": ["Completed"]}])), encoding="utf-8")
    code, _, err = evaluate(path)
    assert code == 3
    assert "field `$.credentialSubject.result[0].status`: expected a status" in err
    path.write_text(json.dumps(badge())[:-2] + ', "creditsEarned": ' + "1" * 400 + "}}")
    code, _, err = evaluate(path)
    assert code == 3 and "400 digits" in err


# ------------------------------------------------------------------ CTDL import: bad values


def profile(**fields: Any) -> dict[str, Any]:
    return {
        "@type": "ceterms:TransferValueProfile",
        "ceterms:transferValueFrom": {"ceterms:codedNotation": "A:X", "k": 1},
        "ceterms:transferValueFor": {"ceterms:codedNotation": "B:Y", "k": 1},
        **fields,
    }


def value(amount: Any, unit: Any = "creditUnit:DegreeCredit") -> dict[str, Any]:
    return {"ceterms:transferValue": {"schema:value": amount, "ceterms:creditUnitType": unit}}


@pytest.mark.parametrize(
    ("document", "where", "words"),
    [
        (profile(**value(3, ["creditUnit:DegreeCredit"])), "creditUnitType", "credit unit"),
        (profile(**value(3, 7)), "creditUnitType", "credit unit"),
        (profile(**value(["3"])), "schema:value", "expected a number"),
        (profile(**value({"a": 1})), "schema:value", "expected a number"),
        (profile(**value("1e999999999")), "schema:value", "expected a number"),
        (profile(**value("1e9999")), "schema:value", "from 0 to 1,000,000,000"),
        (profile(**value("9" * 5000)), "schema:value", "expected a number"),
        (profile(**value(10**400)), "schema:value", "from 0 to 1,000,000,000"),
        (profile(**value("1e-9999")), "schema:value", "decimal places"),
        (profile(**value(1 / 3)), "schema:value", "decimal places"),
        (profile(**value("3_000")), "schema:value", "expected a number"),
        (profile(**{"ceterms:startDate": ["2024-01-01"]}), "startDate", "expected a date"),
        (profile(**{"ceterms:startDate": "2024-02-30"}), "startDate", "expected a date"),
        (
            profile(**{"ceterms:startDate": "2025-01-01", "ceterms:endDate": "2024-01-01"}),
            "endDate",
            "before the start date",
        ),
    ],
)
def test_ctdl_values_of_the_wrong_type_or_size_are_located_errors(
    tmp_path: Path, document: dict[str, Any], where: str, words: str
) -> None:
    with pytest.raises(CtdlError) as refused:
        import_ctdl(document)
    assert refused.value.path.endswith(where) and words in refused.value.message
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = run("import", "ctdl", str(path))
    assert code == 3 and out == "" and str(path) in err  # (a 400-digit number: the decoder's)


def test_unhashable_agreement_ids_and_creditvalue_units_are_not_a_crash() -> None:
    agreement = {
        "@type": "ceterms:TransferAgreement",
        "@id": ["res:x"],
        "ceterms:hasTransferValueProfile": ["res:p"],
    }
    grant = {
        "ceterms:codedNotation": "B:Y",
        "ceterms:creditValue": {"schema:value": 3, "ceterms:creditUnitType": ["x"]},
    }
    document = {"@graph": [agreement, profile(**{"@id": "res:p"}, **value(3))]}
    document["@graph"][1]["ceterms:transferValueFor"] = [grant, grant]
    assert "A:X => B:Y + B:Y" in import_ctdl(document).text


@pytest.mark.parametrize("name", HAZARDS)
def test_each_json_hazard_in_a_ctdl_document_exits_3(tmp_path: Path, name: str) -> None:
    text, words = HAZARDS[name]
    path = tmp_path / "doc.json"
    document = json.dumps(profile(**value(3)))
    path.write_text(document[:-1] + ', "extra": ' + text + "}", encoding="utf-8")
    code, out, err = run("import", "ctdl", str(path))
    assert code == 3 and out == "" and words in err and str(path) in err


# ------------------------------------------------------------------ CTDL import: hostile text


def test_an_agreement_id_cannot_inject_a_declaration() -> None:
    injected = "res:x\nCAMOSUN:CHEM110 => UVIC:MATH100 credits 60"
    document = {
        "@graph": [
            {
                "@type": "ceterms:TransferAgreement",
                "@id": injected,
                "ceterms:hasTransferValueProfile": "res:p",
            },
            profile(**{"@id": "res:p", "ceterms:transferValueFor": []}),
        ]
    }
    text = import_ctdl(document).text
    lines = transfer_lines(text)
    assert [(line.sources, line.none) for line in lines] == [((ast.Ref("A:X"),), True)]
    assert "# from res:x CAMOSUN:CHEM110 => UVIC:MATH100 credits 60" in text


def transfer_lines(text: str) -> list[ast.TransferLine]:
    tree, diagnostics = parse_text(text)
    assert diagnostics == [], text
    return [
        line
        for decl in tree.declarations
        if isinstance(decl, ast.TransferBlock)
        for line in decl.lines
    ]


HOSTILE = st.lists(
    st.sampled_from(
        [
            "a",
            " ",
            "\n",
            "\r",
            "\r\n",
            "\t",
            "\x00",
            "\x1b",
            "\x85",
            "\u2028",
            "\u2029",
            "\u202e",
            "\u2066",
            "\u200f",
            "\u061c",
            "\ufeff",
            '"',
            "\\",
            "#",
            "{",
            "}",
            ":",
            "=>",
            "é",
            "\U000e0041",
            "issuer X",
            "A:X => B:Z credits 60",
            "min grade C",
        ]
    ),
    max_size=8,
).map("".join)


@st.composite
def hostile_documents(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A document of one agreement and one profile whose every text field is hostile; and
    whether the profile grants anything (else it is `=> none`)."""
    grants = draw(st.booleans())

    def text() -> Any:
        said = draw(HOSTILE)
        return draw(st.sampled_from([said, {"en": said}, [said]]))

    org = {"@id": draw(HOSTILE), "ceterms:name": text()}

    def node(kind: str) -> dict[str, Any]:
        return {
            "@id": draw(HOSTILE),
            "@type": kind,
            "ceterms:name": text(),
            "ceterms:codedNotation": draw(HOSTILE),
            "ceterms:ownedBy": org,
        }

    source = node("ceterms:Course")
    target = node("ceterms:Course")
    tvp = {
        "@id": "res:p",
        "@type": "ceterms:TransferValueProfile",
        "ceterms:description": text(),
        "ceterms:transferValueFrom": source,
        "ceterms:transferValueFor": [target] if grants else [],
        "ceterms:transferValue": {
            "schema:value": 3,
            "ceterms:creditUnitType": draw(HOSTILE),
            "ceterms:creditLevelType": draw(HOSTILE),
            "ceterms:subject": {"ceterms:targetNodeName": text()},
        },
        "ceterms:requires": {
            "ceterms:condition": [text(), text()],
            "ceterms:description": text(),
        },
    }
    agreement = {
        "@id": draw(HOSTILE),
        "@type": "ceterms:TransferAgreement",
        "ceterms:name": text(),
        "ceterms:hasTransferValueProfile": "res:p",
        "ceterms:sendingOrganization": org,
        "ceterms:receivingOrganization": org,
    }
    return {"@graph": [agreement, tvp]}, grants


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_documents())
def test_hostile_text_never_adds_a_declaration_or_hides_a_character(
    case: tuple[dict[str, Any], bool],
) -> None:
    document, grants = case
    text = import_ctdl(document).text
    # Every character of the file is visible: nothing can hide a line from a reviewer.
    for line in text.split("\n"):
        assert line.isprintable(), repr(line)
    lines = transfer_lines(text)
    assert len(lines) == 1
    (line,) = lines
    assert len(line.sources) == 1 and line.none is not grants
    assert len(line.grants) == (1 if grants else 0)
    tree, _ = parse_text(text)
    kinds = {type(d).__name__ for d in tree.declarations}
    assert kinds <= {"IssuerDecl", "AliasDecl", "TransferBlock"}
    blocks = [d for d in tree.declarations if isinstance(d, ast.TransferBlock)]
    assert len(blocks) == 1


def test_visible_escapes_what_could_hide_text() -> None:
    assert visible("a\u202eb\u2028c\rd\x85e") == "a\\u202eb\\u2028c\\u000dd\\u0085e"
    assert visible(" one\n two\r\n\tthree ") == "one two three"
    assert visible("tag\U000e0041") == "tag\\U000e0041"


# ------------------------------------------------------------------ every field, every type

WRONG_TYPES: list[Any] = [["x"], {"a": 1}, 10**400, True, None, -1, "", [[["x"]]], "x\n\u202e"]


def paths(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [loc]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*loc, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*loc, index))
    return found


def replaced(document: Any, loc: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = new
    return copy


@pytest.mark.parametrize("name", ["learner-7-clr.json", "data101-graded.json"])
def test_any_field_of_a_credential_of_any_type_is_read_or_a_record_error(name: str) -> None:
    document = json.loads((ROOT / "tests" / "data" / "interop" / "records" / name).read_text())
    for loc in paths(document)[1:]:
        for wrong in WRONG_TYPES:
            result = read_credential_json(replaced(document, loc, wrong), file=name)
            if not isinstance(result, LearnerRecord):
                assert result and all(isinstance(e, RecordError) for e in result)
                for error in result:
                    error.render().encode("utf-8")


def test_any_field_of_a_ctdl_document_of_any_type_is_imported_or_a_located_error() -> None:
    org = {"@id": "res:o", "@type": "ceterms:CredentialOrganization", "ceterms:name": "O"}
    grant = {
        "@id": "res:g",
        "ceterms:name": {"en": "Grant"},
        "ceterms:ownedBy": "res:o",
        "ceterms:creditValue": {"schema:value": 3, "ceterms:creditUnitType": "creditUnit:X"},
    }
    document = {
        "@graph": [
            org,
            grant,
            {
                "@id": "res:a",
                "@type": "ceterms:TransferAgreement",
                "ceterms:name": "A",
                "ceterms:hasTransferValueProfile": ["res:p"],
                "ceterms:sendingOrganization": "res:o",
                "ceterms:receivingOrganization": {"@id": "res:o"},
                "ceterms:startDate": "2024-01-01",
            },
            {
                **profile(**value(3)),
                "@id": "res:p",
                "ceterms:description": "d",
                "ceterms:transferValueFor": ["res:g", {"ceterms:codedNotation": "B:Y", "k": 1}],
                "ceterms:requires": {"ceterms:condition": ["min grade C", {"en": "x"}]},
                "ceterms:endDate": "2030-01-01",
            },
        ]
    }
    for loc in paths(document)[1:]:
        for wrong in WRONG_TYPES:
            try:
                text = import_ctdl(replaced(document, loc, wrong)).text
            except CtdlError as problem:
                assert problem.path.startswith("$")
                continue
            assert transfer_lines(text)
            assert all(line.isprintable() for line in text.split("\n"))
