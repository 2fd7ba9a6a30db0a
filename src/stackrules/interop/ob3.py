"""Open Badges 3.0 and CLR 2.0 credentials in, learner records out.

Takes a decoded JSON value that is a credential (`is_credential`), or a compact VC-JWT, with
the file name, its position and the rule set's aliases; gives the learner's `LearnerRecord`
(noted with the credentials it came from, all `unverified`) or `RecordError`s that name the
JSON path of each problem. See `docs/interop-ob3-clr.md` for the mapping, rule by rule.

- `OpenBadgeCredential` / `AchievementCredential`: one achievement.
- `ClrCredential`: one achievement per credential in `credentialSubject.verifiableCredential`
  (embedded objects, compact JWT strings, or `EnvelopedVerifiableCredential`s). The CLR's own
  `credentialSubject.achievement` list describes achievements without awarding them, so it is
  not read as the learner's achievements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from stackrules.interop.vc import (
    EnvelopeError,
    credential_of_jwt,
    decode_jwt,
    enveloped_jwt,
    first_present,
    id_of,
    proof_of,
    shown,
    types_of,
    vc_date,
)
from stackrules.records.errors import RecordError
from stackrules.records.model import (
    GRADES,
    CredentialSource,
    LearnerRecord,
    PositionKind,
)
from stackrules.records.parse import parse_record_obj

BADGE_TYPES = ("OpenBadgeCredential", "AchievementCredential")
# The most credits one badge may carry: well above any real count, and far below where a float
# stops holding every whole number.
MAX_CREDITS = 1_000_000
CLR_TYPE = "ClrCredential"

# Open Badges 3.0 ResultStatusType → the record's status. Not completed is never counted.
RESULT_STATUS: dict[str, str] = {
    "Completed": "completed",
    "Enrolled": "in-progress",
    "InProgress": "in-progress",
    "OnHold": "in-progress",
    "Provisional": "in-progress",
    "Failed": "failed",
    "Withdrew": "withdrawn",
}

_OB_CONTEXT = re.compile(r"https?://purl\.imsglobal\.org/spec/ob/v(\d+)p(\d+)/context[^/]*\.json")
_CLR_CONTEXT = re.compile(r"https?://purl\.imsglobal\.org/spec/clr/v(\d+)p(\d+)/context[^/]*\.json")
_CTID = re.compile(
    r"ce-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_CTID_IN_URL = re.compile(r"/(" + _CTID.pattern + r")/?$")

Format = Literal["json", "vc-jwt"]


def is_credential(obj: Any) -> bool:
    """True when a decoded JSON value is a verifiable credential rather than a learner object:
    an object with `@context`, `credentialSubject` or the type `VerifiableCredential`."""
    if not isinstance(obj, dict) or "learner" in obj:
        return False
    return (
        "@context" in obj or "credentialSubject" in obj or "VerifiableCredential" in types_of(obj)
    )


class _Problem(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass
class _Reading:
    """What one document gave: the learner, achievements (raw record objects) and sources."""

    file: str
    aliases: Mapping[str, str]
    learner: str | None = None
    achievements: list[dict[str, Any]] = field(default_factory=list)
    sources: list[CredentialSource] = field(default_factory=list)


def read_credential_json(
    obj: Any,
    *,
    file: str,
    position: int | None = None,
    position_kind: PositionKind = "index",
    aliases: Mapping[str, str] | None = None,
    record_index: int | None = None,
    path: str = "$",
) -> LearnerRecord | list[RecordError]:
    """The learner record of one credential object (JSON), or the problems with it."""
    reading = _Reading(file, aliases or {})
    try:
        _credential(reading, obj, path, "json", proof=None)
    except (_Problem, EnvelopeError) as problem:
        return [_error(problem, reading, file, position, position_kind, record_index)]
    return _record(reading, file, position, position_kind, aliases, record_index)


def read_credential_jwt(
    text: str,
    *,
    file: str,
    position: int | None = None,
    position_kind: PositionKind = "line",
    aliases: Mapping[str, str] | None = None,
    record_index: int | None = None,
) -> LearnerRecord | list[RecordError]:
    """The learner record of one compact VC-JWT, or the problems with it.

    JSON paths in errors are paths inside the decoded JWT payload.
    """
    reading = _Reading(file, aliases or {})
    try:
        _jwt(reading, text, "$")
    except (_Problem, EnvelopeError) as problem:
        return [_error(problem, reading, file, position, position_kind, record_index)]
    return _record(reading, file, position, position_kind, aliases, record_index)


def _error(
    problem: _Problem | EnvelopeError,
    reading: _Reading,
    file: str,
    position: int | None,
    kind: PositionKind,
    record_index: int | None,
) -> RecordError:
    return RecordError(
        file=file,
        learner=reading.learner,
        line=position,
        position_kind=kind if position is not None else None,
        field=problem.path,
        message=problem.message,
        record_index=record_index,
    )


def _record(
    reading: _Reading,
    file: str,
    position: int | None,
    kind: PositionKind,
    aliases: Mapping[str, str] | None,
    record_index: int | None,
) -> LearnerRecord | list[RecordError]:
    # Aliases were applied while mapping (an alias names the achievement, not a field), so the
    # plain-record validation runs without them.
    obj = {"learner": reading.learner, "achievements": reading.achievements}
    result = parse_record_obj(
        obj, file=file, position=position, position_kind=kind, record_index=record_index
    )
    if isinstance(result, list):
        return result
    return result.from_credentials(tuple(reading.sources))


def _jwt(reading: _Reading, text: str, path: str) -> None:
    try:
        decoded = decode_jwt(text)
        credential, inner = credential_of_jwt(decoded)
    except EnvelopeError as problem:
        where = path if problem.path == "$" else path + problem.path[1:]
        raise _Problem(where, problem.message) from None
    if not isinstance(credential, dict) or not (
        "credentialSubject" in credential or "@context" in credential
    ):
        raise _Problem(path, "the JWT payload is not a verifiable credential")
    # Paths go on into the decoded payload: `…verifiableCredential[2].vc.credentialSubject`.
    where = path + inner[1:]
    _credential(reading, credential, where, "vc-jwt", proof=f"JWT {decoded.algorithm}")


def _credential(reading: _Reading, cred: Any, path: str, fmt: Format, *, proof: str | None) -> None:
    if not isinstance(cred, dict):
        raise _Problem(path, "expected a credential object")
    kinds = types_of(cred)
    if "type" not in cred:
        raise _Problem(f"{path}.type", "required field is missing")
    _check_contexts(cred, path)
    subject = cred.get("credentialSubject")
    if not isinstance(subject, dict):
        raise _Problem(f"{path}.credentialSubject", "expected the credential subject (an object)")
    learner = subject.get("id")
    if learner is None and reading.learner is None:
        raise _Problem(
            f"{path}.credentialSubject.id",
            "required field is missing (the learner is the credential subject's `id`)",
        )
    if learner is not None:
        if not isinstance(learner, str) or not learner:
            raise _Problem(f"{path}.credentialSubject.id", "expected the learner's identifier")
        if reading.learner is None:
            reading.learner = learner
        elif learner != reading.learner:
            raise _Problem(
                f"{path}.credentialSubject.id",
                f"subject `{learner}` is not the CLR's subject `{reading.learner}`",
            )
    secured = proof or proof_of(cred)
    if CLR_TYPE in kinds:
        _clr(reading, cred, subject, path, fmt, secured)
    elif any(kind in kinds for kind in BADGE_TYPES):
        item = _badge(reading, cred, subject, path)
        reading.sources.append(_source(reading, cred, path, fmt, secured, (item,)))
    else:
        shown = ", ".join(f"`{k}`" for k in kinds) or "none"
        raise _Problem(
            f"{path}.type",
            f"not an Open Badges 3.0 or CLR 2.0 credential (types {shown}; expected "
            "`OpenBadgeCredential`, `AchievementCredential` or `ClrCredential`)",
        )


def _source(
    reading: _Reading,
    cred: dict[str, Any],
    path: str,
    fmt: Format,
    proof: str | None,
    items: tuple[str, ...],
) -> CredentialSource:
    kinds = types_of(cred)
    kind = next((k for k in (CLR_TYPE, *BADGE_TYPES) if k in kinds), kinds[-1])
    ident = cred.get("id")
    return CredentialSource(
        id=ident if isinstance(ident, str) else None,
        type=kind,
        issuer=id_of(cred.get("issuer")),
        format=fmt,
        file=reading.file,
        path=path,
        proof=proof,
        verification="unverified",
        items=items,
    )


def _check_contexts(cred: dict[str, Any], path: str) -> None:
    """OB contexts must be 3.0.x and CLR contexts 2.0.x; other contexts are not our business."""
    contexts = cred.get("@context")
    listed = contexts if isinstance(contexts, list) else [contexts]
    for index, context in enumerate(listed):
        if not isinstance(context, str):
            continue
        where = f"{path}.@context[{index}]" if isinstance(contexts, list) else f"{path}.@context"
        badge = _OB_CONTEXT.fullmatch(context)
        if badge and badge.groups() != ("3", "0"):
            raise _Problem(where, f"Open Badges context `{context}` is not version 3.0")
        clr = _CLR_CONTEXT.fullmatch(context)
        if clr and clr.groups() != ("2", "0"):
            raise _Problem(where, f"CLR context `{context}` is not version 2.0")


def _clr(
    reading: _Reading,
    cred: dict[str, Any],
    subject: dict[str, Any],
    path: str,
    fmt: Format,
    proof: str | None,
) -> None:
    where = f"{path}.credentialSubject.verifiableCredential"
    embedded = subject.get("verifiableCredential", [])
    if not isinstance(embedded, list):
        embedded = [embedded]
    first = len(reading.sources)
    for index, inner in enumerate(embedded):
        inner_path = f"{where}[{index}]"
        token = enveloped_jwt(inner)
        if token is not None:
            _jwt(reading, token, inner_path)
            continue
        if isinstance(inner, dict) and CLR_TYPE in types_of(inner):
            raise _Problem(f"{inner_path}.type", "a CLR inside a CLR is not read")
        _credential(reading, inner, inner_path, "json", proof=None)
    items = tuple(item for source in reading.sources[first:] for item in source.items)
    reading.sources.insert(first, _source(reading, cred, path, fmt, proof, items))


def _badge(reading: _Reading, cred: dict[str, Any], subject: dict[str, Any], path: str) -> str:
    """Map one badge credential to a raw achievement object; give its item identifier."""
    sub = f"{path}.credentialSubject"
    achievement = subject.get("achievement")
    if not isinstance(achievement, dict):
        what = "required field is missing" if achievement is None else "expected an object"
        raise _Problem(f"{sub}.achievement", what)
    item = _item(achievement, f"{sub}.achievement", reading.aliases)
    raw: dict[str, Any] = {"item": item}
    status, grade = _results(subject, achievement, sub)
    if status is not None:
        raw["status"] = status
    if grade is not None:
        raw["grade"] = grade
    if subject.get("creditsEarned") is not None:
        raw["credits"] = _credits(subject["creditsEarned"], f"{sub}.creditsEarned")
    completed = _completion(cred, subject, path)
    if completed is not None:
        raw["completed_on"] = completed.isoformat()
    expiry = first_present(cred, "validUntil", "expirationDate")
    if expiry is not None:
        raw["expires_on"] = vc_date(expiry[1], f"{path}.{expiry[0]}").isoformat()
    reading.achievements.append(raw)
    return item


def _credits(value: Any, path: str) -> float:
    """A credit count: a number from 0 to `MAX_CREDITS` (a larger one, or one beyond a float,
    is no credit count, and converting a 400-digit integer to a float raises)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Problem(path, f"expected a number 0 or more, got {shown(value)}")
    if not 0 <= value <= MAX_CREDITS:  # also false for NaN
        raise _Problem(path, f"expected a number from 0 to {MAX_CREDITS:,}, got {shown(value)}")
    return float(value)


