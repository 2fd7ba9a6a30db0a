"""A learner's copy of the rules: the shared credentials with the learner's exceptions laid
over them (`exceptions.md`, "How they apply").

Takes a credential version and the exceptions naming it; gives an `OverlayCredential`, a copy
made with `dataclasses.replace` of only what changes (a waived requirement's root, an adjusted
amount, a waived or adjusted limit), whose `leaves` are an `AdjustedLeaves` tuple: per leaf,
the items it also accepts (`substitute`, `also-allow`, `apply`) and which exceptions made it
accept each (the report's evidence names them), and those it turns away (`apply` elsewhere in
the credential, `exclude`). The evaluator reads the adjustments where it
matches achievements to leaves, so everything after that (the exact allocation, limits,
earning dates, what remains) runs unchanged: a directive is a constraint on the search, never a
placement. The shared rule set is never touched; a learner without exceptions never meets any
of this.

An overlay depends only on the credential version and the exceptions' content (not on the
learner), so one is made once per evaluator and shared by every learner with the same
exceptions; its `token` stands for it in the evaluator's remembered allocations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import count
from secrets import token_hex
from typing import TYPE_CHECKING

from stackrules.evaluation.allocation import value_of
from stackrules.exceptions.check import find_limit
from stackrules.exceptions.model import RegistrarException
from stackrules.matching import first_failure
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    Credential,
    ItemLeaf,
    LeafNode,
    Limit,
    Node,
    all_leaves,
)

if TYPE_CHECKING:
    from stackrules.evaluation.achievements import Ach

# the kinds that act on one credential's tree
CREDENTIAL_KINDS = frozenset({"waive", "adjust", "substitute", "also-allow", "apply", "exclude"})
# a waived requirement: holds with nothing (`N of` nothing, N = 0)
WAIVED = Choice(0, (), "all")
_SERIAL = count()
# with the serial, never the same in two processes (a worker's overlays are never mistaken
# for its parent's, whatever travels between them; an evaluator itself travels without what
# it remembered: `Evaluator.__reduce__`)
_NONCE = token_hex(8)


@dataclass(frozen=True, slots=True)
class OverlayCredential(Credential):
    """A credential version as one learner's exceptions leave it."""

    token: tuple[object, ...] = ()  # what it is made of: stands for it in remembered searches
    base: Credential | None = None


class AdjustedLeaves(tuple[LeafNode, ...]):
    """An overlay credential's leaves, with what each also accepts and turns away."""

    extra: tuple[frozenset[str], ...]
    # per leaf, per item it also accepts: the exceptions that add it there, by their place in
    # the list `lay` was given (learners sharing the overlay have theirs in the same order)
    why: tuple[dict[str, tuple[int, ...]], ...]
    reject: tuple[frozenset[str], ...]
    dead: tuple[bool, ...]  # under a waived requirement: accepts nothing

    def adjusted(
        self,
        per_leaf: list[Sequence[Ach]],
        by_item: dict[str, list[Ach]],
        as_of: date,
    ) -> list[Sequence[Ach]]:
        """`per_leaf` (what each leaf accepts as the rules say) with the adjustments: an item
        a leaf also accepts passes the leaf's modifiers like any other (an exception never
        lets a failed, expired or in-progress achievement in: those never reach here)."""
        out: list[Sequence[Ach]] = []
        for leaf, ok in zip(self, per_leaf, strict=True):
            k = leaf.index
            if self.dead[k]:
                out.append([])
                continue
            reject, extra = self.reject[k], self.extra[k]
            if reject:
                ok = [a for a in ok if a.item not in reject]
            if extra and type(leaf) is not CompetencyLeaf:
                have = {id(a) for a in ok}
                added = [
                    a
                    for item in sorted(extra - reject)  # an exclusion wins
                    for a in by_item.get(item, ())
                    if id(a) not in have
                    and first_failure(leaf.modifiers, a, as_of) is None
                    and (type(leaf) is not AmountLeaf or value_of(a, leaf.unit) > 0)
                ]
                if added:
                    ok = [*ok, *added]
            out.append(ok)
        return out

    def admits(self, leaf: LeafNode, item: str) -> bool | None:
        """Whether the leaf takes an achievement of `item` because of an exception (True),
        turns it away because of one (False), or as the rules say (None)."""
        k = leaf.index
        if self.dead[k] or item in self.reject[k]:
            return False
        if item in self.extra[k] and type(leaf) is not CompetencyLeaf:
            return True
        return None

    def added_by(self, index: int, item: str) -> tuple[int, ...]:
        """The exceptions (by place) that make the leaf with this index accept `item`."""
        return self.why[index].get(item, ())


