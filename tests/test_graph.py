"""The rule graph: typed nodes and edges, the index from achievements to rules, reachability."""

from __future__ import annotations

from engine_strategies import compile_text
from stackrules.graph import Facts, RuleGraph

RULES = """
issuer CAMOSUN "Camosun College"
issuer UVIC "University of Victoria"
levels novice < developing < proficient < mastery
competency UVIC:WRITING "Academic writing"
course CAMOSUN:ENGL151 "Composition" credits 3 subject ENGL
course UVIC:ENGL135 "Academic writing" credits 1.5 subject ENGL teaches UVIC:WRITING at proficient
course UVIC:HIST101 "History" credits 1.5 subject HIST level 100
transfer CAMOSUN => UVIC "Camosun to UVic" {
    CAMOSUN:ENGL151 => UVIC:ENGL-1XX credits 1.5 subject ENGL level 100
}
credential UVIC:WRITING-CERT "Writing certificate" {
    english: 3 credits from issuer UVIC and subject ENGL
    skill: competency UVIC:WRITING at developing
}
credential UVIC:BA "Bachelor of Arts" {
    writing: UVIC:WRITING-CERT
    upper: 3 credits from level >= 300
}
"""


def _graph() -> RuleGraph:
    return RuleGraph(compile_text(RULES))


def test_nodes_and_edges_are_typed() -> None:
    g = _graph().graph
    assert g.nodes[("credential", "UVIC:BA")]["kind"] == "credential"
    assert g.nodes[("item", "UVIC:HIST101")]["kind"] == "item"
    edges = {(u, v, k) for u, v, k in g.edges(keys=True)}
    assert (("item", "UVIC:WRITING-CERT"), ("credential", "UVIC:BA"), "ladders-into") in edges
    assert (("item", "UVIC:ENGL135"), ("competency", "UVIC:WRITING"), "teaches") in edges
    assert (
        ("competency", "UVIC:WRITING"),
        ("credential", "UVIC:WRITING-CERT"),
        "counts-toward",
    ) in edges
    grants = [(u, v) for u, v, k in edges if k == "grants"]
    assert grants and all(v == ("item", "UVIC:ENGL-1XX") for _, v in grants)


def test_the_index_finds_only_rules_that_could_use_an_achievement() -> None:
    graph = _graph()
    history = Facts("UVIC:HIST101", "UVIC", "course", "HIST", frozenset(), ())
    english = Facts("UVIC:ENGL135", "UVIC", "course", "ENGL", frozenset(), ("UVIC:WRITING",))
    # `level >= 300` has no positive filter to key it: it is consulted for everyone
    assert graph.targets([history]) == {("credential", "UVIC:BA")}
    assert ("credential", "UVIC:WRITING-CERT") in graph.targets([english])
    # `issuer UVIC and subject ENGL` is keyed by the pair: Camosun's ENGL does not wake it
    camosun = Facts("CAMOSUN:ENGL151", "CAMOSUN", "course", "ENGL", frozenset(), ())
    assert ("credential", "UVIC:WRITING-CERT") not in graph.targets([camosun])


def test_where_an_item_counts_follows_grants_and_ladders() -> None:
    reach = _graph().where_counts("CAMOSUN:ENGL151")
    kinds = {kind for kind, _ in reach}
    assert kinds == {"equivalency", "credential"}
    assert ("credential", "UVIC:WRITING-CERT") in reach  # through the granted UVIC:ENGL-1XX
    assert ("credential", "UVIC:BA") in reach  # and up the ladder
    assert _graph().where_counts("NOPE:X") == []


def test_granted_items_are_counted_once_per_graph_and_travel_with_it() -> None:
    import pickle

    graph = _graph()
    counted = graph.counted_by_granted
    assert counted == {"UVIC:ENGL-1XX": frozenset({"UVIC:WRITING-CERT"})}
    assert graph.counted_by_granted is counted
    assert pickle.loads(pickle.dumps(graph)).counted_by_granted == counted
