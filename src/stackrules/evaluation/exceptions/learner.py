"""One learner's exceptions, ready for the evaluator: what is excluded everywhere, the
credentials as the exceptions leave them, the granted achievements, and per exception whether
it changed anything (and how, or why not).

Takes what an evaluator knows of its rules (`Laying`: the rules, the credential versions, the
overlays it keeps), the record, the dates and the achievements that count (§1); gives a
`LearnerExceptions`. Called only for a learner with exceptions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from stackrules import report
from stackrules.evaluation.achievements import Ach, Firing, Grant, grant_rank, granted
from stackrules.evaluation.exceptions.overlay import (
    Laid,
    OverlayCredential,
    credential_exceptions,
    lay,
    structure,
)
from stackrules.exceptions.model import RegistrarException
from stackrules.model import Choice, Credential, Equivalency, RuleSet
from stackrules.records.model import Achievement, LearnerRecord


class Keeper(Protocol):
    """What keeps the searches of an overlaid credential (an evaluator)."""

    def share_template(self, base: Credential, overlay: Credential) -> None: ...

    def forget(self, *objects: object) -> None: ...


# overlays remembered per evaluator (each a few copied nodes; the least recently used go first)
OVERLAY_CACHE = 512


class Overlays:
    """An evaluator's overlays, by what they are made of, so that learners with the same
    exceptions share one (and the searches remembered for it). One forgotten takes what the
    evaluator keeps by its objects' ids with it."""

    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper
        self._laid: OrderedDict[tuple[object, ...], Laid] = OrderedDict()

    def get(self, base: Credential, exceptions: Sequence[RegistrarException]) -> Laid:
        # in their order: a later exception on the same requirement or limit wins
        key = (id(base), tuple(structure(e) for e in exceptions))
        found = self._laid.get(key)
        if found is None or found.credential.base is not base:
            found = lay(base, exceptions)
            self.keeper.share_template(base, found.credential)
            self._laid[key] = found
            while len(self._laid) > OVERLAY_CACHE:
                try:
                    _, old = self._laid.popitem(last=False)
                except KeyError:  # emptied by another thread meanwhile
                    break
                self.keeper.forget(old.credential, *old.new_objects)
        else:
            with suppress(KeyError):  # (another thread may have just let it go)
                self._laid.move_to_end(key)
        return found


@dataclass(slots=True)
class LearnerExceptions:
    exceptions: tuple[RegistrarException, ...]
    counting: list[tuple[Achievement, Ach]]
    excluded: list[report.NotCounted]
    credentials: dict[str, OverlayCredential] = field(default_factory=dict)
    # per overlaid credential, this learner's ids of the exceptions laid on it, in the order
    # the overlay was given them (`AdjustedLeaves.why` names them by that place)
    laid_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    grants: list[Ach] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)
    next_atom: int = 0
    # per exception id: (applied, effect or why not)
    effects: dict[str, tuple[bool, str]] = field(default_factory=dict)


class Laying(Protocol):
    """What laying a learner's exceptions reads of an evaluator."""

    rules: RuleSet
    overlays: Overlays

    def version(self, ident: str, catalog_date: date) -> Credential | None: ...


