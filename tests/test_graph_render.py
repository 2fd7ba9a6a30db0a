"""`stackrules graph`: the flowchart's scope and statuses, the layered layout, DOT, Mermaid and
the self-contained HTML page (the browser test is `test_browser.py`)."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules import evaluate, load_records, load_rules
from stackrules.cli import cli
from stackrules.graph import RuleGraph
from stackrules.maps.flowchart import Flowchart, build_flowchart
from stackrules.maps.layout import layout
from stackrules.maps.render_dot import render_dot
from stackrules.maps.render_html import render_html
from stackrules.maps.render_mermaid import render_mermaid

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def graph() -> RuleGraph:
    compiled, _ = load_rules([ROOT / "rules"])
    assert compiled is not None
    return RuleGraph(compiled.model)


def _learner_chart(graph: RuleGraph, learner: str, credential: str) -> Flowchart:
    compiled, _ = load_rules([ROOT / "rules"])
    assert compiled is not None
    records, _ = load_records(ROOT / "examples" / "learners.json", aliases=compiled.aliases)
    (record,) = [r for r in records if r.learner == learner]
    report = evaluate(compiled, record, AS_OF)
    return build_flowchart(graph, credentials=[credential], learner=(record, report))


def test_a_credentials_chart_is_what_flows_into_it_and_on_from_it(graph: RuleGraph) -> None:
    chart = build_flowchart(graph, credentials=["BCIT:MT-INTRO"])
    keys = set(chart.nodes)
    assert {"item:BCIT:MASS-TIMBER-101", "credential:BCIT:MTS-ASSOC"} <= keys  # in, on up
    assert "item:TRU:CMGT-1XX" in keys  # on through the credit bank
    assert "item:BCIT:MT201" not in keys  # feeds the certificate, not through MT-INTRO
    kinds = {(e.source, e.target): e.kind for e in chart.edges}
    assert kinds[("credential:BCIT:MT-INTRO", "credential:BCIT:MTS-ASSOC")] == "ladders-into"
    assert kinds[("credential:BCIT:MT-INTRO", "equivalency:0")] == "from"
    assert kinds[("equivalency:0", "item:BCIT:MT-STANDING")] == "grants"


def test_an_issuers_chart_includes_transfer_into_it(graph: RuleGraph) -> None:
    chart = build_flowchart(graph, issuers=["UVIC"])
    labels = {n.label for n in chart.nodes.values()}
    assert {"UVIC:BA", "UVIC:MINOR-PSYC", "CAMOSUN:MATH100", "CAMOSUN=>UVIC => none"} <= labels
    assert not any(label.startswith("UFV:") for label in labels)


def test_statuses_from_a_learners_report(graph: RuleGraph) -> None:
    chart = _learner_chart(graph, "L-1011", "DSGN:DIGITAL")
    status = {n.label: n.status for n in chart.nodes.values()}
    assert status["DSGN:FUND"] == "held"
    assert status["DSGN:WEB"] == "earned"
    assert status["DSGN:DIGITAL"] == "in-progress"
    assert status["DSGN:COLOUR"] == "remaining"
    transfer = _learner_chart(graph, "L-1003", "UVIC:BA")
    status = {n.key: n.status for n in transfer.nodes.values()}
    assert status["item:CAMOSUN:PSYC120"] == "held"
    assert status["item:UVIC:PSYC100B"] == "earned"  # granted
    assert status["item:UVIC:MATH101"] == "remaining"
    assert status["credential:UVIC:BA"] == "in-progress"
    assert transfer.status_counts()["earned"] >= 2


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_the_layout_of_the_whole_sample_rule_set(graph: RuleGraph) -> None:
    chart = build_flowchart(graph)
    keys = list(chart.nodes)
    sizes = {k: (200.0, 40.0) for k in keys}
    edges = [(e.source, e.target) for e in chart.edges]
    placed = layout(keys, sizes, edges)
    assert set(placed.boxes) == set(keys)
    rects = [(b.x - b.width / 2, b.y, b.x + b.width / 2, b.bottom) for b in placed.boxes.values()]
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b)
    for u, v in edges:
        pts = placed.routes[(u, v)]
        ends = {pts[0], pts[-1]}
        bu, bv = placed.boxes[u], placed.boxes[v]
        # from the source's bottom to the target's top, or (a cycle turned back) the reverse
        assert ends in ({(bu.x, bu.bottom), (bv.x, bv.y)}, {(bu.x, bu.y), (bv.x, bv.bottom)})
    assert all(
        b.x - b.width / 2 >= -1e-6 and b.x + b.width / 2 <= placed.width + 1e-6
        for b in placed.boxes.values()
    )


def test_layers_flow_down_and_crossings_are_removed() -> None:
    # two chains given in crossing order: a1→b2, a2→b1; barycentres untangle them
    nodes = ["a1", "a2", "b1", "b2", "c"]
    edges = [("a1", "b2"), ("a2", "b1"), ("b1", "c"), ("b2", "c")]
    placed = layout(nodes, {n: (50.0, 20.0) for n in nodes}, edges)
    box = placed.boxes
    assert box["a1"].y < box["b1"].y < box["c"].y
    assert (box["a1"].x < box["a2"].x) == (box["b2"].x < box["b1"].x)
    # a cycle (mutual recognition) still lays out, each edge routed
    cyc = layout(["x", "y"], {"x": (50.0, 20.0), "y": (50.0, 20.0)}, [("x", "y"), ("y", "x")])
    assert set(cyc.routes) == {("x", "y"), ("y", "x")}
    # a long edge bends through a point in each layer it crosses
    long = layout(
        ["p", "q", "r"], {n: (50.0, 20.0) for n in "pqr"}, [("p", "q"), ("q", "r"), ("p", "r")]
    )
    assert len(long.routes[("p", "r")]) == 3


def test_dot_and_mermaid_name_every_node_once_and_link_only_named_nodes(graph: RuleGraph) -> None:
    chart = _learner_chart(graph, "L-1003", "UVIC:BA")
    dot = render_dot(chart)
    declared = re.findall(r"^  (n\d+) \[label=", dot, re.M)
    assert len(declared) == len(set(declared)) == len(chart.nodes)
    for u, v in re.findall(r"^  (n\d+) -> (n\d+) ", dot, re.M):
        assert u in declared and v in declared
    assert dot.count("->") == len(chart.edges)
    assert 'fillcolor="#90caf9"' in dot and "cluster_legend" in dot
    mermaid = render_mermaid(chart)
    assert mermaid.splitlines()[1] == "flowchart TB"
    assert "class " in mermaid and "classDef in_progress" in mermaid
    assert '"' not in "".join(re.findall(r'\["(.*?)"\]', mermaid))  # quotes escaped


def test_mermaid_escapes_quotes_and_dot_escapes_strings(graph: RuleGraph) -> None:
    chart = build_flowchart(graph, credentials=["UFV:DIGMKT"])
    assert "#quot;Reels and Shorts#quot;" in render_mermaid(chart)
    assert '\\"Reels and Shorts\\"' in render_dot(chart)


def test_the_html_page_is_self_contained(graph: RuleGraph) -> None:
    page = render_html(_learner_chart(graph, "L-1003", "UVIC:BA"), "rules")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2
    for forbidden in ("http:", "https:", "<script", "<link", "@import", "<img"):
        assert forbidden not in page
    assert not re.search(r"url\((?!#)", page)  # only the page's own arrow marker
    assert "@media print" in page and "learner L-1003 as of 2026-11-22" in page
    assert page == render_html(_learner_chart(graph, "L-1003", "UVIC:BA"), "rules")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_options_and_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "ba.html"
    code, _, _ = _run("graph", "--rules", "rules", "--credential", "UVIC:BA", "-o", str(out))
    assert code == 0 and "UVIC:BA" in out.read_text(encoding="utf-8")
    code, _, err = _run("graph", "--rules", "rules", "--credential", "UVIC:B")
    assert code == 2 and "unknown credential `UVIC:B`" in err and "UVIC:BA" in err
    code, _, err = _run("graph", "--rules", "rules", "--issuer", "UVC")
    assert code == 2 and "did you mean `UVIC`" in err
    code, _, err = _run("graph", "--rules", "rules", "--learner", "L-1003")
    assert code == 2 and "need --record" in err
    code, _, err = _run("graph", "--rules", "rules", "--record", "examples/learners.json")
    assert code == 2 and "choose one with --learner" in err
    code, _, err = _run(
        "graph", "--rules", "rules", "--record", "examples/learners.json", "--learner", "L-9"
    )
    assert code == 2 and "no learner `L-9`" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"learner": "L-1", "achievements": [{"itme": "X:Y"}]}', encoding="utf-8")
    code, _, err = _run("graph", "--rules", "rules", "--record", str(bad))
    assert code == 3 and "itme" in err
    code, _, _ = _run("graph", "--rules", "rules", "--format", "svg")
    assert code == 2
