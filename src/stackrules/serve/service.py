"""The API's work, without HTTP: a request body in, the command line's answer out.

Takes a decoded request (a learner record as a plain object, an Open Badges 3.0 / CLR 2.0
credential or a compact VC-JWT string; the options of `evaluate`, `plan` or `nearest`) and the
rule set serving now; gives the very report or documents the command prints with
`--format json` (or the text audit), through the same functions (`stackrules.learner`), or
raises a `ProblemError` carrying the command line's messages: a record error (exit 3 there),
an unknown name (exit 2 there). Nothing is stored or logged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from stackrules import CompiledRules
from stackrules.advisor.output import NearestOut, PlanOut
from stackrules.advisor.plan import PerTerm, PlanError, Planner
from stackrules.advisor.whatif import Addition, WhatIfError, parse_addition
from stackrules.evaluation import DEFAULT_IN_PROGRESS, EvaluationTimeout
from stackrules.exceptions.files import read_objects
from stackrules.exceptions.model import RegistrarException
from stackrules.interop.ob3 import is_credential, read_credential_json, read_credential_jwt
from stackrules.interop.vc import looks_like_jwt
from stackrules.learner import nearest_for, plans_for, prepare, report_for
from stackrules.pursuit import unknown_credential, unknown_issuer
from stackrules.quoted import shown
from stackrules.records import LearnerRecord, RecordError, jsonsafe, parse_record_obj
from stackrules.records.errors import field_path, translate, unknown_field
from stackrules.report import Report, report_to_json
from stackrules.serve.problems import ProblemError, bad_request, item, record_problem, usage
from stackrules.textreport import render_text

RECORD_SOURCE = "record"  # the `file` of a record error: the request's `record` field
EXCEPTIONS_SOURCE = "exceptions"

RecordValue = Annotated[
    dict[str, Any] | StrictStr,
    Field(
        description="A learner record object (the plain JSON record format), an Open Badges "
        "3.0 or CLR 2.0 credential object, or a compact VC-JWT string."
    ),
]
M = TypeVar("M", bound=BaseModel)
InProgress = Annotated[StrictInt, Field(ge=0)] | Literal["all"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    record: RecordValue
    as_of: date | None = Field(default=None, description="YYYY-MM-DD (default: today).")
    exceptions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Registrar exceptions for this learner, as the rows of an exceptions "
        "file (`learner` may be left out), after the record's own.",
    )
    add: list[StrictStr] = Field(
        default_factory=list, description="What-if completions, `ITEM[:GRADE]` (as `--add`)."
    )
    catalog_date: date | None = Field(
        default=None, description="What-if: the catalog date (as `--catalog-date`)."
    )


class EvaluateRequest(_Request):
    """`stackrules evaluate` for one learner."""

    targets: list[StrictStr] = Field(
        default_factory=list, description="Credentials pursued besides the record's own."
    )
    in_progress: InProgress = Field(
        default=DEFAULT_IN_PROGRESS,
        description="How many other credentials in progress to show, or `all`.",
    )
    format: Literal["json", "text"] = "json"


class PlanRequest(_Request):
    """`stackrules plan` for one learner."""

    targets: list[StrictStr] = Field(min_length=1, description="Credentials to plan for.")
    per_term: StrictStr | StrictInt | None = Field(
        default=None, description="At most N items (`5`) or N credits (`15cr`) per term."
    )


class NearestRequest(_Request):
    """`stackrules nearest` for one learner."""

    targets: list[StrictStr] = Field(
        default_factory=list, description="Credentials always shown, whatever their rank."
    )
    issuer: StrictStr | None = None
    top: Annotated[StrictInt, Field(ge=1)] | None = None


class GraphRequest(BaseModel):
    """A learner to colour the pathway map with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: RecordValue
    as_of: date | None = None


