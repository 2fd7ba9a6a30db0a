"""The web page of `stackrules serve`: a registrar's audit in the browser (issue #17).

Takes the rule set serving now (a :class:`RulesSource`) and gives Starlette routes:

- `GET /`: the form. Paste a record (JSON, JSON Lines, CSV, an Open Badges 3.0 or CLR 2.0
  credential, compact VC-JWTs) or load a bundled sample (`/?sample=L-1003`: the learners of
  `examples/learners.json`, with their registrar exceptions, copied into `samples/` since the
  wheel ships only the package); optional registrar exceptions (JSON Lines or CSV), the as-of
  date, credentials pursued (`--target`), how many others in progress to show (`--in-progress`)
  and planned courses (`--add ITEM[:GRADE]`).
- `POST /audit`: the audit, laid out as `textreport` lays it out (earned credentials with the
  evidence and the rule `file:line` behind each decision, what remains, transfer credit, what
  did not count and why, exceptions), then forms to act on it: a what-if, a plan, the map.
- `POST /plan`: the cheapest plan for one target, by term (as `stackrules plan`).
- `POST /nearest`: the credentials nearest to completion, with the work each needs (as
  `stackrules nearest --top N [--issuer I]`, the credentials pursued always shown).
- `GET /map?credential=ID` and `POST /map`: the pathway flowchart of a credential
  (`maps.render_html`), for the record when one is posted.

Every input is read and checked as the command line reads it (the record readers, the
exceptions reader, `advisor.whatif`, and `stackrules.learner`, which `evaluate`, `plan`,
`nearest` and the JSON API also call to check, evaluate and plan for a learner), so a bad one
gives the same words (file, row or line, learner, field, did-you-mean), shown on the page with
a 4xx status; nothing from Python's own error text reaches the page. An audit, a plan or the
nearest credentials past the server's `--time-limit` is a message (504).

Server-rendered with Jinja2 templates (`templates/`, autoescaping on): the HTML stays
readable and reviewable apart from the logic, and every value from a record or a rule file is
escaped without a call at each use. The record form is `multipart/form-data`, so that a
record file is uploaded without a script (parsed by python-multipart through Starlette's
parser, after the body is read within `MAX_BODY`); with `static/page.js` the file is read into
the text area instead, to be seen and edited first. The action forms are
`application/x-www-form-urlencoded`, decoded with the standard library. No flow needs the
script. Nothing is stored: each request carries the record and answers from it alone,
so there is no session to steal and no state a forged form could change.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from stackrules import CompiledRules
from stackrules.advisor.output import NearestOut, PlanOut, copy_runs
from stackrules.advisor.plan import PerTerm, PlanError
from stackrules.advisor.whatif import Addition, WhatIfError, apply_what_if, parse_addition
from stackrules.diagnostics import did_you_mean_suffix
from stackrules.evaluation import DEFAULT_IN_PROGRESS, EvaluationTimeout
from stackrules.exceptions.files import Loaded
from stackrules.exceptions.files import read_text as read_exceptions_text
from stackrules.interop.vc import looks_like_jwt
from stackrules.learner import nearest_for, plans_for, report_for
from stackrules.learner import prepare as prepare_learner
from stackrules.maps.flowchart import build_flowchart
from stackrules.maps.render_html import render_html
from stackrules.pursuit import unknown_credential, unknown_issuer, unknown_targets
from stackrules.records import LearnerRecord, RecordError, TextKind, read_text
from stackrules.report import ExceptionResult, InProgressCredential, Report
from stackrules.serve.service import planner
from stackrules.span import printable
from stackrules.textreport import evidence_facts, number

LOG = logging.getLogger("stackrules.serve.page")
HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
# the as-of date of the README's examples, which the samples were written for
SAMPLE_AS_OF = date(2026, 11, 22)
MAX_BODY = 8 * 1024 * 1024  # bytes of a posted form
MAX_FIELDS = 64
NEAREST_TOP = 5  # the nearest credentials shown unless the form asks for more
RECORD_NAME = "pasted record"
EXCEPTIONS_NAME = "pasted exceptions"
FORMATS: dict[str, str] = {
    "auto": "Recognise it",
    "json": "JSON: a learner, an array of learners, or an Open Badges 3.0 / CLR 2.0 credential",
    "jsonl": "JSON Lines: one learner or credential per line",
    "csv": "CSV: one achievement per row, header first",
    "jwt": "Compact VC-JWT: one credential per line",
}
_KINDS: dict[str, TextKind] = {"json": "json", "jsonl": "jsonl", "csv": "csv", "jwt": "jwt"}
FIELDS = (
    "record",
    "format",
    "name",
    "learner",
    "as_of",
    "targets",
    "in_progress",
    "exceptions",
    "adds",
)

# Pages are never cached (a record is personal data) and run only the page's own script and
# style; a map (one self-contained document) has inline style and no script.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_MAP_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class RulesSource(Protocol):
    """Where the page gets its rule set: the one serving now (it may be reloaded between
    requests; each request asks once and uses that rule set throughout)."""

    def current(self) -> CompiledRules: ...


class PageError(Exception):
    """Input the page cannot act on: an HTTP status, a heading and the messages, each in the
    words the command line uses."""

    def __init__(self, status: int, title: str, messages: Sequence[str]) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.messages = list(messages)


@dataclass(frozen=True)
class Inputs:
    """What the form holds; every action form carries all of it, so a page needs no state."""

    record: str = ""
    format: str = "auto"
    name: str = RECORD_NAME
    learner: str = ""
    as_of: str = ""
    targets: str = ""
    in_progress: str = str(DEFAULT_IN_PROGRESS)
    exceptions: str = ""
    adds: str = ""

    @staticmethod
    def of(form: Mapping[str, str]) -> Inputs:
        values = {k: form[k] for k in FIELDS if k in form}
        if values.get("format") not in FORMATS:
            values["format"] = "auto"
        name = " ".join(values.get("name", "").split())[:120]
        values["name"] = name or RECORD_NAME
        for k in ("learner", "as_of", "targets", "in_progress", "adds"):
            if k in values:
                values[k] = values[k].strip()
        return Inputs(**values)

    def hidden(self, *leave_out: str) -> list[tuple[str, str]]:
        """The fields as (name, value) pairs for hidden inputs."""
        return [(k, str(getattr(self, k))) for k in FIELDS if k not in leave_out]


@dataclass
class Prepared:
    """A learner's record read, checked and joined to its exceptions, with the what-if."""

    compiled: CompiledRules
    inputs: Inputs
    record: LearnerRecord  # with its exceptions (`stackrules.learner.prepare`)
    learners: list[str]
    day: date
    targets: list[str]
    in_progress: int | None
    additions: list[Addition]
    kind: TextKind
    notes: list[str] = field(default_factory=list)

    @property
    def trial(self) -> LearnerRecord:
        """The record with the what-if completions, as the report and the plans see it."""
        return apply_what_if(self.record, self.additions, self.day)