def _adjusted_leaves(
    leaves: Sequence[LeafNode],
    extra: list[dict[str, list[int]]],
    reject: list[set[str]],
    dead: list[bool],
) -> AdjustedLeaves:
    found = AdjustedLeaves(leaves)
    found.extra = tuple(frozenset(s) for s in extra)
    found.why = tuple({item: tuple(by) for item, by in s.items()} for s in extra)
    found.reject = tuple(frozenset(s) for s in reject)
    found.dead = tuple(dead)
    return found


def structure(exc: RegistrarException) -> tuple[object, ...]:
    """What of an exception shapes an overlay (never its id, approver or note)."""
    return (exc.kind, exc.requirement, exc.limit, exc.item, exc.for_, exc.amount)


@dataclass(frozen=True, slots=True)
class Laid:
    """One credential's overlay and, per exception laid on it (by `structure`: learners with
    the same exceptions share it), what it changed there (`None`: nothing, and why not)."""

    credential: OverlayCredential
    effects: dict[tuple[object, ...], tuple[str | None, str]]  # by `structure`
    new_objects: tuple[object, ...]  # leaves and limits made for it (cached by id elsewhere)


def lay(base: Credential, exceptions: Sequence[RegistrarException]) -> Laid:
    """`base` with `exceptions` (those naming it) applied."""
    n = len(base.leaves)
    extra: list[dict[str, list[int]]] = [{} for _ in range(n)]  # item -> exceptions (places)
    reject: list[set[str]] = [set() for _ in range(n)]
    dead = [False] * n
    roots: dict[str, Node] = {r.name: r.root for r in base.requirements}
    under: dict[str, list[LeafNode]] = {
        r.name: list(all_leaves([r.root])) for r in base.requirements
    }
    limits: list[Limit | None] = list(base.limits)
    replaced: dict[int, LeafNode] = {}  # leaf index -> a new leaf (an adjusted amount)
    effects: dict[tuple[object, ...], tuple[str | None, str]] = {}
    where = base.id

    def done(exc: RegistrarException, effect: str) -> None:
        effects[structure(exc)] = (effect, "")

    def nothing(exc: RegistrarException, why: str) -> None:
        effects[structure(exc)] = (None, why)

    def add(leaf: LeafNode, item: str, place: int) -> None:
        by = extra[leaf.index].setdefault(item, [])
        if place not in by:
            by.append(place)

    for place, exc in enumerate(exceptions):
        req = exc.requirement
        if req is not None and req not in roots:
            nothing(exc, f"the version of `{where}` in effect has no requirement `{req}`")
            continue
        scope = f"{where} {req}" if req else where
        if exc.kind in ("waive", "adjust") and exc.limit is not None:
            k = find_limit(base.limits, exc.limit)
            if k is None or limits[k] is None:
                nothing(exc, f"the version of `{where}` in effect has no such limit")
                continue
            lim = limits[k]
            assert lim is not None
            if exc.kind == "waive":
                limits[k] = None
                done(exc, f"{where} {lim.text}: waived")
            else:
                assert exc.amount is not None
                limits[k] = replace(lim, amount=exc.amount)
                done(exc, f"{where} {lim.text}: {_num(lim.amount)} becomes {_num(exc.amount)}")
            continue
        if exc.kind == "waive":
            assert req is not None
            roots[req] = WAIVED
            for leaf in under[req]:
                dead[leaf.index] = True
            done(exc, f"{scope}: waived")
        elif exc.kind == "adjust":
            assert req is not None and exc.amount is not None
            node = roots[req]
            if isinstance(node, AmountLeaf):
                new_leaf = replace(node, amount=exc.amount)
                replaced[node.index] = new_leaf
                roots[req] = new_leaf
                done(exc, f"{scope}: {_num(node.amount)} {node.unit} becomes {_num(exc.amount)}")
            elif isinstance(node, Choice):
                if not float(exc.amount).is_integer():
                    nothing(exc, f"`{req}` counts items: the amount must be a whole number")
                    continue
                need = min(int(exc.amount), len(node.children))
                roots[req] = replace(node, need=need, form="n")
                done(exc, f"{scope}: {node.need} of {len(node.children)} becomes {need}")
            else:
                nothing(exc, f"`{req}` has no `N of`, `N credits from` or `N hours from` on top")
        elif exc.kind == "substitute":
            assert exc.item is not None and exc.for_ is not None
            leaves = under[req] if req else list(base.leaves)
            naming = [leaf for leaf in leaves if _names(leaf, exc.for_)]
            if not naming:
                nothing(exc, f"no requirement of `{scope}` names `{exc.for_}`")
                continue
            for leaf in naming:
                add(leaf, exc.item, place)
            done(exc, f"{scope}: {exc.item} counted for {exc.for_}")
        elif exc.kind in ("also-allow", "apply"):
            assert req is not None and exc.item is not None
            groups = _groups(roots[req])
            if not groups and exc.kind == "also-allow":
                nothing(exc, f"`{req}` has no list or selector to allow `{exc.item}` in")
                continue
            for leaf in groups:
                add(leaf, exc.item, place)
            if exc.kind == "apply":
                inside = {leaf.index for leaf in under[req]}
                for leaf in base.leaves:
                    if leaf.index not in inside:
                        reject[leaf.index].add(exc.item)
                done(exc, f"{scope}: {exc.item} counts here and nowhere else in {where}")
            else:
                done(exc, f"{scope}: {exc.item} also allowed")
        elif exc.kind == "exclude":
            assert exc.item is not None
            for leaf in base.leaves:
                reject[leaf.index].add(exc.item)
            done(exc, f"{where}: {exc.item} excluded")
    new_leaves = [replaced.get(leaf.index, leaf) for leaf in base.leaves]
    requirements = tuple(
        replace(r, root=_swap(roots[r.name], replaced))
        if roots[r.name] is not r.root or _touches(r.root, replaced)
        else r
        for r in base.requirements
    )
    # one per overlay made: the searches remembered for it hold its nodes' ids, which mean
    # nothing to another overlay, even one of the same content
    token = ("overlay", _NONCE, next(_SERIAL))
    cred = OverlayCredential(
        **{f: getattr(base, f) for f in _CREDENTIAL_FIELDS},
        requirements=requirements,
        limits=tuple(lim for lim in limits if lim is not None),
        leaves=_adjusted_leaves(new_leaves, extra, reject, dead),
        token=token,
        base=base,
    )
    new_limits = [lim for lim in limits if lim is not None and lim not in base.limits]
    return Laid(cred, effects, (*replaced.values(), *new_limits))


