"""A learner's registrar exceptions as the evaluation stage applies them (`exceptions.md`).

- `overlay`: the learner's copy of a credential with the exceptions applied, which the
  evaluator reads instead of the shared credential (the rules themselves never change);
- `learner`: one learner's exceptions made ready for the fixpoint: exclusions taken out of what
  counts, grants posted as firings, overlaid credentials remembered per evaluator;
- `audit`: the report's `exceptions` list and the ids on the results they decided.

What an exception is and whether it names what the rule set has (the input side) is
`stackrules.exceptions`.
"""
