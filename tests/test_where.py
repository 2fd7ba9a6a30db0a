"""`stackrules where`: what an item or credential counts toward, with a shortest path each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine_strategies import compile_text
from stackrules import load_rules
from stackrules.cli import cli
from stackrules.graph import RuleGraph
from stackrules.maps.where import Reach, where

ROOT = Path(__file__).resolve().parent.parent

RULES = """
issuer COL "A college"
issuer UNI "A university"
issuer OTHER "Another university"
levels novice < developing < proficient < mastery
competency UNI:WRITING "Academic writing"
course COL:ENG1 "Composition" credits 3 subject ENGL
course COL:ENG2 "Literature" credits 3 subject ENGL
course COL:CHEM "Chemistry" credits 3 subject CHEM
course UNI:ENG100 "Academic writing" credits 1.5 subject ENGL level 100
    teaches UNI:WRITING at proficient
course UNI:HIST "History" credits 1.5 subject HIST level 100
transfer COL => UNI "College to university" {
    effective 2020-09-01 until 2027-08-31
    COL:ENG1 => UNI:ENG100 min grade C
    COL:ENG2 + COL:ENG1 => UNI:ENGL-1XX credits 3 subject ENGL level 100
    COL:CHEM => none
}
transfer UNI => OTHER "University to another" {
    UNI:ENG100 => OTHER:ENG
}
transfer OTHER => UNI "Back again (mutual recognition)" {
    OTHER:ENG => UNI:ENG100
}
credential UNI:WRITING-CERT "Writing certificate" {
    english "English": 3 credits from issuer UNI and subject ENGL
    skill: competency UNI:WRITING at developing
}
credential UNI:BA "Bachelor of Arts" {
    effective 2019-09-01
    writing: UNI:WRITING-CERT
    history: 2 of (UNI:HIST, UNI:ENG100, OTHER:ENG)
}
"""


def _where(ident: str) -> dict[str, Reach]:
    reaches = where(RuleGraph(compile_text(RULES)), ident)
    return {f"{r.id}@{r.where}": r for r in reaches}


def _by_id(ident: str) -> dict[str, Reach]:
    return {r.id: r for r in where(RuleGraph(compile_text(RULES)), ident) if r.kind == "credential"}


def test_direct_uses_name_how_the_requirement_takes_the_item() -> None:
    found = _by_id("UNI:ENG100")
    cert = found["UNI:WRITING-CERT"]
    assert cert.route == "direct"
    (step,) = cert.path
    # the selector step is the first in source order; the competency leaf is listed as `also`
    assert step.how == "selected by `3 credits from issuer UNI and subject ENGL`"
    assert step.requirement == "english"
    assert step.leaf_where == "x.stack:26"
    assert any("`skill`" in a for a in step.also)
    ba = found["UNI:BA"]
    assert ba.path[0].how == "named"  # a member of `2 of (…)`
    assert ba.path[0].conditions == ("effective 2019-09-01",)


def test_through_an_equivalency_with_its_dates_grade_and_partners() -> None:
    found = _where("COL:ENG1")
    specific = found["COL=>UNI@x.stack:15"]
    (step,) = specific.path
    assert step.conditions == ("min grade C", "effective 2020-09-01 until 2027-08-31")
    assert step.grants == ("UNI:ENG100",)
    cluster = found["COL=>UNI@x.stack:16"]
    assert cluster.path[0].together_with == ("COL:ENG2",)
    # on through the grant to the certificate, then up the ladder into the degree
    cert = found["UNI:WRITING-CERT@x.stack:25"]
    assert [s.target for s in cert.path] == ["COL=>UNI", "UNI:WRITING-CERT"]
    assert cert.route == "via equivalency"
    ba = found["UNI:BA@x.stack:29"]
    assert [s.target for s in ba.path] == ["COL=>UNI", "UNI:BA"]  # shortest: the listed grant


def test_ladders_and_shortest_paths() -> None:
    found = _by_id("UNI:HIST")
    assert list(found) == ["UNI:BA"]
    ladder = _by_id("UNI:WRITING-CERT")
    assert ladder["UNI:BA"].path[0].how == "named"
    assert ladder["UNI:BA"].path[0].requirement == "writing"
    deep = _by_id("COL:ENG2")["UNI:BA"]  # cluster grant → certificate → degree
    assert [s.target for s in deep.path] == ["COL=>UNI", "UNI:WRITING-CERT", "UNI:BA"]
    assert deep.route == "via equivalency and ladder"


def test_a_none_line_is_reported_as_no_credit() -> None:
    (reach,) = where(RuleGraph(compile_text(RULES)), "COL:CHEM")
    assert reach.kind == "equivalency" and reach.path[0].no_credit
    assert reach.path[0].grants == ()


def test_mutual_recognition_cycles_end() -> None:
    found = _where("UNI:ENG100")
    rules = {r.where for r in found.values() if r.kind == "equivalency"}
    assert rules == {"x.stack:20", "x.stack:23"}  # out and back again, each once


def test_paths_are_chains_from_the_item() -> None:
    for ident in ("COL:ENG1", "COL:ENG2", "UNI:ENG100", "OTHER:ENG"):
        for reach in where(RuleGraph(compile_text(RULES)), ident):
            assert reach.path[0].source == ident
            for before, after in zip(reach.path, reach.path[1:], strict=False):
                nxt = before.grants if before.kind == "equivalency" else (before.target,)
                assert after.source in nxt


def test_the_targets_are_exactly_the_graphs_reach_on_the_sample_rules() -> None:
    compiled, _ = load_rules([ROOT / "rules"])
    assert compiled is not None
    graph = RuleGraph(compiled.model)
    for ident in sorted(compiled.model.items):
        found = {(r.kind, r.id if r.kind == "credential" else r.where) for r in where(graph, ident)}
        eqs = compiled.model.equivalencies
        expected = {
            (kind, str(key) if kind == "credential" else eqs[int(key)].where)
            for kind, key in graph.where_counts(ident)
        }
        assert found == expected, ident


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_text_json_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = _run("where", "--rules", "rules", "UFV GD 157")  # an alias is followed
    assert code == 0 and out.startswith("UFV:GD157 “Digital Design Media I”")
    code, out, _ = _run("where", "--rules", "rules", "CAMOSUN:ENGL151", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["id"] == "CAMOSUN:ENGL151"
    assert {r["id"] for r in doc["counts_toward"]} >= {"CAMOSUN=>UVIC", "UVIC:BA"}
    code, _, err = _run("where", "--rules", "rules", "UFV:DM1O1")
    assert code == 2 and "unknown item or credential `UFV:DM1O1`" in err
    assert "did you mean `UFV:DM1" in err
    code, _, err = _run("where", "--rules", "examples/broken-rules", "UFV:DM101")
    assert code == 1 and "error" in err
    code, _, err = _run("where", "--rules", "rules", "X:Y", "--format", "yaml")
    assert code == 2