# ------------------------------------------------------------------ reading the form


_FORM_KINDS = ("application/x-www-form-urlencoded", "multipart/form-data")
# a record file's extension: the format it is read as when the form says "Recognise it" (as
# `static/page.js` guesses it when it reads a file into the box)
_EXTENSIONS: dict[str, str] = {"json": "json", "jsonl": "jsonl", "csv": "csv", "jwt": "jwt"}
_EXTENSIONS["txt"] = "jwt"
UPLOAD = "record_file"  # the file input of the record form


def _not_ours() -> PageError:
    return PageError(400, "The form could not be read", ["the form is not one of this page's"])


async def _form(request: Request) -> dict[str, str]:
    """The posted form's fields (the first of a name given twice), within `MAX_BODY` bytes
    counted as they arrive. A form with a record file (`multipart/form-data`, sent when the
    page has no script to read the file into the box) gives the file's text as `record` and
    its name as `name`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _FORM_KINDS:
        raise PageError(
            415,
            "The form could not be read",
            ["the page's forms are sent as application/x-www-form-urlencoded or "
             "multipart/form-data"],
        )  # fmt: skip
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PageError(
                413,
                "The record is too large",
                [
                    f"a form holds at most {MAX_BODY // (1024 * 1024)} MB; run `stackrules "
                    "evaluate` or `stackrules batch` on a file this size"
                ],
            )
    if kind == "multipart/form-data":
        return await _multipart(request, bytes(body))
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:  # not ASCII, not UTF-8 once decoded, or too many fields
        raise _not_ours() from None
    found: dict[str, str] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


async def _multipart(request: Request, body: bytes) -> dict[str, str]:
    """A `multipart/form-data` form already read (`body`), parsed by python-multipart through
    Starlette's parser: at most one file (the record's) and `MAX_FIELDS` fields."""

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, replay(), max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_BODY
    )
    try:
        form = await parser.parse()
    except MultiPartException:
        raise _not_ours() from None
    try:
        found: dict[str, str] = {}
        upload: UploadFile | None = None
        for key, value in form.multi_items():
            if isinstance(value, str):
                if key != UPLOAD:
                    found.setdefault(key, value)
            elif key == UPLOAD and upload is None:
                upload = value
        if upload is not None:
            data = await upload.read()
            if data:  # a file input left empty sends a part with no name and no bytes
                _read_upload(found, data, upload.filename or "uploaded record")
        return found
    finally:
        await form.close()


def _read_upload(found: dict[str, str], data: bytes, filename: str) -> None:
    """The uploaded record file as the form's record, named after the file, its format
    guessed from its extension when the form leaves it to be recognised."""
    name = printable(filename.replace("\\", "/").rsplit("/", 1)[-1])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PageError(
            422, "The record file could not be read", [f"`{name}` is not UTF-8 text"]
        ) from None
    found["record"] = text
    found["name"] = name
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if found.get("format", "auto") == "auto" and extension in _EXTENSIONS:
        found["format"] = _EXTENSIONS[extension]


def _detect(text: str) -> TextKind:
    """The kind of record text: JSON (`{` or `[`; JSON Lines when each line is an object),
    compact VC-JWTs, else CSV."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "json"
    if looks_like_jwt(lines[0]):
        return "jwt"
    if lines[0].startswith("["):
        return "json"
    if lines[0].startswith("{"):
        # one object per line (and more than one line) is JSON Lines; an object spread over
        # lines is JSON
        if len(lines) > 1 and all(ln.startswith("{") and ln.endswith("}") for ln in lines):
            return "jsonl"
        return "json"
    if lines[0].startswith('"ey'):
        return "json"  # a JSON string holding a compact VC-JWT
    return "csv"


