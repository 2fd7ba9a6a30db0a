"""The web application: the JSON API, the web page (`page`), problem details for
every error, and the rule set's reload on SIGHUP.

`create_app(holder, ...)` takes a loaded `RuleHolder` and the server's limits; gives a FastAPI
(ASGI) application. With `--workers N`, `supervisor` builds one in each worker process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from stackrules.quoted import shown
from stackrules.records.errors import translate
from stackrules.serve import page
from stackrules.serve.api import MB, Publish, Settings, router
from stackrules.serve.problems import (
    Guard,
    ProblemError,
    Tally,
    item,
    problem_handler,
    response,
    status_problem,
)
from stackrules.serve.state import RuleHolder, log_reload

STATIC = Path(__file__).resolve().parent / "static"
# under uvicorn's error logger, so its handlers and `--log-level` apply
log = logging.getLogger("uvicorn.error.stackrules")


def _version() -> str:
    try:
        return package_version("stackrules")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        detail = f"no such path: `{request.url.path}`"
    elif exc.status_code == 405:
        detail = f"`{request.method}` is not allowed on `{request.url.path}`"
    headers = dict(exc.headers) if exc.headers else None
    return response(status_problem(exc.status_code, detail), headers=headers)


async def _validation_problem(request: Request, exc: Exception) -> Response:
    """A query or path parameter that is not what the route takes (bodies are read by the
    routes themselves, `service.validated`)."""
    assert isinstance(exc, RequestValidationError)
    found = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())[1:]]
        if error.get("type") == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"expected {expected}, got {shown(error.get('input'))}"
        else:
            message = translate(error)
        found.append(item("request", message, field=".".join(loc) or None))
    problem = ProblemError(
        422,
        "invalid-request",
        "The request cannot be read",
        f"{len(found)} problem{'s' if len(found) != 1 else ''} with the request",
        found,
    )
    return response(problem.problem)


def _on_sighup(holder: RuleHolder, loop: asyncio.AbstractEventLoop) -> None:
    async def reload() -> None:
        outcome = await loop.run_in_executor(None, holder.reload)
        log_reload(
            log,
            outcome.version.digest,
            error=outcome.error,
            replaced=outcome.replaced,
            diagnostics=outcome.diagnostics,
        )

    loop.create_task(reload())


def create_app(
    holder: RuleHolder,
    *,
    max_body: int = MB,
    time_limit: float = 10.0,
    cors_origins: Sequence[str] = (),
    publish: Publish | None = None,
) -> FastAPI:
    """The application serving `holder`'s rule set. `publish`: this is one of several
    workers, and a reload that finds a good new rule set hands it to `publish` (the
    supervisor then restarts every worker on it) instead of swapping it in here; SIGHUP is
    then the supervisor's, not this process's."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        installed = False
        try:
            if publish is None:
                loop.add_signal_handler(signal.SIGHUP, _on_sighup, holder, loop)
                installed = True
        except (RuntimeError, ValueError, NotImplementedError, AttributeError):
            pass  # not the main thread (a test client), or no SIGHUP on this system
        try:
            yield
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)

    app = FastAPI(
        title="stackrules",
        version=_version(),
        summary="Credit transfer and credential stacking: evaluate learner records against a "
        "rule set, plan, and map pathways.",
        openapi_url="/openapi.json",
        docs_url=None,  # the interactive docs fetch scripts from a CDN: nothing is fetched
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = Settings(
        holder=holder,
        max_body=max_body,
        time_limit=time_limit,
        publish=publish,
        cors_origins=tuple(cors_origins),
    )
    app.state.tally = Tally()
    app.add_exception_handler(ProblemError, problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.include_router(router)
    app.router.routes.extend(page.routes(holder, time_limit=time_limit))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_middleware(Guard, tally=app.state.tally)
    return app
