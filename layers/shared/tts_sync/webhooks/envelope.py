"""Parsing a delivery's body into the webhook envelope (tts_sync.events), and its deduplication
key. Ids are strings even when a sample shows a bare number. Unknown event types are valid: they
are stored with their data as-is and the Events stream consumer records them as ignored.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from tts_sync.events.envelope import WebhookEnvelope, fallback_event_key

__all__ = ["InvalidPayloadError", "WebhookEnvelope", "fallback_event_key", "parse_envelope"]


class InvalidPayloadError(ValueError):
    """The body is not a webhook envelope we can store as work; `reason` says why (no body data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_envelope(body: bytes) -> WebhookEnvelope:
    try:
        # UTF-8 only (RFC 8259); json.loads on bytes would also guess UTF-16/32.
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayloadError(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise InvalidPayloadError("body is not a JSON object")
    try:
        envelope = WebhookEnvelope.model_validate(document)
        envelope.typed_data()  # a known type must carry what its consumer needs
    except ValidationError as exc:
        raise InvalidPayloadError(_describe(exc)) from None
    return envelope


def _describe(exc: ValidationError) -> str:
    # Field paths and messages only: input values may hold buyer data and never reach a log.
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
    return "schema invalid: " + "; ".join(problems[:5])
