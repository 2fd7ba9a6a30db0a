"""CTDL import: TransferValueProfiles and TransferAgreements in, a `.stack` transfer block out.

Takes a CTDL JSON-LD document (an `@graph`, or one node) and, optionally, the rule set it is
meant for (its aliases and issuers); gives the text of a rule file, formatted by
`stackrules fmt`, that `stackrules check` accepts, and the warnings to show.

- Each TransferAgreement becomes a `transfer SENDING => RECEIVING` block; profiles that no
  agreement lists are grouped by the issuers of their first source and first grant.
- Each TransferValueProfile becomes one line: `transferValueFrom` → sources,
  `transferValueFor` → grants (none: `=> none`), `transferValue` → `credits` (or `hours` for
  clock and contact hours), `startDate`/`endDate` → `effective … until …`, and each
  `ceterms:condition` written as a modifier (`min grade C`) → that modifier.
- Rule identifiers: a node's `stackrules:rule` or `ceterms:codedNotation` when it is one, else
  the rule set's alias of its CTID, else one made from its owner and name (with an `alias` from
  its CTID, so records that name the CTID still match).

Whatever was guessed or could not be said in the language is kept as a `# review:` comment
above the line it concerns: made-up identifiers, free-text conditions, unknown or misspelled
credit units (the handbook's examples write `creditUnit:DegreeeCredit`), levels and subjects.

Nothing from the document reaches the rule file unchecked: identifiers must match the
language's identifier syntax (else one is made up, and said so), numbers and dates are checked
and bounded, and every other text (comments, titles) is passed through `visible`, which writes
control characters, line and paragraph separators, bidirectional overrides and other invisible
characters as `\\uXXXX`. A reviewer sees every character, and no text can end a comment or a
string early to add a declaration the document does not make.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from stackrules.format import format_text, number, quoted

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*:[A-Za-z0-9][A-Za-z0-9_.\-]*", re.ASCII)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*", re.ASCII)
_CTID = re.compile(
    r"ce-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MODIFIER = re.compile(
    r"min grade (?:[A-D][+-]?|[FP])|within \d{1,3}(?:\.\d{1,3})? (?:years?|months?)"
    r"|completed (?:after|before) (\d{4}-\d{2}-\d{2})",
    re.ASCII,
)
# A number as CTDL writes a value in text: plain decimal, perhaps with an exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)
# Amounts are bounded before they are converted or written out: `1e999999999` is a valid
# Decimal that `stackrules fmt` would write as a billion digits. No transfer value comes near.
MAX_AMOUNT = Decimal(10) ** 9
MAX_PLACES = 6
# Runs of ordinary spaces, tabs and line breaks in free text: one space in a one-line comment.
_SPACES = re.compile(r"(?:[ \t]|\r?\n)+")
CREDIT_UNITS = {"creditUnit:DegreeCredit", "creditUnit:SemesterHour"}
HOUR_UNITS = {"creditUnit:ClockHour", "creditUnit:ContactHour"}
MISSPELLINGS = {"creditUnit:DegreeeCredit": "creditUnit:DegreeCredit"}


class CtdlError(Exception):
    """A CTDL document that cannot be imported; `path` is the JSON path of the problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Imported:
    text: str  # the rule file, formatted
    warnings: tuple[str, ...]


@dataclass
class _Line:
    review: list[str]
    text: str
    agreement: str | None
    issuers: tuple[str, str]


