"""The grammar file: the text of `grammar/stackrules.lark` as shipped inside the package.

Read by the syntax stage (to build the parser) and by the parse cache (whose entries are only
valid for the grammar that made them); a module of its own so that neither imports the other.
"""

from __future__ import annotations

from importlib import resources


def grammar_text() -> str:
    """The grammar as shipped inside the installed package."""
    return (resources.files("stackrules") / "grammar" / "stackrules.lark").read_text("utf-8")
