"""Where does this count? An item or credential in, everything it can count toward out.

Takes the rule graph and an identifier; returns one :class:`Reach` per credential and
equivalency the identifier can count toward, each with a shortest path of :class:`Step`s from
the identifier to it: directly (a requirement names it, lists it, selects it by its catalog
attributes, or asks for a competency it teaches), through equivalencies (what they grant
counts on, with their effective dates and minimum grades) and through ladders (a credential
it helps earn counts toward others). A `=> none` line that names it is reported too: a
reviewed decision that it transfers as nothing.

Paths are found breadth first, so each is a shortest one; among equally short paths the first
in rule order (credentials by identifier, equivalencies in source order) wins, so the answer
is deterministic. This is what the rules allow, not what a learner has: a requirement that
takes the item still needs its other parts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Literal

from stackrules.format import modifier_text
from stackrules.graph import RuleGraph, Target
from stackrules.maps.text import how_text, window_text
from stackrules.model import AmountLeaf, Credential, ItemLeaf, LeafNode, RuleSet


@dataclass(frozen=True)
class Step:
    """One hop: `source` counts toward a credential or an equivalency through one leaf."""

    source: str
    kind: Literal["credential", "equivalency"]
    target: str  # credential identifier, or the equivalency's rule identifier
    rule_where: str  # file:line of the credential version or equivalency
    leaf_where: str  # file:line of the requirement that takes the source
    requirement: str  # its named requirement (`from` for an equivalency)
    how: str
    conditions: tuple[str, ...]  # modifiers on the leaf, then the rule's effective window
    together_with: tuple[str, ...] = ()  # other identifiers an equivalency needs too
    grants: tuple[str, ...] = ()  # what an equivalency grants
    no_credit: bool = False
    also: tuple[str, ...] = ()  # other requirements (other versions) of the target taking it

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "kind": self.kind,
            "to": self.target,
            "rule_source": self.rule_where,
            "source": self.leaf_where,
            "requirement": self.requirement,
            "how": self.how,
            "conditions": list(self.conditions),
            "together_with": list(self.together_with),
            "grants": list(self.grants),
            "no_credit": self.no_credit,
            "also": list(self.also),
        }


@dataclass(frozen=True)
class Reach:
    """A credential or equivalency the identifier can count toward, and how."""

    kind: Literal["credential", "equivalency"]
    id: str
    title: str
    where: str
    path: tuple[Step, ...]

    @property
    def route(self) -> str:
        """`direct`, or what the path goes through before its last step."""
        before = {s.kind for s in self.path[:-1]}
        if not before:
            return "direct"
        if before == {"credential"}:
            return "via ladder"
        if before == {"equivalency"}:
            return "via equivalency"
        return "via equivalency and ladder"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "source": self.where,
            "route": self.route,
            "steps": len(self.path),
            "path": [s.to_json() for s in self.path],
        }


def _version_of(rules: RuleSet, credential: str, leaf: LeafNode) -> Credential:
    for version in rules.credentials[credential]:
        if any(leaf is own for own in version.leaves):
            return version
    return rules.credentials[credential][-1]


def _step(rules: RuleSet, source: str, target: Target, leaf: LeafNode) -> Step:
    kind, key = target
    conditions = [modifier_text(m) for m in leaf.modifiers]
    if kind == "credential":
        version = _version_of(rules, str(key), leaf)
        window = window_text(version.window)
        return Step(
            source,
            "credential",
            version.id,
            version.where,
            leaf.where,
            leaf.requirement,
            how_text(leaf, source),
            tuple(conditions + ([window] if window else [])),
        )
    eq = rules.equivalencies[int(key)]
    window = window_text(eq.window)
    others: list[str] = []
    for other in eq.leaves:
        if other is leaf:
            continue
        if isinstance(other, ItemLeaf):
            others.append(other.item)
        elif isinstance(other, AmountLeaf) and other.ids is not None:
            others.extend(other.listed)
    return Step(
        source,
        "equivalency",
        eq.rule,
        eq.where,
        leaf.where,
        leaf.requirement,
        how_text(leaf, source),
        tuple(conditions + ([window] if window else [])),
        tuple(dict.fromkeys(o for o in others if o != source)),
        tuple(g.item for g in eq.grants),
        eq.no_credit,
    )


def _also(rules: RuleSet, target: Target, leaf: LeafNode) -> str:
    text = f"`{leaf.requirement}` [{leaf.where}]"
    if target[0] == "credential":
        window = window_text(_version_of(rules, str(target[1]), leaf).window)
        text += f" ({window})" if window else ""
    return text


def where(graph: RuleGraph, ident: str) -> list[Reach]:
    """Everything `ident` can count toward, each with a shortest path; nearest first."""
    rules = graph.rules
    found: dict[Target, Reach] = {}
    queue: deque[tuple[str, tuple[Step, ...]]] = deque([(ident, ())])
    seen = {ident}
    while queue:
        current, path = queue.popleft()
        leaves: dict[Target, list[LeafNode]] = {}
        for target, leaf in graph.uses(current):
            leaves.setdefault(target, []).append(leaf)
        for target, (leaf, *more) in leaves.items():
            if target in found:
                continue
            step = _step(rules, current, target, leaf)
            if more:
                step = replace(step, also=tuple(_also(rules, target, m) for m in more))
            kind, key = target
            if kind == "credential":
                title = rules.items[str(key)].title
                reach = Reach("credential", str(key), title, step.rule_where, (*path, step))
                nxt = [str(key)]
            else:
                eq = rules.equivalencies[int(key)]
                reach = Reach("equivalency", eq.rule, eq.rule, eq.where, (*path, step))
                nxt = [g.item for g in eq.grants]
            found[target] = reach
            for n in nxt:
                if n not in seen:
                    seen.add(n)
                    queue.append((n, reach.path))
    return sorted(found.values(), key=lambda r: (len(r.path), r.kind, r.id, r.where))


def where_json(rules: RuleSet, ident: str, reaches: list[Reach]) -> dict[str, Any]:
    item = rules.items[ident]
    return {
        "id": ident,
        "title": item.title,
        "kind": "credential" if item.is_credential else item.kind,
        "counts_toward": [r.to_json() for r in reaches],
    }


def where_text(rules: RuleSet, ident: str, reaches: list[Reach]) -> str:
    """The readable answer: one block per credential or equivalency, its path hop by hop."""
    item = rules.items[ident]
    lines = [f"{ident} “{item.title}”"]
    credentials = sum(1 for r in reaches if r.kind == "credential")
    if not reaches:
        lines.append("counts toward nothing in these rules")
        return "\n".join(lines) + "\n"
    equivalencies = len(reaches) - credentials
    lines.append(
        f"counts toward {credentials} credential{'s' if credentials != 1 else ''} and "
        f"{equivalencies} equivalenc{'ies' if equivalencies != 1 else 'y'}"
    )
    for reach in reaches:
        lines.append("")
        head = "credential" if reach.kind == "credential" else "equivalency"
        title = f" “{reach.title}”" if reach.kind == "credential" else ""
        lines.append(f"{head} {reach.id}{title}  ({reach.route}, {reach.where})")
        for step in reach.path:
            lines.append(f"  {step.source} → {step.target}: {_step_text(step)}")
    return "\n".join(lines) + "\n"


def _step_text(step: Step) -> str:
    parts = [step.how]
    if step.kind == "credential":
        parts.append(f"in `{step.requirement}`")
    if step.together_with:
        parts.append("together with " + ", ".join(step.together_with))
    parts.extend(step.conditions)
    if step.kind == "equivalency":
        grants = "grants " + ", ".join(step.grants)
        parts.append("no credit (reviewed)" if step.no_credit else grants)
    text = "; ".join(parts) + f"  [{step.leaf_where}]"
    if step.also:
        text += "; also " + ", ".join(step.also)
    return text