@dataclass
class _State:
    aliases: Mapping[str, str]
    known_issuers: Mapping[str, str]  # title → code, from the rule set
    issuers: dict[str, str] = field(default_factory=dict)  # code → title, to declare
    new_aliases: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def import_ctdl(
    document: Any,
    *,
    aliases: Mapping[str, str] | None = None,
    issuers: Mapping[str, str] | None = None,
    source: str = "the document",
) -> Imported:
    """The transfer block(s) for a CTDL document. `issuers` maps declared issuer codes to
    titles (those are not declared again). Raises CtdlError when nothing can be imported."""
    graph = _graph(document)
    nodes = {n["@id"]: n for n in graph if isinstance(n.get("@id"), str)}
    known = dict(issuers or {})
    state = _State(aliases or {}, {title: code for code, title in known.items()})
    profiles = [(i, n) for i, n in enumerate(graph) if _is(n, "ceterms:TransferValueProfile")]
    if not profiles:
        raise CtdlError("$", f"{source} has no `ceterms:TransferValueProfile`")
    agreements = [n for n in graph if _is(n, "ceterms:TransferAgreement")]
    owner: dict[str, dict[str, Any]] = {}
    for agreement in agreements:
        for ref in _list(agreement.get("ceterms:hasTransferValueProfile")):
            ident = ref if isinstance(ref, str) else _get_id(ref)
            if ident is not None:
                owner.setdefault(ident, agreement)
    lines = []
    for index, profile in profiles:
        where = f"$.@graph[{index}]" if isinstance(document, dict) and "@graph" in document else "$"
        lines.append(_line(state, nodes, profile, owner.get(str(profile.get("@id"))), where))
    text = _render(state, nodes, agreements, lines, known)
    formatted, diagnostics = format_text(text, "<import>")
    if formatted is None:  # pragma: no cover - the text is generated; this would be our bug
        raise CtdlError("$", "; ".join(d.render() for d in diagnostics))
    return Imported(formatted, tuple(state.warnings))


def visible(text: str) -> str:
    """`text` on one line with every character visible: runs of spaces, tabs and line breaks
    become one space; any other character that is not printable (control characters, `\\r`
    alone, U+2028/U+2029, NEL, bidirectional overrides and isolates, zero-width characters,
    lone surrogates) is written `\\u202e`."""
    text = _SPACES.sub(" ", text).strip()
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _string(text: str) -> str:
    """A string literal of the language for document text (titles), made visible first."""
    return quoted(visible(text))


def _shown(value: Any) -> str:
    """A document value as a message quotes it: visible, at most 60 characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            text = "…"
    text = visible(text)
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def _graph(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "@graph" in document:
        graph = document["@graph"]
        if not isinstance(graph, list):
            raise CtdlError("$.@graph", "expected a list of nodes")
        return [n for n in graph if isinstance(n, dict)]
    if isinstance(document, dict) and "@type" in document:
        return [document]
    raise CtdlError("$", "expected a JSON-LD document with an `@graph`, or one CTDL node")


def _is(node: Any, kind: str) -> bool:
    if not isinstance(node, dict):
        return False
    types = node.get("@type")
    return kind in (types if isinstance(types, list) else [types])


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _get_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("@id"), str):
        ident: str = value["@id"]
        return ident
    return None


def _resolve(nodes: Mapping[str, dict[str, Any]], value: Any) -> dict[str, Any]:
    """A referenced node (by `@id`, or embedded); an unknown reference is a node of its own."""
    ident = _get_id(value)
    if isinstance(value, dict) and len(value) > 1:
        return value
    if ident is not None and ident in nodes:
        return nodes[ident]
    return {"@id": ident} if ident is not None else {}


def _language(value: Any) -> str | None:
    """Text from a plain string or a language map (English first)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("en", "en-US", "en-CA", *sorted(value)):
            if isinstance(value.get(key), str):
                text: str = value[key]
                return text
    if isinstance(value, list) and value and not isinstance(value[0], list):
        return _language(value[0])
    return None


def _ctid(node: dict[str, Any]) -> str | None:
    given = node.get("ceterms:ctid")
    if isinstance(given, str) and _CTID.fullmatch(given):
        return given
    ident = node.get("@id")
    if isinstance(ident, str):
        match = _CTID.search(ident)
        if match:
            return match.group(0)
    return None


