"""The rule set a server is serving, and how it is replaced.

Takes the `--rules` paths; gives a `RuleHolder` whose `current()` is the compiled rule set
serving now, and whose `version` adds what `/v1/rules` shows (a content hash, when it was
loaded, counts, diagnostics). `reload()` compiles the rule set again, off to the side, and
swaps it in with one assignment: a request takes the version once, at its start, and uses it
to the end, so none fails or mixes two rule sets during a reload. A rule set with errors never
replaces a good one: `reload()` returns its diagnostics and the old rules keep serving.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stackrules import CompiledRules, load_rules
from stackrules.diagnostics import Diagnostic, has_errors
from stackrules.syntax import rule_files


class RulesUnusable(Exception):
    """The rule set has errors (or could not be read): nothing to serve."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(f"the rule set has {len(diagnostics)} diagnostics")
        self.diagnostics = list(diagnostics)


def content_hash(files: Sequence[str]) -> str:
    """`sha256:` over each rule file's name and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            with open(name, "rb") as handle:
                data = handle.read()
        except OSError:
            data = b""
        digest.update(len(data).to_bytes(8, "big") + data)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class RuleSetVersion:
    """One compiled rule set and what the API says of it."""

    rules: CompiledRules
    digest: str
    loaded_at: datetime
    diagnostics: tuple[Diagnostic, ...] = field(default=())

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


def compile_rules(paths: Sequence[str]) -> RuleSetVersion:
    """The rule set of these paths, compiled; `RulesUnusable` when it has an error."""
    rules, diagnostics = load_rules(paths)
    if rules is None or has_errors(diagnostics):
        raise RulesUnusable(diagnostics)
    return RuleSetVersion(
        rules=rules,
        digest=content_hash(rules.model.files),
        loaded_at=datetime.now(UTC),
        diagnostics=tuple(sorted(diagnostics, key=Diagnostic.sort_key)),
    )


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

    def reload(self) -> ReloadOutcome:
        """Compile the rule set again and serve it, unless it has errors. One reload at a
        time; requests go on being answered by the old version meanwhile. Files whose names
        and bytes hash to what is serving are not compiled again: nothing changed."""
        with self._reloading:
            files, missing = rule_files(self.paths)
            if not missing and content_hash([f.as_posix() for f in files]) == self._version.digest:
                return ReloadOutcome(False, self._version, self._version.diagnostics, error=False)
            try:
                fresh = compile_rules(self.paths)
            except RulesUnusable as unusable:
                ordered = tuple(sorted(unusable.diagnostics, key=Diagnostic.sort_key))
                return ReloadOutcome(False, self._version, ordered, error=True)
            replaced = fresh.digest != self._version.digest
            if replaced:
                self._version = fresh
            return ReloadOutcome(replaced, self._version, fresh.diagnostics, error=False)
