"""The JSON API's routes, under `/v1/`, and `/healthz`.

Takes HTTP requests; gives JSON (or the text audit, a flowchart), or a problem detail
(`problems.py`). Every route takes the rule set serving now once, at its start
(`RuleHolder.version`), so a reload never changes it halfway. Bodies are read within the size
limit and decoded by the record readers' JSON decoder; the work runs in a worker thread
(`service.py`) so one long evaluation does not hold up the others. Nothing is kept between
requests: no record is stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from stackrules.diagnostics import did_you_mean
from stackrules.evaluation import DEFAULT_IN_PROGRESS, EvaluationTimeout
from stackrules.maps.flowchart import build_flowchart
from stackrules.maps.render_dot import render_dot
from stackrules.maps.render_html import render_html, render_svg
from stackrules.maps.render_mermaid import render_mermaid
from stackrules.maps.where import where, where_json
from stackrules.serve import catalog, service
from stackrules.serve.problems import (
    PROBLEM_JSON,
    Problem,
    ProblemError,
    diagnostics_json,
    item,
)
from stackrules.serve.state import RuleHolder, RuleSetVersion

# Evaluations running at once in one process. The work holds the GIL, so more threads add
# nothing but contention, and the time limit is read on the wall clock: a request waiting
# for its turn must wait here, before its evaluation's clock starts, not inside it. Two, so
# that one long evaluation does not hold up every short one.
EVALUATING = 2
LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})
MB = 1024 * 1024
# Hands a checked, changed rule set to the supervisor of several workers.
Publish = Callable[[RuleSetVersion], None]


@dataclass
class Settings:
    """What `stackrules serve` was told, shared by the routes (`app.state.settings`)."""

    holder: RuleHolder
    max_body: int = MB
    time_limit: float = 10.0
    # One of several workers: a reload is this worker's check, then `publish` hands the new
    # rule set to the supervisor, which restarts every worker on it (each holds its own copy).
    publish: Publish | None = None
    cors_origins: tuple[str, ...] = field(default=())


async def _compute(request: Request, work: Any, *args: Any) -> Any:
    """`work(*args)` in a worker thread, at most `EVALUATING` at once in this process."""
    state = request.app.state
    limiter: CapacityLimiter | None = getattr(state, "limiter", None)
    if limiter is None:
        limiter = state.limiter = CapacityLimiter(EVALUATING)
    return await to_thread.run_sync(work, *args, limiter=limiter)


def _settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def _version(request: Request) -> RuleSetVersion:
    return _settings(request).holder.version


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


_PROBLEM = {"content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "The body is not JSON, or not an object",
        403: "Only from this machine",
        404: "No such identifier",
        413: "The body is over the server's limit",
        422: "The request, the record or a name in it is wrong (see `errors`)",
        504: "The evaluation (or plan) ran past the server's time limit",
    }
    return {c: {"description": described[c], **_PROBLEM} for c in codes}


async def _body(request: Request) -> Any:
    """The request body, decoded; 413 past `--max-body` (counted as it arrives, whatever
    Content-Length says)."""
    limit = _settings(request).max_body
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return service.decode(b"".join(chunks))


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "too-large",
        "Request body too large",
        f"the body is over the server's limit of {limit:,} bytes (`--max-body`)",
    )


router = APIRouter()


@router.get("/healthz", tags=["server"])
def healthz() -> dict[str, str]:
    """Whether the server is up (and serving a rule set: it never serves without one)."""
    return {"status": "ok"}


@router.get("/v1/rules", tags=["server"])
def rules_info(request: Request) -> dict[str, Any]:
    """The rule set serving now: its content hash, when it was loaded, counts, warnings."""
    return _version(request).to_json()


@router.post("/v1/admin/reload", tags=["server"], responses=_problems(403, 422))
async def reload(request: Request) -> JSONResponse:
    """Read the rule set again and serve it, unless it has errors (422 with its diagnostics;
    the old rules keep serving). Only from this machine (403 otherwise)."""
    client = request.client.host if request.client is not None else None
    if client not in LOCAL_CLIENTS:
        raise ProblemError(
            403,
            "forbidden",
            "Reload only from this machine",
            "the rule set can be reloaded only by a client on this machine (or SIGHUP)",
        )
    settings = _settings(request)
    holder = settings.holder
    outcome = await run_in_threadpool(holder.reload if settings.publish is None else holder.check)
    if outcome.error:
        errors = sum(1 for d in outcome.diagnostics if d.severity == "error")
        raise ProblemError(
            422,
            "rules-have-errors",
            "The rule set has errors",
            f"the rule set has {errors} error{'s' if errors != 1 else ''}; "
            "the rules loaded before keep serving",
            diagnostics=diagnostics_json(outcome.diagnostics),
        )
    if settings.publish is not None and outcome.replaced:
        await run_in_threadpool(settings.publish, outcome.version)
    return JSONResponse({"replaced": outcome.replaced, "rules": outcome.version.to_json()})


@router.post(
    "/v1/evaluate",
    tags=["learners"],
    openapi_extra=_schema(service.EvaluateRequest),
    responses={
        200: {
            "description": "The report (`evaluate --format json`) or the text audit",
            "content": {"application/json": {}, "text/plain": {}},
        },
        **_problems(400, 413, 422, 504),
    },
)
async def evaluate(request: Request) -> Response:
    """One learner's report, exactly as `stackrules evaluate --format json` gives it (or the
    registrar's text audit with `"format": "text"`)."""
    asked = service.validated(service.EvaluateRequest, await _body(request))
    settings = _settings(request)
    rules = settings.holder.current()
    text = await _compute(request, service.evaluate_body, asked, rules, settings.time_limit)
    if asked.format == "text":
        return PlainTextResponse(text)
    return Response(text, media_type="application/json")