def _slug(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "-".join(w.upper() for w in words)[:40].strip("-")


def _issuer(state: _State, nodes: Mapping[str, dict[str, Any]], org: Any) -> tuple[str, bool]:
    """The issuer code of an organization node, and whether it was made up."""
    node = _resolve(nodes, org) if org is not None else {}
    rule = node.get("stackrules:rule")
    name = _language(node.get("ceterms:name"))
    if isinstance(rule, str) and _NAME.fullmatch(rule):
        state.issuers.setdefault(rule, name or rule)
        return rule, False
    if name is not None and name in state.known_issuers:
        return state.known_issuers[name], False
    slug = _slug(name) if name else ""
    code = slug if slug and _NAME.fullmatch(slug) else "EXTERNAL"
    state.issuers.setdefault(code, name or "Organization not named in the document")
    return code, True


def _owner_of(node: dict[str, Any]) -> Any:
    for prop in ("ceterms:ownedBy", "ceterms:offeredBy"):
        values = _list(node.get(prop))
        if values:
            return values[0]
    return None


def _identifier(
    state: _State,
    nodes: Mapping[str, dict[str, Any]],
    value: Any,
    fallback_org: Any,
    review: list[str],
) -> str:
    node = _resolve(nodes, value)
    for prop in ("stackrules:rule", "ceterms:codedNotation"):
        given = node.get(prop)
        if isinstance(given, str) and _ID.fullmatch(given):
            issuer = given.split(":", 1)[0]
            if issuer not in state.issuers:
                org = _owner_of(node) or fallback_org
                title = _language(_resolve(nodes, org).get("ceterms:name")) if org else None
                state.issuers.setdefault(issuer, title or issuer)
            return given
    ctid = _ctid(node)
    if ctid is not None and ctid in state.aliases:
        return state.aliases[ctid]
    issuer, _ = _issuer(state, nodes, _owner_of(node) or fallback_org)
    name = _language(node.get("ceterms:name"))
    code = (_slug(name) if name else "") or ctid or "UNNAMED"
    ident = f"{issuer}:{code}"
    what = _shown(name) if name else _shown(node.get("@id", "an unnamed node"))
    review.append(f"review: `{ident}` is made up from {what}" + (f" (CTID {ctid})" if ctid else ""))
    if ctid is not None:
        state.new_aliases.setdefault(ctid, ident)
    return ident


def _amount(value: Any, path: str) -> Decimal:
    """A transfer value: a number (or a number in text) from 0 to MAX_AMOUNT with at most
    MAX_PLACES decimal places, bounded before it is converted."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CtdlError(path, f"expected a number, got {_shown(value)}")
    if isinstance(value, int) and not 0 <= value <= MAX_AMOUNT:
        raise CtdlError(path, f"expected a number from 0 to {MAX_AMOUNT:,}, got {_shown(value)}")
    text = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, str) and (len(text) > 40 or not _NUMBER.fullmatch(text)):
        raise CtdlError(path, f"expected a number, got {_shown(value)}")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise CtdlError(path, f"expected a number, got {_shown(value)}") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise CtdlError(path, f"expected a number from 0 to {MAX_AMOUNT:,}, got {_shown(value)}")
    normal = amount.normalize()
    exponent = normal.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number
    if exponent < -MAX_PLACES:
        raise CtdlError(path, f"expected at most {MAX_PLACES} decimal places, got {_shown(value)}")
    return normal if exponent < 0 else amount.to_integral()


def _value(
    state: _State, profile: dict[str, Any], where: str, review: list[str]
) -> tuple[str, Decimal] | None:
    """The transfer value as (`credits` or `hours`, amount), if the profile gives one."""
    values = _list(profile.get("ceterms:transferValue"))
    if not values:
        return None
    if len(values) > 1:
        review.append("review: several transfer values; only the first is used")
    value = values[0]
    path = f"{where}.ceterms:transferValue"
    if not isinstance(value, dict):
        raise CtdlError(path, "expected a `ceterms:ValueProfile`")
    amount = _amount(value.get("schema:value"), f"{path}.schema:value")
    unit = value.get("ceterms:creditUnitType")
    unit = _get_id(unit) if isinstance(unit, dict) else unit
    if unit is not None and not isinstance(unit, str):
        raise CtdlError(
            f"{path}.ceterms:creditUnitType",
            f"expected a credit unit (text, or an object with an `@id`), got {_shown(unit)}",
        )
    if unit in MISSPELLINGS:
        fixed = MISSPELLINGS[unit]
        state.warnings.append(
            f"{path}.ceterms:creditUnitType: `{unit}` is a misspelling of `{fixed}`; read as "
            f"`{fixed}`"
        )
        review.append(f"review: credit unit `{unit}` (misspelled) read as `{fixed}`")
        unit = fixed
    kind = "credits"
    if unit in HOUR_UNITS:
        kind = "hours"
    elif unit is None:
        review.append("review: no credit unit is given; the value is read as credits")
    elif unit not in CREDIT_UNITS:
        review.append(
            f"review: credit unit {_shown(unit)} is not known; the value is read as credits"
        )
    level = value.get("ceterms:creditLevelType")
    if level is not None:
        review.append(f"review: credit level {_shown(_get_id(level) or level)} is not expressed")
    subject = _language(_resolve({}, value.get("ceterms:subject")).get("ceterms:targetNodeName"))
    if subject is not None:
        review.append(f"review: subject {_shown(subject)} is not expressed")
    return kind, amount


def _own_credits(node: dict[str, Any]) -> Decimal | None:
    """A node's own `ceterms:creditValue` in credits, if it gives one."""
    for value in _list(node.get("ceterms:creditValue")):
        unit = value.get("ceterms:creditUnitType") if isinstance(value, dict) else None
        if isinstance(value, dict) and isinstance(unit, str) and unit in CREDIT_UNITS:
            try:
                return _amount(value.get("schema:value"), "$")
            except CtdlError:
                return None
    return None


def _conditions(profile: dict[str, Any], review: list[str]) -> list[str]:
    modifiers = []
    for condition in _list(profile.get("ceterms:requires")):
        if not isinstance(condition, dict):
            continue
        for text in _list(condition.get("ceterms:condition")):
            said = _language(text)
            if said is None:
                continue
            modifier = _MODIFIER.fullmatch(said.strip())
            if modifier and (modifier.group(1) is None or _is_date(modifier.group(1))):
                modifiers.append(said.strip())
            else:
                review.append(f"review: condition {quoted(said)} is not applied")
        described = _language(condition.get("ceterms:description"))
        if described is not None:
            review.append(f"review: condition {quoted(described)} is not applied")
    return modifiers


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _date(value: Any, path: str) -> str | None:
    """The day a CTDL date (or date-time) names, as `YYYY-MM-DD`."""
    if value is None:
        return None
    if isinstance(value, str):
        day = _DATE.match(value)
        if day is not None and _is_date(day.group()):
            return day.group()
    raise CtdlError(path, f"expected a date, got {_shown(value)}")


def _window(profile: dict[str, Any], where: str, review: list[str]) -> str:
    start = _date(profile.get("ceterms:startDate"), f"{where}.ceterms:startDate")
    end = _date(profile.get("ceterms:endDate"), f"{where}.ceterms:endDate")
    if start is None:
        if end is not None:
            review.append(f"review: ends {end} but gives no start date")
        return ""
    if end is not None and end < start:
        raise CtdlError(
            f"{where}.ceterms:endDate", f"the end date {end} is before the start date {start}"
        )
    text = f" effective {start}"
    return text + (f" until {end}" if end is not None else "")


def _line(
    state: _State,
    nodes: Mapping[str, dict[str, Any]],
    profile: dict[str, Any],
    agreement: dict[str, Any] | None,
    where: str,
) -> _Line:
    review: list[str] = []
    sending = _list(agreement.get("ceterms:sendingOrganization"))[:1] if agreement else []
    receiving = _list(agreement.get("ceterms:receivingOrganization"))[:1] if agreement else []
    froms = _list(profile.get("ceterms:transferValueFrom"))
    fors = _list(profile.get("ceterms:transferValueFor"))
    if not froms:
        raise CtdlError(f"{where}.ceterms:transferValueFrom", "required field is missing")
    receiver = receiving[0] if receiving else _owner_of(profile)
    sources = [_identifier(state, nodes, f, sending[0] if sending else None, review) for f in froms]
    grants = [_identifier(state, nodes, f, receiver, review) for f in fors]
    own = [_own_credits(_resolve(nodes, f)) for f in fors]
    value = _value(state, profile, where, review)
    modifiers = _conditions(profile, review)
    dated = agreement if agreement is not None and "ceterms:startDate" not in profile else None
    window = _window(dated or profile, where, review)
    if not grants:
        text = " + ".join(sources) + " => none" + window
    else:
        pieces = list(grants)
        if value is not None and value[1] > 0:
            if len(grants) == 1:
                pieces[0] += f" {value[0]} {number(value[1])}"
            elif value[0] == "credits" and None not in own and sum(own) == value[1]:  # type: ignore[arg-type]
                # Each granted node says its own credits, and they add up to the value.
                pieces = [
                    f"{g} credits {number(c)}"
                    for g, c in zip(grants, own, strict=True)
                    if c is not None
                ]
            else:
                review.append(
                    f"review: {number(value[1])} {value[0]} for {len(grants)} grants: "
                    "split them by hand"
                )
        text = " + ".join(sources) + " => " + " + ".join(pieces)
        text += "".join(f" {m}" for m in modifiers) + window
    description = _language(profile.get("ceterms:description"))
    if description is not None:
        review.insert(0, f"source: {description}")
    ident = profile.get("@id")
    if isinstance(ident, str):
        review.insert(0, f"from {ident}")
    issuers = (sources[0].split(":", 1)[0], (grants or sources)[0].split(":", 1)[0])
    key = agreement.get("@id") if agreement else None
    return _Line(review, text, key if isinstance(key, str) else None, issuers)


def _render(
    state: _State,
    nodes: Mapping[str, dict[str, Any]],
    agreements: Iterable[dict[str, Any]],
    lines: list[_Line],
    known: Mapping[str, str],
) -> str:
    out = ["# Imported from CTDL by `stackrules import ctdl`: read every `review:` comment."]
    blocks: dict[tuple[str | None, str, str], list[_Line]] = {}
    titles: dict[str | None, str] = {}
    by_id = {a["@id"]: a for a in agreements if isinstance(a.get("@id"), str)}
    for line in lines:
        issuers = line.issuers
        if line.agreement is not None:
            agreement = by_id[line.agreement]
            send = _list(agreement.get("ceterms:sendingOrganization"))[:1]
            receive = _list(agreement.get("ceterms:receivingOrganization"))[:1]
            issuers = (
                _issuer(state, nodes, send[0])[0] if send else issuers[0],
                _issuer(state, nodes, receive[0])[0] if receive else issuers[1],
            )
            name = _language(agreement.get("ceterms:name"))
            titles[line.agreement] = name or f"Transfer agreement {line.agreement}"
        blocks.setdefault((line.agreement, *issuers), []).append(line)
    for code in sorted(state.issuers):
        if code not in known:
            out.append(f"issuer {code} {_string(state.issuers[code])}")
    for outside, ident in sorted(state.new_aliases.items()):
        out.append(f"alias {_string(outside)} = {ident}")
    for (key, sender, receiver), members in blocks.items():
        title = titles.get(key) or f"Transfer value from {sender} to {receiver}"
        out.append("")
        if key is not None:
            out.append(f"# from {visible(key)}")
        out.append(f"transfer {sender} => {receiver} {_string(title)} {{")
        for line in members:
            out.extend(f"    # {visible(r)}" for r in line.review)
            out.append(f"    {line.text}")
        out.append("}")
    return "\n".join(out) + "\n"
