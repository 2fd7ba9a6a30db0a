"""The web page of `stackrules serve` (`stackrules.serve.page`), in process: every route, each
record format, what-if, plan and map, and bad input as a message on the page (4xx, the
command line's words, never a traceback)."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pageapp import ROOT, FixedRules, app, rules
from stackrules import evaluate, load_rules, read_records
from stackrules.serve import page
from stackrules.textreport import render_text

AS_OF = "2026-11-22"
NOP = {"item": "DSGN:NOP"}  # a misspelt item in an exception
LEARNERS = json.loads((ROOT / "examples" / "learners.json").read_text("utf-8"))
EXCEPTIONS = (ROOT / "examples" / "exceptions.csv").read_text("utf-8")
INTEROP = ROOT / "tests" / "data" / "interop"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app())


def learner(ident: str) -> str:
    return json.dumps(next(x for x in LEARNERS if x["learner"] == ident))


_BLOCK = re.compile(
    r"</?(?:p|li|td|th|tr|h\d|div|dt|dd|ul|caption|option|summary|br|section|article)\b[^>]*>"
)


def text_of(html: str) -> str:
    """The page's text, tags out, spaces collapsed (what a reader sees)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", _BLOCK.sub(" ", html))).split())


def part(html: str, ident: str) -> str:
    """The text of one part of the audit (`earned`, `in-progress`, `transfers`, ...)."""
    found = re.search(rf'<section aria-labelledby="{ident}"(.*?)</section>', html, re.S)
    assert found is not None, ident
    return text_of(found[1])