def _item(achievement: dict[str, Any], path: str, aliases: Mapping[str, str]) -> str:
    """The rule identifier an achievement names: its `id`, `humanCode` or a CTDL alignment's
    `targetCode`, read through the aliases; the `id` itself when no alias applies."""
    ident = achievement.get("id")
    if not isinstance(ident, str) or not ident:
        what = "required field is missing" if ident is None else "expected the achievement's IRI"
        raise _Problem(f"{path}.id", what)
    candidates: list[tuple[str, str]] = [(f"{path}.id", ident)]
    code = achievement.get("humanCode")
    if isinstance(code, str):
        candidates.append((f"{path}.humanCode", code))
    alignments = achievement.get("alignment")
    if isinstance(alignments, list):
        for index, alignment in enumerate(alignments):
            if not isinstance(alignment, dict):
                continue
            where = f"{path}.alignment[{index}]"
            target = alignment.get("targetCode")
            if isinstance(target, str) and _is_ctdl(alignment, target):
                candidates.append((f"{where}.targetCode", target))
            url = alignment.get("targetUrl")
            ctid = _CTID_IN_URL.search(url) if isinstance(url, str) else None
            if ctid is not None and _is_ctdl(alignment, ctid.group(1)):
                candidates.append((f"{where}.targetUrl", ctid.group(1)))
    found: tuple[str, str, str] | None = None
    for where, outside in candidates:
        target = aliases.get(outside)
        if target is None:
            continue
        if found is not None and target != found[2]:
            raise _Problem(
                where,
                f"`{outside}` is an alias of `{target}`, but `{found[1]}` ({found[0]}) is an "
                f"alias of `{found[2]}`: the achievement names two rule identifiers",
            )
        if found is None:
            found = (where, outside, target)
    return found[2] if found is not None else ident


