"""Registrar exceptions: one learner's waivers, substitutions, directives, exclusions and
case-by-case transfer credit (`exceptions.md`).

- `model`: the exception as a record or an exceptions file gives it (pydantic, frozen);
- `check`: whether each names what the rule set has (record errors with a did-you-mean);
- `overlay`: the learner's copy of the rules with the exceptions applied, which the evaluator
  reads instead of the shared credentials (the rules themselves never change);
- `audit`: the report's `exceptions` list and the ids on the results they decided;
- `files`: `--exceptions FILE` (JSON Lines or CSV), in memory or joined on disk for a batch.

Only `model` is imported here: the record model needs it, and the rest needs the records.
"""

from stackrules.exceptions.model import EXCEPTION_FIELDS, KINDS, RegistrarException

__all__ = ["EXCEPTION_FIELDS", "KINDS", "RegistrarException"]
