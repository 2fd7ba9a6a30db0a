"""A small app serving the web page alone (`stackrules.serve.page`) over the sample rules, for
the page's tests: `python -m uvicorn --factory tests.pageapp:app` in a real server process,
or `app()` in a Starlette test client. `stackrules serve` mounts the same routes and the same
static folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from stackrules import CompiledRules, load_rules
from stackrules.serve import page

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(page.__file__).resolve().parent / "static"


@dataclass(frozen=True)
class FixedRules:
    """A rule set that never changes (`stackrules serve` gives the page its `RuleHolder`)."""

    rules: CompiledRules

    def current(self) -> CompiledRules:
        return self.rules


@cache
def rules() -> CompiledRules:
    # relative to the working folder, as `stackrules serve --rules rules/` names the files
    compiled, diagnostics = load_rules([os.path.relpath(ROOT / "rules")])
    assert compiled is not None, [d.render() for d in diagnostics]
    return compiled


def app() -> Starlette:
    return Starlette(
        routes=[
            *page.routes(FixedRules(rules())),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
