"""`stackrules serve` in a process of its own, for the tests that talk to a real server: started
from the repository root on a port it picks itself (`--port 0`: no other process can take the
port between a choice and the bind), waited for until it answers `/healthz`, stopped. Also
what the server tests share: `problem` (an answer is a problem detail) and `NEW_CREDENTIAL`
(a rule file a reload test adds)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "stackrules", "serve"]
PROBLEM = "application/problem+json"
NEW_CREDENTIAL = """
credential DSGN:RELOADED "Added while serving" {
    kind badge
    fundamentals "Design fundamentals": DSGN:FUND
}
"""
# the first line `stackrules serve` prints names the address it listens on
LISTENING = re.compile(r"on (http://127\.0\.0\.1:\d+)/")


class Server:
    """A server of the rules at `rules` (a path, or one relative to the repository root),
    its output in `log`; `extra`: more options of `stackrules serve`."""

    def __init__(self, rules: str | Path, log: Path, *extra: str, log_level: str = "info") -> None:
        self.rules = str(rules)
        self.log = log
        self.process = subprocess.Popen(
            [
                *(*SERVE, "--rules", self.rules, "--port", "0"),
                *("--log-level", log_level, *extra),
            ],
            cwd=ROOT,
            stdout=log.open("wb"),  # uvicorn's access log
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        url = None
        while True:
            if url is None and (found := LISTENING.search(log.read_text(errors="replace"))):
                url = found.group(1)
            try:
                if url is not None and httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._end()
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.url: str = url
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        self.client.close()
        self._end()

    def _end(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The body of an RFC 9457 problem answered with `status`, checked: its type, the fields
    every problem has, and no traceback."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in answer.text
    return body
