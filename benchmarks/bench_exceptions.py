"""Exceptions benchmark: what a learner's registrar exceptions cost, side by side in one run.

The base synthetic catalog (`synth.py`, default 1,000 credentials, 1,500 transfer lines) and
its learners. Each learner gets a handful of exceptions (`--per-learner`, default 5) drawn
from its own report without exceptions: a waiver and an adjusted amount on a credential it has
started, a substitution or an also-allow of one of its courses there, a course excluded
everywhere, and a grant (from a partner's course when it has one, else prior learning). All of
that is made outside the timed regions.

Per run, fresh evaluators on the same compiled rules (each learner evaluated once per pass, as
in a batch: what the evaluator remembers is shared between learners, never a learner's own
earlier answer), passes alternated, medians of `--runs`, reports with the command line's
default scope (`--in-progress 5`) and `dumps` included:

- `plain`: the learners as generated (no `exceptions`);
- `with`: the same learners with their exceptions;
- `plain-after`: the plain learners again, on the evaluator that just evaluated the `with`
  learners (what a batch mixing both sees), and whether their reports are byte-identical to
  `plain`'s.

Goal (issue #16): a learner with a handful of exceptions costs at most 1.5x one without, and
learners without exceptions cost nothing extra.

    python benchmarks/bench_exceptions.py --learners 500 --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stackrules.check import check_paths
from stackrules.diagnostics import has_errors
from stackrules.evaluation.evaluator import DEFAULT_IN_PROGRESS, Evaluator
from stackrules.model import AmountLeaf, Choice, ItemLeaf, RuleSet, all_leaves, build
from stackrules.records import LearnerRecord
from stackrules.report import dumps
from synth import AS_OF, make_catalog, make_learners

APPROVAL = {"approved_by": "bench", "approved_on": "2026-01-01"}


def _load(folder: Path) -> RuleSet:
    syntax, diagnostics = check_paths([folder])
    if has_errors(diagnostics):
        raise SystemExit("the generated rule set has errors")
    return build(syntax)


def exceptions_for(
    rules: RuleSet, ev: Evaluator, record: LearnerRecord, k: int
) -> list[dict[str, Any]]:
    """Up to `k` exceptions that act on this learner's record."""
    report = ev.evaluate(record, AS_OF)
    counting = [a.item for a in ev.counting(record, AS_OF) if a.origin == "record"]
    started = [c.credential for c in report.in_progress if c.offered] + [
        c.credential for c in report.earned
    ]
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        if len(out) < k:
            out.append({"id": f"E{len(out) + 1}", "kind": kind, **fields, **APPROVAL})

    if started:
        cred = ev.version(started[0], record.catalog_date or AS_OF)
        assert cred is not None
        reqs = cred.requirements
        add("waive", credential=cred.id, requirement=reqs[0].name)
        last = reqs[-1].root
        if isinstance(last, AmountLeaf) and last.amount > 1:
            add("adjust", credential=cred.id, requirement=reqs[-1].name, amount=last.amount - 1)
        elif isinstance(last, Choice) and last.need > 1:
            add("adjust", credential=cred.id, requirement=reqs[-1].name, amount=last.need - 1)
        named = [
            leaf.item for leaf in all_leaves(r.root for r in reqs) if isinstance(leaf, ItemLeaf)
        ]
        spare = [i for i in counting if i not in named and i in rules.items]
        if named and spare:
            add("substitute", credential=cred.id, item=spare[0], **{"for": named[-1]})
        if spare:
            add("also-allow", credential=cred.id, requirement=reqs[-1].name, item=spare[-1])
    if counting:
        add("exclude", item=counting[-1])
    home = record.achievements[-1].item.split(":", 1)[0] if record.achievements else None
    courses = [i for i, it in rules.items.items() if it.issuer == home and not it.is_credential]
    held = set(counting)
    target = next((c for c in courses if c not in held), None)
    if target is not None:
        partner = [i for i in counting if i.split(":", 1)[0] != home]
        add("grant", item=target, **({"from": [partner[0]]} if partner else {"credits": 3}))
    return out


def timed(ev: Evaluator, records: list[LearnerRecord]) -> tuple[float, list[str]]:
    texts = []
    t = time.perf_counter()
    for r in records:
        texts.append(dumps(ev.evaluate(r, AS_OF, in_progress=DEFAULT_IN_PROGRESS)))
    return (time.perf_counter() - t) / len(records), texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--credentials", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=1500)
    ap.add_argument("--learners", type=int, default=500)
    ap.add_argument("--per-learner", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-exceptions-") as tmp:
        catalog = make_catalog(args.credentials, args.lines, args.seed)
        rules = _load(catalog.write(Path(tmp) / "rules"))
    plain_records = list(make_learners(catalog, args.learners, seed=args.seed + 1))
    probe = Evaluator(rules)
    with_records = [
        r.model_copy(
            update={
                "exceptions": tuple(
                    LearnerRecord.model_validate(
                        {
                            "learner": "x",
                            "exceptions": exceptions_for(rules, probe, r, args.per_learner),
                        }
                    ).exceptions
                )
            }
        )
        for r in plain_records
    ]
    counts = [len(r.exceptions) for r in with_records]
    samples: dict[str, list[float]] = {"plain": [], "with": [], "plain-after": []}
    identical = True
    for _ in range(args.runs):
        # fresh evaluators each run: every learner evaluated once, as in a batch
        plain_ev, with_ev = Evaluator(rules), Evaluator(rules)
        s, plain_texts = timed(plain_ev, plain_records)
        samples["plain"].append(s)
        s, _ = timed(with_ev, with_records)
        samples["with"].append(s)
        s, after_texts = timed(with_ev, plain_records)
        samples["plain-after"].append(s)
        identical = identical and after_texts == plain_texts
    med = {k: statistics.median(v) for k, v in samples.items()}
    applied = sum(
        1
        for r in with_records
        for e in json.loads(dumps(probe.evaluate(r, AS_OF))).get("exceptions", [])
        if e["applied"]
    )
    result = {
        "learners": len(plain_records),
        "exceptions_per_learner": statistics.mean(counts),
        "exceptions_applied": applied,
        "median_us_per_learner": {k: round(v * 1e6, 1) for k, v in med.items()},
        "with_over_plain": round(med["with"] / med["plain"], 3),
        "plain_after_over_plain": round(med["plain-after"] / med["plain"], 3),
        "plain_reports_identical": identical,
    }
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
