"""Request signing for the TikTok Shop Partner API (the recipe in tiktok-shop-api.md, section 2).

string_to_sign = path + concat(key + value for query params sorted by key, minus sign and
access_token) + raw body (exactly the bytes sent; omitted for multipart); the signature is the
lowercase hex HMAC-SHA256, keyed with app_secret, of app_secret + string_to_sign + app_secret.
Works on bytes so the body is signed exactly as sent, whatever its encoding.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

# Never part of the signed string: `sign` is the output, `access_token` travels in a header.
EXCLUDED_PARAMS = frozenset({"sign", "access_token"})


def string_to_sign(
    path: str, query: Mapping[str, str], body: bytes | None, *, multipart: bool = False
) -> bytes:
    """The bytes between the two app_secret wrappers (exposed for tests and diagnostics)."""
    params = "".join(f"{key}{query[key]}" for key in sorted(query) if key not in EXCLUDED_PARAMS)
    message = (path + params).encode()
    if body and not multipart:
        message += body
    return message


def sign(
    path: str,
    query: Mapping[str, str],
    body: bytes | None,
    app_secret: str,
    *,
    multipart: bool = False,
) -> str:
    """Lowercase hex signature for one request."""
    secret = app_secret.encode()
    wrapped = secret + string_to_sign(path, query, body, multipart=multipart) + secret
    return hmac.new(secret, wrapped, hashlib.sha256).hexdigest()


def timestamp_param(now: float) -> str:
    """The `timestamp` query value: 10-digit unix seconds."""
    return str(int(now))
