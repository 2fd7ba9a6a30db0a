"""`stackrules serve --workers N`: N worker processes on one listening socket, all serving
one rule set, and how that rule set is replaced.

Takes the rule set compiled by the command, the server's settings and its listening socket
(`listen`); runs until SIGTERM or SIGINT. The rule set served is the one this process decided
on, never whatever the rule files hold when a worker happens to start: its bytes are kept in a
private folder (`write_snapshot`) and every worker compiles exactly those. A worker that dies
is started again on them, so a rule file being edited (or broken) never reaches a worker that
nobody asked to reload.

A reload, SIGHUP here or `POST /v1/admin/reload` to a worker, replaces every worker, one at a
time: a fresh worker on the new rule set starts and serves before an old one is told to stop
(it finishes what it is answering). SIGHUP reads the rule files here; a rule set with errors is
logged and the workers go on. A worker answering `POST /v1/admin/reload` has already compiled
the files (422 if they have errors); it keeps what it compiled and asks for exactly that
(`publish`), so what it answered is what every worker serves next.

The workers are started with `spawn` and run uvicorn's `Server` on the shared socket; this
process accepts no connection itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from stackrules.runtime import tune_gc
from stackrules.serve.state import (
    RuleHolder,
    RuleSetVersion,
    RulesUnusable,
    compile_changed,
    log_reload,
    read_snapshot,
    snapshot_path,
    write_snapshot,
)

# A fresh worker compiles the whole rule set before it serves; on a large catalog and a busy
# machine that takes a while. One that is not serving by then is taken for stuck.
START_TIMEOUT = 300.0
# How long a retired worker may take to finish the requests it is answering.
STOP_TIMEOUT = 60.0
# Workers that die before they ever serve, one after another: the server stops (exit 1)
# rather than start them for ever.
FAILED_STARTS = 5
REQUEST = "reload-request"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

log = logging.getLogger("stackrules.serve")


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process is started with (pickled to it)."""

    rules: tuple[str, ...]
    snapshot: str  # the kept rule set to serve
    folder: str  # the supervisor's private folder, where a reload is asked for
    supervisor: int  # its process id
    max_body: int
    time_limit: float
    cors_origins: tuple[str, ...]
    log_level: str


def publish(folder: Path, supervisor: int, version: RuleSetVersion) -> None:
    """From a worker: keep `version` beside the one serving and ask the supervisor (this
    process's parent, pid `supervisor`) to restart every worker on it."""
    if os.getppid() != supervisor:  # never signal whatever process adopted an orphan
        raise RuntimeError("the supervisor of this worker has ended")
    write_snapshot(version, folder)
    request = folder / REQUEST
    part = request.with_suffix(".part")
    part.write_text(version.digest, encoding="utf-8")
    os.replace(part, request)
    os.kill(supervisor, signal.SIGHUP)


def worker_main(settings: WorkerSettings, listening: socket.socket, ready: Connection) -> None:
    """One worker process: compile the kept rule set, then serve on the shared socket, and say
    so on `ready` once uvicorn has started."""
    import uvicorn

    from stackrules.serve.app import create_app

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload is the supervisor's
    tune_gc()
    holder = RuleHolder(settings.rules, read_snapshot(Path(settings.snapshot)))
    folder = Path(settings.folder)
    supervisor = settings.supervisor
    app = create_app(
        holder,
        max_body=settings.max_body,
        time_limit=settings.time_limit,
        cors_origins=settings.cors_origins,
        publish=lambda version: publish(folder, supervisor, version),
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level=settings.log_level))

    def watch() -> None:
        """Say on `ready` when uvicorn has started; stop if the supervisor is gone (killed:
        it could not stop this worker itself)."""
        announced = False
        while not server.should_exit:
            if os.getppid() != supervisor:
                logging.getLogger("uvicorn.error").error(
                    "the supervisor [%s] has ended: stopping", supervisor
                )
                server.should_exit = True
                return
            if not announced and server.started:
                announced = True
                with contextlib.suppress(OSError):
                    ready.send(holder.version.digest)
            time.sleep(0.5 if announced else 0.02)

    threading.Thread(target=watch, daemon=True).start()
    server.run(sockets=[listening])


@dataclass
class Worker:
    process: BaseProcess
    ready: Connection
    serving: bool = False


