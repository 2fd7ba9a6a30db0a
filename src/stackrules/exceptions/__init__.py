"""Registrar exceptions: one learner's waivers, substitutions, directives, exclusions and
case-by-case transfer credit (`exceptions.md`).

- `model`: the exception as a record or an exceptions file gives it (pydantic, frozen);
- `check`: whether each names what the rule set has (record errors with a did-you-mean);
- `files`: `--exceptions FILE` (JSON Lines or CSV), in memory or joined on disk for a batch;
- `advisor`: the planning view of a learner with exceptions (`plan`, `nearest`).

Applying them (the learner's overlay of the rules, grants posted as firings, the audit trail)
is the evaluation stage's: `stackrules.evaluation.exceptions`.

Only `model` is imported here: the record model needs it, and the rest needs the records.
"""

from stackrules.exceptions.model import EXCEPTION_FIELDS, KINDS, RegistrarException

__all__ = ["EXCEPTION_FIELDS", "KINDS", "RegistrarException"]
