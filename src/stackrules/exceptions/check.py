"""Whether a learner's exceptions are well formed and name what the rule set has.

Takes a learner's exceptions and the rule set; gives one problem per bad field (the
exception's `id`, the field, and a did-you-mean where a name is close to a known one). A
learner with a problem is a record error (exit 3) and is not evaluated: an exception that
cannot be applied as its approver meant must not be silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from stackrules.diagnostics import did_you_mean
from stackrules.exceptions.model import COMMON, OPTIONAL, REQUIRED, RegistrarException
from stackrules.model import Limit, RuleSet
from stackrules.records.errors import RecordError
from stackrules.records.model import LearnerRecord


@dataclass(frozen=True, slots=True)
class Problem:
    exception: str  # its id
    field: str
    message: str


def limit_name(text: str) -> str:
    """A limit's name as an exception gives it: `fmt`'s text after `limit`, whitespace aside."""
    words = text.split()
    if words and words[0] == "limit":
        words = words[1:]
    return " ".join(words)


def find_limit(limits: Iterable[Limit], name: str) -> int | None:
    wanted = limit_name(name)
    for k, lim in enumerate(limits):
        if limit_name(lim.text) == wanted:
            return k
    return None


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    hint = did_you_mean(name, list(known))
    return f"`{name}` is not {what}" + (f"; {hint}" if hint else "")


def problems(exceptions: Sequence[RegistrarException], rules: RuleSet) -> list[Problem]:
    """Every problem with these exceptions (one learner's), in their order."""
    out: list[Problem] = []
    seen: set[str] = set()
    for exc in exceptions:

        def bad(field: str, message: str, exc: RegistrarException = exc) -> None:
            out.append(Problem(exc.id, field, message))

        if exc.id in seen:
            bad("id", f"`{exc.id}` is given twice for this learner (ids are unique per learner)")
        seen.add(exc.id)
        if exc.approved_by is None:
            bad("approved_by", "required: an exception without an approver cannot be signed")
        if exc.approved_on is None:
            bad("approved_on", "required: an exception without an approval date cannot be signed")
        given = exc.given()
        for name in REQUIRED[exc.kind]:
            if name not in given:
                bad(name, f"required for a `{exc.kind}` exception")
        allowed = set(REQUIRED[exc.kind]) | set(OPTIONAL[exc.kind]) | set(COMMON)
        for name in sorted(given - allowed):
            bad(name, f"not a field of a `{exc.kind}` exception")
        if exc.kind in ("waive", "adjust") and exc.requirement and exc.limit:
            bad("limit", "name a requirement or a limit, not both")
        if exc.kind in ("waive", "adjust") and not (exc.requirement or exc.limit):
            bad("requirement", f"required for a `{exc.kind}` exception (or `limit`)")
        _names(exc, rules, bad)
    return out


def _names(exc: RegistrarException, rules: RuleSet, bad: Callable[[str, str], None]) -> None:
    """Whether the credential, requirement, limit and items exist (in some version)."""
    for field, ident in (("item", exc.item), ("for", exc.for_)):
        if ident is not None and ident not in rules.items:
            bad(field, _unknown("an item of the rule set", ident, rules.items))
    for k, ident in enumerate(exc.from_):
        if ident not in rules.items:
            bad(f"from[{k}]", _unknown("an item of the rule set", ident, rules.items))
    if exc.credential is None:
        return
    versions = rules.credentials.get(exc.credential)
    if versions is None:
        bad(
            "credential",
            _unknown("a credential of the rule set", exc.credential, rules.credentials),
        )
        return
    if exc.requirement is not None:
        names = {r.name for v in versions for r in v.requirements}
        if exc.requirement not in names:
            what = f"a requirement of `{exc.credential}`"
            bad("requirement", _unknown(what, exc.requirement, sorted(names)))
    if exc.limit is not None:
        texts = sorted({limit_name(lim.text) for v in versions for lim in v.limits})
        if limit_name(exc.limit) not in texts:
            what = f"a limit of `{exc.credential}`"
            bad("limit", _unknown(what, limit_name(exc.limit), texts))


def record_errors(
    record: LearnerRecord,
    rules: RuleSet,
    *,
    file: str,
    record_index: int | None,
    files: Mapping[str, str] | None = None,
) -> list[RecordError]:
    """One record error per problem with the record's exceptions, located where the record
    was read, or (`files`: exception id to file) in the exceptions file it came from."""
    if not record.exceptions:
        return []
    position = record.position
    elsewhere = files or {}
    return [
        RecordError(
            file=elsewhere.get(p.exception, file),
            learner=record.learner,
            line=position.number if position and p.exception not in elsewhere else None,
            position_kind=position.kind if position and p.exception not in elsewhere else None,
            field=f"exceptions[{p.exception}].{p.field}",
            message=p.message,
            record_index=record_index,
        )
        for p in problems(record.exceptions, rules)
    ]