def decode(body: bytes) -> Any:
    """The request body as JSON, within the record readers' limits (nesting, numbers, keys
    given twice, lone surrogates); a 400 problem otherwise."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        raise bad_request(f"the body is not UTF-8 text ({failure.reason})", status=400) from None
    try:
        return jsonsafe.loads(text)
    except jsonsafe.JsonError as failure:
        field = jsonsafe.json_path(failure.loc) if failure.loc is not None else None
        where = ""
        if failure.line is not None:
            where = f" (line {failure.line}, column {failure.column})"
        raise bad_request(
            f"the body is not JSON we can read: {failure.message}{where}", field, status=400
        ) from None


def _request_message(error: Any, known: Sequence[str]) -> str:
    kind = error["type"]
    name = error["loc"][0] if error["loc"] else None
    if kind == "extra_forbidden" and len(error["loc"]) == 1:
        return unknown_field(str(name), known)
    if kind == "missing":
        return "required field is missing"
    if kind.startswith("date") or name in ("as_of", "catalog_date"):
        return f"expected a date as YYYY-MM-DD, got {shown(error.get('input'))}"
    if name == "in_progress":
        return f"expected a whole number 0 or more, or `all`, got {shown(error.get('input'))}"
    if name == "record":
        got = shown(error.get("input"))
        return (
            "expected a learner object, an Open Badges 3.0 or CLR 2.0 credential, or a compact "
            f"VC-JWT string, got {got}"
        )
    if kind == "too_short" and name == "targets":
        return "give at least one credential to plan for"
    if kind == "literal_error" and name == "format":
        return f"expected `json` or `text`, got {shown(error.get('input'))}"
    return translate(error)


def validated(model: type[M], data: Any) -> M:
    """The request as `model`, or a 422 problem naming each field in our words."""
    if not isinstance(data, dict):
        raise bad_request(f"expected a JSON object, got {shown(data)}", status=400)
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        known = list(model.model_fields)
        found = []
        seen: set[str] = set()
        for error in invalid.errors(include_url=False):
            # the field and its list indexes; a union's alternatives (`record`,
            # `in_progress`) each fail, with one message for the field
            loc: tuple[int | str, ...] = error["loc"][:1]
            for part in error["loc"][1:]:
                if not isinstance(part, int):
                    break
                loc += (part,)
            field = field_path(loc) or None
            if field in seen:
                continue
            seen.add(field or "")
            message = _request_message({**error, "loc": loc}, known)
            found.append(item("request", message, field=field))
        raise ProblemError(
            422,
            "invalid-request",
            "The request cannot be read",
            f"{len(found)} problem{'s' if len(found) != 1 else ''} with the request",
            found,
        ) from None


def read_record(value: dict[str, Any] | str, rules: CompiledRules) -> LearnerRecord:
    """The learner of the request's `record`, as the record readers read one document."""
    result: LearnerRecord | list[RecordError]
    where: dict[str, Any] = {"file": RECORD_SOURCE, "aliases": rules.aliases, "record_index": 1}
    if isinstance(value, str):
        if not looks_like_jwt(value):
            message = "expected a compact VC-JWT (three base64url parts separated by dots)"
            raise record_problem([RecordError(file=RECORD_SOURCE, message=message)])
        result = read_credential_jwt(value, **where)
    elif is_credential(value):
        result = read_credential_json(value, **where)
    else:
        result = parse_record_obj(value, **where)
    if isinstance(result, list):
        raise record_problem(result)
    return result


def _exceptions(
    objects: Sequence[dict[str, Any]], learner: str
) -> tuple[list[RegistrarException], list[RecordError]]:
    """The request's exceptions for this learner, and the errors of those it cannot read."""
    found: list[RegistrarException] = []
    errors: list[RecordError] = []
    rows = []
    for number, obj in enumerate(objects):
        other = obj.get("learner", learner)
        if other != learner:
            message = f"an exception for learner {shown(other)} in the request for `{learner}`"
            field = f"exceptions[{number}].learner"
            errors.append(
                RecordError(file=EXCEPTIONS_SOURCE, learner=learner, field=field, message=message)
            )
        rows.append({**obj, "learner": learner})
    if errors:
        return [], errors
    for entry in read_objects(EXCEPTIONS_SOURCE, rows):
        if isinstance(entry, RecordError):
            errors.append(entry)
        else:
            found.append(entry[1])
    return found, errors


def learner_of(request: _Request, rules: CompiledRules, *, check_pursuing: bool) -> LearnerRecord:
    """The request's learner with its exceptions, checked as the command line checks them."""
    record = read_record(request.record, rules)
    extra, extra_errors = _exceptions(request.exceptions, record.learner)
    record, problems = prepare(
        record,
        rules,
        file=RECORD_SOURCE,
        check_pursuing=check_pursuing,
        extra=extra,
        extra_errors=extra_errors,
        exceptions_file=EXCEPTIONS_SOURCE,
    )
    if problems:
        raise record_problem(problems)
    return record


