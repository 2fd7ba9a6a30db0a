"""The grammar ships inside the package, and the copy the parser loads is `grammar/`'s."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import stackrules
from stackrules import grammarfile

ROOT = Path(__file__).resolve().parent.parent


def test_the_loaded_grammar_is_the_one_in_grammar() -> None:
    shipped = resources.files("stackrules") / "grammar" / "stackrules.lark"
    source = (ROOT / "grammar" / "stackrules.lark").read_text("utf-8")
    assert shipped.read_text("utf-8") == source
    assert grammarfile.grammar_text() == source


def test_the_grammar_is_loaded_from_the_installed_package() -> None:
    # `make test` installs the wheel (not an editable install): the package, and the grammar
    # inside it, come from site-packages, not from src/.
    package_dir = Path(stackrules.__file__).parent
    grammar = Path(str(resources.files("stackrules") / "grammar" / "stackrules.lark"))
    assert grammar.parent.parent == package_dir
    if "site-packages" in str(package_dir):
        assert not grammar.is_symlink()
        assert ROOT / "src" not in grammar.parents


def test_the_schemas_ship_with_the_package() -> None:
    names = {p.name for p in (resources.files("stackrules") / "schemas").iterdir()}
    assert {"record.schema.json", "report.schema.json"} <= names
