"""CTDL out and in: the export's structure and provenance, the import of the handbook's
examples (unmodified), failures, and the round trip of equivalencies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stackrules
from stackrules.cli import cli
from stackrules.format import format_text
from stackrules.interop.ctdl_export import LOSSY_NOTE, export_ctdl, render
from stackrules.interop.ctdl_import import CtdlError, import_ctdl
from stackrules.model import ItemLeaf, RuleSet

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "interop" / "ctdl"
HERE = ROOT / "tests" / "data" / "interop"
RULES = HERE / "transfer.stack"
BASE = "https://credentialengineregistry.org/resources/"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def graph() -> list[dict[str, Any]]:
    document, diagnostics = export_ctdl([RULES])
    assert document is not None, [d.render() for d in diagnostics]
    nodes: list[dict[str, Any]] = document["@graph"]
    return nodes


def by_rule(graph: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [n for n in graph if n.get("stackrules:rule") == rule]


def references(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith(BASE):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key != "@id":
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


# ------------------------------------------------------------------ export


def test_export_says_it_is_lossy_and_every_node_points_back(graph: list[dict[str, Any]]) -> None:
    note = graph[0]
    assert note["@type"] == "stackrules:Export"
    assert note["ceterms:description"]["en"] == LOSSY_NOTE
    assert "lossy" in LOSSY_NOTE
    for node in graph[1:]:
        assert node["stackrules:rule"], node
        if node["@type"] != "ceterms:LearningOpportunityProfile":  # implicit grants
            assert node["stackrules:source"].startswith(str(RULES) + ":"), node
    ids = {n["@id"] for n in graph}
    assert len(ids) == len(graph)
    assert {r for n in graph for r in references(n)} <= ids


def test_transfer_block_is_an_agreement_of_transfer_value_profiles(
    graph: list[dict[str, Any]],
) -> None:
    (agreement,) = [n for n in graph if n["@type"] == "ceterms:TransferAgreement"]
    assert agreement["ceterms:name"] == {
        "en": "North Island College to Vancouver Island University"
    }
    assert (agreement["ceterms:startDate"], agreement["ceterms:endDate"]) == (
        "2022-09-01",
        "2026-08-31",
    )
    assert agreement["stackrules:rule"] == "NIC=>VIU"
    assert agreement["stackrules:source"] == f"{RULES}:38"
    lines = {n["@id"]: n for n in graph if n["@type"] == "ceterms:TransferValueProfile"}
    members = [lines[i] for i in agreement["ceterms:hasTransferValueProfile"]]
    assert [m["stackrules:source"] for m in members] == [f"{RULES}:{n}" for n in (40, 41, 42, 43)]
    first = members[0]
    assert first["ceterms:transferValue"] == [
        {
            "@type": "ceterms:ValueProfile",
            "schema:value": 3,
            "ceterms:creditUnitType": "creditUnit:DegreeCredit",
        }
    ]
    assert first["ceterms:requires"][0]["ceterms:condition"] == ["min grade C"]
    assert members[1]["ceterms:requires"][0]["ceterms:condition"] == [
        "min grade C-",
        "within 10 years",
    ]
    cluster = members[2]  # a line's own window replaces the block's
    assert (cluster["ceterms:startDate"], "ceterms:endDate" in cluster) == ("2023-01-01", False)
    assert (
        len(cluster["ceterms:transferValueFrom"]) == len(cluster["ceterms:transferValueFor"]) == 2
    )
    none = members[3]
    assert none["ceterms:transferValueFor"] == []
    assert none["ceterms:transferValue"][0]["schema:value"] == 0


def test_credentials_conditions_and_laddering(graph: list[dict[str, Any]]) -> None:
    (cert,) = by_rule(graph, "VIU:OPS-CERT")
    (micro,) = by_rule(graph, "NIC:LEAN-MC")
    assert cert["@type"] == "ceterms:Certificate" and micro["@type"] == "ceterms:MicroCredential"
    # The alias gives the micro-credential its real CTID.
    assert micro["ceterms:ctid"] == "ce-2f4c8a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    core, lean, electives = cert["ceterms:requires"]
    assert len(core["ceterms:targetLearningOpportunity"]) == 2
    alternatives = lean["ceterms:alternativeCondition"]
    assert alternatives[0]["ceterms:targetCredential"] == [micro["@id"]]
    (component,) = electives["ceterms:hasCondition"]
    assert component["@type"] == "ceterms:ComponentCondition"
    assert component["ceterms:creditValue"][0]["schema:value"] == 6
    assert electives["ceterms:condition"] == ["min grade C"]
    assert (
        electives["ceterms:description"]["en"]
        == "6 credits from subject in (MGMT, MKTG) min grade C"
    )
    (modules,) = micro["ceterms:requires"]
    assert modules["ceterms:hasCondition"][0]["ceterms:requiredNumber"] == 2
    assert len(modules["ceterms:hasCondition"][0]["ceterms:targetComponent"]) == 3
    assert cert["ceterms:hasPart"] == [micro["@id"]]
    assert micro["ceterms:isPartOf"] == [cert["@id"]]
    (grant,) = by_rule(graph, "VIU:MGMT-LEAN")
    assert micro["ceterms:isAdvancedStandingFor"] == [grant["@id"]]
    (equivalency,) = by_rule(graph, "VIU:EQ-LEAN")
    assert equivalency["ceterms:startDate"] == "2024-01-01"
    assert equivalency["ceterms:transferValueFrom"] == [micro["@id"]]


def test_export_is_deterministic_and_covers_the_sample_rules(tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    code, _, _ = run("export", "ctdl", str(ROOT / "rules"), "--out", str(out))
    assert code == 0
    document = json.loads(out.read_text("utf-8"))
    again, _ = export_ctdl([ROOT / "rules"])
    assert again is not None and out.read_text("utf-8") == render(again)
    ids = {n["@id"] for n in document["@graph"]}
    assert {r for n in document["@graph"] for r in references(n)} <= ids
    rules, _ = stackrules.load_rules([ROOT / "rules"])
    assert rules is not None
    profiles = [n for n in document["@graph"] if n["@type"] == "ceterms:TransferValueProfile"]
    assert len(profiles) == len(rules.model.equivalencies)


def test_export_of_broken_rules_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.stack"
    broken.write_text("credential NOPE:X {\n  core: NOPE:Y\n}\n")
    code, out, err = run("export", "ctdl", str(broken))
    assert code == 1 and out == ""
    assert "error[SR201]" in err


# ------------------------------------------------------------------ import


@pytest.mark.parametrize(
    "name", ["tvp-example1.json", "tvp-example2.json", "tvp-example3.json", "ta-example.json"]
)
def test_import_the_handbook_examples(tmp_path: Path, name: str) -> None:
    out = tmp_path / "imported.stack"
    code, _, err = run("import", "ctdl", str(SHARED / name), "--out", str(out))
    assert code == 0
    text = out.read_text("utf-8")
    assert format_text(text, str(out))[0] == text  # formatted
    assert stackrules.check([out]) == []  # accepted, without a warning
    # The handbook misspells DegreeCredit: read, warned about, and marked for review.
    assert "`creditUnit:DegreeeCredit` is a misspelling of `creditUnit:DegreeCredit`" in err
    assert "# review: credit unit `creditUnit:DegreeeCredit` (misspelled)" in text
    rules, _ = stackrules.load_rules([out])
    assert rules is not None
    (line,) = rules.model.equivalencies
    assert line.grants[0].credits in (3.0, 6.0)
    assert any(outside.startswith("ce-") for outside in rules.aliases)


def test_import_marks_free_text_conditions_for_review() -> None:
    document = json.loads((SHARED / "tvp-example2.json").read_text("utf-8"))
    text = import_ctdl(document).text
    assert '# review: condition "Grade C or better." is not applied' in text
    assert "min grade" not in text


def test_import_uses_the_rule_sets_aliases_and_issuers(tmp_path: Path) -> None:
    rules = tmp_path / "erewhon.stack"
    rules.write_text(
        'issuer EREWHON "Erewhon College"\n'
        'issuer EU "Erewhon University"\n'
        'assessment EREWHON:FIN-EXAM "Finance Exam"\n'
        'alias "ce-55caa0b0-c024-4326-8b75-88e2ee0e3ff6" = EREWHON:FIN-EXAM\n'
    )
    code, out, _ = run("import", "ctdl", str(SHARED / "ta-example.json"), "--rules", str(rules))
    assert code == 0
    assert "transfer EREWHON => EU" in out
    assert "EREWHON:FIN-EXAM => EU:ACCOUNTANCY credits 3" in out
    assert "issuer EREWHON " not in out and "issuer EU " not in out
    combined = tmp_path / "combined.stack"
    combined.write_text(rules.read_text() + out)
    assert stackrules.check([combined]) == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"@graph": [{"@type": "ceterms:Course"}]}, "has no `ceterms:TransferValueProfile`"),
        ([1, 2], "expected a JSON-LD document"),
        ({"@graph": {"@type": "x"}}, "expected a list of nodes"),
        (
            {"@graph": [{"@type": "ceterms:TransferValueProfile"}]},
            "`$.@graph[0].ceterms:transferValueFrom`: required field is missing",
        ),
        (
            {
                "@type": "ceterms:TransferValueProfile",
                "ceterms:transferValueFrom": {"ceterms:codedNotation": "A:B", "x": 1},
                "ceterms:transferValue": {"schema:value": "three"},
            },
            "`$.ceterms:transferValue.schema:value`: expected a number, got `three`",
        ),
        (
            {
                "@type": "ceterms:TransferValueProfile",
                "ceterms:transferValueFrom": {"ceterms:codedNotation": "A:B", "x": 1},
                "ceterms:startDate": "soon",
            },
            "`$.ceterms:startDate`: expected a date, got `soon`",
        ),
    ],
)
def test_import_failures_exit_3_naming_the_path(
    tmp_path: Path, document: Any, message: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    code, out, err = run("import", "ctdl", str(path))
    assert code == 3 and out == ""
    assert message in err
    assert "Traceback" not in err


def test_import_unreadable_files_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, _, err = run("import", "ctdl", str(bad))
    assert code == 3 and "invalid JSON" in err
    code, _, err = run("import", "ctdl", str(tmp_path / "missing.json"))
    assert code == 3 and "cannot open the file" in err
    with pytest.raises(CtdlError):
        import_ctdl({"@graph": []})


def test_import_units_levels_and_several_grants() -> None:
    def profile(unit: str, grants: int) -> dict[str, Any]:
        return {
            "@type": "ceterms:TransferValueProfile",
            "ceterms:transferValueFrom": {"ceterms:codedNotation": "A:X", "k": 1},
            "ceterms:transferValueFor": [
                {"ceterms:codedNotation": f"B:Y{i}", "k": 1} for i in range(grants)
            ],
            "ceterms:transferValue": {"schema:value": 4.5, "ceterms:creditUnitType": unit},
            "ceterms:endDate": "2030-01-01",
        }

    hours = import_ctdl(profile("creditUnit:ClockHour", 1)).text
    assert "A:X => B:Y0 hours 4.5" in hours
    odd = import_ctdl(profile("creditUnit:Fortnight", 1)).text
    assert "# review: credit unit `creditUnit:Fortnight` is not known" in odd
    assert "# review: ends 2030-01-01 but gives no start date" in odd
    split = import_ctdl(profile("creditUnit:DegreeCredit", 2)).text
    assert "# review: 4.5 credits for 2 grants: split them by hand" in split
    assert "A:X => B:Y0 + B:Y1\n" in split


# ------------------------------------------------------------------ round trip


def equivalencies(rules: RuleSet) -> set[tuple[Any, ...]]:
    """Each equivalency as what it means: sources with their modifiers, grants with their
    credits, its window and whether it gives no credit."""
    result = set()
    for eq in rules.equivalencies:
        sources = tuple(
            sorted(
                (leaf.item, tuple(str(m) for m in leaf.modifiers))
                for leaf in eq.leaves
                if isinstance(leaf, ItemLeaf)
            )
        )
        grants = []
        for grant in eq.grants:
            credits = grant.credits
            if credits is None and grant.item in rules.items:
                credits = rules.items[grant.item].credits
            grants.append((grant.item, credits or 0.0))
        window = (eq.window.start, eq.window.end) if eq.window else None
        result.add((sources, tuple(sorted(grants)), window, eq.no_credit))
    return result


@pytest.mark.parametrize(
    "paths",
    [[RULES], [ROOT / "rules" / "camosun-uvic", ROOT / "rules" / "uvic"]],
    ids=["ours", "camosun-uvic"],
)
def test_round_trip_gives_the_same_equivalencies(tmp_path: Path, paths: list[Path]) -> None:
    original, _ = stackrules.load_rules(paths)
    assert original is not None
    document, _ = export_ctdl(paths)
    assert document is not None
    imported = import_ctdl(json.loads(render(document)))
    assert imported.warnings == ()
    back = tmp_path / "back.stack"
    back.write_text(imported.text)
    assert stackrules.check([back]) == []
    again, _ = stackrules.load_rules([back])
    assert again is not None
    assert equivalencies(again.model) == equivalencies(original.model)
    # Transfer lines come back in blocks named as before.
    assert {e.rule for e in again.model.equivalencies if "=>" in e.rule} == {
        e.rule for e in original.model.equivalencies if "=>" in e.rule
    }