async def _advice(request: Request, work: Any, model: type[BaseModel]) -> Any:
    asked = service.validated(model, await _body(request))
    settings = _settings(request)
    rules = settings.holder.current()
    # the whole of the planner's work (its evaluations, its solver's runs) within the limit
    docs = await _compute(request, work, asked, rules, settings.time_limit)
    return service.docs_json(docs)


@router.post(
    "/v1/plan",
    tags=["learners"],
    openapi_extra=_schema(service.PlanRequest),
    responses=_problems(400, 413, 422, 504),
)
async def plan(request: Request) -> Any:
    """`stackrules plan --format json` for one learner: the cheapest completion of each
    target, in terms (one document for one target, an array for several)."""
    return await _advice(request, service.plan, service.PlanRequest)


@router.post(
    "/v1/nearest",
    tags=["learners"],
    openapi_extra=_schema(service.NearestRequest),
    responses=_problems(400, 413, 422, 504),
)
async def nearest(request: Request) -> Any:
    """`stackrules nearest --format json` for one learner: credentials by the work left."""
    return await _advice(request, service.nearest, service.NearestRequest)


def _known(version: RuleSetVersion, ident: str, credentials_only: bool) -> str:
    """The rule identifier for `ident` (an alias followed); 404 with a did-you-mean."""
    model = version.rules.model
    found = version.rules.aliases.get(ident, ident)
    known = model.credentials if credentials_only else model.items
    if found in known:
        return found
    what = "credential" if credentials_only else "item or credential"
    message = f"unknown {what} `{ident}` in these rules"
    hint = did_you_mean(found, known)
    if hint:
        message += f"; {hint}"
    raise ProblemError(
        404,
        "unknown-identifier",
        f"Unknown {what}",
        message,
        [item("usage", message, field="identifier")],
    )


@router.get("/v1/where/{identifier}", tags=["rules"], responses=_problems(404))
def where_counts(request: Request, identifier: str) -> dict[str, Any]:
    """Everything an item or credential can count toward, with the path for each (as
    `stackrules where --format json`)."""
    version = _version(request)
    ident = _known(version, identifier, credentials_only=False)
    graph = version.rules.evaluator.graph
    return where_json(version.rules.model, ident, where(graph, ident))


