"""CTDL export: a rule set in, Credential Engine CTDL JSON-LD out (a lossy projection).

Takes rule files (checked and compiled with `stackrules.load_rules`); gives one JSON-LD
document whose `@graph` holds:

- each issuer as a `ceterms:CredentialOrganization`; each catalog item as a `ceterms:Course`,
  `ceterms:AssessmentProfile`, `ceterms:Badge` or `ceterms:LearningOpportunityProfile`;
- each credential (each version) as a CTDL credential class with one `ceterms:requires`
  ConditionProfile per named requirement: identifiers as `ceterms:target…`, `any of` as
  `ceterms:alternativeCondition`, `N of` and `N credits|hours from` as a Pathways
  `ceterms:ComponentCondition` (`ceterms:requiredNumber` / `ceterms:creditValue`), modifiers
  as `ceterms:condition` text; laddering as `ceterms:hasPart` / `ceterms:isPartOf`, and a
  credential that an equivalency turns into credit as `ceterms:isAdvancedStandingFor`;
- each equivalency and transfer line as a `ceterms:TransferValueProfile`
  (`transferValueFrom`, `transferValueFor`, `transferValue`, `startDate`, `endDate`), the lines
  of a `transfer` block grouped in a `ceterms:TransferAgreement`.

Every node carries `stackrules:rule` (the rule identifier) and `stackrules:source`
(`file:line`), and one `stackrules:Export` node says what the projection leaves out. CTIDs are
derived from the rule identifiers (UUID 5), so the same rules always give the same document;
an `alias "ce-…" = ID` supplies the real CTID of an identifier.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from stackrules import ast
from stackrules.check import check_paths
from stackrules.diagnostics import Diagnostic, has_errors
from stackrules.format import group_text, number, requirement_text, transfer_line_text
from stackrules.model import RuleSet, build

CONTEXT: list[Any] = [
    "https://credreg.net/ctdl/schema/context/json",
    {"stackrules": "urn:stackrules:"},
]
DEFAULT_BASE = "https://credentialengineregistry.org/resources/"
CREDIT_UNIT = "creditUnit:DegreeCredit"
_NAMESPACE = uuid.UUID("5e0f7a52-1c4b-5d7e-9a51-6c7b8d9e0f10")
_CTID = re.compile(r"ce-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

LOSSY_NOTE = (
    "A lossy projection of stackrules rules into CTDL, for publishing; the .stack files stay "
    "the rules of record. Kept only as text (ceterms:description, ceterms:condition): "
    "selectors, grade and date modifiers, nested requirement structure beyond one level of "
    "alternatives, credential-wide limits, competencies, issuer settings (hours per credit, "
    "passing grade, repeats) and repeatability. Counts and credit totals use the Pathways "
    "ComponentCondition inside a ConditionProfile. CTIDs are derived from rule identifiers "
    "unless an alias gives one. Each node's stackrules:rule and stackrules:source name the "
    "rule and the file:line it came from."
)

_CREDENTIAL_CLASSES = {
    "micro-credential": "ceterms:MicroCredential",
    "certificate": "ceterms:Certificate",
    "diploma": "ceterms:Diploma",
    "degree": "ceterms:Degree",
    "badge": "ceterms:Badge",
    "certification": "ceterms:Certification",
}
_ITEM_CLASSES = {
    "course": "ceterms:Course",
    "assessment": "ceterms:AssessmentProfile",
    "badge": "ceterms:Badge",
}


def export_ctdl(
    paths: Iterable[str | Path], base: str = DEFAULT_BASE
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """The CTDL document of a rule set, or None (with the diagnostics) when it has errors."""
    syntax, diagnostics = check_paths(list(paths))
    if has_errors(diagnostics):
        return None, diagnostics
    return _Exporter(syntax, build(syntax), base).document(), diagnostics


def render(document: dict[str, Any]) -> str:
    """The document as JSON text: the same rules always give the same bytes."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def ctid_for(key: str) -> str:
    """A CTID derived from a key (`item:UFV:DM101`): stable across runs and machines."""
    return f"ce-{uuid.uuid5(_NAMESPACE, key)}"