def _is_ctdl(alignment: dict[str, Any], code: str) -> bool:
    """A Credential Engine alignment: a CTDL target type, or a code that is a CTID."""
    kind = alignment.get("targetType")
    if isinstance(kind, str) and kind.split(":", 1)[0].lower() in ("ceterms", "ceasn", "ctdl"):
        return True
    return _CTID.fullmatch(code) is not None


def _results(
    subject: dict[str, Any], achievement: dict[str, Any], sub: str
) -> tuple[str | None, str | None]:
    """The status and letter grade the subject's `result` list gives."""
    results = subject.get("result")
    if results is None:
        return None, None
    if not isinstance(results, list):
        results = [results]
    kinds = _result_types(achievement)
    status: tuple[str, str] | None = None
    grade: tuple[str, str] | None = None
    for index, result in enumerate(results):
        where = f"{sub}.result[{index}]"
        if not isinstance(result, dict):
            raise _Problem(where, "expected a result object")
        given = result.get("status")
        if given is not None:
            if not isinstance(given, str) or given not in RESULT_STATUS:
                known = ", ".join(f"`{s}`" for s in RESULT_STATUS)
                what = "unknown result status" if isinstance(given, str) else "expected a status"
                raise _Problem(f"{where}.status", f"{what} {shown(given)} ({known})")
            mapped = RESULT_STATUS[given]
            if status is not None and mapped != status[1]:
                raise _Problem(
                    f"{where}.status",
                    f"status `{given}` contradicts the status given at {status[0]}",
                )
            status = (f"{where}.status", mapped)
        value = result.get("value")
        if value is None:
            continue
        if not isinstance(value, str | int | float):
            raise _Problem(f"{where}.value", f"expected a result value (text), got {shown(value)}")
        described = result.get("resultDescription")
        if described is not None and not isinstance(described, str):
            raise _Problem(
                f"{where}.resultDescription",
                f"expected the `id` of a result description (text), got {shown(described)}",
            )
        lettered = described is not None and kinds.get(described) == "LetterGrade"
        letter = _letter(value)
        if letter is None:
            if lettered:
                raise _Problem(
                    f"{where}.value",
                    f"expected a letter grade (A+ … D-, F or P), got {shown(value)} "
                    "(its result description says `LetterGrade`)",
                )
            continue  # a percentage, a rubric level: not a grade this engine compares
        if grade is not None and letter != grade[1]:
            raise _Problem(
                f"{where}.value", f"grade `{letter}` contradicts the grade given at {grade[0]}"
            )
        grade = (f"{where}.value", letter)
    return (status[1] if status else None), (grade[1] if grade else None)


def _result_types(achievement: dict[str, Any]) -> dict[str, str]:
    descriptions = achievement.get("resultDescription")
    kinds: dict[str, str] = {}
    if isinstance(descriptions, list):
        for d in descriptions:
            if isinstance(d, dict) and isinstance(d.get("id"), str):
                kinds[d["id"]] = str(d.get("resultType"))
    return kinds


def _letter(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if text in GRADES else None


def _completion(cred: dict[str, Any], subject: dict[str, Any], path: str) -> date | None:
    """`activityEndDate`, else the credential's `awardedDate`, else when it became valid."""
    ended = subject.get("activityEndDate")
    if ended is not None:
        return vc_date(ended, f"{path}.credentialSubject.activityEndDate")
    given = first_present(cred, "awardedDate", "validFrom", "issuanceDate")
    if given is None:
        return None
    return vc_date(given[1], f"{path}.{given[0]}")
