"""`stackrules serve --workers N`: the supervisor and its workers, against real processes.

What it shows: every worker serves the one rule set the supervisor decided on. A reload (the
API's or SIGHUP's) that finds errors changes nothing and restarts nothing; a good one replaces
every worker, with no failed request. A worker that dies comes back on the rules being served,
even when the rule files have broken since (it used to read them and die again, for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from serveproc import NEW_CREDENTIAL, Server, problem
from stackrules.serve.state import (
    RuleHolder,
    compile_rules,
    read_snapshot,
    write_snapshot,
)
from stackrules.serve.supervisor import listen

ROOT = Path(__file__).resolve().parents[1]
BROKEN = "\ncredential BROKEN:\n"
LINUX = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc (Linux)")


def _workers(server: Server) -> set[int]:
    """The worker processes of a `--workers N` server (its supervisor's children), by pid;
    the start method's resource tracker, if any, is not one."""
    pid = server.process.pid
    found = set()
    for child in (Path(f"/proc/{pid}/task/{pid}/children").read_text()).split():
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"resource_tracker" not in command:
            found.add(int(child))
    return found


def _both_up(server: Server) -> set[int]:
    deadline = time.monotonic() + 60
    while len(found := _workers(server)) < 2:  # the supervisor starts them in turn
        assert time.monotonic() < deadline, "two workers did not start"
        time.sleep(0.1)
    return found


@dataclass
class Pair:
    """A `--workers 2` server of a copy of rules/ that a test may break and mend."""

    server: Server
    log: Path
    target: Path  # a rule file of the copy
    first: set[int]  # the workers it started with
    before: str  # the hash of the rules it started with


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    log = tmp_path / "server.log"
    server = Server(folder, log, "--workers", "2")
    try:
        first = _both_up(server)
        before = _hashes(server, 1)[0]
        yield Pair(server, log, folder / "design" / "web-graphic.stack", first, before)
    finally:
        server.stop()
    assert server.process.returncode == 0  # SIGTERM: the workers stopped, then it


def _hashes(server: Server, times: int = 12) -> list[str]:
    """The rule set hash, asked on new connections (either worker may take each)."""
    seen = []
    for _ in range(times):
        with httpx.Client(base_url=server.url, timeout=60) as fresh:
            answer = fresh.get("/v1/rules")
            assert answer.status_code == 200, answer.text
            seen.append(answer.json()["hash"])
    return seen


def _until(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@LINUX
def test_reload_with_two_workers_reaches_both(pair: Pair) -> None:
    server, target, before, first_workers = pair.server, pair.target, pair.before, pair.first
    original = target.read_text(encoding="utf-8")
    # a rule set with errors: 422 with its diagnostics; meanwhile every request, on new
    # connections (either worker), answers 200 from the old rules
    statuses: list[int] = []
    hashes: set[str] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            with httpx.Client(base_url=server.url, timeout=60) as fresh:
                answer = fresh.get("/v1/rules")
                statuses.append(answer.status_code)
                hashes.add(answer.json()["hash"])

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for t in askers:
        t.start()
    try:
        target.write_text(original + BROKEN, encoding="utf-8")
        body = problem(server.client.post("/v1/admin/reload"), 422)
        assert any(d["severity"] == "error" for d in body["diagnostics"])
        time.sleep(0.5)  # (more requests on the old rules; not a measurement)
    finally:
        stop.set()
        for t in askers:
            t.join()
    assert len(statuses) > 4 and set(statuses) == {200} and hashes == {before}
    assert _workers(server) == first_workers  # nothing restarted
    # a real change: a new credential; the supervisor restarts both workers
    target.write_text(original + NEW_CREDENTIAL, encoding="utf-8")
    answer = server.client.post("/v1/admin/reload")
    assert answer.status_code == 200, answer.text
    assert answer.json()["replaced"] is True
    after = answer.json()["rules"]["hash"]
    assert after != before
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, "the workers did not all reload"
        workers = _workers(server)
        if len(workers) == 2 and not workers & first_workers:
            # both restarted: ask many times on new connections, each of which either
            # worker may accept; every answer is the new rule set
            seen = []
            for _ in range(12):
                with httpx.Client(base_url=server.url, timeout=60) as fresh:
                    seen.append(fresh.get("/v1/rules").json()["hash"])
            if set(seen) == {after}:
                break
        time.sleep(0.2)
    for _ in range(6):
        with httpx.Client(base_url=server.url, timeout=60) as fresh:
            found = fresh.get("/v1/credentials/DSGN:RELOADED")
            assert found.status_code == 200 and found.json()["title"] == "Added while serving"
    assert server.process.poll() is None


@LINUX
def test_a_worker_that_dies_comes_back_on_the_rules_being_served(pair: Pair) -> None:
    server, log, target, first, before = pair.server, pair.log, pair.target, pair.first, pair.before
    target.write_text(target.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    _until(lambda: len(_workers(server) - first) == 1, "no worker took the dead one's place")
    (fresh,) = _workers(server) - first
    # it serves, and goes on serving: it compiled the rules being served, not the broken
    # files (a worker that read them would die and be replaced again and again)
    _until(
        lambda: "Application startup complete" in log.read_text().split(str(fresh))[-1],
        "the new worker did not start serving",
    )
    assert set(_hashes(server)) == {before}
    time.sleep(1.0)
    assert _workers(server) == (first - {killed}) | {fresh}
    assert "BROKEN" not in log.read_text()


@LINUX
def test_sighup_to_the_supervisor_replaces_every_worker_or_logs_the_errors(pair: Pair) -> None:
    server, log, target, first, before = pair.server, pair.log, pair.target, pair.first, pair.before
    original = target.read_text(encoding="utf-8")
    # errors: logged with their place, nothing restarted, the old rules serve on
    target.write_text(original + BROKEN, encoding="utf-8")
    server.process.send_signal(signal.SIGHUP)
    _until(lambda: "keep serving" in log.read_text(), "the errors were not logged")
    assert "web-graphic.stack:" in log.read_text()
    assert _workers(server) == first and set(_hashes(server)) == {before}
    # unchanged: nothing restarted either
    target.write_text(original, encoding="utf-8")
    server.process.send_signal(signal.SIGHUP)
    _until(lambda: "rules unchanged" in log.read_text(), "SIGHUP did nothing")
    assert _workers(server) == first
    # a good change: every worker replaced, every answer the new rule set
    target.write_text(original + NEW_CREDENTIAL, encoding="utf-8")
    server.process.send_signal(signal.SIGHUP)
    _until(
        lambda: not _workers(server) & first and len(_workers(server)) == 2,
        "the workers were not replaced",
    )
    _until(lambda: "serving rules" in log.read_text(), "the replacement did not end")
    after = set(_hashes(server))
    assert len(after) == 1 and after != {before}
    assert server.process.poll() is None


def test_a_kept_rule_set_compiles_to_the_same_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    version = compile_rules([str(folder)])
    kept = write_snapshot(version, tmp_path)
    assert write_snapshot(version, tmp_path) == kept  # one file per content hash
    # the files change (or break) afterwards: the kept bytes are what a worker compiles
    for path in folder.rglob("*.stack"):
        path.write_text("credential BROKEN:\n", encoding="utf-8")
    again = read_snapshot(kept)
    assert again.digest == version.digest
    assert again.rules.model.credentials.keys() == version.rules.model.credentials.keys()
    assert [s.name for s in again.sources] == [s.name for s in version.sources]


def test_a_kept_rule_set_that_does_not_hash_to_its_name_is_refused(tmp_path: Path) -> None:
    version = compile_rules([str(ROOT / "rules")])
    kept = write_snapshot(version, tmp_path)
    kept.write_text(kept.read_text().replace(version.digest, "sha256:" + "0" * 64))
    with pytest.raises(ValueError, match="do not hash"):
        read_snapshot(kept)


def test_check_compiles_beside_and_swaps_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    held = RuleHolder.load([str(folder)])
    before = held.version
    (folder / "added.stack").write_text(NEW_CREDENTIAL, encoding="utf-8")
    checked = held.check()
    assert checked.replaced and not checked.error
    assert "DSGN:RELOADED" in checked.version.rules.model.credentials
    assert held.version is before


@LINUX
def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    server = Server(ROOT / "rules", tmp_path / "server.log", "--workers", "2")
    try:
        workers = _both_up(server)
        server.process.kill()  # no chance to stop them itself
        server.process.wait()

        def ended() -> bool:
            return not any(Path(f"/proc/{pid}").exists() for pid in workers)

        _until(ended, "the workers outlived their supervisor", seconds=30)
        assert "has ended: stopping" in (tmp_path / "server.log").read_text()
    finally:
        server.stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_connections_to_the_listening_socket_send_at_once() -> None:
    """asyncio turns Nagle's algorithm off on the connections it accepts only when the
    listening socket says it is TCP; otherwise every small answer waits for the client's
    delayed ACK (it made each request take 44 ms)."""
    listening = listen("127.0.0.1", 0)
    nodelay: list[int] = []

    async def serve() -> None:
        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            nodelay.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            while not nodelay:
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(asyncio.wait_for(serve(), 30))
    assert nodelay and nodelay[0] != 0
