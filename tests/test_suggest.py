"""`stackrules suggest`: equivalencies implied by chains, with their evidence, for review."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import stackrules
from stackrules.cli import cli
from stackrules.diagnostics import has_errors
from stackrules.format import format_text
from stackrules.maps.suggest import suggest, suggestions_text

ROOT = Path(__file__).resolve().parent.parent
CHAINS = ROOT / "tests" / "corpus" / "maps" / "inputs" / "chains.stack"


def _model(path: Path) -> stackrules.RuleSet:
    compiled, diagnostics = stackrules.load_rules([path])
    assert compiled is not None, [d.render() for d in diagnostics]
    return compiled.model


def test_chains_across_issuers_are_proposed() -> None:
    found = {
        (p.sources, tuple(g.item for g in p.grants)): p for p in suggest(_model(CHAINS)).proposals
    }
    assert set(found) == {
        (("CAMOSUN:MATH100",), ("UBC:MATH100",)),
        (("CAMOSUN:MATH100",), ("SFU:MATH150",)),
        (("UVIC:MATH100",), ("SFU:MATH150",)),
        (("CAMOSUN:BIOL103", "CAMOSUN:BIOL104"), ("UBC:BIOL112",)),
    }
    math = found[(("CAMOSUN:MATH100",), ("UBC:MATH100",))]
    assert math.grade == "B"  # the stricter of C and B
    assert (str(math.start), str(math.end)) == ("2022-01-01", "2027-08-31")  # intersected
    assert [e.rule for e in math.evidence] == ["CAMOSUN=>UVIC", "UVIC=>UBC"]
    deep = found[(("CAMOSUN:MATH100",), ("SFU:MATH150",))]
    assert len(deep.evidence) == 3 and deep.modifiers == ("within 10 years",)
    cluster = found[(("CAMOSUN:BIOL103", "CAMOSUN:BIOL104"), ("UBC:BIOL112",))]
    assert cluster.grants[0].credits == 3 and cluster.grants[0].subject == "BIOL"


def test_existing_no_dates_and_loops_are_skipped() -> None:
    result = suggest(_model(CHAINS))
    assert result.existing == 1  # CAMOSUN:ENGL151 => UBC:ENGL-1XX is already a rule
    assert result.no_dates == 1  # PSYC110's window ended before PSYC100A's began
    for p in result.proposals:
        assert not {g.item for g in p.grants} & set(p.sources)  # mutual recognition loops


def test_max_links_bounds_the_chains() -> None:
    result = suggest(_model(CHAINS), max_links=2)
    assert all(len(p.evidence) <= 2 for p in result.proposals)
    assert (("CAMOSUN:MATH100",), ("SFU:MATH150",)) not in {
        (p.sources, tuple(g.item for g in p.grants)) for p in result.proposals
    }


def test_the_proposals_parse_and_check_when_appended(tmp_path: Path) -> None:
    text = suggestions_text(suggest(_model(CHAINS)))
    assert format_text(text)[0] == text  # canonical already
    shutil.copy(CHAINS, tmp_path / "rules.stack")
    (tmp_path / "suggested.stack").write_text(text, encoding="utf-8")
    diagnostics = stackrules.check([tmp_path])
    assert not has_errors(diagnostics), [d.render() for d in diagnostics]
    # and, appended, nothing new is proposed: each proposal is now in the rules
    again = suggest(_model(tmp_path))
    assert again.proposals == [] and again.existing >= 4


def test_the_sample_rules_hold_no_cross_issuer_chains() -> None:
    assert suggest(_model(ROOT / "rules")).proposals == []


def test_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["suggest", "--rules", str(CHAINS), "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert len(doc["proposals"]) == 4 and doc["already_in_rules"] == 1
    assert doc["proposals"][0]["evidence"][0]["source"].endswith("chains.stack:20")
    result = CliRunner().invoke(cli, ["suggest", "--rules", str(CHAINS), "--max-links", "1"])
    assert result.exit_code == 2
