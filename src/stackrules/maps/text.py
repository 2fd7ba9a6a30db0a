"""Small shared wording: modifiers and windows (the formatter's own), leaves and did-you-mean."""

from __future__ import annotations

from stackrules import ast
from stackrules.format import group_text
from stackrules.format import window_text as format_window
from stackrules.model import AmountLeaf, CompetencyLeaf, ItemLeaf, LeafNode


def number_text(value: float) -> str:
    """`3`, `1.5`: whole numbers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def window_text(w: ast.Window | None) -> str | None:
    """The formatter's `effective …` text, or None for no window."""
    return None if w is None else format_window(w)


def how_text(leaf: LeafNode, item: str) -> str:
    """How a leaf takes the item: by name, in a list, by a selector, or by a competency."""
    if isinstance(leaf, ItemLeaf):
        return "named"
    if isinstance(leaf, CompetencyLeaf):
        return f"teaches competency {leaf.competency} at {leaf.level_name}"
    assert isinstance(leaf, AmountLeaf)
    amount = number_text(leaf.amount)
    head = f"{amount} of" if leaf.unit == "items" else f"{amount} {leaf.unit} from"
    if leaf.ids is not None:
        return f"listed in `{head} ({', '.join(leaf.listed)})`"
    assert leaf.selector is not None
    return f"selected by `{head} {group_text(leaf.selector)}`"
