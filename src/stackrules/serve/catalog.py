"""The credentials of a rule set, as `/v1/credentials` lists and describes them.

Takes the compiled model and its graph; gives JSON-ready values: a credential's summary (for
the list and its search), and its detail: each version's requirements and limits in the rule
language's own words (the formatter's), what it ladders into (`maps.where`), and the transfer
routes into it (the equivalencies granting an item one of its requirements names or lists).
"""

from __future__ import annotations

from typing import Any

from stackrules.format import group_text, modifier_text
from stackrules.graph import RuleGraph
from stackrules.maps.text import number_text, window_text
from stackrules.maps.where import where
from stackrules.model import (
    AmountLeaf,
    Choice,
    CompetencyLeaf,
    Credential,
    ItemLeaf,
    Node,
    RuleSet,
)


def node_text(node: Node) -> str:
    """A requirement tree of the model on one line, as the rule language writes it."""
    if isinstance(node, Choice):
        inner = ", ".join(node_text(c) for c in node.children)
        head = {"all": "all of", "any": "any of"}.get(node.form, f"{node.need} of")
        return f"{head} ({inner})"
    if isinstance(node, ItemLeaf):
        core = node.item
    elif isinstance(node, CompetencyLeaf):
        core = f"competency {node.competency} at {node.level_name}"
    else:
        assert isinstance(node, AmountLeaf)
        amount = number_text(node.amount)
        head = f"{amount} of" if node.unit == "items" else f"{amount} {node.unit} from"
        if node.ids is not None:
            group = "(" + ", ".join(node.listed) + ")"
        else:
            assert node.selector is not None
            group = group_text(node.selector)
        core = f"{head} {group}"
    return core + "".join(" " + modifier_text(m) for m in node.modifiers)


def summary(rules: RuleSet, ident: str) -> dict[str, Any]:
    """The newest version's identity: what the list shows and its search reads."""
    latest = rules.credentials[ident][-1]
    return {
        "id": ident,
        "title": latest.title,
        "issuer": ident.split(":", 1)[0],
        "kind": latest.kind,
        "credits": latest.credits,
        "hours": latest.hours,
        "version_count": len(rules.credentials[ident]),
    }


def search(
    rules: RuleSet, text: str | None, issuer: str | None, kind: str | None
) -> list[dict[str, Any]]:
    """Credentials whose identifier or title holds `text` (any case), of that issuer and
    kind, by identifier."""
    needle = (text or "").casefold()
    found = []
    for ident in sorted(rules.credentials):
        entry = summary(rules, ident)
        if issuer is not None and entry["issuer"] != issuer:
            continue
        if kind is not None and entry["kind"] != kind:
            continue
        if needle and needle not in ident.casefold() and needle not in entry["title"].casefold():
            continue
        found.append(entry)
    return found


def _version(version: Credential) -> dict[str, Any]:
    return {
        "source": version.where,
        "title": version.title,
        "effective": window_text(version.window),
        "requirements": [
            {"name": r.name, "label": r.label, "text": node_text(r.root), "source": r.where}
            for r in version.requirements
        ],
        "limits": [{"text": lim.text, "source": lim.where} for lim in version.limits],
    }


def _sources(rules: RuleSet, k: int) -> list[str]:
    found: list[str] = []
    for leaf in rules.equivalencies[k].leaves:
        if isinstance(leaf, ItemLeaf):
            found.append(leaf.item)
        elif isinstance(leaf, AmountLeaf) and leaf.ids is not None:
            found += leaf.listed
    return list(dict.fromkeys(found))


def transfer_routes(graph: RuleGraph, ident: str) -> list[dict[str, Any]]:
    """Equivalencies granting an item that a leaf of the credential counts: one a requirement
    names or lists, one a selector picks by its catalog attributes (a granted item is
    `transfer` to selectors), or one that teaches a competency a requirement asks for."""
    rules = graph.rules
    counted = graph.counted_by_granted
    routes: dict[tuple[int, str], dict[str, Any]] = {}
    for k, equivalency in enumerate(rules.equivalencies):
        for grant in equivalency.grants:
            if ident in counted[grant.item]:
                routes[(k, grant.item)] = {
                    "rule": equivalency.rule,
                    "source": equivalency.where,
                    "from": _sources(rules, k),
                    "grants": grant.item,
                }
    return [routes[key] for key in sorted(routes)]


def detail(graph: RuleGraph, ident: str) -> dict[str, Any]:
    """A credential in full: its versions, what it ladders into, the transfers into it."""
    rules = graph.rules
    reaches = where(graph, ident)
    ladders = [
        {"id": r.id, "title": r.title, "requirement": r.path[-1].requirement, "source": r.where}
        for r in reaches
        if r.kind == "credential" and len(r.path) == 1
    ]
    return {
        **summary(rules, ident),
        "versions": [_version(v) for v in rules.credentials[ident]],
        "ladders_into": ladders,
        "transfer_routes": transfer_routes(graph, ident),
    }
