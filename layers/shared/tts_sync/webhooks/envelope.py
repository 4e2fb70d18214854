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


# TikTok's envelopes nest a few levels; a body nested deeper is not one, and every reader
# downstream (the stream consumer parses the payload again) would pay for it.
MAX_NESTING = 32


def parse_envelope(body: bytes) -> WebhookEnvelope:
    try:
        # UTF-8 only (RFC 8259); json.loads on bytes would also guess UTF-16/32.
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayloadError(f"body is not JSON: {type(exc).__name__}") from None
    except RecursionError:
        raise InvalidPayloadError(f"body is nested more than {MAX_NESTING} levels") from None
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits.
        raise InvalidPayloadError("body holds an integer too long to read") from None
    if not isinstance(document, dict):
        raise InvalidPayloadError("body is not a JSON object")
    if _nesting(document) > MAX_NESTING:
        raise InvalidPayloadError(f"body is nested more than {MAX_NESTING} levels")
    try:
        envelope = WebhookEnvelope.model_validate(document)
        envelope.typed_data()  # a known type must carry what its consumer needs
    except ValidationError as exc:
        raise InvalidPayloadError(_describe(exc)) from None
    return envelope


def _nesting(document: object) -> int:
    """Depth of the deepest object or array (1 for a flat object), without recursion."""
    deepest, pending = 0, [(document, 1)]
    while pending and deepest <= MAX_NESTING:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in node)
    return deepest


def _describe(exc: ValidationError) -> str:
    # Field paths and messages only: input values may hold buyer data and never reach a log.
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
    return "schema invalid: " + "; ".join(problems[:5])