def _text(value: str) -> dict[str, str]:
    return {"en": value}


def _amount(value: Decimal | float) -> int | float:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def _credit_value(credits: Decimal | float) -> dict[str, Any]:
    return {
        "@type": "ceterms:ValueProfile",
        "schema:value": _amount(credits),
        "ceterms:creditUnitType": CREDIT_UNIT,
    }


def _hours_value(hours: Decimal | float) -> dict[str, Any]:
    return {
        "@type": "ceterms:DurationProfile",
        "ceterms:exactDuration": f"PT{number(Decimal(str(hours)))}H",
    }


def _modifier_texts(mods: Iterable[ast.Modifier]) -> list[str]:
    # `min grade C` (and the other modifiers) written as the language writes them, so that
    # `stackrules import ctdl` reads them back exactly.
    return [requirement_text(ast.ItemReq(ast.Ref("X:X"), (m,)))[4:] for m in mods]


class _Exporter:
    def __init__(self, syntax: ast.RuleSetSyntax, model: RuleSet, base: str) -> None:
        self.syntax = syntax
        self.model = model
        self.base = base
        self.real_ctids: dict[str, str] = {}
        for outside, target in sorted(model.aliases.items()):
            if _CTID.fullmatch(outside):
                self.real_ctids.setdefault(target, outside)
        self.nodes: dict[str, dict[str, Any]] = {}

    # -- identifiers
    def node_id(self, key: str, ident: str | None = None) -> str:
        ctid = self.real_ctids.get(ident) if ident is not None else None
        return self.base + (ctid or ctid_for(key))

    def ctid_of(self, node_id: str) -> str:
        return node_id[len(self.base) :]

    def item_ref(self, ident: str) -> str:
        """The node of an item or credential by rule identifier (made when first needed)."""
        if ident in self.model.credentials:
            return list(self.credential_nodes(ident))[-1]  # the latest version
        node_id = self.node_id(f"item:{ident}", ident)
        if node_id not in self.nodes:
            self.add_item(ident, node_id)
        return node_id

    def add(self, node: dict[str, Any]) -> dict[str, Any]:
        self.nodes[node["@id"]] = node
        return node

    # -- the document
    def document(self) -> dict[str, Any]:
        files = sorted({f.path for f in self.syntax.files})
        note = {
            "@id": "urn:stackrules:export",
            "@type": "stackrules:Export",
            "ceterms:description": _text(LOSSY_NOTE),
            "stackrules:source": files,
        }
        for code in sorted(self.model.issuers):
            self.add_issuer(code)
        for ident in sorted(self.model.items):
            if ident not in self.model.credentials:
                self.item_ref(ident)
        for decl in self.syntax.declarations():
            if isinstance(decl, ast.CredentialDecl):
                self.add_credential(decl)
        self.ladders()
        for decl in self.syntax.declarations():
            if isinstance(decl, ast.EquivalencyDecl):
                self.add_equivalency(decl)
            elif isinstance(decl, ast.TransferBlock):
                self.add_agreement(decl)
        return {"@context": CONTEXT, "@graph": [note, *self.nodes.values()]}

    def issuer_ref(self, code: str) -> str:
        node_id = self.node_id(f"issuer:{code}")
        if node_id not in self.nodes:
            self.add_issuer(code)
        return node_id

    def add_issuer(self, code: str) -> None:
        issuer = self.model.issuers.get(code)
        decl = next(
            (
                d
                for d in self.syntax.declarations()
                if isinstance(d, ast.IssuerDecl) and d.code == code
            ),
            None,
        )
        node: dict[str, Any] = {
            "@id": self.node_id(f"issuer:{code}"),
            "@type": "ceterms:CredentialOrganization",
            "ceterms:ctid": "",
            "ceterms:name": _text(issuer.title if issuer else code),
            "stackrules:rule": code,
        }
        node["ceterms:ctid"] = self.ctid_of(node["@id"])
        if decl is not None:
            node["stackrules:source"] = decl.span.short()
        self.add(node)

    def add_item(self, ident: str, node_id: str) -> None:
        item = self.model.items.get(ident)
        kind = item.kind if item else "item"
        node: dict[str, Any] = {
            "@id": node_id,
            "@type": _ITEM_CLASSES.get(kind, "ceterms:LearningOpportunityProfile"),
            "ceterms:ctid": self.ctid_of(node_id),
            "ceterms:name": _text(item.title if item else ident),
            "ceterms:codedNotation": ident,
        }
        self.add(node)
        node["ceterms:ownedBy"] = [self.issuer_ref(ident.split(":", 1)[0])]
        if item is not None and item.credits is not None:
            node["ceterms:creditValue"] = [_credit_value(item.credits)]
        if item is not None and item.hours is not None:
            node["ceterms:estimatedDuration"] = [_hours_value(item.hours)]
        node["stackrules:rule"] = ident
        where = self.declared_at(ident)
        if where is not None:
            node["stackrules:source"] = where
        elif item is not None and not item.declared:
            node["ceterms:description"] = _text(
                "declared implicitly by the equivalency granting it"
            )

    def declared_at(self, ident: str) -> str | None:
        for decl in self.syntax.declarations():
            if isinstance(decl, ast.ItemDecl) and decl.ref.id == ident:
                return decl.span.short()
        return None

    # -- credentials
    def credential_key(self, decl: ast.CredentialDecl) -> str:
        versions = [
            d
            for d in self.syntax.declarations()
            if isinstance(d, ast.CredentialDecl) and d.ref.id == decl.ref.id
        ]
        if len(versions) == 1:
            return f"credential:{decl.ref.id}"
        return f"credential:{decl.ref.id}@{decl.span.short()}"

    def add_credential(self, decl: ast.CredentialDecl) -> None:
        ident = decl.ref.id
        key = self.credential_key(decl)
        single = key == f"credential:{ident}"
        node_id = self.node_id(key, ident if single else None)
        attrs = {a.name: a.value for a in decl.attrs}
        kind = attrs.get("kind")
        node: dict[str, Any] = {
            "@id": node_id,
            "@type": _CREDENTIAL_CLASSES.get(str(kind), "ceterms:Credential"),
            "ceterms:ctid": self.ctid_of(node_id),
            "ceterms:name": _text(decl.title or ident),
            "ceterms:codedNotation": ident,
        }
        self.add(node)
        node["ceterms:ownedBy"] = [self.issuer_ref(decl.ref.issuer)]
        credits = attrs.get("credits")
        if isinstance(credits, Decimal):
            node["ceterms:creditValue"] = [_credit_value(credits)]
        window = attrs.get("effective")
        if isinstance(window, ast.Window):
            node["ceterms:dateEffective"] = window.start.isoformat()
            if window.end is not None:
                node["ceterms:expirationDate"] = window.end.isoformat()
        node["ceterms:requires"] = [
            self.condition(nr.requirement, nr.label or nr.name, nr.span.short())
            for nr in decl.requirements
        ]
        if decl.limits:
            node["ceterms:description"] = _text(
                "Limits (not expressed in CTDL): "
                + "; ".join(
                    f"limit {lim.bound} {number(lim.amount)} {lim.unit}"
                    + (f" from {group_text(lim.group)}" if lim.group is not None else "")
                    for lim in decl.limits
                )
            )
        node["stackrules:rule"] = ident
        node["stackrules:source"] = decl.span.short()

    def condition(self, req: ast.Requirement, name: str | None, where: str) -> dict[str, Any]:
        """A ConditionProfile for one requirement (nested members below one level: text)."""
        profile: dict[str, Any] = {"@type": "ceterms:ConditionProfile"}
        if name is not None:
            profile["ceterms:name"] = _text(name)
        profile["ceterms:description"] = _text(requirement_text(req))
        conditions = _modifier_texts(req.modifiers)
        if isinstance(req, ast.ItemReq):
            self.targets(profile, [req.ref.id])
        elif isinstance(req, ast.CompetencyReq):
            conditions.append(f"competency {req.competency.id} at {req.level}")
        elif isinstance(req, ast.AnyOf) and isinstance(req.group, ast.ListGroup):
            profile["ceterms:alternativeCondition"] = [
                self.condition(m, None, m.span.short()) for m in req.group.members
            ]
        elif isinstance(req, ast.AllOf) and isinstance(req.group, ast.ListGroup):
            self.targets(profile, list(_ids(req.group)))
            nested = [m for m in req.group.members if not isinstance(m, ast.ItemReq)]
            if nested:
                conditions.extend(requirement_text(m) for m in nested)
        else:
            profile["ceterms:hasCondition"] = [self.component(req)]
        if conditions:
            profile["ceterms:condition"] = conditions
        profile["stackrules:source"] = where
        return profile

    def component(self, req: ast.Requirement) -> dict[str, Any]:
        """`N of`, `any of` a selector, `N credits|hours from`: a Pathways ComponentCondition."""
        node: dict[str, Any] = {
            "@type": "ceterms:ComponentCondition",
            "ceterms:description": _text(requirement_text(req)),
        }
        group: ast.Group | None = getattr(req, "group", None)
        if isinstance(req, ast.Amount):
            if req.unit == "credits":
                node["ceterms:creditValue"] = [_credit_value(req.amount)]
            else:
                node["ceterms:estimatedDuration"] = [_hours_value(req.amount)]
        else:
            count = req.count if isinstance(req, ast.NOf) else Decimal(1)
            node["ceterms:requiredNumber"] = _amount(count)
        if isinstance(group, ast.ListGroup):
            node["ceterms:targetComponent"] = [self.item_ref(i) for i in _ids(group)]
        return node

    def targets(self, profile: dict[str, Any], idents: list[str]) -> None:
        for ident in idents:
            prop = self.target_property(ident)
            profile.setdefault(prop, []).append(self.item_ref(ident))

    def target_property(self, ident: str) -> str:
        if ident in self.model.credentials:
            return "ceterms:targetCredential"
        item = self.model.items.get(ident)
        if item is not None and item.kind == "assessment":
            return "ceterms:targetAssessment"
        if item is not None and item.kind == "badge":
            return "ceterms:targetCredential"
        return "ceterms:targetLearningOpportunity"

    def ladders(self) -> None:
        """A credential that requires another has it as a part (`hasPart` / `isPartOf`)."""
        for decl in self.syntax.declarations():
            if not isinstance(decl, ast.CredentialDecl):
                continue
            whole = self.nodes[self.credential_node(decl)]
            for nr in decl.requirements:
                for ident in _all_ids(nr.requirement):
                    if ident not in self.model.credentials or ident == decl.ref.id:
                        continue
                    part_id = self.item_ref(ident)
                    _append(whole, "ceterms:hasPart", part_id)
                    for node_id in self.credential_nodes(ident):
                        _append(self.nodes[node_id], "ceterms:isPartOf", whole["@id"])

    def credential_node(self, decl: ast.CredentialDecl) -> str:
        key = self.credential_key(decl)
        return self.node_id(key, decl.ref.id if key == f"credential:{decl.ref.id}" else None)

    def credential_nodes(self, ident: str) -> Iterator[str]:
        for decl in self.syntax.declarations():
            if isinstance(decl, ast.CredentialDecl) and decl.ref.id == ident:
                yield self.credential_node(decl)

    # -- equivalencies
    def add_equivalency(self, decl: ast.EquivalencyDecl) -> None:
        sources = list(_all_ids(decl.source)) if decl.source is not None else []
        profile = self.transfer_value(
            key=f"equivalency:{decl.ref.id}",
            name=decl.title or decl.ref.id,
            sources=sources,
            grants=decl.grants,
            none=False,
            modifiers=decl.source.modifiers if decl.source is not None else (),
            window=decl.effective,
            rule=decl.ref.id,
            where=decl.span.short(),
        )
        if decl.source is not None and not isinstance(decl.source, ast.ItemReq):
            profile["ceterms:requires"] = [self.condition(decl.source, None, decl.span.short())]

    def add_agreement(self, block: ast.TransferBlock) -> None:
        key = f"agreement:{block.span.short()}"
        profiles = []
        for line in block.lines:
            profile = self.transfer_value(
                key=f"line:{line.span.short()}",
                name=transfer_line_text(line),
                sources=[r.id for r in line.sources],
                grants=line.grants,
                none=line.none,
                modifiers=line.modifiers,
                window=line.effective or block.effective,
                rule=block.rule_id,
                where=line.span.short(),
            )
            profiles.append(profile["@id"])
        node: dict[str, Any] = {
            "@id": self.node_id(key),
            "@type": "ceterms:TransferAgreement",
            "ceterms:ctid": "",
            "ceterms:name": _text(block.title or block.rule_id),
            "ceterms:sendingOrganization": [self.issuer_ref(block.source_issuer)],
            "ceterms:receivingOrganization": [self.issuer_ref(block.target_issuer)],
        }
        node["ceterms:ctid"] = self.ctid_of(node["@id"])
        if block.effective is not None:
            node["ceterms:startDate"] = block.effective.start.isoformat()
            if block.effective.end is not None:
                node["ceterms:endDate"] = block.effective.end.isoformat()
        node["ceterms:hasTransferValueProfile"] = profiles
        node["stackrules:rule"] = block.rule_id
        node["stackrules:source"] = block.span.short()
        self.add(node)

    def transfer_value(
        self,
        *,
        key: str,
        name: str,
        sources: list[str],
        grants: tuple[ast.Grant, ...],
        none: bool,
        modifiers: tuple[ast.Modifier, ...],
        window: ast.Window | None,
        rule: str,
        where: str,
    ) -> dict[str, Any]:
        node_id = self.node_id(key)
        node: dict[str, Any] = {
            "@id": node_id,
            "@type": "ceterms:TransferValueProfile",
            "ceterms:ctid": self.ctid_of(node_id),
            "ceterms:name": _text(name),
        }
        if grants:
            owner = grants[0].ref.issuer
            node["ceterms:ownedBy"] = [self.issuer_ref(owner)]
        node["ceterms:transferValueFrom"] = [self.item_ref(i) for i in sources]
        node["ceterms:transferValueFor"] = [self.item_ref(g.ref.id) for g in grants]
        credits = sum((self.grant_credits(g) for g in grants), Decimal(0))
        node["ceterms:transferValue"] = [_credit_value(credits)]
        if none:
            node["ceterms:description"] = _text("Reviewed: no transfer credit.")
        if window is not None:
            node["ceterms:startDate"] = window.start.isoformat()
            if window.end is not None:
                node["ceterms:endDate"] = window.end.isoformat()
        texts = _modifier_texts(modifiers)
        if texts:
            node["ceterms:requires"] = [
                {"@type": "ceterms:ConditionProfile", "ceterms:condition": texts}
            ]
        for ident in sources:
            if ident in self.model.credentials and grants:
                for node_of in self.credential_nodes(ident):
                    for g in grants:
                        _append(
                            self.nodes[node_of],
                            "ceterms:isAdvancedStandingFor",
                            self.item_ref(g.ref.id),
                        )
        node["stackrules:rule"] = rule
        node["stackrules:source"] = where
        return self.add(node)

    def grant_credits(self, grant: ast.Grant) -> Decimal:
        for attr in grant.attrs:
            if attr.name == "credits" and isinstance(attr.value, Decimal):
                return attr.value
        item = self.model.items.get(grant.ref.id)
        if item is not None and item.credits is not None:
            return Decimal(str(item.credits))
        return Decimal(0)


def _append(node: dict[str, Any], prop: str, value: str) -> None:
    values = node.setdefault(prop, [])
    if value not in values:
        values.append(value)


def _ids(group: ast.ListGroup) -> Iterator[str]:
    for member in group.members:
        if isinstance(member, ast.ItemReq):
            yield member.ref.id


def _all_ids(req: ast.Requirement) -> Iterator[str]:
    """Every identifier named anywhere in a requirement, in source order."""
    if isinstance(req, ast.ItemReq):
        yield req.ref.id
    elif not isinstance(req, ast.CompetencyReq) and isinstance(req.group, ast.ListGroup):
        for member in req.group.members:
            yield from _all_ids(member)
