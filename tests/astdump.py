"""A stable, readable dump of a syntax tree with every node's source span, for golden files.

One node per line, indented by depth: `Type @line:col-end_line:end_col`, then its fields.
Scalars print inline (`name: value`); strings in JSON quotes so escapes stay visible.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal

from stackrules import ast
from stackrules.diagnostics import Diagnostic
from stackrules.span import Span

_SPAN_FIELDS = ("span", "level_span", "source_span", "target_span")


def span_text(sp: Span) -> str:
    return f"@{sp.line}:{sp.column}-{sp.end_line}:{sp.end_column}"


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def _node(node: object, label: str, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    head = pad + ("- " if label == "-" else f"{label}: " if label else "")
    if isinstance(node, ast.Ref):
        out.append(f"{head}Ref {node.id} {span_text(node.span)}")
        return
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        spans = [
            (name if name != "span" else "") + span_text(getattr(node, name))
            for name in _SPAN_FIELDS
            if hasattr(node, name)
        ]
        out.append(f"{head}{type(node).__name__} {' '.join(spans)}".rstrip())
        for f in dataclasses.fields(node):
            if f.name in _SPAN_FIELDS:
                continue
            _value(getattr(node, f.name), f.name, depth + 1, out)
        return
    out.append(f"{head}{_scalar(node)}")


def _value(value: object, label: str, depth: int, out: list[str]) -> None:
    if isinstance(value, tuple):
        if not value:
            out.append(f"{'  ' * depth}{label}: []")
            return
        if all(isinstance(v, str) for v in value):
            out.append(f"{'  ' * depth}{label}: [{', '.join(_scalar(v) for v in value)}]")
            return
        out.append(f"{'  ' * depth}{label}:")
        for v in value:
            _node(v, "-", depth + 1, out)
        return
    _node(value, label, depth, out)


def dump_ast(rule_file: ast.RuleFile) -> str:
    out: list[str] = [f"RuleFile {json.dumps(rule_file.path)}"]
    for d in rule_file.declarations:
        _node(d, "", 1, out)
    return "\n".join(out) + "\n"


def dump_case(rule_file: ast.RuleFile, diagnostics: list[Diagnostic]) -> str:
    """The golden text: the tree, then the diagnostics as `check` prints them."""
    lines = [dump_ast(rule_file), "diagnostics:"]
    lines += [f"  {d.render()}" for d in sorted(diagnostics, key=Diagnostic.sort_key)] or ["  none"]
    return "\n".join(lines) + "\n"
