"""The revised readings of `semantics.md` §1-§5 (issue #18 items 1-4), one test each.

Each example of the issue is here, on the sample rules or on a minimal rule set; those the
brute-force reference can decide are also checked against it (`check_agreement`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import stackrules
from engine_strategies import AS_OF, compile_text
from stackrules import load_rules
from stackrules.evaluation.evaluator import Evaluator
from stackrules.records import Achievement, LearnerRecord
from stackrules.records.readers import load_records
from stackrules.report import InProgressCredential, Report, dumps
from stackrules.textreport import render_text
from test_differential import check_agreement

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_AS_OF = date(2026, 11, 22)


def _rec(*rows: dict[str, object]) -> LearnerRecord:
    return LearnerRecord(learner="L", achievements=tuple(Achievement(**r) for r in rows))  # type: ignore[arg-type]


def _evaluate(text: str, record: LearnerRecord, as_of: date = AS_OF) -> Report:
    return Evaluator(compile_text(text)).evaluate(record, as_of)


def _in_progress(report: Report, ident: str) -> InProgressCredential:
    return next(c for c in report.in_progress if c.credential == ident)


@pytest.fixture(scope="module")
def sample() -> dict[str, Report]:
    rules, _ = load_rules([ROOT / "rules"])
    assert rules is not None
    records, errors = load_records(ROOT / "examples" / "learners.json", rules.aliases)
    assert not errors
    return {r.learner: rules.evaluator.evaluate(r, SAMPLE_AS_OF) for r in records}


# ---------------------------------------------------------------- 1. limit shortfalls


def test_limit_shortfalls_are_covered_by_the_missing_work_of_requirements(
    sample: dict[str, Report],
) -> None:
    # §4's worked example: 13.5 credits counted of 60; the upper-level (19.5 short) and
    # residency (25.5 short) limits are both covered by the 46.5 credits the total misses.
    ba = _in_progress(sample["L-1003"], "UVIC:BA")
    assert ba.remaining_credits == 46.5
    limits = {r.limit: r for r in ba.remaining if r.requirement == "limit"}
    upper = limits["at least 21 credits from level >= 300"]
    assert upper.need == 19.5
    assert upper.source is not None and upper.source.endswith("bachelor-of-arts.stack:40")
    # only what the limit selects and some requirement could count: no Royal Roads courses
    assert upper.options and all(o.startswith("UVIC:") for o in upper.options)
    residency = limits["at least 30 credits from issuer UVIC and not transfer"]
    assert residency.need == 25.5
    assert "UVIC:MINOR-PSYC" in residency.options or residency.options
    text = render_text(sample["L-1003"])
    assert "46.5 credits of work remain" in text
    assert "needs 19.5 more credits for limit `at least 21 credits from level >= 300` (" in text


def test_a_requirement_entry_has_no_limit_fields() -> None:
    text = (
        "issuer A\ncourse A:X credits 3\ncourse A:Y credits 3\n"
        "credential A:C { r: all of (A:X, A:Y) }"
    )
    report = _evaluate(text, _rec({"item": "A:X"}))
    written = json.loads(dumps(report))["in_progress"][0]["remaining"]
    assert [sorted(r) for r in written] == [["need", "options", "requirement", "unit"]]


def test_an_uncoverable_shortfall_still_adds_to_what_remains() -> None:
    # no catalog item both the requirement and the limit admit: nothing covers the limit
    text = (
        "issuer A\ncourse A:X credits 3 subject M\ncourse A:Y credits 3 subject M\n"
        "course A:Z credits 3 subject E\n"
        "credential A:C { r: 6 credits from subject M limit at least 3 credits from subject E }"
    )
    report = _evaluate(text, _rec({"item": "A:X"}))
    assert _in_progress(report, "A:C").remaining_credits == 6.0
    check_agreement(text, _rec({"item": "A:X"}))


def test_a_covered_shortfall_adds_nothing() -> None:
    text = (
        "issuer A\ncourse A:X credits 3 subject M level 100\n"
        "course A:Y credits 3 subject M level 300\n"
        "credential A:C { r: 6 credits from subject M limit at least 3 credits from level >= 300 }"
    )
    report = _evaluate(text, _rec({"item": "A:X"}))
    assert _in_progress(report, "A:C").remaining_credits == 3.0
    check_agreement(text, _rec({"item": "A:X"}))


# ---------------------------------------------------------------- 2. retakes


def test_a_held_repeatable_attempt_is_used_and_one_retake_remains() -> None:
    # Today: TOPIC twice and LAB (3 items), the held TOPIC unused. The answer is 2.
    text = (
        "issuer A\ncourse A:TOPIC repeatable\ncourse A:LAB\n"
        "credential A:C { r1: all of (A:TOPIC, A:LAB) r2: A:TOPIC }"
    )
    record = _rec({"item": "A:TOPIC"})
    report = _evaluate(text, record)
    entry = _in_progress(report, "A:C")
    assert entry.remaining_credits == 2.0
    assert [u for r in entry.requirements for u in r.used] == ["A:TOPIC"]
    check_agreement(text, record)


def test_a_completion_relying_on_a_held_attempt_and_its_retake_is_none() -> None:
    # X (graded C) cannot meet r0; counting it for r1 and retaking it for r0 relies on both
    # the held attempt and the retake that replaces it: the only completion counts nothing.
    text = "issuer A\ncourse A:X credits 1\ncredential A:C { r0: A:X min grade B r1: A:X }"
    record = _rec({"item": "A:X", "grade": "C"})
    entry = _in_progress(_evaluate(text, record), "A:C")
    assert entry.remaining_credits == 2.0
    assert not any(r.used for r in entry.requirements)
    check_agreement(text, record)


def test_fewer_retakes_rank_first_whatever_they_cost() -> None:
    # A held but failed: retaking it (1 credit) needs a retake; B (5 credits) does not.
    text = (
        "issuer A\ncourse A:A credits 1\ncourse A:B credits 5\ncourse A:Z credits 1\n"
        "credential A:C { r0: A:Z r1: any of (A:A, A:B) }"
    )
    record = _rec({"item": "A:Z"}, {"item": "A:A", "grade": "F"})
    assert _in_progress(_evaluate(text, record), "A:C").remaining_credits == 5.0
    check_agreement(text, record)


# ---------------------------------------------------------------- 3. the differential readings


def test_an_achievement_adding_nothing_to_an_amount_counts_for_the_limits() -> None:
    # C (2 credits, no hours, no `hours per credit`) adds nothing to 20 hours but is in the
    # group, so it may be counted there, and then it meets `limit at least 2 credits`.
    text = (
        "issuer A\ncourse A:H hours 20\ncourse A:C credits 2\n"
        "credential A:K { r: 20 hours from (A:H, A:C) limit at least 2 credits }"
    )
    record = _rec({"item": "A:H"}, {"item": "A:C"})
    assert [e.credential for e in _evaluate(text, record).earned] == ["A:K"]
    check_agreement(text, record)


def test_an_achievement_adding_nothing_does_not_start_a_credential() -> None:
    text = "issuer A\ncourse A:C credits 2\ncredential A:K { r: 20 hours from (A:C) }"
    assert _evaluate(text, _rec({"item": "A:C"})).in_progress == []


@pytest.mark.parametrize("day", [None, "2023-05-01"])
def test_repeats_latest_counts_the_best_graded_of_equally_recent_attempts(
    day: str | None,
) -> None:
    text = "issuer A { repeats latest }\ncourse A:X credits 3\ncredential A:K { r: A:X }"
    record = _rec(
        {"item": "A:X", "grade": "F", "completed_on": day},
        {"item": "A:X", "grade": "B", "completed_on": day},
    )
    report = _evaluate(text, record)
    assert [e.credential for e in report.earned] == ["A:K"]
    assert report.earned[0].requirements[0].evidence[0].grade == "B"
    check_agreement(text, record)


def test_a_completion_date_is_none_only_when_no_allocation_uses_a_dated_achievement() -> None:
    # `any of (U undated, D dated)`: an allocation uses D, so the date is D's; with `valid for`
    # the credential expires, and the credential laddering above it is not earned.
    text = (
        "issuer A\ncourse A:U credits 1\ncourse A:D credits 1\n"
        "credential A:K { valid for 1 years r: any of (A:U, A:D) }\n"
        "credential A:L { r: A:K }"
    )
    record = _rec({"item": "A:U"}, {"item": "A:D", "completed_on": "2021-01-15"})
    report = _evaluate(text, record)
    assert [(e.credential, e.completed_on, e.expired) for e in report.earned] == [
        ("A:K", date(2021, 1, 15), True)
    ]
    check_agreement(text, record)
    undated = _evaluate(text, _rec({"item": "A:U"}))
    assert [(e.credential, e.completed_on) for e in undated.earned] == [
        ("A:K", None),
        ("A:L", None),
    ]


def test_a_held_credential_nothing_uses_is_unused() -> None:
    text = "issuer A\ncourse A:X credits 1\ncredential A:OLD { r: A:X }\ncredential A:K { r: A:X }"
    report = _evaluate(text, _rec({"item": "A:OLD"}, {"item": "A:X"}))
    assert report.held == ["A:OLD"]
    assert report.unused == ["A:OLD"]


def test_k_missing_members_of_a_group_cost_the_k_cheapest_distinct_items() -> None:
    text = (
        "issuer A\ncourse A:Z credits 1\ncourse A:P credits 1 subject M\n"
        "course A:Q credits 3 subject M\n"
        "credential A:K { r0: A:Z r1: 2 of subject M }"
    )
    record = _rec({"item": "A:Z"})
    assert _in_progress(_evaluate(text, record), "A:K").remaining_credits == 4.0
    check_agreement(text, record)


def test_each_missing_member_of_a_selector_group_counts_as_one_item() -> None:
    # `2 of subject M` (two 1-credit items) or R (2 credits): the same credits; R is one
    # item, the group two, so R is what remains.
    text = (
        "issuer A\ncourse A:Z credits 1\ncourse A:P credits 1 subject M\n"
        "course A:Q credits 1 subject M\ncourse A:R credits 2 subject E\n"
        "credential A:K { r0: A:Z r1: any of (2 of subject M, A:R) }"
    )
    entry = _in_progress(_evaluate(text, _rec({"item": "A:Z"})), "A:K")
    assert entry.remaining_credits == 2.0
    assert [(r.requirement, r.need, r.unit) for r in entry.remaining] == [("r1", 1, "items")]


def test_the_credential_never_prices_its_own_requirements_with_itself() -> None:
    text = (
        "issuer A\ncourse A:Z credits 1\ncourse A:P credits 3 subject M\n"
        "credential A:K { credits 0.5 subject M r0: A:Z r1: 1 of subject M }"
    )
    record = _rec({"item": "A:Z"})
    entry = _in_progress(_evaluate(text, record), "A:K")
    assert entry.remaining_credits == 3.0
    assert "A:K" not in entry.remaining[0].options
    check_agreement(text, record)


def test_conversions_start_from_the_records_values() -> None:
    # the record gives credits 1 for a 4-credit item: 1 credit is 15 hours, not 60
    text = (
        "issuer A { hours per credit 15 }\ncourse A:X credits 4\n"
        "credential A:K { r: 20 hours from (A:X) }"
    )
    record = _rec({"item": "A:X", "credits": 1})
    report = _evaluate(text, record)
    assert report.earned == []
    assert _in_progress(report, "A:K").remaining[0].need == 5
    check_agreement(text, record)


NO_DUPLICATE = (
    "issuer A\nissuer B\ncourse A:X credits 3\ncourse B:Y credits 3\ncourse B:W credits 3\n"
    "transfer B => A { B:Y => A:X\nB:W => A:X }\n"
    "credential A:K { r: 6 credits from (A:X) }"
)


def test_a_record_attempt_and_a_grant_of_one_item_count_once() -> None:
    record = _rec({"item": "A:X", "completed_on": "2023-01-10"}, {"item": "B:Y"})
    report = _evaluate(NO_DUPLICATE, record)
    assert report.earned == []
    entry = _in_progress(report, "A:K")
    assert [e.origin for r in entry.requirements for e in r.evidence] == ["record"]
    assert [(n.item, n.reason, n.rule) for n in report.not_counted] == [("A:X", "repeat", "B=>A")]
    assert [t.grants for t in report.transfers] == [["A:X"]]  # the firing is still reported
    check_agreement(NO_DUPLICATE, record)


def test_grants_of_one_item_from_different_evidence_count_once() -> None:
    record = _rec(
        {"item": "B:Y", "grade": "C", "completed_on": "2023-01-10"},
        {"item": "B:W", "grade": "A", "completed_on": "2022-01-10"},
    )
    report = _evaluate(NO_DUPLICATE, record)
    assert report.earned == []
    evidence = [e for r in _in_progress(report, "A:K").requirements for e in r.evidence]
    assert [(e.item, e.grade, e.sources) for e in evidence] == [("A:X", "A", ["B:W"])]
    assert [(n.item, n.reason) for n in report.not_counted] == [("A:X", "repeat")]
    assert len(report.transfers) == 2
    check_agreement(NO_DUPLICATE, record)


def test_unassigned_credit_declared_repeatable_is_granted_many_times(
    sample: dict[str, Report],
) -> None:
    ba = _in_progress(sample["L-1003"], "UVIC:BA")
    used = [u for r in ba.requirements for u in r.used]
    assert used.count("UVIC:ENGL-1XX") == 2


# ---------------------------------------------------------------- 4. the audit trail


def test_an_earned_credential_lists_an_allocation_that_achieves_its_date(
    sample: dict[str, Report],
) -> None:
    for report in sample.values():
        for e in report.earned:
            if e.completed_on is None:
                continue
            for r in e.requirements:
                for ev in r.evidence:
                    assert ev.completed_on is None or ev.completed_on <= e.completed_on, (
                        report.learner,
                        e.credential,
                        ev.item,
                    )
    seal = next(e for e in sample["L-1009"].earned if e.credential == "CAPU:SEAL-DA")
    assert seal.completed_on == date(2023, 3, 17)


def test_a_met_competency_requirement_lists_its_witness(sample: dict[str, Report]) -> None:
    practitioner = next(e for e in sample["L-1008"].earned if e.credential == "ALN:PRACTITIONER")
    assert all(r.evidence for r in practitioner.requirements)
    assert "nothing counted yet" not in render_text(sample["L-1008"]).split("IN PROGRESS")[0]


def test_the_witness_shows_the_competency_at_the_highest_level() -> None:
    text = (
        'issuer A\ncompetency A:K "K"\n'
        "course A:LOW teaches A:K at developing\ncourse A:HIGH teaches A:K at proficient\n"
        "credential A:C { r: competency A:K at developing }"
    )
    report = _evaluate(text, _rec({"item": "A:LOW"}, {"item": "A:HIGH"}))
    assert [ev.item for ev in report.earned[0].requirements[0].evidence] == ["A:HIGH"]


def test_work_in_hours_is_summarised_in_hours() -> None:
    text = (
        "issuer A\nmodule A:M1 hours 30 tags t\nmodule A:M2 hours 30 tags t\n"
        "module A:M3 hours 30 tags t\nmodule A:M4 hours 30 tags t\n"
        "credential A:C { r: 120 hours from tagged t }"
    )
    report = _evaluate(text, _rec({"item": "A:M1"}))
    assert "A:C A:C [rule x.stack:6]: 90 hours of work remain" in render_text(report)


def test_a_dated_competency_witness_dates_a_credential_nothing_undated_earns() -> None:
    # Found by the differential run: competency leaves only look, but where no undated
    # achievement shows the competency the record met the credential on the witness's date.
    text = (
        'issuer A\ncompetency A:K "K"\ncourse A:X teaches A:K at developing\n'
        "credential A:C { valid for 1 years r: competency A:K at developing }"
    )
    record = _rec({"item": "A:X", "completed_on": "2018-05-01"})
    report = _evaluate(text, record)
    assert [(e.completed_on, e.expired) for e in report.earned] == [(date(2018, 5, 1), True)]
    check_agreement(text, record)


@pytest.mark.parametrize(
    ("rules_file", "credential", "remaining"),
    [
        # filling `r1` with the learner's own credential A:CR0 would take away the missing
        # member (A:G11) whose credit covers the limit's shortfall: 1 credit remains, not 2
        ("coverage-free-take.stack", "A:CR2", 1.0),
        # of `2 of (A:X0, A:X4, A:X3)`, the missing member that covers the limit is A:X3,
        # not the first untouched one: 4 credits remain, not 5
        ("coverage-untouched-run.stack", "A:CR0", 4.0),
    ],
)
def test_which_work_is_missing_matters_where_it_covers_a_limit(
    rules_file: str, credential: str, remaining: float
) -> None:
    """Found by the differential runs against the reference: two shortcuts of the search
    (taking an achievement without branching; the first children of an untouched list) are
    sound only where no limit's shortfall can be covered by missing work (§4)."""
    rules, diagnostics = stackrules.load_rules([Path(__file__).parent / "data" / rules_file])
    assert rules is not None, [d.render() for d in diagnostics]
    record = LearnerRecord.model_validate({"learner": "L", "achievements": [{"item": "A:X0"}]})
    report = stackrules.evaluate(rules, record, date(2024, 6, 1), in_progress=None)
    (entry,) = [p for p in report.in_progress if p.credential == credential]
    assert entry.remaining_credits == remaining


