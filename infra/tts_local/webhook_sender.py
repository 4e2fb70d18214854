"""Signs a webhook body the way TikTok Shop does and POSTs it: `tts-sync webhook send`.

By default the body's `timestamp` is set to now (a sample file's old timestamp would be acked as
a stale replay and not stored); `keep_timestamp=True` sends the file's bytes exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tts_sync.webhooks.signature import sign


class WebhookFileError(ValueError):
    """The file cannot be sent; the message says why."""


def sign_body(app_key: str, app_secret: str, body: bytes) -> str:
    """TikTok's webhook signature: the same function the intake verifies with."""
    return sign(app_key, body, app_secret.encode())


def read_body(path: Path, keep_timestamp: bool = False) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WebhookFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if keep_timestamp:
        return raw
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookFileError(
            f"{path} is not JSON ({exc}); pass --keep-timestamp to send it as-is"
        ) from None
    if not isinstance(document, dict):
        raise WebhookFileError(f"{path} is not a JSON object")
    document["timestamp"] = int(time.time())
    return json.dumps(document, separators=(",", ":")).encode()


def post_signed(
    url: str,
    body: bytes,
    app_key: str,
    app_secret: str,
    timeout: float = 5.0,
    *,
    client: httpx.Client | None = None,
    authorization: str | None = None,
) -> httpx.Response:
    """POSTs `body` with TikTok's Authorization header (or the one given, to test refusals)."""
    headers = {
        "content-type": "application/json",
        "authorization": sign_body(app_key, app_secret, body)
        if authorization is None
        else authorization,
        "user-agent": "tts-sync-webhook-sender",
    }
    if client is not None:
        return client.post(url, content=body, headers=headers, timeout=timeout)
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def send_file(
    path: Path,
    url: str,
    app_key: str,
    app_secret: str,
    timeout: float = 5.0,
    keep_timestamp: bool = False,
) -> tuple[int, str]:
    body = read_body(path, keep_timestamp)
    response = post_signed(url, body, app_key, app_secret, timeout)
    return response.status_code, response.text
