"""TikTok Shop webhook signatures.

signature = lowercase hex HMAC-SHA256(key=app_secret, msg=app_key + raw body bytes), sent bare in
the Authorization header. Verification works on the exact received bytes, compares in constant
time on bytes, and never raises on header content (non-ASCII, wrong length, "Bearer x"...).
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Iterable
from enum import Enum

SIGNATURE_HEX_LENGTH = 64
_HEX_DIGITS = frozenset(string.hexdigits)


class SignatureCheck(Enum):
    VALID = "valid"
    MISSING = "missing"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


def sign(app_key: str, body: bytes, app_secret: bytes) -> str:
    return hmac.new(app_secret, app_key.encode() + body, hashlib.sha256).hexdigest()


def verify(
    app_key: str, body: bytes, authorization: str | None, secrets: Iterable[bytes]
) -> SignatureCheck:
    """Checks `authorization` against every accepted secret (current, then previous)."""
    if authorization is None or not authorization.strip():
        return SignatureCheck.MISSING
    presented = authorization.strip()
    if len(presented) != SIGNATURE_HEX_LENGTH or not _HEX_DIGITS.issuperset(presented):
        return SignatureCheck.MALFORMED
    presented_bytes = presented.lower().encode("ascii")
    message = app_key.encode() + body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, message, hashlib.sha256).hexdigest().encode("ascii")
        # No early exit: the time taken must not reveal which secret matched.
        matched |= hmac.compare_digest(expected, presented_bytes)
    return SignatureCheck.VALID if matched else SignatureCheck.MISMATCH
