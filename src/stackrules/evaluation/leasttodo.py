"""§4 what remains and §6 which credentials in progress the report shows.

Takes a credential, the learner's achievements and the as-of date; gives its least-to-do
search (`LeastToDo`), built in stages so that a credential surely not earned and not shown
costs only its matches and a light problem: the achievements each leaf accepts, a light
problem of those alone (enough to tell whether the credential could be earned, and an
admissible lower bound of what remains), the whole problem (conflicts, limits and what the
catalog says of missing work), and the exact search for the allocation that leaves the least
to do (missing credits, then missing items, then the tie-breaks of §4).

`nearest` picks the K credentials in progress with the least to do, exactly the first K of
the whole ranked list, searching only those whose lower bound could still enter.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.allocation import (
    Allocation,
    LeafHoldings,
    LightVerdict,
    Problem,
)
from stackrules.evaluation.problems import Problems
from stackrules.model import Credential

# K: how many credentials in progress a report shows besides the pursued ones (§6)
DEFAULT_IN_PROGRESS = 5


@dataclass(slots=True)
class LeastToDo:
    """One credential's least-to-do search, each part made when first asked: the
    achievements each leaf accepts (`matches`, by leaf index, of the leaves accepting any),
    what the leaves hold of them (`holdings`) and what that alone tells (`light`: no
    conflicts, no limits; whether the credential could be earned and a lower bound of what
    remains), the whole problem and the achievements its indexes refer to, and its best
    allocation. A credential that is surely not earned and not
    shown never has more than its matches and light verdict made."""

    credential: Credential
    matches: dict[int, Sequence[Ach]]
    holdings: LeafHoldings
    light: LightVerdict
    assemble: Callable[[], tuple[Problem, list[Ach]]]
    search: Callable[[Problem], Allocation | None]
    _built: tuple[Problem, list[Ach]] | None = None
    _found: tuple[Allocation | None] | None = None

    @property
    def started(self) -> bool:
        """Some leaf is met or partly met (§4): it accepts an achievement (an amount: one
        that adds something to it), or its competency holds."""
        return bool(self.holdings)

    @property
    def problem(self) -> Problem:
        if self._built is None:
            self._built = self.assemble()
        return self._built[0]

    @property
    def achs(self) -> list[Ach]:
        if self._built is None:
            self._built = self.assemble()
        return self._built[1]

    @property
    def allocation(self) -> Allocation | None:
        if self._found is None:
            self._found = (self.search(self.problem),)
        return self._found[0]


def least_to_do(
    problems: Problems,
    cred: Credential,
    achs: Sequence[Ach],
    as_of: date,
    record_items: frozenset[str] = frozenset(),
) -> LeastToDo:
    """The allocation that leaves the least to do for `cred` (§4); earned when nothing.
    `record_items`: the items of the record's attempts, counting or not (with `achs`,
    what the learner holds: a missing one needs a retake)."""
    found, holdings = problems.held(cred.leaves, achs, as_of)

    def assemble() -> tuple[Problem, list[Ach]]:
        held = record_items | {a.item for a in achs}
        matches = [found.get(k, ()) for k in range(len(cred.leaves))]
        roots = [r.root for r in cred.requirements]
        return problems.assemble(
            roots, cred.leaves, cred.limits, matches, as_of, cred.hours_per_credit, cred, held
        )

    return LeastToDo(
        cred,
        found,
        holdings,
        problems.light(cred, holdings),
        assemble,
        lambda p: problems.solve_remembered(cred, p, "least"),
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report shows of the credentials in progress (§6): the pursued credentials,
    and the `nearest` K others (None: every one)."""

    pursued: tuple[str, ...] = ()
    nearest: int | None = DEFAULT_IN_PROGRESS


def nearest(started: dict[str, LeastToDo], pursued: set[str], scope: Scope) -> set[str]:
    """The K credentials in progress, besides the pursued ones, with the least to do:
    missing credits, then missing items, then identifier (§6). Exactly the first K of the
    whole list ranked that way, without searching them all: a credential whose lower
    bound (missing credits, missing items, identifier) is above the K-th best exact
    answer cannot enter."""
    k = scope.nearest
    assert k is not None
    if k == 0:
        return set()
    bounded = sorted(
        (*_rounded(least.light.bound), ident)
        for ident, least in started.items()
        if ident not in pursued
    )
    best: list[tuple[float, float, str]] = []  # the K best exact keys so far, sorted
    for bound in bounded:
        if len(best) == k and bound > best[-1]:
            break  # every later bound is as high: none can enter
        ident = bound[2]
        alloc = started[ident].allocation
        assert alloc is not None  # a least-to-do search always has an allocation
        entry = (round(alloc.key[1], 6), alloc.key[2], ident)
        if len(best) < k or entry < best[-1]:
            insort(best, entry)
            del best[k:]
    return {ident for _, _, ident in best}


def _rounded(bound: tuple[float, float]) -> tuple[float, float]:
    # as the report rounds what remains, so that a bound and an answer compare alike (a
    # rounded bound is still below every rounded answer it bounds)
    return round(bound[0], 6), bound[1]