def _words(text: str) -> list[str]:
    """Identifiers separated by spaces, commas or semicolons, each once, in order."""
    return list(dict.fromkeys(w for w in re.split(r"[\s,;]+", text) if w))


def _day(text: str) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageError(
            400, "The as-of date could not be read", [f"`{text}` is not a date as YYYY-MM-DD"]
        ) from None


def _count(text: str) -> int | None:
    spec = text.strip().lower()
    if spec == "all":
        return None
    if spec.isdigit():
        return int(spec)
    if not spec:
        return DEFAULT_IN_PROGRESS
    raise PageError(
        400,
        "How many credentials in progress to show could not be read",
        [f"`{text}` is not a whole number of credentials or `all`"],
    )


def _errors(errors: Iterable[RecordError]) -> list[str]:
    return [e.render() for e in errors]


def prepare(compiled: CompiledRules, inputs: Inputs) -> Prepared:
    """The inputs read and checked as `stackrules evaluate` checks them; a `PageError` with
    every problem found otherwise."""
    if not inputs.record.strip():
        raise PageError(
            422, "There is no record", ["paste a record, upload a file or load a sample"]
        )
    day = _day(inputs.as_of)
    in_progress = _count(inputs.in_progress)
    credentials = compiled.model.credentials
    targets = _words(inputs.targets)
    problems = unknown_targets(targets, credentials)
    if problems:
        raise PageError(422, "A credential pursued is not in the rule set", problems)
    additions: list[Addition] = []
    wrong: list[str] = []
    for text in _words(inputs.adds):
        try:
            additions.append(parse_addition(text, compiled.model, compiled.aliases))
        except WhatIfError as err:
            wrong.append(str(err))
    if wrong:
        raise PageError(422, "A planned course could not be read", wrong)
    kind = _detect(inputs.record) if inputs.format == "auto" else _KINDS[inputs.format]
    name = inputs.name
    found: list[LearnerRecord] = []
    errors: list[RecordError] = []
    for entry in read_text(inputs.record, kind, name, compiled.aliases):
        if isinstance(entry, RecordError):
            errors.append(entry)
        else:
            found.append(entry)
    learners = [r.learner for r in found]
    whole = [e for e in errors if e.whole_file]
    if whole or not found:
        title = "The record could not be read"
        raise PageError(422, title + f" as {FORMATS[kind].split(':')[0]}", _errors(errors))
    chosen = found[0]
    if inputs.learner:
        match = [r for r in found if r.learner == inputs.learner]
        if not match:
            others = [e for e in errors if e.learner == inputs.learner]
            if others:
                raise PageError(422, "The record could not be read", _errors(others))
            raise PageError(
                422,
                "No such learner",
                [
                    f"learner `{inputs.learner}` is not in the record"
                    + did_you_mean_suffix(inputs.learner, learners)
                ],
            )
        chosen = match[0]
    notes = []
    if errors:
        notes.append(
            f"{len({e.record_index for e in errors})} other learner(s) in the record could not "
            "be read: " + "; ".join(_errors(errors))
        )
    table = None
    if inputs.exceptions.strip():
        csv_text = not inputs.exceptions.lstrip().startswith("{")
        table = Loaded(
            EXCEPTIONS_NAME,
            read_exceptions_text(inputs.exceptions, EXCEPTIONS_NAME, csv_text=csv_text),
        )
        # rows for a learner the pasted record does not hold apply to nobody: said, as the
        # command line says it (there a record error; here the audit of this learner goes on)
        present = {*learners, *(e.learner for e in errors if e.learner)}
        strangers = table.strangers(present, name)
        if strangers:
            notes.append(
                f"{len(strangers)} exception row(s) are for learners not in the record and "
                "apply to nobody: " + "; ".join(_errors(strangers))
            )
    extra, extra_errors = table.lookup(chosen.learner) if table is not None else ([], [])
    # as `evaluate`, `plan` and the API check a learner: an unknown `pursuing` first (alone),
    # then the exceptions; the file errors of the pasted table are its own message
    joined, refused = prepare_learner(
        chosen,
        compiled,
        file=name,
        extra=extra,
        extra_errors=extra_errors,
        exceptions_file=EXCEPTIONS_NAME if table is not None else None,
    )
    if refused and all(e.field and e.field.startswith("pursuing[") for e in refused):
        raise PageError(
            422, "The record pursues a credential not in the rule set", _errors(refused)
        )
    if table is not None and table.file_errors:
        raise PageError(422, "The exceptions could not be read", _errors(table.file_errors))
    if refused:
        raise PageError(422, "An exception could not be applied", _errors(refused))
    return Prepared(
        compiled=compiled,
        inputs=inputs,
        record=joined,
        learners=learners,
        day=day,
        targets=targets,
        in_progress=in_progress,
        additions=additions,
        kind=kind,
        notes=notes,
    )