def main_of(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def audit(client: TestClient, record: str, **fields: str) -> tuple[int, str]:
    response = client.post("/audit", data={"record": record, "as_of": AS_OF, **fields})
    return response.status_code, response.text


def assert_message(html: str, *words: str) -> None:
    """The error summary holds every one of `words`; no traceback reaches the page."""
    assert 'class="error-summary" role="alert"' in html
    start = html.index('class="error-summary"')
    summary = text_of(html[start : html.index("</div>", start)]).replace("`", "")
    for w in words:
        assert w in summary, summary
    assert "Traceback" not in html and 'File "' not in html


# ------------------------------------------------------------------ the form and samples


def test_home_has_a_labelled_form_and_a_skip_link(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    controls = [
        m[2]
        for m in re.finditer(r'<(input|select|textarea)\b([^>]*\bid="([^"]+)")', html)
        if 'type="hidden"' not in m[2]
    ]
    controls = [re.search(r'\bid="([^"]+)"', c)[1] for c in controls]
    assert {"record", "format", "as_of", "targets", "adds", "exceptions", "sample"} <= set(controls)
    for ident in controls:
        assert f'<label for="{ident}">' in html, ident
    assert f'value="{date.today().isoformat()}"' in html
    assert html.count('<option value="L-1') == len(LEARNERS)
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_bundled_samples_are_the_examples() -> None:
    samples = Path(page.__file__).parent / "samples"
    for name in ("learners.json", "exceptions.csv"):
        assert (samples / name).read_bytes() == (ROOT / "examples" / name).read_bytes(), name


def test_a_sample_fills_the_form_with_its_record_and_exceptions(client: TestClient) -> None:
    html = client.get("/?sample=L-1003").text
    box = unescape(re.search(r'<textarea id="record"[^>]*>(.*?)</textarea>', html, re.S)[1])
    assert json.loads(box) == json.loads(learner("L-1003"))
    rows = unescape(re.search(r'<textarea id="exceptions"[^>]*>(.*?)</textarea>', html, re.S)[1])
    assert rows.splitlines()[0].startswith("learner,id,kind")
    assert [r.split(",")[1] for r in rows.splitlines()[1:]] == ["EX-2025-014"]
    assert f'value="{AS_OF}"' in html and '<option value="L-1003" selected>' in html


def test_an_unknown_sample_is_a_message(client: TestClient) -> None:
    response = client.get("/?sample=L-103")
    assert response.status_code == 404
    assert_message(response.text, "no sample learner L-103; did you mean L-1003?")


# ------------------------------------------------------------------ the audit


@pytest.mark.parametrize("ident", [x["learner"] for x in LEARNERS])
def test_every_sample_audit_shows_what_the_text_audit_shows(client: TestClient, ident: str) -> None:
    """Every credential, item, rule `file:line` and reason of the registrar's text audit is
    on the page (with the learner's exceptions)."""
    status, html = audit(client, learner(ident), exceptions=EXCEPTIONS)
    assert status == 200, text_of(html)[:500]
    record = next(
        r
        for r in read_records(ROOT / "examples" / "learners.json", rules().aliases)
        if not isinstance(r, Exception) and r.learner == ident
    )
    from stackrules.exceptions.files import Loaded, join_loaded

    table = Loaded(str(ROOT / "examples" / "exceptions.csv"))
    record, problems = join_loaded(record, table, rules().model, file="x", exceptions_file="y")
    assert not problems
    report = evaluate(rules(), record, date.fromisoformat(AS_OF))
    text = render_text(report)
    seen = text_of(main_of(html))
    for cited in set(re.findall(r"rules/[\w./-]+\.stack:\d+", text)):
        assert cited in seen, cited
    for c in report.earned + report.in_progress:
        assert c.credential in seen and c.title in seen
    for t in report.transfers:
        assert all(f in seen for f in t.from_) and all(g in seen for g in t.grants)
    for n in report.not_counted:
        assert n.item in seen and n.reason in seen
    for e in report.exceptions:
        assert e.id in seen
    assert f"Audit of learner {ident}" in seen and f"Evaluated as of {AS_OF}" in seen


def test_the_audit_reads_as_sections_with_table_headers(client: TestClient) -> None:
    status, html = audit(client, learner("L-1003"), exceptions=EXCEPTIONS)
    assert status == 200
    for heading in ("Earned", "In progress", "Transfer credit", "Did not count", "Exceptions"):
        assert f">{heading}</h2>" in html
    assert '<th scope="col">Evidence</th>' in html and '<th scope="row">' in html
    seen = text_of(main_of(html))
    assert "UVIC:BA Bachelor of Arts (general program)" in seen
    assert "45 credits of work remain" in seen
    assert (
        "CAMOSUN:PSYC120 UVIC:PSYC100B 1.5 CAMOSUN=>UVIC at rules/camosun-uvic/transfer.stack:39"
        in seen
    )
    assert (
        "By exception EX-2025-014 (grant, approved by Registrar (transfer credit) on 2025-06-02)"
        in seen
    )
    assert "CAMOSUN:CHEM110 no-credit" in seen
    # a long list of options folds away
    assert '<details class="options">' in html and "10 options" in seen


def test_targets_and_in_progress_shape_the_audit(client: TestClient) -> None:
    _, html = audit(client, learner("L-1011"), targets="DSGN:WEB UFV:DIGMKT", in_progress="0")
    seen = text_of(main_of(html))
    assert "Pursuing DSGN:WEB, UFV:DIGMKT" in seen
    assert "Other credentials in progress shown 0" in seen
    assert "UFV:DIGMKT Digital Marketing Micro-credential pursued" in seen
    assert "DSGN:GRAPHIC" not in part(html, "in-progress")
    _, html = audit(client, learner("L-1011"), in_progress="all")
    assert "Other credentials in progress shown all" in text_of(html)


def test_what_if_changes_the_audit(client: TestClient) -> None:
    _, before = audit(client, learner("L-1011"))
    assert "DSGN:GRAPHIC" not in part(before, "earned")
    assert "DSGN:GRAPHIC Graphic Design" in part(before, "in-progress")
    status, after = audit(client, learner("L-1011"), adds="DSGN:FONTS DSGN:COLOUR:B")
    assert status == 200
    seen = text_of(main_of(after))
    assert "What-if: counted as completed on 2026-11-22 DSGN:FONTS, DSGN:COLOUR:B" in seen
    earned = part(after, "earned")
    assert "DSGN:GRAPHIC Graphic Design" not in part(after, "in-progress")
    assert "DSGN:GRAPHIC Graphic Design" in earned and "Met on 2026-11-22" in earned
    # the what-if form keeps the additions for the next change
    assert 'id="act-adds" name="adds" value="DSGN:FONTS DSGN:COLOUR:B"' in after


@pytest.mark.parametrize(
    ("fmt", "path", "learner_id", "expect"),
    [
        ("csv", "examples/learners.csv", "L-1009", "CAPU:"),
        ("jsonl", "examples/learners.jsonl", "L-1012", "UVIC:MINOR-PSYC"),
        ("json", "examples/learners.json", "L-1001", "UFV:DIGMKT"),
    ],
)
def test_each_plain_format_renders(
    client: TestClient, fmt: str, path: str, learner_id: str, expect: str
) -> None:
    text = (ROOT / path).read_text("utf-8")
    for chosen in (fmt, "auto"):
        status, html = audit(client, text, format=chosen, learner=learner_id)
        assert status == 200, text_of(html)[:400]
        seen = text_of(main_of(html))
        assert f"Audit of learner {learner_id}" in seen and expect in seen
        count = len({x.learner for x in read_records(ROOT / path)})
        assert f"({count} learners)" in seen
        # another learner of the same record is one choice away
        assert '<select id="pick-learner" name="learner">' in html


@pytest.fixture(scope="module")
def interop_client() -> TestClient:
    compiled, _ = load_rules([INTEROP / "badges.stack"])
    assert compiled is not None
    return TestClient(Starlette(routes=page.routes(FixedRules(compiled))))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("learner-7-clr.json", "json"), ("data101-graded.json", "json"), ("sql-badge.jwt", "jwt")],
)
def test_open_badges_and_clr_render_with_their_provenance(
    interop_client: TestClient, name: str, fmt: str
) -> None:
    text = (INTEROP / "records" / name).read_text("utf-8")
    for chosen in (fmt, "auto"):
        response = interop_client.post(
            "/audit", data={"record": text, "format": chosen, "as_of": "2025-06-30", "name": name}
        )
        assert response.status_code == 200, text_of(response.text)[:400]
        seen = text_of(main_of(response.text))
        assert "Audit of learner did:example:learner-7" in seen
        assert "Where the record came from" in seen and "unverified" in seen
        assert f"Record {name}" in seen
    if name == "learner-7-clr.json":
        assert "FVC:DATA-MC Data Analysis Micro-credential" in part(response.text, "earned")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("record", "fields", "status", "words"),
    [
        (
            '{"learner": "L-1", "achievements": [{"item": "UFV:DM101", "grade": "Q"}]}',
            {},
            422,
            ["pasted record: learner L-1: field achievements[0].grade", "expected a letter grade"],
        ),
        (
            '{"learner": "L-1", "achievements": [{"item": "UFV:DM101", "grde": "A"}]}',
            {},
            422,
            ["unknown field", "did you mean grade"],
        ),
        (
            "learner,item,grde\nL-1,UFV:DM101,A\n",
            {},
            422,
            ["pasted record:row 1", "field grde", "did you mean grade"],
        ),
        ('{"learner": "L-1", "achievements": [', {"name": "mine.json"}, 422, ["mine.json:line 1"]),
        ("", {}, 422, ["paste a record"]),
        (
            '{"learner": "L-1", "pursuing": ["UVIC:BAA"], "achievements": []}',
            {},
            422,
            ["field pursuing[0]", "UVIC:BAA", "did you mean UVIC:BA"],
        ),
        (None, {"targets": "UVIC:BAX"}, 422, ["UVIC:BAX is not a credential", "did you mean"]),
        (None, {"learner": "L-1O11"}, 422, ["learner L-1O11 is not in the record", "L-1011"]),
        (None, {"adds": "DSGN:FONT"}, 422, ["DSGN:FONT", "did you mean DSGN:FONTS"]),
        (None, {"adds": "DSGN:FONTS:Z"}, 422, ["Z is not a grade"]),
        (None, {"as_of": "2026-13-01"}, 400, ["2026-13-01 is not a date as YYYY-MM-DD"]),
        (None, {"in_progress": "some"}, 400, ["some is not a whole number"]),
        (
            None,
            {"exceptions": "learner,idd\nL-1011,X\n"},
            422,
            ["pasted exceptions:row 1", "did you mean id"],
        ),
        (
            None,
            {"exceptions": json.dumps({"learner": "L-1011", "id": "E1", "kind": "grant"} | NOP)},
            422,
            ["exceptions[E1]", "DSGN:NOP"],
        ),
    ],
)
def test_bad_input_is_a_message_on_the_form(
    client: TestClient,
    record: str | None,
    fields: dict[str, str],
    status: int,
    words: list[str],
) -> None:
    got, html = audit(client, learner("L-1011") if record is None else record, **fields)
    assert got == status, text_of(html)[:600]
    assert_message(html, *words)
    # the form comes back as it was sent, to be corrected
    assert '<textarea id="record"' in html
    if record:
        assert (
            unescape(re.search(r'<textarea id="record"[^>]*>(.*?)</textarea>', html, re.S)[1])
            == record
        )