@router.get("/v1/credentials", tags=["rules"])
def credentials(
    request: Request,
    q: str | None = Query(default=None, description="Text in the identifier or title."),
    issuer: str | None = Query(default=None, description="Only this issuer's."),
    kind: str | None = Query(default=None, description="Only this kind (`diploma`, …)."),
) -> dict[str, Any]:
    """The credentials of the rule set, by identifier, optionally searched."""
    found = catalog.search(_version(request).rules.model, q, issuer, kind)
    return {"count": len(found), "credentials": found}


@router.get("/v1/credentials/{identifier}", tags=["rules"], responses=_problems(404))
def credential(request: Request, identifier: str) -> dict[str, Any]:
    """One credential: each version's requirements and limits in words, what it ladders
    into, and the transfer routes into it."""
    version = _version(request)
    ident = _known(version, identifier, credentials_only=True)
    return catalog.detail(version.rules.evaluator.graph, ident)


GraphFormat = Literal["html", "svg", "mermaid", "dot"]
_MEDIA = {
    "html": "text/html; charset=utf-8",
    "svg": "image/svg+xml",
    "mermaid": "text/plain; charset=utf-8",
    "dot": "text/vnd.graphviz; charset=utf-8",
}


def _chart(
    version: RuleSetVersion,
    fmt: str,
    credential_ids: list[str],
    issuers: list[str],
    label: str,
    learner: Any = None,
) -> str:
    model = version.rules.model
    chosen = [_known(version, c, credentials_only=True) for c in credential_ids]
    known_issuers = set(model.mentioned_issuers)
    for i in issuers:
        if i not in known_issuers:
            hint = did_you_mean(i, known_issuers)
            message = f"unknown issuer `{i}`" + (f"; {hint}" if hint else "")
            raise ProblemError(
                404,
                "unknown-identifier",
                "Unknown issuer",
                message,
                [item("usage", message, field="issuer")],
            )
    chart = build_flowchart(
        version.rules.evaluator.graph, credentials=chosen, issuers=issuers, learner=learner
    )
    if fmt == "svg":
        return render_svg(chart)
    if fmt == "mermaid":
        return render_mermaid(chart)
    if fmt == "dot":
        return render_dot(chart)
    return render_html(chart, label)


def _label(request: Request) -> str:
    return ", ".join(_settings(request).holder.paths)


Credentials = Annotated[list[str] | None, Query(description="Chart this credential.")]
Issuers = Annotated[list[str] | None, Query(description="Chart this issuer's credentials.")]
_GRAPH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The flowchart",
        "content": {m.split(";")[0]: {} for m in _MEDIA.values()},
    },
    **_problems(404),
}


@router.get("/v1/graph", tags=["rules"], responses=_GRAPH_RESPONSES)
def graph(
    request: Request,
    format: GraphFormat = "html",
    credential: Credentials = None,
    issuer: Issuers = None,
) -> Response:
    """The laddering and transfer pathway map (as `stackrules graph`)."""
    text = _chart(_version(request), format, credential or [], issuer or [], _label(request))
    return Response(text, media_type=_MEDIA[format])


@router.post(
    "/v1/graph",
    tags=["learners"],
    openapi_extra=_schema(service.GraphRequest),
    responses={**_GRAPH_RESPONSES, **_problems(400, 413, 422, 504)},
)
async def graph_for_learner(
    request: Request,
    format: GraphFormat = "html",
    credential: Credentials = None,
    issuer: Issuers = None,
) -> Response:
    """The pathway map coloured by what the learner holds, has earned, has started and has
    left (as `stackrules graph --record`)."""
    asked = service.validated(service.GraphRequest, await _body(request))
    version = _version(request)
    limit = _settings(request).time_limit
    label = _label(request)

    def work() -> str:
        record = service.read_record(asked.record, version.rules)
        day = asked.as_of or date.today()
        try:
            report = version.rules.evaluator.evaluate(
                record, day, time_limit=limit, in_progress=DEFAULT_IN_PROGRESS
            )
        except EvaluationTimeout:
            raise service.timeout(limit) from None
        return _chart(version, format, credential or [], issuer or [], label, (record, report))

    text = await _compute(request, work)
    return Response(text, media_type=_MEDIA[format])
