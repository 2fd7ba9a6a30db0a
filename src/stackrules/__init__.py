"""stackrules: credit transfer and credential stacking.

The public API, a thin facade over the pipeline stages (syntax → check → model → graph →
evaluate → report):

- :func:`load_rules` reads a rule set (files or folders) and returns the compiled rules with
  every diagnostic; the rules are None when there is any error.
- :func:`check` returns the diagnostics alone.
- :func:`evaluate` evaluates one learner's record at an as-of date and returns the report.
- :func:`read_records` streams learner records (JSON, JSON Lines, CSV) from a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# The check stage is the subpackage `stackrules.check`; importing it first and defining the
# facade function `check` below keeps `stackrules.check(...)` callable (a later import of the
# loaded subpackage does not rebind the package attribute).
from stackrules import check as _check_stage
from stackrules.ast import RuleSetSyntax
from stackrules.diagnostics import Diagnostic, has_errors
from stackrules.evaluation.evaluator import DEFAULT_IN_PROGRESS, Evaluator
from stackrules.model import RuleSet, build
from stackrules.records import LearnerRecord, RecordError, load_records, read_records
from stackrules.report import Report
from stackrules.runtime import tune_gc
from stackrules.syntax import RuleSource

__all__ = [
    "CompiledRules",
    "Diagnostic",
    "LearnerRecord",
    "RecordError",
    "Report",
    "check",
    "evaluate",
    "load_records",
    "load_rules",
    "load_sources",
    "read_records",
    "tune_gc",
]


@dataclass(frozen=True)
class CompiledRules:
    """A checked rule set, compiled: the model, its graph and a reusable evaluator."""

    model: RuleSet
    evaluator: Evaluator

    @property
    def aliases(self) -> dict[str, str]:
        return self.model.aliases


def check(paths: Iterable[str | Path]) -> list[Diagnostic]:
    """Every diagnostic for the rule set made of these files and folders."""
    _, diagnostics = _check_stage.check_paths(list(paths))
    return diagnostics


def load_rules(paths: Iterable[str | Path]) -> tuple[CompiledRules | None, list[Diagnostic]]:
    """Parse, check and compile a rule set. The rules are None when there is an error."""
    return _compiled(*_check_stage.check_paths(list(paths)))


def load_sources(
    sources: Iterable[RuleSource], found: Sequence[Diagnostic] = ()
) -> tuple[CompiledRules | None, list[Diagnostic]]:
    """`load_rules` for rule files already read (`syntax.read_sources`): a rule set compiled
    from exactly these bytes, whatever the files hold by now."""
    return _compiled(*_check_stage.check_sources(sources, found))


def _compiled(
    syntax: RuleSetSyntax, diagnostics: list[Diagnostic]
) -> tuple[CompiledRules | None, list[Diagnostic]]:
    if has_errors(diagnostics):
        return None, diagnostics
    model = build(syntax)
    return CompiledRules(model, Evaluator(model)), diagnostics


def evaluate(
    rules: CompiledRules,
    record: LearnerRecord,
    as_of: date | None = None,
    *,
    targets: Sequence[str] = (),
    in_progress: int | None = DEFAULT_IN_PROGRESS,
) -> Report:
    """The report for one learner. Pure: the same inputs always give the same report.

    `targets`: credentials pursued besides the record's `pursuing` (check them first with
    `unknown_credentials`); `in_progress`: how many other credentials in progress to show,
    nearest first (None: every one), as `semantics.md` §6 says. Neither changes what is
    earned."""
    return rules.evaluator.evaluate(
        record, as_of or date.today(), targets=targets, in_progress=in_progress
    )