def test_markup_in_a_record_is_text(client: TestClient) -> None:
    record = json.dumps(
        {"learner": "<script>alert(1)</script>", "achievements": [{"item": "UFV:DM101"}]}
    )
    status, html = audit(client, record)
    assert status == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_form_the_page_did_not_send_is_refused(client: TestClient) -> None:
    response = client.post("/audit", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415 and "The form could not be read" in response.text
    big = "x" * (page.MAX_BODY + 10)
    response = client.post("/audit", data={"record": big})
    assert response.status_code == 413 and "too large" in response.text
    response = client.post(
        "/audit",
        content=b"record=%FF%FE",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    response = client.get("/audit", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


# ------------------------------------------------------------------ plan and map


def test_a_plan_shows_terms(client: TestClient) -> None:
    response = client.post(
        "/plan",
        data={
            "record": learner("L-1011"),
            "as_of": AS_OF,
            "target": "DSGN:DIGITAL",
            "per_term": "2",
        },
    )
    assert response.status_code == 200, text_of(response.text)[:400]
    seen = text_of(main_of(response.text))
    assert "Plan for DSGN:DIGITAL Digital Design Specialist" in seen
    assert "The cheapest completion: 3 items" in seen
    assert "Term 1" in seen and "Term 2" in seen and "Term 3" not in seen
    for item in ("DSGN:FONTS", "DSGN:COLOUR", "DSGN:PORTFOLIO"):
        assert item in seen
    assert "How it completes the target" in seen and "rules/design/web-graphic.stack:" in seen
    # back to the audit with the same inputs
    assert '<button type="submit">Back to the audit</button>' in response.text


def test_a_plan_for_an_earned_credential_says_so(client: TestClient) -> None:
    response = client.post(
        "/plan", data={"record": learner("L-1011"), "as_of": AS_OF, "target": "DSGN:WEB"}
    )
    assert response.status_code == 200
    assert "Already earned: nothing to plan." in response.text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"target": "DSGN:DIGITL"},
            ["DSGN:DIGITL is not a credential", "did you mean DSGN:DIGITAL"],
        ),
        ({"target": "DSGN:DIGITAL", "per_term": "two"}, ["two is not a term size"]),
        ({"target": ""}, ["choose a credential"]),
    ],
)
def test_a_bad_plan_is_a_message(
    client: TestClient, fields: dict[str, str], words: list[str]
) -> None:
    response = client.post("/plan", data={"record": learner("L-1011"), "as_of": AS_OF, **fields})
    assert 400 <= response.status_code < 500
    assert_message(response.text, *words)