def test_a_grant_is_transfer_only_when_a_source_of_its_own_is_another_issuers() -> None:
    """§2: a grant is a transfer when any source's issuer differs from the grant's issuer.
    B:G10, granted by B's own line from B:G00 (itself granted from A's course), is not; a
    selector `transfer` does not take it (found by a long differential run: the engine made
    transfer pass down a chain)."""
    text = (
        "issuer A\nissuer B { hours per credit 10 }\n"
        "course A:X1 credits 3\n"
        "equivalency A:EQ0 { from A:X1 grant B:G00 credits 1 level 100 }\n"
        "transfer B => B { B:G00 => B:G10 credits 1 level 100 }\n"
        "credential B:T { r0: 10 hours from transfer }\n"
        "credential B:R { r0: 10 hours from issuer B and not transfer and level >= 100 }\n"
    )
    record = _rec({"item": "A:X1", "grade": "A"})
    report = _evaluate(text, record)
    assert [e.credential for e in report.earned] == ["B:R", "B:T"]
    by_id = {e.credential: e for e in report.earned}
    assert [ev.item for r in by_id["B:R"].requirements for ev in r.evidence] == ["B:G10"]
    assert [ev.item for r in by_id["B:T"].requirements for ev in r.evidence] == ["B:G00"]
    check_agreement(text, record)
