"""Signatures as TikTok computes them, written independently of the client's signing module so
that a bug in one is caught by the other."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def api_signature(path: str, query: Mapping[str, str], body: bytes, app_secret: str) -> str:
    pieces = [path.encode()]
    for key in sorted(query):
        if key in ("sign", "access_token"):
            continue
        pieces.append(key.encode() + query[key].encode())
    pieces.append(body)
    secret = app_secret.encode()
    message = secret + b"".join(pieces) + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def webhook_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """Authorization header of a webhook: hex HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
