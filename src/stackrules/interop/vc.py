"""The Verifiable Credentials envelope: compact VC-JWTs, credential types, VC dates.

Takes a compact JWS (`header.payload.signature`, base64url) or a decoded credential object;
gives the credential as a JSON object with the JSON path it sits at, and the VC fields the
record mapping needs, read the same way for VCDM 1.1 and 2.0.

- A VCDM 2.0 `application/vc+jwt` payload *is* the credential. A VCDM 1.1 JWT wraps it under
  the `vc` claim; the registered claims then stand in for missing credential fields
  (`jti` → `id`, `iss` → `issuer`, `sub` → `credentialSubject.id`, `nbf` → `issuanceDate`,
  `exp` → `expirationDate`), as VC-JWT 1.1 describes.
- Signatures are not verified here. `DecodedJwt` keeps the signing input and the signature
  bytes so that a verifier (a key resolver and a JWS library) can check them; until one is
  configured, every credential is reported `unverified`.

Problems raise `EnvelopeError` with the JSON path they concern.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from stackrules.records import jsonsafe

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[Tt ](.*))?")
ENVELOPED_PREFIXES = ("data:application/vc+jwt,", "data:application/jwt,")


class EnvelopeError(Exception):
    """A credential envelope that cannot be read; `path` is the JSON path of the problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class DecodedJwt:
    """A compact JWS, decoded but not verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes  # what the signature signs: ASCII `header.payload`
    signature: bytes

    @property
    def algorithm(self) -> str:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else "unknown"


def looks_like_jwt(text: str) -> bool:
    """True when `text` (stripped) has the shape of a compact JWS."""
    return _JWT.fullmatch(text.strip()) is not None


def _b64url(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise EnvelopeError("$", f"the JWT {what} is not base64url") from None


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    raw = _b64url(segment, what)
    try:
        value = jsonsafe.loads(raw)
    except jsonsafe.JsonError as failure:
        if failure.syntax:
            raise EnvelopeError("$", f"the JWT {what} is not JSON") from None
        # Paths in errors are paths inside the payload; a problem in the header is at `$`.
        inside = failure.loc is not None and what == "payload"
        where = jsonsafe.json_path(failure.loc) if inside and failure.loc else "$"
        raise EnvelopeError(where, f"the JWT {what}: {failure.message}") from None
    if not isinstance(value, dict):
        raise EnvelopeError("$", f"the JWT {what} is not a JSON object")
    return value


def decode_jwt(text: str) -> DecodedJwt:
    """Decode a compact JWS without verifying it."""
    compact = text.strip()
    if not looks_like_jwt(compact):
        raise EnvelopeError("$", "expected a compact JWT (three base64url parts separated by `.`)")
    head, body, signature = compact.split(".")
    header = _json_segment(head, "header")
    payload = _json_segment(body, "payload")
    return DecodedJwt(
        header=header,
        payload=payload,
        signing_input=f"{head}.{body}".encode("ascii"),
        signature=_b64url(signature, "signature") if signature else b"",
    )


def shown(value: Any) -> str:
    """A value as a message quotes it: strings as written, anything else as JSON, shortened;
    also one no JSON text of ours could hold (a value handed over already decoded: a
    5,000-digit integer, a list nested 1,000 deep)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"`a number of about {int(value.bit_length() * 0.30103)} digits`"
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (ValueError, RecursionError):
        text = "…"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{text}`"


def _epoch(value: Any, claim: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EnvelopeError(
            f"$.{claim}", f"expected seconds since 1970 (a number), got {shown(value)}"
        )
    try:
        moment = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise EnvelopeError(f"$.{claim}", f"{shown(value)} is not a usable time") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_of_jwt(decoded: DecodedJwt) -> tuple[dict[str, Any], str]:
    """The credential a VC-JWT carries, and the JSON path of it inside the payload.

    VCDM 1.1: the `vc` claim, completed from the registered claims. VCDM 2.0: the payload.
    """
    payload = decoded.payload
    wrapped = payload.get("vc")
    if wrapped is None:
        return payload, "$"
    if not isinstance(wrapped, dict):
        raise EnvelopeError("$.vc", "expected the `vc` claim to be a credential object")
    credential = dict(wrapped)
    if "jti" in payload and "id" not in credential:
        credential["id"] = payload["jti"]
    if "iss" in payload and "issuer" not in credential:
        credential["issuer"] = payload["iss"]
    if "nbf" in payload and "issuanceDate" not in credential and "validFrom" not in credential:
        credential["issuanceDate"] = _epoch(payload["nbf"], "nbf")
    if "exp" in payload and "expirationDate" not in credential and "validUntil" not in credential:
        credential["expirationDate"] = _epoch(payload["exp"], "exp")
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict) and "id" not in subject and "sub" in payload:
        credential["credentialSubject"] = {**subject, "id": payload["sub"]}
    return credential, "$.vc"


def enveloped_jwt(value: Any) -> str | None:
    """The compact JWT of an embedded credential given as a JWT string or as a VCDM 2.0
    `EnvelopedVerifiableCredential` (`id` a `data:application/vc+jwt,…` URL), else None."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict) and "EnvelopedVerifiableCredential" in types_of(value):
        ident = value.get("id")
        if isinstance(ident, str):
            for prefix in ENVELOPED_PREFIXES:
                if ident.startswith(prefix):
                    return ident[len(prefix) :]
    return None


def types_of(obj: dict[str, Any]) -> list[str]:
    """`type` as a list, whether written as one string or a list (other values: none)."""
    value = obj.get("type")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str)]
    return []


def id_of(value: Any) -> str | None:
    """An identifier given as a string or as an object with a string `id`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        ident: str = value["id"]
        return ident
    return None


def vc_date(value: Any, path: str) -> date:
    """The calendar date of a VC timestamp (`2024-04-30T00:00:00Z`) or a plain date.

    The date is taken as written: a time zone offset does not move it to another day (the
    issuer wrote the day it meant).
    """
    if isinstance(value, str):
        match = _DATE.fullmatch(value.strip())
        if match:
            try:
                day = date.fromisoformat(match.group(1))
                if match.group(2) is not None:
                    datetime.fromisoformat(value.strip().replace("z", "Z"))
            except ValueError:
                pass
            else:
                return day
    raise EnvelopeError(
        path, f"expected a date-time such as 2024-04-30T00:00:00Z, got {shown(value)}"
    )


def first_present(obj: dict[str, Any], *names: str) -> tuple[str, Any] | None:
    """The first of `names` that `obj` has (not null), with its value."""
    for name in names:
        if obj.get(name) is not None:
            return name, obj[name]
    return None


def proof_of(credential: dict[str, Any]) -> str | None:
    """How the credential says it is secured (`DataIntegrityProof eddsa-rdfc-2022`), if at all."""
    proof = credential.get("proof")
    proofs = proof if isinstance(proof, list) else [proof] if isinstance(proof, dict) else []
    names = []
    for p in proofs:
        if isinstance(p, dict):
            kind = p.get("type")
            suite = p.get("cryptosuite")
            text = " ".join(str(x) for x in (kind, suite) if isinstance(x, str))
            if text:
                names.append(text)
    return ", ".join(names) or None