def test_the_map_of_a_credential_for_the_record(client: TestClient) -> None:
    response = client.post(
        "/map", data={"record": learner("L-1003"), "as_of": AS_OF, "credential": "UVIC:BA"}
    )
    assert response.status_code == 200
    html = response.text
    assert "<figure><svg" in html and ">UVIC:BA</text>" in html
    assert "learner L-1003 as of 2026-11-22" in html
    assert 'class="node credential in-progress"' in html
    assert "style-src 'unsafe-inline'" in response.headers["content-security-policy"]


def test_the_map_of_a_credential_alone(client: TestClient) -> None:
    response = client.get("/map", params={"credential": "DSGN:DIGITAL"})
    assert response.status_code == 200 and ">DSGN:DIGITAL</text>" in response.text
    assert "learner" not in text_of(response.text.split("<figure>")[0]).lower()
    response = client.get("/map", params={"credential": "DSGN:DIGTAL"})
    assert response.status_code == 404
    assert "did you mean <code>DSGN:DIGITAL</code>" in response.text
    assert client.get("/map").status_code == 400


def test_a_rule_file_name_that_is_not_utf8_is_cited_with_a_replacement(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    for source in sorted((ROOT / "rules" / "design").glob("*.stack")):
        name = os.fsencode(folder) + b"/\xffrules-" + os.fsencode(source.name)
        shutil.copyfile(source, os.fsdecode(name))
    compiled, _ = load_rules([folder])
    assert compiled is not None
    client = TestClient(Starlette(routes=page.routes(FixedRules(compiled))))
    status, html = audit(client, learner("L-1011"))
    assert status == 200
    assert "\ufffdrules-web-graphic.stack:22" in text_of(main_of(html))
    response = client.get("/map", params={"credential": "DSGN:WEB"})
    assert response.status_code == 200


# ------------------------------------------------------------------ uploads, nearest, limits


def test_a_record_file_is_uploaded_without_a_script(client: TestClient) -> None:
    # multipart/form-data, as a browser with no script sends the record form: the file is
    # the record (named after it, its format from its extension), not the empty box
    data = (ROOT / "examples" / "learners.csv").read_bytes()
    response = client.post(
        "/audit",
        data={"record": "", "format": "auto", "as_of": AS_OF, "learner": "L-1011"},
        files={"record_file": ("learners.csv", data, "text/csv")},
    )
    assert response.status_code == 200, text_of(response.text)[:400]
    seen = text_of(main_of(response.text))
    assert "learners.csv, read as CSV" in seen and "Audit of learner L-1011" in seen
    # an empty file input sends an empty part: the box is the record
    response = client.post(
        "/audit",
        data={"record": learner("L-1011"), "as_of": AS_OF},
        files={"record_file": ("", b"", "application/octet-stream")},
    )
    assert response.status_code == 200 and "pasted record, read as JSON" in text_of(
        main_of(response.text)
    )


def test_a_bad_upload_is_a_message(client: TestClient) -> None:
    response = client.post(
        "/audit",
        data={"as_of": AS_OF},
        files={"record_file": ("latin1.json", b'{"learner": "\xe9"}', "application/json")},
    )
    # as a form the page cannot read (too large, not its own): a message page
    assert response.status_code == 422
    seen = text_of(main_of(response.text))
    assert "The record file could not be read latin1.json is not UTF-8 text" in seen
    two = [("record_file", ("a.json", b"{}", "application/json"))] * 2
    response = client.post("/audit", data={"as_of": AS_OF}, files=two)
    assert response.status_code == 400 and "not one of this page" in response.text
    big = b"x" * (page.MAX_BODY + 10)
    response = client.post("/audit", files={"record_file": ("big.json", big, "text/plain")})
    assert response.status_code == 413 and "too large" in response.text


def test_the_nearest_credentials_are_what_the_command_prints(client: TestClient) -> None:
    from click.testing import CliRunner

    from stackrules.cli import cli

    record = ROOT / "examples" / "learners.json"
    args = ["nearest", "--rules", os.path.relpath(ROOT / "rules"), str(record), "--top", "3"]
    result = CliRunner().invoke(
        cli, [*args, "--learner", "L-1003", "--as-of", AS_OF, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout)
    expected = expected[0] if isinstance(expected, list) else expected
    response = client.post(
        "/nearest", data={"record": learner("L-1003"), "as_of": AS_OF, "top": "3"}
    )
    assert response.status_code == 200, text_of(response.text)[:400]
    html = main_of(response.text)
    assert "<caption>The nearest credentials and the work each needs</caption>" in html
    rows = re.findall(r'<th scope="row"><span class="item">([^<]+)</span>', html)
    assert rows == [c["target"] for c in expected["credentials"]] and len(rows) == 3
    first = expected["credentials"][0]
    seen = text_of(html)
    assert f"{first['cost']['items']} items" in seen
    assert all(i["item"] in seen for i in first["items"])


def test_the_nearest_of_one_issuer_and_bad_choices(client: TestClient) -> None:
    response = client.post(
        "/nearest", data={"record": learner("L-1011"), "as_of": AS_OF, "issuer": "DSGN"}
    )
    assert response.status_code == 200
    rows = re.findall(r'<th scope="row"><span class="item">([^<]+)</span>', response.text)
    assert rows and all(r.startswith("DSGN:") for r in rows)
    response = client.post(
        "/nearest", data={"record": learner("L-1011"), "as_of": AS_OF, "issuer": "DSNG"}
    )
    assert response.status_code == 422
    assert_message(response.text, "DSNG is not a declared issuer", "did you mean DSGN")
    response = client.post(
        "/nearest", data={"record": learner("L-1011"), "as_of": AS_OF, "top": "0"}
    )
    assert response.status_code == 400
    assert_message(response.text, "0 is not a whole number of credentials")


def test_a_plan_or_audit_past_the_time_limit_is_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import itertools

    from stackrules.evaluation import allocation

    compiled, _ = load_rules([ROOT / "rules"])  # nothing remembered: its searches run
    assert compiled is not None
    limited = TestClient(Starlette(routes=page.routes(FixedRules(compiled), time_limit=60)))
    ticks = itertools.count(0, 1000)  # every look at the clock is 1000 s later
    monkeypatch.setattr(allocation, "_clock", lambda: float(next(ticks)))
    fields = {"record": learner("L-1003"), "as_of": AS_OF}
    response = limited.post("/plan", data={**fields, "target": "UVIC:BA"})
    assert response.status_code == 504
    assert_message(
        response.text, "The plan took too long", "plan took longer than the server's limit of 60 s"
    )
    response = limited.post("/nearest", data=fields)
    assert response.status_code == 504
    assert_message(response.text, "nearest credentials took longer than")
    response = limited.post("/audit", data=fields)
    assert response.status_code == 504
    assert_message(response.text, "The evaluation took too long")
    monkeypatch.undo()
    assert limited.post("/plan", data={**fields, "target": "UVIC:BA"}).status_code == 200


def test_exception_rows_for_learners_not_in_the_record_are_said(client: TestClient) -> None:
    """The pasted table holds rows for every sample learner: those of learners in the pasted
    record apply or wait their turn; a row for a learner the record does not hold applies to
    nobody, and the page says so (the command line makes it a record error)."""
    one = learner("L-1003")  # a record of one learner: the table's other learners are absent
    status, html = audit(client, one, exceptions=EXCEPTIONS)
    assert status == 200
    seen = text_of(main_of(html)).replace("`", "")
    assert "exception row(s) are for learners not in the record and apply to nobody" in seen
    assert "L-1009" in seen and "EX-2025-031" in seen
    whole = json.dumps(LEARNERS)  # every learner of the table is in this record
    status, html = audit(client, whole, exceptions=EXCEPTIONS, learner="L-1003")
    assert status == 200
    assert "apply to nobody" not in text_of(main_of(html))
