"""Problem details (RFC 9457): every error the API answers, as `application/problem+json`.

Takes what went wrong (record errors, a usage error, a request the API cannot read, an
unknown identifier, a time or size limit, a defect); gives one JSON object with `type`,
`title`, `status`, `detail` and, where there are several findings, `errors`: one entry per
finding with the same `code`, `learner`, `field`, message and did-you-mean as the command line
would print. `Guard` turns anything unexpected into a 500 problem without a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackrules.diagnostics import Diagnostic
from stackrules.records import RecordError

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:stackrules:problem:"

# under uvicorn's error logger, so its handlers and `--log-level` apply
log = logging.getLogger("uvicorn.error.stackrules")

# `record`: the learner's data (`stackrules evaluate` exits 3); `usage`: an option naming
# what the rules lack (exit 2); `request`: the request itself is not what the API takes.
Code = Literal["record", "usage", "request"]

_HINT = re.compile(r"did you mean `([^`]+)`\?")


class ErrorItem(BaseModel):
    """One finding: what kind (`code`), whose (`learner`), where (`field`) and what."""

    model_config = ConfigDict(frozen=True)

    code: Code
    learner: str | None = None
    field: str | None = None
    message: str
    did_you_mean: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem detail, with our `errors` (and `diagnostics` for a rule set)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)
    diagnostics: list[dict[str, Any]] | None = None


def hint_of(message: str) -> str | None:
    """The identifier a message's `did you mean `X`?` suggests, if it has one."""
    found = _HINT.search(message)
    return found.group(1) if found else None


def item(
    code: Code, message: str, *, field: str | None = None, learner: str | None = None
) -> ErrorItem:
    return ErrorItem(
        code=code, learner=learner, field=field, message=message, did_you_mean=hint_of(message)
    )


def from_record_errors(errors: Iterable[RecordError]) -> list[ErrorItem]:
    return [item("record", e.message, field=e.field, learner=e.learner) for e in errors]


class ProblemError(Exception):
    """Raised by a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: Sequence[ErrorItem] = (),
        diagnostics: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = Problem(
            type=TYPE_PREFIX + slug,
            title=title,
            status=status,
            detail=detail,
            errors=list(errors),
            diagnostics=diagnostics,
        )


def usage(message: str, field: str) -> ProblemError:
    """A request option naming what the rules do not have (a command-line usage error)."""
    return ProblemError(
        422, "usage", "Unknown name in the request", message, [item("usage", message, field=field)]
    )


def bad_request(message: str, field: str | None = None, status: int = 422) -> ProblemError:
    return ProblemError(
        status,
        "invalid-request",
        "The request cannot be read",
        message,
        [item("request", message, field=field)],
    )


def record_problem(errors: Sequence[RecordError]) -> ProblemError:
    found = from_record_errors(errors)
    count = f"{len(found)} problem{'s' if len(found) != 1 else ''}"
    title = "The learner record cannot be evaluated"
    return ProblemError(422, "invalid-record", title, f"{count} with the record", found)


def diagnostics_json(diagnostics: Iterable[Diagnostic]) -> list[dict[str, Any]]:
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    return [d.model_dump(mode="json") for d in ordered]


def response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    body = problem.model_dump(mode="json", exclude_none=True)
    if not problem.errors:
        body.pop("errors", None)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


async def problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return response(exc.problem)


def status_problem(status: int, detail: str) -> Problem:
    """A plain HTTP status (an unknown path, a method not allowed) as a problem."""
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
    return Problem(title=titles.get(status, "HTTP error"), status=status, detail=detail)


class Tally:
    """How many requests met a defect (the tests check that bad input never does)."""

    def __init__(self) -> None:
        self.failures = 0


class Guard:
    """The outermost middleware: a defect becomes a 500 problem naming no code or data (the
    exception's type is logged, never its message, which may quote a record)."""

    def __init__(self, app: ASGIApp, tally: Tally) -> None:
        self.app = app
        self.tally = tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as failure:
            self.tally.failures += 1
            log.error(
                "internal error answering %s %s (%s)",
                scope.get("method"),
                scope.get("path"),
                type(failure).__name__,
            )
            if started:
                return
            problem = Problem(
                type=TYPE_PREFIX + "internal",
                title="Internal error",
                status=500,
                detail="the server failed to answer this request; please report it",
            )
            await response(problem)(scope, receive, send)
