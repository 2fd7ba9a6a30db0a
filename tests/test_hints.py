"""The did-you-mean wording shared by the commands, the API and the page."""

from __future__ import annotations

from stackrules.diagnostics import did_you_mean_suffix
from stackrules.pursuit import unknown_credential, unknown_issuer


def test_the_suffix_names_the_closest_candidate_or_is_empty() -> None:
    assert did_you_mean_suffix("UVIC:BX", ["UVIC:BA", "UFV:DIGMKT"]) == (
        "; did you mean `UVIC:BA`?"
    )
    assert did_you_mean_suffix("zzzz", ["UVIC:BA"]) == ""
    assert did_you_mean_suffix("uvic:ba", ["UVIC:BA"]) == ""
    assert did_you_mean_suffix("uvic:ba", ["UVIC:BA"], fold_case=True) == (
        "; did you mean `UVIC:BA`?"
    )


def test_an_unknown_credential_folds_case_only_when_asked() -> None:
    credentials = {"UVIC:BA"}
    assert unknown_credential("UVIC:BA", credentials) is None
    assert unknown_credential("uvic:ba", credentials) == (
        "`uvic:ba` is not a credential of the rule set"
    )
    assert unknown_credential("uvic:ba", credentials, fold_case=True) == (
        "`uvic:ba` is not a credential of the rule set; did you mean `UVIC:BA`?"
    )


def test_no_issuer_is_never_unknown() -> None:
    assert unknown_issuer(None, {"UVIC"}) is None
    assert unknown_issuer("UVIC", {"UVIC"}) is None
    assert unknown_issuer("uvic", {"UVIC"}) == (
        "`uvic` is not a declared issuer; did you mean `UVIC`?"
    )


def test_the_closest_candidate_does_not_depend_on_their_order() -> None:
    # ties in score go to the larger string (difflib ranks (score, candidate) pairs), so
    # `cli.maps` asks without sorting the names first
    names = ["UVIC:BA", "UVIC:BB", "UVIC:AB", "UFV:BA", "uvic:ba"]
    for fold_case in (False, True):
        first = did_you_mean_suffix("UVIC:BC", names, fold_case=fold_case)
        assert first == did_you_mean_suffix("UVIC:BC", names[::-1], fold_case=fold_case)
        assert first == did_you_mean_suffix("UVIC:BC", sorted(names), fold_case=fold_case)
