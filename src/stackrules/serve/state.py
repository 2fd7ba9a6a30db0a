"""The rule set a server is serving, and how it is replaced.

Takes the `--rules` paths; gives a `RuleHolder` whose `current()` is the compiled rule set
serving now, and whose `version` adds what `/v1/rules` shows (a content hash, when it was
loaded, counts, diagnostics). `reload()` compiles the rule set again, off to the side, and
swaps it in with one assignment: a request takes the version once, at its start, and uses it
to the end, so none fails or mixes two rule sets during a reload. A rule set with errors never
replaces a good one: `reload()` returns its diagnostics and the old rules keep serving.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackrules import CompiledRules, load_sources
from stackrules.diagnostics import Diagnostic, has_errors
from stackrules.syntax import RuleSource, read_sources


class RulesUnusable(Exception):
    """The rule set has errors (or could not be read): nothing to serve."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(f"the rule set has {len(diagnostics)} diagnostics")
        self.diagnostics = list(diagnostics)


def content_hash(sources: Sequence[RuleSource]) -> str:
    """`sha256:` over each rule file's name and bytes, in name order."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.name):
        digest.update(source.name.encode("utf-8", "surrogateescape") + b"\0")
        data = source.data or b""
        digest.update(len(data).to_bytes(8, "big") + data)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class RuleSetVersion:
    """One compiled rule set, the bytes it was compiled from, and what the API says of it."""

    rules: CompiledRules
    digest: str
    loaded_at: datetime
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    sources: tuple[RuleSource, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        model = self.rules.model
        return {
            "issuers": len(model.issuers),
            "items": sum(1 for i in model.items.values() if not i.is_credential),
            "credentials": len(model.credentials),
            "equivalencies": len(model.equivalencies),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.digest,
            "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "files": len(self.rules.model.files),
            "counts": self.counts(),
            "diagnostics": [d.model_dump(mode="json") for d in self.diagnostics],
        }


def compile_sources(
    sources: Sequence[RuleSource], found: Sequence[Diagnostic] = ()
) -> RuleSetVersion:
    """The rule set of these files' bytes, compiled; `RulesUnusable` when it has an error."""
    rules, diagnostics = load_sources(sources, found)
    if rules is None or has_errors(diagnostics):
        raise RulesUnusable(diagnostics)
    return RuleSetVersion(
        rules=rules,
        digest=content_hash(sources),
        loaded_at=datetime.now(UTC),
        diagnostics=tuple(sorted(diagnostics, key=Diagnostic.sort_key)),
        sources=tuple(sources),
    )


def compile_rules(paths: Sequence[str]) -> RuleSetVersion:
    """The rule set of these paths, each file read once, compiled; `RulesUnusable` when it
    has an error."""
    return compile_sources(*read_sources(paths))


def compile_changed(paths: Sequence[str], serving: str) -> RuleSetVersion | None:
    """The rule set of these paths compiled, or None when the files' names and bytes hash to
    `serving` (nothing changed, and nothing is compiled); `RulesUnusable` when it has an
    error."""
    sources, found = read_sources(paths)
    if content_hash(sources) == serving and not found:
        return None
    return compile_sources(sources, found)


def log_reload(
    log: logging.Logger,
    serving: str,
    *,
    error: bool = False,
    replaced: bool = False,
    diagnostics: Sequence[Diagnostic] = (),
) -> None:
    """What a reload on SIGHUP did, in the server's log (`serving`: the hash serving now)."""
    if error:
        log.error(
            "SIGHUP: the rule set has errors; the rules loaded before keep serving (%s)",
            serving,
        )
        for d in diagnostics:
            log.error("%s", d.render())
    else:
        log.info("SIGHUP: rules %s (%s)", "reloaded" if replaced else "unchanged", serving)


def snapshot_path(folder: Path, digest: str) -> Path:
    """Where `write_snapshot` keeps the rule set of this content hash."""
    return folder / (digest.replace(":", "-") + ".json")


def write_snapshot(version: RuleSetVersion, folder: Path) -> Path:
    """Keep the bytes `version` was compiled from in `folder` (one file, named by the content
    hash, written whole or not at all), so that a process started later compiles exactly
    this rule set, whatever the rule files hold by then."""
    path = snapshot_path(folder, version.digest)
    if path.exists():
        return path
    files = [
        {"name": s.name, "data": base64.b64encode(s.data or b"").decode()} for s in version.sources
    ]
    part = path.with_suffix(".part")
    part.write_text(json.dumps({"hash": version.digest, "files": files}), encoding="utf-8")
    os.replace(part, path)
    return path


def read_snapshot(path: Path) -> RuleSetVersion:
    """The rule set `write_snapshot` kept at `path`, compiled again."""
    kept = json.loads(path.read_text(encoding="utf-8"))
    sources = [RuleSource(f["name"], base64.b64decode(f["data"])) for f in kept["files"]]
    if content_hash(sources) != kept["hash"]:
        raise ValueError(f"{path}: the kept rule files do not hash to {kept['hash']}")
    return compile_sources(sources)


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: `replaced` (False: the rule set had errors, or was unchanged)."""

    replaced: bool
    version: RuleSetVersion
    diagnostics: tuple[Diagnostic, ...]
    error: bool


class RuleHolder:
    """The rule set serving now (`current()`, the page's `RulesSource`), and its reload."""

    def __init__(self, paths: Sequence[str], version: RuleSetVersion) -> None:
        self.paths = tuple(paths)
        self._version = version
        self._reloading = threading.Lock()

    @classmethod
    def load(cls, paths: Sequence[str]) -> RuleHolder:
        return cls(paths, compile_rules(paths))

    @property
    def version(self) -> RuleSetVersion:
        return self._version

    def current(self) -> CompiledRules:
        return self._version.rules

    def check(self) -> ReloadOutcome:
        """Compile the rule files as they are now, beside the version serving, and say what
        a reload would do; nothing is swapped in. Files whose names and bytes hash to what
        is serving are not compiled again: nothing changed."""
        try:
            fresh = compile_changed(self.paths, self._version.digest)
        except RulesUnusable as unusable:
            ordered = tuple(sorted(unusable.diagnostics, key=Diagnostic.sort_key))
            return ReloadOutcome(False, self._version, ordered, error=True)
        if fresh is None:
            return ReloadOutcome(False, self._version, self._version.diagnostics, error=False)
        replaced = fresh.digest != self._version.digest
        return ReloadOutcome(replaced, fresh, fresh.diagnostics, error=False)

    def reload(self) -> ReloadOutcome:
        """Compile the rule set again and serve it, unless it has errors. One reload at a
        time; requests go on being answered by the old version meanwhile."""
        with self._reloading:
            outcome = self.check()
            if outcome.replaced:
                self._version = outcome.version
            return outcome