class Supervisor:
    """Starts, restarts and replaces the workers; `run()` until told to stop. Of `version`
    it keeps only the bytes (in a private folder): the workers compile their own."""

    def __init__(
        self,
        version: RuleSetVersion,
        count: int,
        listening: socket.socket,
        *,
        rules: Sequence[str],
        max_body: int,
        time_limit: float,
        cors_origins: Sequence[str],
        log_level: str,
    ) -> None:
        folder = Path(tempfile.mkdtemp(prefix="stackrules-serve-"))
        self.serving = version.digest
        self.settings = WorkerSettings(
            rules=tuple(rules),
            snapshot=str(write_snapshot(version, folder)),
            folder=str(folder),
            supervisor=os.getpid(),
            max_body=max_body,
            time_limit=time_limit,
            cors_origins=tuple(cors_origins),
            log_level=log_level,
        )
        self.count = count
        self._listening = listening
        self.workers: list[Worker] = []
        self._signals: list[int] = []
        self._failed_starts = 0
        self._context = multiprocessing.get_context("spawn")

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT (exit 0), or until workers keep failing to start
        (exit 1)."""
        _configure_logging(self.settings.log_level)
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        }
        old_wakeup = signal.set_wakeup_fd(wake_write.fileno())
        self._wake = wake_read
        try:
            self.workers = [self._start() for _ in range(self.count)]
            return self._loop()
        finally:
            self._stop_all()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            wake_read.close()
            wake_write.close()
            shutil.rmtree(self.settings.folder, ignore_errors=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _stopping(self) -> bool:
        return signal.SIGTERM in self._signals or signal.SIGINT in self._signals

    def _loop(self) -> int:
        while True:
            while self._signals:
                signum = self._signals.pop(0)
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("%s: stopping the workers", signal.Signals(signum).name)
                    return 0
                self._reload()
            waiting: list[Connection | socket.socket | int] = [self._wake]
            for worker in self.workers:
                waiting.append(worker.process.sentinel)
                if not worker.serving:
                    waiting.append(worker.ready)
            wait(waiting, timeout=5.0)
            _drain(self._wake)
            if self._stopping():
                continue  # (a worker that ended on the same Ctrl+C is not started again)
            if not self._keep_alive():
                return 1

    def _keep_alive(self) -> bool:
        """Notice workers that started serving, start again those that died; False when they
        keep dying before they serve."""
        for index, worker in enumerate(self.workers):
            self._noticed(worker)
            if worker.process.is_alive():
                continue
            worker.process.join()
            log.warning(
                "worker [%s] ended (exit code %s); starting another",
                worker.process.pid,
                worker.process.exitcode,
            )
            if not worker.serving:
                self._failed_starts += 1
                if self._failed_starts >= FAILED_STARTS:
                    log.error("%d workers in a row ended before serving: stopping", FAILED_STARTS)
                    return False
            self.workers[index] = self._start()
        return True

    def _noticed(self, worker: Worker) -> None:
        if not worker.serving and worker.ready.poll():
            try:
                worker.ready.recv()
            except EOFError:
                return
            worker.serving = True
            self._failed_starts = 0

    def _start(self) -> Worker:
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, self._listening, send),
            name="stackrules-serve-worker",
        )
        process.start()
        send.close()
        return Worker(process, receive)

    def _reload(self) -> None:
        """SIGHUP: the rule set a worker asked for, else the rule files as they are now; if it
        differs from what is serving, replace every worker."""
        folder = Path(self.settings.folder)
        digest = _asked_for(folder)
        if digest is None:
            try:
                version = compile_changed(self.settings.rules, self.serving)
            except RulesUnusable as unusable:
                log_reload(log, self.serving, error=True, diagnostics=unusable.diagnostics)
                return
            if version is not None:
                digest = version.digest
                write_snapshot(version, folder)
                del version
        if digest is None or digest == self.serving:
            log_reload(log, self.serving)
            return
        log.info("SIGHUP: rules changed (%s): replacing the workers one by one", digest)
        self._replace_all(digest)

    def _replace_all(self, digest: str) -> None:
        before = self.settings
        kept = snapshot_path(Path(self.settings.folder), digest)
        self.settings = replace(self.settings, snapshot=str(kept))
        for index, old in enumerate(list(self.workers)):
            fresh = self._start()
            if not self._started(fresh):
                fresh.process.kill()
                fresh.process.join()
                log.error(
                    "a worker on the new rules did not start serving (exit code %s); "
                    "%d of %d workers replaced, the others keep the rules they had",
                    fresh.process.exitcode,
                    index,
                    len(self.workers),
                )
                if index == 0:
                    self.settings = before
                return
            _retire(old)
            self.workers[index] = fresh
        self.serving = digest
        for stale in kept.parent.glob("*" + kept.suffix):
            if stale != kept:
                stale.unlink(missing_ok=True)
        log.info("serving rules %s on %d workers", digest, len(self.workers))

    def _started(self, worker: Worker) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while not worker.serving:
            left = deadline - time.monotonic()
            if left <= 0 or self._stopping() or not worker.process.is_alive():
                return False
            wait([worker.ready, worker.process.sentinel, self._wake], timeout=left)
            _drain(self._wake)
            self._noticed(worker)
        return True

    def _stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in self.workers:
            _join(worker.process)


def _retire(worker: Worker) -> None:
    worker.process.terminate()  # SIGTERM: uvicorn finishes the requests it is answering
    _join(worker.process)


def _join(process: BaseProcess) -> None:
    process.join(STOP_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()


def _asked_for(folder: Path) -> str | None:
    """The content hash of the kept rule set a worker asked for, if any (the request is
    taken)."""
    request = folder / REQUEST
    try:
        digest = request.read_text(encoding="utf-8").strip()
        request.unlink()
    except OSError:
        return None
    if not DIGEST.fullmatch(digest) or not snapshot_path(folder, digest).is_file():
        return None
    return digest


def listen(host: str, port: int) -> socket.socket:
    """The listening socket of `stackrules serve` (OSError: the address cannot be used). Made
    as TCP by name: asyncio turns Nagle's algorithm off only on such sockets' connections,
    and with it on, each small answer waits for the client's delayed ACK (about 40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host.strip("[]"), port))
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    listening.set_inheritable(True)
    return listening


def _drain(wake: socket.socket) -> None:
    try:
        while wake.recv(512):
            pass
    except BlockingIOError:
        pass


def _configure_logging(level: str) -> None:
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False
