"""The package's import structure, as `docs/architecture.md` draws it.

Every `import` of a stackrules module counts, wherever it is written: at the top, inside a
function, or under `if TYPE_CHECKING:` (an import only the type checker follows still ties the
two modules' designs together). The graph must have no cycle, and the evaluation stage's
modules must sit in the layers the architecture page gives them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "stackrules"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> nx.DiGraph:
    """Module → the stackrules modules it imports (`from package import module` names the
    module; a module importing its own package is not an edge: Python runs the package's
    `__init__` first whatever the module says)."""
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                named = [f"{node.module}.{a.name}" for a in node.names]
                submodules = [t for t in named if t in modules]
                targets = submodules if len(submodules) == len(named) else [node.module]
                targets += submodules
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name and not name.startswith(target + "."):
                    graph.add_edge(name, target)
    return graph


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = sorted(nx.simple_cycles(graph), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


# The evaluation stage's layers, lowest first: a module imports only from layers below its own.
EVALUATION_LAYERS = [
    ["allocation", "coverage"],
    ["achievements"],
    ["exceptions.overlay"],
    ["problems"],
    ["leasttodo", "exceptions.learner"],
    ["fixpoint"],
    ["explanations", "exceptions.audit"],
    ["evaluator"],
]


def test_evaluation_layers() -> None:
    graph = import_graph()
    prefix = "stackrules.evaluation."
    layer = {prefix + m: k for k, names in enumerate(EVALUATION_LAYERS) for m in names}
    assert {m for m in graph if m.startswith(prefix)} - {prefix + "exceptions"} == set(layer)
    wrong = [
        f"{a} (layer {layer[a]}) imports {b} (layer {layer[b]})"
        for a, b in graph.edges
        if a in layer and b in layer and layer[b] >= layer[a]
    ]
    assert not wrong, wrong


def test_earlier_stages_never_import_evaluation() -> None:
    """syntax, check, model and graph come before evaluation and never reach into it."""
    graph = import_graph()
    early = ("stackrules.syntax", "stackrules.check", "stackrules.model", "stackrules.graph")
    reached = [
        (a, b)
        for a, b in graph.edges
        if a.startswith(early) and b.startswith("stackrules.evaluation")
    ]
    assert not reached, reached
