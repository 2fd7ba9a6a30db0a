"""Transitive articulation: the compiled model in, candidate equivalencies implied by chains out,
as a reviewable `.stack` text. Nothing is applied.

If A counts as B at one issuer and B counts as C at another, A → C is proposed. Only
equivalencies whose `from` is identifiers (one, or `all of` a list) are composed: transfer
lines and `from ID` / `from all of (ID, …)` declarations; a `=> none` line is a decision, not
credit, and ends a chain. A proposal takes every source of the chain's first links, grants what
the last link grants, and carries:

- the **minimum grade**: the stricter of the links' grades (the later link's grade applies to
  the granted achievement, whose grade is the worst of its sources); a transfer line's
  `min grade` governs every source, so the strictest one is written;
- the **effective dates**: the intersection of the links' windows (no proposal when empty);
- any other modifier of a link (`within`, `completed after/before`), repeated as written.

A chain needs at least two links with grants at different issuers (a chain inside one issuer is
its own registrar's business), never grants what it takes (mutual recognition loops back), and
is skipped when an equivalency with the same sources already grants what it would. Chains are
followed up to `max_links` links. Each proposal lists its evidence: every link with its rule
and `file:line`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from stackrules import ast
from stackrules.format import format_text, modifier_text, quoted
from stackrules.maps.text import number_text
from stackrules.model import GRADE_RANK, Choice, Equivalency, GrantSpec, ItemLeaf, RuleSet

MAX_LINKS = 3
MAX_SUPPLIER_CHOICES = 64  # combinations tried per equivalency and round


@dataclass(frozen=True)
class Link:
    rule: str
    where: str
    sources: tuple[str, ...]
    grants: tuple[str, ...]


@dataclass(frozen=True)
class Chain:
    """A simple equivalency, or a composition of them: sources in, grants out."""

    sources: tuple[str, ...]
    grants: tuple[GrantSpec, ...]
    grade: str | None
    modifiers: tuple[str, ...]
    start: date | None
    end: date | None
    evidence: tuple[Link, ...]

    @property
    def source_issuer(self) -> str:
        return self.sources[0].split(":", 1)[0]

    @property
    def target_issuer(self) -> str:
        return self.grants[0].item.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": list(self.sources),
            "grants": [g.item for g in self.grants],
            "min_grade": self.grade,
            "modifiers": list(self.modifiers),
            "effective": self.start.isoformat() if self.start else None,
            "until": self.end.isoformat() if self.end else None,
            "evidence": [
                {
                    "rule": e.rule,
                    "source": e.where,
                    "from": list(e.sources),
                    "grants": list(e.grants),
                }
                for e in self.evidence
            ],
        }


@dataclass(frozen=True)
class Suggestions:
    proposals: list[Chain]
    existing: int  # chains whose proposal the rules already hold
    no_dates: int  # chains whose links share no effective date


def _stricter(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if GRADE_RANK[a] >= GRADE_RANK[b] else b


def _simple(eq: Equivalency) -> Chain | None:
    """The equivalency as a chain link, when its `from` is identifiers only and it grants."""
    if eq.no_credit or not eq.grants:
        return None
    root = eq.source
    leaves = list(root.children) if isinstance(root, Choice) and root.form == "all" else [root]
    if not all(isinstance(leaf, ItemLeaf) for leaf in leaves):
        return None
    items = tuple(leaf.item for leaf in leaves if isinstance(leaf, ItemLeaf))
    grade: str | None = None
    mods: list[str] = []
    for leaf in eq.leaves:
        for m in leaf.modifiers:
            if isinstance(m, ast.MinGrade):
                grade = _stricter(grade, m.grade)
            elif modifier_text(m) not in mods:
                mods.append(modifier_text(m))
    window = eq.window
    return Chain(
        items,
        eq.grants,
        grade,
        tuple(mods),
        window.start if window else None,
        window.end if window else None,
        (Link(eq.rule, eq.where, items, tuple(g.item for g in eq.grants)),),
    )


def _compose(last: Chain, suppliers: Iterable[Chain]) -> Chain | None:
    sources: list[str] = []
    grade, mods = last.grade, list(last.modifiers)
    start, end = last.start, last.end
    evidence: list[Link] = []
    for s in suppliers:
        sources += [x for x in s.sources if x not in sources]
        grade = _stricter(grade, s.grade)
        mods += [m for m in s.modifiers if m not in mods]
        if s.start is not None:
            start = s.start if start is None else max(start, s.start)
        if s.end is not None:
            end = s.end if end is None else min(end, s.end)
        evidence += [e for e in s.evidence if e not in evidence]
    if start is not None and end is not None and start > end:
        return None
    return Chain(
        tuple(sources), last.grants, grade, tuple(mods), start, end, (*evidence, *last.evidence)
    )


def suggest(rules: RuleSet, max_links: int = MAX_LINKS) -> Suggestions:
    """Every chain-implied equivalency not already in the rules, in a deterministic order."""
    base = [c for c in (_simple(eq) for eq in rules.equivalencies) if c is not None]
    granted_by: dict[str, list[frozenset[str]]] = {}
    for c in base:
        for g in c.grants:
            granted_by.setdefault(g.item, []).append(frozenset(c.sources))

    def already(sources: frozenset[str], grants: frozenset[str]) -> bool:
        """Every grant is granted already by a rule taking some of these sources."""
        return all(any(s <= sources for s in granted_by.get(g, ())) for g in grants)

    chains = list(base)
    found: dict[tuple[frozenset[str], frozenset[str]], Chain] = {}
    skipped_existing: set[tuple[frozenset[str], frozenset[str]]] = set()
    no_dates: set[tuple[frozenset[str], frozenset[str]]] = set()
    for _ in range(max_links - 1):
        granting: dict[str, list[Chain]] = {}
        for c in chains:
            for g in c.grants:
                granting.setdefault(g.item, []).append(c)
        fresh: list[Chain] = []
        for last in base:
            options = [granting.get(s, []) for s in last.sources]
            if not all(options):
                continue
            for choice in itertools.islice(itertools.product(*options), MAX_SUPPLIER_CHOICES):
                issuers = {g.item.split(":", 1)[0] for c in choice for g in c.grants}
                if issuers == {last.target_issuer}:
                    continue  # every link inside one issuer
                composed = _compose(last, choice)
                if composed is None:
                    sources = frozenset(x for c in choice for x in c.sources)
                    no_dates.add((sources, frozenset(g.item for g in last.grants)))
                    continue
                grants = frozenset(g.item for g in composed.grants)
                if grants & set(composed.sources) or len(composed.evidence) > max_links:
                    continue
                key = (frozenset(composed.sources), grants)
                if already(*key):
                    skipped_existing.add(key)
                    continue
                known = found.get(key)
                if known is None or len(composed.evidence) < len(known.evidence):
                    found[key] = composed
                    fresh.append(composed)
        if not fresh:
            break
        chains = base + fresh
    proposals = sorted(
        found.values(), key=lambda c: (c.source_issuer, c.target_issuer, c.sources, c.evidence)
    )
    return Suggestions(proposals, len(skipped_existing), len(no_dates))


def _grant_text(g: GrantSpec) -> str:
    parts = [g.item]
    if g.credits is not None:
        parts.append(f"credits {number_text(g.credits)}")
    if g.hours is not None:
        parts.append(f"hours {number_text(g.hours)}")
    if g.level is not None:
        parts.append(f"level {number_text(g.level)}")
    if g.subject is not None:
        parts.append(f"subject {g.subject}")
    return " ".join(parts)


def suggestions_text(result: Suggestions) -> str:
    """The proposals as `.stack` transfer blocks (one per pair of issuers), with the evidence
    of each line in a comment above it, canonically formatted."""
    out = [
        "# stackrules suggest: equivalencies implied by chains of existing rules.",
        "# Proposals for review: nothing here is applied. Append a block to the rules only",
        "# after the receiving institution agrees to it.",
        f"# {len(result.proposals)} proposed; {result.existing} already in the rules; "
        f"{result.no_dates} with no common effective dates.",
    ]
    blocks: dict[tuple[str, str], list[Chain]] = {}
    for p in result.proposals:
        blocks.setdefault((p.source_issuer, p.target_issuer), []).append(p)
    for (src, dst), lines in blocks.items():
        out.append("")
        title = f"Suggested by chains (review before use): {src} to {dst}"
        out.append(f"transfer {src} => {dst} {quoted(title)} {{")
        for p in lines:
            for k, e in enumerate(p.evidence):
                word = "evidence:" if k == 0 else "then"
                out.append(
                    f"    # {word} {' + '.join(e.sources)} => {' + '.join(e.grants)}"
                    f" ({e.rule}, {e.where})"
                )
            line = f"    {' + '.join(p.sources)} => {' + '.join(_grant_text(g) for g in p.grants)}"
            if p.grade:
                line += f" min grade {p.grade}"
            for m in p.modifiers:
                line += f" {m}"
            if p.start is not None:
                line += f" effective {p.start.isoformat()}"
                if p.end is not None:
                    line += f" until {p.end.isoformat()}"
            out.append(line)
        out.append("}")
    text = "\n".join(out) + "\n"
    formatted, diagnostics = format_text(text, "<suggestions>")
    if formatted is None:  # pragma: no cover - our own text always parses
        raise AssertionError("\n".join(d.render() for d in diagnostics))
    return formatted