def _additions(request: _Request, rules: CompiledRules) -> list[Addition]:
    additions = []
    for index, text in enumerate(request.add):
        try:
            additions.append(parse_addition(text, rules.model, rules.aliases))
        except WhatIfError as err:
            raise usage(str(err), f"add[{index}]") from None
    return additions


def _targets(targets: Sequence[str], rules: CompiledRules) -> list[str]:
    found = []
    for index, target in enumerate(targets):
        problem = unknown_credential(target, rules.model.credentials)
        if problem is not None:
            found.append(item("usage", problem, field=f"targets[{index}]"))
    if found:
        detail = "; ".join(f.message for f in found)
        raise ProblemError(422, "usage", "Unknown name in the request", detail, found)
    return list(dict.fromkeys(targets))


def timeout(seconds: float, work: str = "evaluation") -> ProblemError:
    return ProblemError(
        504,
        "time-limit",
        "Evaluation time limit",
        f"the learner's {work} took longer than the server's limit of {seconds:g} s",
    )


def evaluate(request: EvaluateRequest, rules: CompiledRules, time_limit: float) -> Report:
    """`stackrules evaluate --format json` for the request's learner."""
    targets = _targets(request.targets, rules)
    additions = _additions(request, rules)
    record = learner_of(request, rules, check_pursuing=True)
    day = request.as_of or date.today()
    try:
        return report_for(
            rules,
            record,
            day,
            targets=targets,
            in_progress=None if request.in_progress == "all" else request.in_progress,
            additions=additions,
            catalog_date=request.catalog_date,
            time_limit=time_limit,
        )
    except EvaluationTimeout:
        raise timeout(time_limit) from None


def evaluate_body(request: EvaluateRequest, rules: CompiledRules, time_limit: float) -> str:
    """The response text: the JSON report as `evaluate --format json` prints one learner's,
    or the registrar's text audit."""
    report = evaluate(request, rules, time_limit)
    if request.format == "text":
        return render_text(report) + "\n"
    return json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n"


def planner(rules: CompiledRules) -> Planner:
    """A planner of its own for each request, of the API or the page (under a millisecond on
    the sample rules): requests never wait for each other's plans, so the time limit is all
    the request's own, and the evaluator they share is safe between threads."""
    return Planner(rules.model, rules.evaluator)


def plan(request: PlanRequest, rules: CompiledRules, time_limit: float) -> list[PlanOut]:
    targets = _targets(request.targets, rules)
    additions = _additions(request, rules)
    cap = None
    if request.per_term is not None:
        try:
            cap = PerTerm.parse(str(request.per_term))
        except PlanError as err:
            raise usage(str(err), "per_term") from None
    record = learner_of(request, rules, check_pursuing=False)
    day = request.as_of or date.today()
    try:
        return plans_for(
            planner(rules),
            record,
            targets,
            day,
            per_term=cap,
            additions=additions,
            catalog_date=request.catalog_date,
            time_limit=time_limit,
        )
    except EvaluationTimeout:
        raise timeout(time_limit, "plan") from None
    except PlanError as err:
        raise usage(f"learner {record.learner}: {err}", "targets") from None


def nearest(request: NearestRequest, rules: CompiledRules, time_limit: float) -> NearestOut:
    always = _targets(request.targets, rules)
    additions = _additions(request, rules)
    issuer = request.issuer
    unknown = unknown_issuer(issuer, rules.model.issuers)
    if unknown is not None:
        raise usage(unknown, "issuer")
    record = learner_of(request, rules, check_pursuing=False)
    day = request.as_of or date.today()
    try:
        return nearest_for(
            planner(rules),
            record,
            day,
            issuer=request.issuer,
            top=request.top,
            always=always,
            additions=additions,
            catalog_date=request.catalog_date,
            time_limit=time_limit,
        )
    except EvaluationTimeout:
        raise timeout(time_limit, "search for the nearest credentials") from None
    except PlanError as err:
        raise usage(f"learner {record.learner}: {err}", "targets") from None


def docs_json(docs: Sequence[PlanOut] | NearestOut) -> Any:
    """As `plan`/`nearest --format json` print them: one document alone, else an array."""
    if isinstance(docs, NearestOut):
        return docs.model_dump(mode="json", by_alias=True)
    data = [d.model_dump(mode="json", by_alias=True) for d in docs]
    return data[0] if len(data) == 1 else data
