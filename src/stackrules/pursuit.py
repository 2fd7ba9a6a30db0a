"""What a learner pursues: the record's `pursuing` list and a command's `--target`s.

Takes a compiled rule set's credential identifiers and the identifiers a record or a command
names; gives the problems with them, worded with a did-you-mean. An unknown identifier in a
record is that learner's record error (exit 3); an unknown `--target` is a usage error
(exit 2). Both are decided before anything is evaluated, so an evaluation never sees one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from stackrules.diagnostics import did_you_mean_suffix
from stackrules.records.errors import RecordError
from stackrules.records.model import LearnerRecord


def unknown_credential(
    ident: str, credentials: Collection[str], *, fold_case: bool = False
) -> str | None:
    """Why `ident` cannot be pursued (it names no credential of the rule set), or None. With
    `fold_case`, the did-you-mean ignores case (as the advisor commands read names)."""
    if ident in credentials:
        return None
    return f"`{ident}` is not a credential of the rule set" + did_you_mean_suffix(
        ident, credentials, fold_case=fold_case
    )


def unknown_issuer(issuer: str | None, issuers: Collection[str]) -> str | None:
    """Why `issuer` cannot narrow a search (`nearest --issuer`: it is not declared), or None
    (also when no issuer is given)."""
    if issuer is None or issuer in issuers:
        return None
    return f"`{issuer}` is not a declared issuer" + did_you_mean_suffix(
        issuer, issuers, fold_case=True
    )


def unknown_targets(targets: Iterable[str], credentials: Collection[str]) -> list[str]:
    """One message per `--target` that names no credential."""
    return [m for t in targets if (m := unknown_credential(t, credentials)) is not None]


def pursuing_errors(
    record: LearnerRecord, credentials: Collection[str], *, file: str, record_index: int | None
) -> list[RecordError]:
    """One record error per identifier in the record's `pursuing` that names no credential,
    located where the record was read."""
    position = record.position
    errors = []
    for index, ident in enumerate(record.pursuing):
        message = unknown_credential(ident, credentials)
        if message is not None:
            errors.append(
                RecordError(
                    file=file,
                    learner=record.learner,
                    line=position.number if position is not None else None,
                    position_kind=position.kind if position is not None else None,
                    field=f"pursuing[{index}]",
                    message=message,
                    record_index=record_index,
                )
            )
    return errors