def prepare(
    ev: Laying,
    record: LearnerRecord,
    as_of: date,
    catalog_date: date,
    counting: list[tuple[Achievement, Ach]],
    reasons: dict[str, str],
) -> LearnerExceptions:
    """`reasons`: why a record item does not count (§1), for items that never do."""
    exceptions = record.exceptions
    effects: dict[str, tuple[bool, str]] = {}
    counted_items = {ach.item for _, ach in counting}

    def missing(item: str) -> str:
        why = reasons.get(item)
        if why is not None:
            return f"`{item}` does not count ({why}): an exception never lets it in"
        return f"the learner holds no `{item}`"

    # exclusions everywhere: the achievements stay out of every rule (reason `excluded`)
    everywhere = {e.item for e in exceptions if e.kind == "exclude" and e.credential is None}
    kept: list[tuple[Achievement, Ach]] = []
    excluded: list[report.NotCounted] = []
    by_item: dict[str, str] = {}
    for e in exceptions:
        if e.kind == "exclude" and e.credential is None and e.item is not None:
            by_item.setdefault(e.item, e.id)
    for row, ach in counting:
        if ach.item in everywhere:
            excluded.append(
                report.NotCounted(
                    item=ach.item,
                    reason="excluded",
                    rule=by_item[ach.item],
                    source="exception",
                    detail="excluded by a registrar exception",
                )
            )
        else:
            kept.append((row, ach))
    for e in exceptions:
        if e.kind == "exclude" and e.credential is None:
            assert e.item is not None
            if e.item in counted_items:
                effects[e.id] = (True, f"{e.item} excluded everywhere")
            else:
                effects[e.id] = (False, missing(e.item))
    out = LearnerExceptions(exceptions, kept, excluded, next_atom=len(counting))
    # credentials
    for ident, excs in sorted(credential_exceptions(exceptions).items()):
        if ident not in ev.rules.credentials:  # (rules other than those it was checked with)
            for e in excs:
                effects[e.id] = (False, f"`{ident}` is not a credential of these rules")
            continue
        base = ev.version(ident, catalog_date)
        if base is None:
            for e in excs:
                effects[e.id] = (False, f"`{ident}` is not offered at the learner's catalog date")
            continue
        laid = ev.overlays.get(base, excs)
        out.credentials[ident] = laid.credential
        out.laid_ids[ident] = tuple(e.id for e in excs)
        for e in excs:
            effect, why = laid.effects[structure(e)]
            if effect is None:
                effects[e.id] = (False, why)
            elif e.item is not None and e.item not in counted_items - everywhere:
                effects[e.id] = (False, missing(e.item))
            else:
                effects[e.id] = (True, effect)
    # grants: one unit of evidence with their sources, as a firing (§2)
    held = {ach.item: ach for _, ach in sorted(kept, key=lambda p: _source_order(p[1]))}
    for e in exceptions:
        if e.kind != "grant":
            continue
        assert e.item is not None
        absent = [s for s in e.from_ if s not in held]
        if absent:
            effects[e.id] = (False, missing(absent[0]))
            continue
        sources = [held[s] for s in e.from_]
        granted = _grant(ev, e, sources, out, as_of)
        if granted is None:
            effects[e.id] = (False, f"the granted `{e.item}` has expired")
            continue
        loser = _duplicate(ev, granted, kept, out.grants)
        if loser is not None:
            # no duplicate credit (§2): the learner holds a non-repeatable item once, a
            # record attempt before any grant, among grants the best by §1's ranking
            out.excluded.append(
                report.NotCounted(
                    item=loser.item,
                    reason="repeat",
                    rule=loser.rule,
                    source="exception",
                    detail="granted again; another achievement of this item counts",
                )
            )
            if loser is not granted:
                out.grants.remove(loser)
                assert loser.rule is not None
                effects[loser.rule] = (False, _lost(loser, granted))
        eq = Equivalency(
            rule=e.id,
            where="exception",
            order=("", -1, len(out.firings)),
            source=Choice(0, (), "all"),
            leaves=(),
            grants=(),
            window=None,
        )
        out.firings.append(Firing(eq, sources, [granted]))
        if loser is granted:
            held_by = next(a for a in [*out.grants, *(a for _, a in kept)] if a.item == e.item)
            effects[e.id] = (False, _lost(granted, held_by))
            continue
        out.grants.append(granted)
        facts = f"{e.item} granted"
        if granted.credits is not None:
            unit = "credit" if granted.credits == 1 else "credits"
            facts += f" ({_num(granted.credits)} {unit})"
        if sources:
            facts += " for " + " + ".join(s.item for s in sources)
        effects[e.id] = (True, facts + (", transfer credit" if granted.transfer else ""))
    out.effects = effects
    return out


def _duplicate(
    ev: Laying, granted: Ach, kept: list[tuple[Achievement, Ach]], grants: list[Ach]
) -> Ach | None:
    """Of a grant and what the learner already holds of its item, the one that does not
    count (§2), or None when the item is repeatable or not held."""
    item = ev.rules.items.get(granted.item)
    if item is not None and item.repeatable:
        return None
    if any(a.item == granted.item for _, a in kept):
        return granted  # a course taken comes before transfer credit for it
    held = next((a for a in grants if a.item == granted.item), None)
    if held is None:
        return None
    return held if grant_rank(ev.rules, granted) > grant_rank(ev.rules, held) else granted


def _lost(loser: Ach, winner: Ach) -> str:
    what = "the learner's own" if winner.origin != "granted" else f"the grant {winner.rule} of"
    return f"{what} {winner.item} counts instead (no duplicate credit)"


def _source_order(a: Ach) -> tuple[object, ...]:
    # the last of an item wins in `held`: the worst first, so the best grade, then the most
    # recent, is the one kept (as an equivalency picks one source)
    c = a.candidate()
    return (c.grade_rank, c.date_ordinal, c.sort_key)


def _grant(
    ev: Laying,
    exc: RegistrarException,
    sources: list[Ach],
    out: LearnerExceptions,
    as_of: date,
) -> Ach | None:
    assert exc.item is not None
    atoms = 0
    for s in sources:
        atoms |= s.atoms
    if not sources:
        atoms = 1 << out.next_atom
        out.next_atom += 1
    given = Grant(exc.credits, exc.hours, exc.subject, exc.level, exc.grade, exc.completed_on)
    found = granted(
        ev.rules,
        exc.item,
        sources,
        as_of,
        given,
        atoms=atoms,
        firing=-1,  # one unit of evidence with its sources: never counted beside them
        rule=exc.id,
        where="exception",
        sort_key=("granted", exc.item, ("", -1, 0), exc.id, tuple(s.sort_key for s in sources)),
    )
    if found is None and not sources:
        out.next_atom -= 1  # lapsed: its atom is never used
    return found


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"
