"""`stackrules serve --rules RULES`: the JSON API (and the web page) over HTTP.

The rule set is compiled before anything listens: one with errors prints its diagnostics and
exits 1, as every command does. With one worker (the default) the server runs in this process
and serves the rules compiled here. With `--workers N` (N > 1), this process becomes their
supervisor (`stackrules.serve.supervisor`): it keeps the bytes of the rule set it compiled,
and N worker processes, started with `spawn`, each compile exactly those and share the
listening socket.

Reload: `POST /v1/admin/reload` from this machine, or SIGHUP. One worker reloads in place. With
several, SIGHUP to this (the supervisor) process compiles the rule files here and, if they are
good and changed, replaces the workers one at a time (a fresh one serves before an old one
stops); `POST /v1/admin/reload` checks the rule files in the worker that receives it (422 with
the diagnostics when they have errors) and asks the supervisor for exactly what it compiled.

Security by default: it listens on 127.0.0.1 unless `--host` says otherwise; bodies are
limited (`--max-body`, default 1 MB) and so is each learner's evaluation (`--time-limit`);
no file path is ever taken from a request; CORS is off unless `--cors-origin` is given; no
record is stored or logged.
"""

from __future__ import annotations

import signal

import click

from stackrules.cli.common import EXIT_RULE_ERRORS, EXIT_USAGE, RULES_OPTION, print_diagnostics


@click.command("serve")
@RULES_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (each compiles the rule set once at start-up).",
)
@click.option(
    "--max-body",
    "max_body",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--time-limit",
    "time_limit",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest one learner's evaluation may take (504 beyond).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let pages from this origin call the API (repeatable; default: none).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve_command(
    rules: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    max_body: int,
    time_limit: float,
    cors_origins: tuple[str, ...],
    log_level: str,
) -> None:
    """Serve the JSON API (OpenAPI at /openapi.json) and the web page for a rule set."""
    import uvicorn

    from stackrules.serve.app import create_app
    from stackrules.serve.state import RuleHolder, RulesUnusable
    from stackrules.serve.supervisor import Supervisor, listen

    if workers > 1 and not hasattr(signal, "SIGHUP"):
        raise click.UsageError("--workers N (N > 1) needs a POSIX system (Linux, macOS)")
    try:
        holder = RuleHolder.load(rules)
    except RulesUnusable as unusable:
        print_diagnostics(unusable.diagnostics, err=True)
        click.get_current_context().exit(EXIT_RULE_ERRORS)
        return
    version = holder.version
    try:
        listening = listen(host, port)
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        click.echo(f"stackrules serve: cannot listen on {host}:{port}: {reason}", err=True)
        click.get_current_context().exit(EXIT_USAGE)
        return
    bound = listening.getsockname()[1]
    click.echo(
        f"stackrules serve: {version.counts()['credentials']} credentials from "
        f"{len(version.rules.model.files)} rule files ({version.digest}) on http://"
        f"{host if ':' not in host else f'[{host}]'}:{bound}/",
        err=True,
    )
    if workers == 1:
        app = create_app(
            holder, max_body=max_body, time_limit=time_limit, cors_origins=cors_origins
        )
        server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
        try:
            server.run(sockets=[listening])
        finally:
            listening.close()
        return
    supervisor = Supervisor(
        version,
        workers,
        listening,
        rules=rules,
        max_body=max_body,
        time_limit=time_limit,
        cors_origins=cors_origins,
        log_level=log_level,
    )
    del holder, version  # the workers compile their own
    try:
        code = supervisor.run()
    finally:
        listening.close()
    click.get_current_context().exit(code)