_CREDENTIAL_FIELDS = (
    "id",
    "title",
    "kind",
    "credits",
    "hours",
    "valid_for",
    "window",
    "where",
    "hours_per_credit",
)


def _names(leaf: LeafNode, item: str) -> bool:
    if isinstance(leaf, ItemLeaf):
        return leaf.item == item
    return isinstance(leaf, AmountLeaf) and leaf.ids is not None and item in leaf.ids


def _groups(root: Node) -> list[LeafNode]:
    """The leaves of a requirement that stand for a group (a list or a selector): amount
    leaves, and the members of `any of` and `N of` lists."""
    found: list[LeafNode] = []

    def walk(node: Node, in_list: bool) -> None:
        if isinstance(node, Choice):
            for child in node.children:
                walk(child, node.form != "all")
        elif isinstance(node, AmountLeaf) or (isinstance(node, ItemLeaf) and in_list):
            found.append(node)

    walk(root, False)
    return found


def _touches(node: Node, replaced: dict[int, LeafNode]) -> bool:
    return any(leaf.index in replaced for leaf in all_leaves([node]))


def _swap(node: Node, replaced: dict[int, LeafNode]) -> Node:
    """`node` with replaced leaves in place (new Choice nodes only on the way to them)."""
    if isinstance(node, Choice):
        if not _touches(node, replaced):
            return node
        return replace(node, children=tuple(_swap(c, replaced) for c in node.children))
    return replaced.get(node.index, node)


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def credential_exceptions(
    exceptions: Sequence[RegistrarException],
) -> dict[str, list[RegistrarException]]:
    """The exceptions that act on a credential's tree, by credential."""
    by: dict[str, list[RegistrarException]] = {}
    for exc in exceptions:
        if exc.kind in CREDENTIAL_KINDS and exc.credential is not None:
            by.setdefault(exc.credential, []).append(exc)
    return by
