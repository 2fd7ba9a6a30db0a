"""The evaluation stage: a compiled rule set, one learner's record and an as-of date in; a
report out. See `docs/architecture.md` for which module makes which decision."""

from stackrules.evaluation.evaluator import DEFAULT_IN_PROGRESS, EvaluationTimeout, Evaluator

__all__ = ["DEFAULT_IN_PROGRESS", "EvaluationTimeout", "Evaluator"]