def _too_long(work: str, time_limit: float) -> PageError:
    return PageError(
        504,
        f"The {work} took too long",
        [
            f"the learner's {work} took longer than the server's limit of {time_limit:g} s "
            "(`--time-limit`); the command line has no limit"
        ],
    )


def _report(p: Prepared, time_limit: float | None) -> Report:
    try:
        return report_for(
            p.compiled,
            p.record,
            p.day,
            targets=p.targets,
            in_progress=p.in_progress,
            additions=p.additions,
            time_limit=time_limit,
        )
    except EvaluationTimeout:
        assert time_limit is not None
        raise _too_long("evaluation", time_limit) from None
    except Exception as failure:  # a defect, never bad data: said so, without a traceback
        raise PageError(
            500,
            "The engine failed on this record",
            [
                f"internal error while evaluating learner {p.record.learner} "
                f"({type(failure).__name__}); please report it with the record"
            ],
        ) from failure


# ------------------------------------------------------------------ samples


@dataclass(frozen=True)
class Sample:
    learner: str
    summary: str
    record: str  # the learner's object as indented JSON
    exceptions: str  # the learner's rows of the sample exceptions, as CSV (or "")


@cache
def samples() -> tuple[Sample, ...]:
    """The bundled sample learners, in file order."""
    data = json.loads((SAMPLES / "learners.json").read_text("utf-8"))
    with open(SAMPLES / "exceptions.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    found = []
    for obj in data:
        ident = obj["learner"]
        achievements = obj["achievements"]
        issuers = sorted({a["item"].split(":", 1)[0] for a in achievements})
        mine = [r for r in body if r and r[0] == ident]
        exceptions = ""
        if mine:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(mine)
            exceptions = out.getvalue()
        summary = f"{ident}: {len(achievements)} achievements ({', '.join(issuers)})"
        if mine:
            summary += f", {len(mine)} exception{'s' if len(mine) != 1 else ''}"
        found.append(
            Sample(ident, summary, json.dumps(obj, indent=2, ensure_ascii=False) + "\n", exceptions)
        )
    return tuple(found)


def _sample_inputs(ident: str) -> Inputs:
    for s in samples():
        if s.learner == ident:
            return Inputs(
                record=s.record,
                format="json",
                name=f"sample {s.learner}",
                as_of=SAMPLE_AS_OF.isoformat(),
                exceptions=s.exceptions,
            )
    hint = did_you_mean_suffix(ident, [s.learner for s in samples()])
    raise PageError(404, "No such sample", [f"there is no sample learner `{ident}`{hint}"])


# ------------------------------------------------------------------ rendering


def _plural(n: float, word: str) -> str:
    return f"{number(n)} {word}{'' if n == 1 else 's'}"


def _work(p: InProgressCredential) -> str:
    """What remains, in hours where everything that remains is measured in hours (as the
    text audit says it), else in credits."""
    if p.remaining and all(r.unit == "hours" for r in p.remaining):
        needs = [r.need for r in p.remaining if r.limit is None] or [r.need for r in p.remaining]
        return _plural(sum(needs), "hour")
    return _plural(p.remaining_credits, "credit")


def _scope(report: Report) -> str:
    """How many credentials are in progress and which the audit shows (`semantics.md` §6)."""
    if not report.started and not report.in_progress:
        return "No credential is in progress."
    parts = [f"{_plural(report.started, 'credential')} started"]
    pursued = sum(1 for p in report.in_progress if p.pursued)
    if pursued:
        parts.append(f"{pursued} pursued")
    if report.in_progress_limit is None:
        parts.append("all shown" if report.started else "none shown")
    else:
        parts.append(f"{len(report.in_progress) - pursued} nearest shown")
    line = "; ".join(parts) + "."
    shown = sum(1 for p in report.in_progress if any(r.evidence for r in p.requirements))
    if report.in_progress_limit is not None and shown < report.started:
        line += " Set “other credentials in progress” to all to see every one."
    return line


def _title(compiled: CompiledRules, ident: str) -> str:
    item = compiled.model.items.get(ident)
    return item.title if item is not None else ident


def _choices(compiled: CompiledRules, report: Report | None) -> tuple[list[str], list[str]]:
    """Credentials for the plan and map forms: those of the audit first, then every other."""
    mine: list[str] = []
    if report is not None:
        mine = [p.credential for p in report.in_progress]
        mine += [e.credential for e in report.earned]
    rest = sorted(c for c in compiled.model.credentials if c not in mine)
    return list(dict.fromkeys(mine)), rest


def _code(text: str) -> Markup:
    """A message with its `quoted` identifiers as code: escaped first, so nothing in it is
    markup but the code spans added here."""
    return Markup(_TICKS.sub(r"<code>\1</code>", str(escape(text))))


_TICKS = re.compile(r"`([^`]+)`")


def _approval(e: ExceptionResult) -> str:
    who = f"approved by {e.approved_by}" if e.approved_by else "approved"
    when = f" on {e.approved_on.isoformat()}" if e.approved_on else ""
    return f"{e.id} ({e.kind}, {who}{when})"


STATUS_WORDS = {
    "earned": "Already earned: nothing to plan.",
    "held": "Already held: nothing to plan.",
    "unreachable": "It cannot be earned from the catalog, whatever is taken.",
    "not-offered": "No version of it is in force at the catalog date.",
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["code"] = _code
    env.globals.update(
        plural=_plural,
        work=_work,
        scope=_scope,
        facts=evidence_facts,
        formats=FORMATS,
        runs=copy_runs,
        status_words=STATUS_WORDS,
    )
    return env


def _rules_summary(compiled: CompiledRules) -> str:
    m = compiled.model
    items = len(m.items) - len(m.credentials)
    rules = len(m.equivalencies)
    return (
        f"{_plural(len(m.credentials), 'credential')}, {_plural(items, 'catalog item')}, "
        f"{rules} equivalenc{'y' if rules == 1 else 'ies'} from {_plural(len(m.files), 'file')}"
    )


def _page(
    template: str, compiled: CompiledRules, status: int = 200, **context: Any
) -> HTMLResponse:
    html = (
        _environment()
        .get_template(template)
        .render(
            rules_summary=_rules_summary(compiled),
            title_of=lambda ident: _title(compiled, ident),
            **context,
        )
    )
    # printable: a rule file named in bytes that are not UTF-8 is cited with U+FFFD
    return HTMLResponse(
        printable(html),
        status_code=status,
        headers={**_HEADERS, "Content-Security-Policy": _PAGE_POLICY},
    )


def _home(
    compiled: CompiledRules,
    inputs: Inputs,
    error: PageError | None = None,
    sample: str = "",
) -> HTMLResponse:
    return _page(
        "home.html",
        compiled,
        status=error.status if error is not None else 200,
        inputs=inputs,
        error=error,
        samples=samples(),
        sample=sample,
        credentials=sorted(compiled.model.credentials),
        items=sorted(i for i in compiled.model.items if i not in compiled.model.credentials),
    )


def _message(compiled: CompiledRules, error: PageError) -> HTMLResponse:
    return _page("message.html", compiled, status=error.status, error=error)


# ------------------------------------------------------------------ routes


Limit = float | None  # the server's `--time-limit` (None: none)


def _audit_page(
    compiled: CompiledRules, inputs: Inputs, form: Mapping[str, str], limit: Limit
) -> HTMLResponse:
    try:
        prepared = prepare(compiled, inputs)
        report = _report(prepared, limit)
    except PageError as err:
        return _home(compiled, inputs, err)
    mine, rest = _choices(compiled, report)
    return _page(
        "audit.html",
        compiled,
        p=prepared,
        inputs=inputs,
        report=report,
        mine=mine,
        rest=rest,
        chosen=_default_target(report, mine, rest),
        approvals={e.id: _approval(e) for e in report.exceptions},
        items=sorted(i for i in compiled.model.items if i not in compiled.model.credentials),
        issuers=_issuers(compiled),
    )


def _plan_page(
    compiled: CompiledRules, inputs: Inputs, form: Mapping[str, str], limit: Limit
) -> HTMLResponse:
    per_term = form.get("per_term", "").strip()
    try:
        prepared = prepare(compiled, inputs)
        result = _plan(prepared, form.get("target", "").strip(), per_term, limit)
    except PageError as err:
        return _home(compiled, inputs, err)
    return _page(
        "plan.html",
        compiled,
        p=prepared,
        inputs=inputs,
        plan=result,
        terms=_term_rows(result),
        per_term=per_term,
    )


def _nearest_page(
    compiled: CompiledRules, inputs: Inputs, form: Mapping[str, str], limit: Limit
) -> HTMLResponse:
    top_text = form.get("top", "").strip() or str(NEAREST_TOP)
    issuer = form.get("issuer", "").strip()
    try:
        top = _top(top_text)
        prepared = prepare(compiled, inputs)
        found = _nearest(prepared, issuer, top, limit)
    except PageError as err:
        return _home(compiled, inputs, err)
    return _page(
        "nearest.html",
        compiled,
        p=prepared,
        inputs=inputs,
        nearest=found,
        top=top_text,
        issuer=issuer,
    )


def _map_page(
    compiled: CompiledRules, inputs: Inputs, form: Mapping[str, str], limit: Limit
) -> HTMLResponse:
    try:
        ident = _credential(compiled, form.get("credential", "").strip())
        prepared = prepare(compiled, inputs)
        return _map(compiled, ident, (prepared.trial, _report(prepared, limit)))
    except PageError as err:
        return _home(compiled, inputs, err)


Action = Callable[[CompiledRules, Inputs, Mapping[str, str], Limit], HTMLResponse]


async def _guarded(
    compiled: CompiledRules, work: Callable[..., HTMLResponse], *args: Any
) -> Response:
    """`work(*args)` in the thread pool; a defect (never bad input, which `prepare` turns
    into a message) is logged for the operator and shown as a message, not a traceback."""
    try:
        response: HTMLResponse = await run_in_threadpool(work, *args)
    except Exception:
        LOG.exception("the web page failed on a request")
        return _message(
            compiled,
            PageError(
                500,
                "Something went wrong",
                [
                    "the engine failed on this request (an internal error, logged by the "
                    "server); please report it with the record"
                ],
            ),
        )
    return response


def routes(rules: RulesSource, *, time_limit: float | None = None) -> list[BaseRoute]:
    """The page's routes, answering from `rules.current()` at each request. The engine's
    work runs in Starlette's thread pool, so one long plan does not hold up other requests;
    an audit, a plan or the nearest credentials stop past `time_limit` seconds (a message)."""

    async def home(request: Request) -> Response:
        compiled = rules.current()
        ident = request.query_params.get("sample", "").strip()
        if not ident:
            return _home(compiled, Inputs(as_of=date.today().isoformat()))
        try:
            return _home(compiled, _sample_inputs(ident), sample=ident)
        except PageError as err:
            return _home(compiled, Inputs(as_of=date.today().isoformat()), err)

    def posted(action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            compiled = rules.current()
            try:
                form = await _form(request)
            except PageError as err:
                return _message(compiled, err)
            return await _guarded(compiled, action, compiled, Inputs.of(form), form, time_limit)

        return endpoint

    async def map_get(request: Request) -> Response:
        compiled = rules.current()
        ident = request.query_params.get("credential", "").strip()
        try:
            ident = _credential(compiled, ident, unknown=404)
        except PageError as err:
            return _message(compiled, err)
        return await _guarded(compiled, _map, compiled, ident, None)

    async def back_home(request: Request) -> Response:
        return RedirectResponse("/", status_code=303)

    return [
        Route("/", home, methods=["GET"], name="home"),
        Route("/audit", posted(_audit_page), methods=["POST"], name="audit"),
        Route("/audit", back_home, methods=["GET"]),
        Route("/plan", posted(_plan_page), methods=["POST"], name="plan"),
        Route("/plan", back_home, methods=["GET"]),
        Route("/nearest", posted(_nearest_page), methods=["POST"], name="nearest"),
        Route("/nearest", back_home, methods=["GET"]),
        Route("/map", map_get, methods=["GET"], name="map"),
        Route("/map", posted(_map_page), methods=["POST"]),
    ]


def _default_target(report: Report, mine: list[str], rest: list[str]) -> str:
    pursued = [p.credential for p in report.in_progress if p.pursued]
    return (pursued or mine or rest or [""])[0]


def _credential(compiled: CompiledRules, ident: str, unknown: int = 422) -> str:
    """The credential a form or link names (or its alias); a `PageError` with status
    `unknown` when the rule set has no such credential."""
    credentials = compiled.model.credentials
    ident = compiled.aliases.get(ident, ident)
    if not ident:
        raise PageError(400, "Which credential?", ["choose a credential for the map"])
    problem = unknown_credential(ident, credentials)
    if problem is not None:
        raise PageError(unknown, "No such credential", [problem])
    return ident


def _plan(p: Prepared, target: str, per_term: str, limit: Limit) -> PlanOut:
    ident = _credential(p.compiled, target)
    try:
        cap = PerTerm.parse(per_term) if per_term.strip() else None
        (found,) = plans_for(
            planner(p.compiled),
            p.record,
            [ident],
            p.day,
            per_term=cap,
            additions=p.additions,
            time_limit=limit,
        )
        return found
    except PlanError as err:
        raise PageError(422, "The plan could not be made", [str(err)]) from None
    except EvaluationTimeout:
        assert limit is not None
        raise _too_long("plan", limit) from None


def _issuers(compiled: CompiledRules) -> list[str]:
    """The issuers that have credentials: those the nearest credentials can be narrowed to."""
    mine = {c.split(":", 1)[0] for c in compiled.model.credentials}
    return sorted(i for i in compiled.model.issuers if i in mine)


def _top(text: str) -> int | None:
    spec = text.strip().lower()
    if spec == "all":
        return None
    if spec.isdigit() and int(spec) > 0:
        return int(spec)
    raise PageError(
        400,
        "How many credentials to show could not be read",
        [f"`{text}` is not a whole number of credentials (1 or more) or `all`"],
    )


def _nearest(p: Prepared, issuer: str, top: int | None, limit: Limit) -> NearestOut:
    """`stackrules nearest` for the learner: the credentials pursued always shown."""
    unknown = unknown_issuer(issuer or None, p.compiled.model.issuers)
    if unknown is not None:
        raise PageError(422, "No such issuer", [unknown])
    try:
        return nearest_for(
            planner(p.compiled),
            p.record,
            p.day,
            issuer=issuer or None,
            top=top,
            always=p.targets,
            additions=p.additions,
            time_limit=limit,
        )
    except PlanError as err:
        raise PageError(422, "The nearest credentials could not be found", [str(err)]) from None
    except EvaluationTimeout:
        assert limit is not None
        raise _too_long("search for the nearest credentials", limit) from None


def _term_rows(plan: PlanOut) -> list[tuple[int, float, list[tuple[Any, int]]]]:
    """Each term's items, a run of copies of one item as one row with their number."""
    by_item = {i.item: i for i in plan.items}
    out = []
    for t in plan.terms:
        rows: list[tuple[Any, int]] = []
        for ident in t.items:
            if rows and rows[-1][0].item == ident:
                rows[-1] = (rows[-1][0], rows[-1][1] + 1)
            else:
                rows.append((by_item[ident], 1))
        out.append((t.term, t.credits, rows))
    return out


def _map(
    compiled: CompiledRules, ident: str, learner: tuple[LearnerRecord, Report] | None
) -> HTMLResponse:
    chart = build_flowchart(compiled.evaluator.graph, credentials=[ident], learner=learner)
    html = render_html(chart, _rules_summary(compiled))
    return HTMLResponse(
        printable(html), headers={**_HEADERS, "Content-Security-Policy": _MAP_POLICY}
    )
